#pragma once
// Per-element math shared by every backend. Written once as __host__ __device__ functions so the
// CUDA kernels run exactly the arithmetic the CPU tests check on every CI run.
#include <cmath>

#if defined(__CUDACC__)
#define MSINR_HD __host__ __device__ __forceinline__
#else
#define MSINR_HD inline
#endif

namespace msinr::kernels {

// Sine layer forward: pre-activation z = W x (without bias) -> argument w0 (z + b).
template <class T>
MSINR_HD T sine_argument(T z, T bias, T w0) {
  return w0 * (z + bias);
}

// Sine layer backward: dL/dz = dL/dy * w0 * cos(w0 (z + b)), given the stored cosine.
template <class T>
MSINR_HD T sine_backward(T upstream, T cos_of_argument, T w0) {
  return upstream * w0 * cos_of_argument;
}

// d(MSE)/d(output) for one element: 2 (y - t) / count.
template <class T>
MSINR_HD T mse_gradient(T output, T target, T inv_count) {
  return T(2) * (output - target) * inv_count;
}

// The R-operator (Pearlmutter 1994) companions of the above, for exact Hessian-vector products.
// R{q} = d/dr q(theta + r v) at r = 0; rz is R{W x} = V x + W R{x} (without the bias).

// R{d(MSE)/d(output)} = 2 R{y} / count (the target does not depend on the parameters).
template <class T>
MSINR_HD T r_mse_gradient(T r_output, T inv_count) {
  return T(2) * r_output * inv_count;
}

// Sine layer forward, R{}: R{s} = w0 (rz + v_bias) (kept for backward) and R{sin(s)} = cos(s) R{s}.
template <class T>
MSINR_HD void r_sine_forward(T rz, T v_bias, T cos_of_argument, T w0, T& r_argument, T& r_activation) {
  r_argument = w0 * (rz + v_bias);
  r_activation = cos_of_argument * r_argument;
}

// Sine layer backward with its R{}: given dL/dy (upstream) and R{dL/dy} (r_upstream) at a sine
// output y = sin(s), returns dL/dz = upstream w0 cos(s) in dz and
// R{dL/dz} = r_upstream w0 cos(s) - upstream w0 sin(s) R{s} in r_dz.
template <class T>
MSINR_HD void r_sine_backward(T upstream, T r_upstream, T sin_of_argument, T cos_of_argument, T r_argument, T w0,
                              T& dz, T& r_dz) {
  dz = upstream * w0 * cos_of_argument;
  r_dz = r_upstream * w0 * cos_of_argument - upstream * w0 * sin_of_argument * r_argument;
}

// The Fourier-feature network (appendix B). ReLU is piecewise linear, so its R-operator terms are
// the same gate applied to R{} quantities, with no second-derivative term.

// ReLU layer forward: a = max(0, z + b).
template <class T>
MSINR_HD T relu_forward(T z, T bias) {
  const T a = z + bias;
  return a > T(0) ? a : T(0);
}

// ReLU layer forward, R{}: R{a} = 1[a > 0] (rz + v_bias), given the activation a.
template <class T>
MSINR_HD T r_relu_forward(T activation, T rz, T v_bias) {
  return activation > T(0) ? rz + v_bias : T(0);
}

// ReLU layer backward, and also its R{}: upstream passes where the activation is positive.
template <class T>
MSINR_HD T relu_backward(T upstream, T activation) {
  return activation > T(0) ? upstream : T(0);
}

// The encoding's phase t = b0 (row + 1) + b1 (col + 1) for sin(pi t) and cos(pi t), reduced modulo 2
// (their period) in double: t reaches a few hundred at sigma 20, where float would lose ~1e-4 rad.
MSINR_HD float fourier_phase(float b0, float b1, float row, float col) {
  const double t = static_cast<double>(b0) * (static_cast<double>(row) + 1.0) +
                   static_cast<double>(b1) * (static_cast<double>(col) + 1.0);
  return static_cast<float>(t - 2.0 * ::floor(0.5 * t));
}

// Bias corrections of Adam at step t (1-based), computed once per step on the host.
struct AdamStepScalars {
  float lr_over_bc1;      // lr / (1 - beta1^t)
  float inv_sqrt_bc2;     // 1 / sqrt(1 - beta2^t)
};

inline AdamStepScalars adam_step_scalars(float lr, float beta1, float beta2, int t) {
  const double bc1 = 1.0 - std::pow(static_cast<double>(beta1), t);
  const double bc2 = 1.0 - std::pow(static_cast<double>(beta2), t);
  return {static_cast<float>(lr / bc1), static_cast<float>(1.0 / std::sqrt(bc2))};
}

// One Adam update of one parameter, as torch.optim.Adam (foreach=False) computes it:
//   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
// A masked-out parameter stays exactly zero, and its moments stay zero.
MSINR_HD void adam_update(float& p, float& m, float& v, float g, bool keep, float beta1, float beta2, float eps,
                          AdamStepScalars s) {
  if (!keep) {
    p = 0.0f;
    m = 0.0f;
    v = 0.0f;
    return;
  }
  m = beta1 * m + (1.0f - beta1) * g;
  v = beta2 * v + (1.0f - beta2) * g * g;
  const float denom = sqrtf(v) * s.inv_sqrt_bc2 + eps;
  p -= s.lr_over_bc1 * (m / denom);
}

}  // namespace msinr::kernels
