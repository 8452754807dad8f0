// lnlp_gelu_tanh(x): ALBERT's gelu_new, 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))),
// in one pass over the array. MXNet 1.9 has no such op: as a composite of its elementwise ops it
// took five to six passes, and mshadow's scalar tanh alone was half of an INT8 forward
// (docs/performance.md). The identity 0.5 * (1 + tanh(u)) = 1 / (1 + exp(-2u)) leaves one exp
// per element, computed below branch-free so the loop vectorises; target_clones builds an
// AVX-512, an AVX2 and a baseline copy and the loader picks the one the CPU runs.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <unordered_map>
#include <vector>

#include "exp_bounded.h"
#include "mxnet/lib_api.h"

using mxnet::ext::MXReturnValue;
using mxnet::ext::MXTensor;
using mxnet::ext::OpResource;

namespace {

using lnlp::exp_bounded;

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void gelu_tanh(const float* __restrict x, float* __restrict y, int64_t n) {
  const float k1 = -2.0f * 0.7978845608028654f;  // -2 sqrt(2/pi)
  const float k3 = k1 * 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float a = v * (k1 + k3 * v * v);  // -2u
    // exp_bounded needs |a| <= 80; beyond it s is 1 or 0 to float32 precision. The select (not
    // only the clamp) keeps huge negative inputs at -0 instead of x / exp(80).
    const float s = 1.0f / (1.0f + exp_bounded(std::min(std::max(a, -80.0f), 80.0f)));
    y[i] = a > 80.0f ? 0.0f * v : v * s;
  }
}

// d/dx of x * s(x) with s = 1 / (1 + exp(-2u)): s + x * s * (1 - s) * 2 u'(x). Nothing here
// trains, but MXNet 1.9's cached graphs are built with a backward pass, so the op needs one.
__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void gelu_tanh_grad(const float* __restrict dy, const float* __restrict x,
                    float* __restrict dx, int64_t n) {
  const float k1 = -2.0f * 0.7978845608028654f;
  const float k3 = k1 * 0.044715f;
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    const float a = v * (k1 + k3 * v * v);
    const float s = 1.0f / (1.0f + exp_bounded(std::min(std::max(a, -80.0f), 80.0f)));
    const float du = -(k1 + 3.0f * k3 * v * v);  // d(2u)/dx
    const float g = s + v * s * (1.0f - s) * du;
    dx[i] = a > 80.0f ? 0.0f : (a < -80.0f ? dy[i] : dy[i] * g);
  }
}

MXReturnValue parse_attrs(const std::unordered_map<std::string, std::string>& attrs,
                          int* num_in, int* num_out) {
  *num_in = 1;
  *num_out = 1;
  return MXReturnValue::MX_SUCCESS;
}

MXReturnValue infer_type(const std::unordered_map<std::string, std::string>& attrs,
                         std::vector<int>* in_types, std::vector<int>* out_types) {
  if (in_types->at(0) != mxnet::ext::kFloat32) {
    MX_ERROR_MSG << "lnlp_gelu_tanh takes float32 input, got dtype " << in_types->at(0);
    return MXReturnValue::MX_FAIL;
  }
  out_types->at(0) = in_types->at(0);
  return MXReturnValue::MX_SUCCESS;
}

MXReturnValue infer_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in_shapes,
                          std::vector<std::vector<unsigned int>>* out_shapes) {
  out_shapes->at(0) = in_shapes->at(0);
  return MXReturnValue::MX_SUCCESS;
}

MXReturnValue forward(const std::unordered_map<std::string, std::string>& attrs,
                      std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                      const OpResource& res) {
  MXTensor& in = inputs->at(0);
  const float* x = in.data<float>();
  float* y = outputs->at(0).data<float>();
  const int64_t n = in.size();
  const int64_t chunk = 1 << 15;  // 128 kB of floats per piece, split across OpenMP threads
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i += chunk) gelu_tanh(x + i, y + i, std::min(chunk, n - i));
  return MXReturnValue::MX_SUCCESS;
}

// Backward inputs: the output's gradient, then the forward input (then the forward output).
MXReturnValue backward(const std::unordered_map<std::string, std::string>& attrs,
                       std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                       const OpResource& res) {
  MXTensor& dy = inputs->at(0);
  MXTensor& x = inputs->at(1);
  MXTensor& dx = outputs->at(0);
  gelu_tanh_grad(dy.data<float>(), x.data<float>(), dx.data<float>(), x.size());
  return MXReturnValue::MX_SUCCESS;
}

}  // namespace

REGISTER_OP(lnlp_gelu_tanh)
    .setForward(forward, "cpu")
    .setBackward(backward, "cpu")
    .setParseAttrs(parse_attrs)
    .setInferType(infer_type)
    .setInferShape(infer_shape);
