// lnlp_masked_softmax(scores, mask): softmax over the last axis of scores + (1 - mask) * -10000,
// in one pass per row. scores is (B * heads, T, T), the attention scores of B sequences; mask is
// (B, T), 1 for a token and 0 for padding. The same maths as the graph's broadcast_add of the
// additive mask and softmax, whose broadcast_add alone cost more than the softmax (2.9 vs 1.6 ms
// per layer at T=384 here, docs/performance.md). Padded keys get exactly 0, as exp(-1e4) does
// in float32. Rows are split across OpenMP threads; each row's loops vectorise.
#include <algorithm>
#include <cstdint>
#include <limits>
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

constexpr float kMaskValue = -10000.0f;

__attribute__((target_clones("avx512f", "avx2,fma", "default")))
void softmax_row(const float* __restrict s, const float* __restrict m, float* __restrict y,
                 int64_t t) {
  float top = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : top)
  for (int64_t j = 0; j < t; ++j) {
    const float x = s[j] + (1.0f - m[j]) * kMaskValue;
    y[j] = x;
    top = std::max(top, x);
  }
  float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
  for (int64_t j = 0; j < t; ++j) {
    const float d = y[j] - top;
    const float e = d < -80.0f ? 0.0f : exp_bounded(std::max(d, -80.0f));
    y[j] = e;
    sum += e;
  }
  const float inv = 1.0f / sum;
#pragma omp simd
  for (int64_t j = 0; j < t; ++j) y[j] *= inv;
}

// Softmax's gradient, row by row: dx = y * (dy - sum(dy * y)). The mask gets none.
void softmax_row_grad(const float* dy, const float* y, float* dx, int64_t t) {
  float dot = 0.0f;
  for (int64_t j = 0; j < t; ++j) dot += dy[j] * y[j];
  for (int64_t j = 0; j < t; ++j) dx[j] = y[j] * (dy[j] - dot);
}

MXReturnValue parse_attrs(const std::unordered_map<std::string, std::string>& attrs,
                          int* num_in, int* num_out) {
  *num_in = 2;
  *num_out = 1;
  return MXReturnValue::MX_SUCCESS;
}

MXReturnValue infer_type(const std::unordered_map<std::string, std::string>& attrs,
                         std::vector<int>* in_types, std::vector<int>* out_types) {
  if (in_types->at(0) != mxnet::ext::kFloat32 || in_types->at(1) != mxnet::ext::kFloat32) {
    MX_ERROR_MSG << "lnlp_masked_softmax takes float32 scores and mask";
    return MXReturnValue::MX_FAIL;
  }
  out_types->at(0) = mxnet::ext::kFloat32;
  return MXReturnValue::MX_SUCCESS;
}

MXReturnValue infer_shape(const std::unordered_map<std::string, std::string>& attrs,
                          std::vector<std::vector<unsigned int>>* in_shapes,
                          std::vector<std::vector<unsigned int>>* out_shapes) {
  const auto& scores = in_shapes->at(0);
  const auto& mask = in_shapes->at(1);
  if (scores.size() != 3 || mask.size() != 2 || scores[1] != scores[2] ||
      mask[1] != scores[2] || mask[0] == 0 || scores[0] % mask[0] != 0) {
    MX_ERROR_MSG << "lnlp_masked_softmax wants scores (B * heads, T, T) and mask (B, T)";
    return MXReturnValue::MX_FAIL;
  }
  out_shapes->at(0) = scores;
  return MXReturnValue::MX_SUCCESS;
}

MXReturnValue forward(const std::unordered_map<std::string, std::string>& attrs,
                      std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                      const OpResource& res) {
  MXTensor& scores = inputs->at(0);
  MXTensor& mask = inputs->at(1);
  const float* s = scores.data<float>();
  const float* m = mask.data<float>();
  float* y = outputs->at(0).data<float>();
  const int64_t t = scores.shape[2];
  const int64_t rows = scores.shape[0] * t;
  const int64_t heads = scores.shape[0] / mask.shape[0];
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t b = r / t / heads;
    softmax_row(s + r * t, m + b * t, y + r * t, t);
  }
  return MXReturnValue::MX_SUCCESS;
}

// Backward inputs: the output's gradient, the forward inputs (scores, mask), the forward output.
MXReturnValue backward(const std::unordered_map<std::string, std::string>& attrs,
                       std::vector<MXTensor>* inputs, std::vector<MXTensor>* outputs,
                       const OpResource& res) {
  const float* dy = inputs->at(0).data<float>();
  MXTensor& y_tensor = inputs->at(3);
  const float* y = y_tensor.data<float>();
  float* dx = outputs->at(0).data<float>();
  const int64_t t = y_tensor.shape[2];
  const int64_t rows = y_tensor.shape[0] * t;
  for (int64_t r = 0; r < rows; ++r) softmax_row_grad(dy + r * t, y + r * t, dx + r * t, t);
  MXTensor& dmask = outputs->at(1);
  std::fill(dmask.data<float>(), dmask.data<float>() + dmask.size(), 0.0f);
  return MXReturnValue::MX_SUCCESS;
}

}  // namespace

REGISTER_OP(lnlp_masked_softmax)
    .setForward(forward, "cpu")
    .setBackward(backward, "cpu")
    .setParseAttrs(parse_attrs)
    .setInferType(infer_type)
    .setInferShape(infer_shape);
