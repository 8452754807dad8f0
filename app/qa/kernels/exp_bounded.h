// exp for the lambda-nlp QA kernels: branch-free, so loops that call it vectorise.
#ifndef LNLP_EXP_BOUNDED_H_
#define LNLP_EXP_BOUNDED_H_

#include <cstdint>
#include <cstring>

namespace lnlp {

// exp(v) for v in [-80, 80]: v = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), exp(r)
// by its degree-6 Taylor polynomial (relative error < 2e-7 on that interval), 2^n by building
// the float's exponent bits.
inline float exp_bounded(float v) {
  const float log2e = 1.44269504088896341f;
  const float ln2_hi = 0.693359375f;
  const float ln2_lo = -2.12194440e-4f;
  // Round to nearest by the 1.5 * 2^23 trick: unlike nearbyint it vectorises without -ffast-math.
  const float shifter = 12582912.0f;
  float n = (v * log2e + shifter) - shifter;
  float r = v - n * ln2_hi;
  r = r - n * ln2_lo;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

}  // namespace lnlp

#endif  // LNLP_EXP_BOUNDED_H_
