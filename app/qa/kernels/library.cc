// lambda-nlp QA kernels: an MXNet 1.9 extension library (lib_api.h). Its operators are
// registered in gelu_tanh.cc and masked_softmax.cc; this file is the library's entry point.
#include "mxnet/lib_api.h"

using mxnet::ext::MXReturnValue;

MXReturnValue initialize(int version) {
  // lib_api.h version 11 is the one mxnet 1.9 ships; older mxnet cannot load this library.
  if (version < 10900) {
    MX_ERROR_MSG << "lambda-nlp kernels need mxnet >= 1.9.0, found " << version;
    return MXReturnValue::MX_FAIL;
  }
  return MXReturnValue::MX_SUCCESS;
}
