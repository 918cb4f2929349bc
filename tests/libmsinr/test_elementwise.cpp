// The per-element math every backend shares (kernels/elementwise.hpp), checked on the CPU on every
// run: the CUDA kernels call these same __host__ __device__ functions, so what passes here is the
// arithmetic the GPU runs.
#include <doctest/doctest.h>

#include <cmath>

#include "kernels/elementwise.hpp"

using namespace msinr;

namespace {

// A one-neuron sine "network" in double: y(r) = sin(w0 (z + r vz + b + r vb)), the quantities the
// R-operator functions must differentiate along r exactly.
double central_difference(double (*f)(double), double h = 1e-6) { return (f(h) - f(-h)) / (2 * h); }

constexpr double kW0 = 30.0, kZ = 0.013, kB = -0.021, kVz = 0.7, kVb = -0.4, kUp = 0.9, kVup = -1.3;
double arg_at(double r) { return kW0 * ((kZ + r * kVz) + (kB + r * kVb)); }
double act_at(double r) { return std::sin(arg_at(r)); }
// Upstream gradient that itself moves with r (as it does inside a network): u(r) = kUp + r kVup.
double dz_at(double r) { return (kUp + r * kVup) * kW0 * std::cos(arg_at(r)); }

}  // namespace

TEST_CASE("Element-wise forward and backward math") {
  CHECK(kernels::sine_argument(0.25f, -0.05f, 200.0f) == doctest::Approx(40.0f));
  CHECK(kernels::sine_backward(0.5f, -0.25f, 200.0f) == doctest::Approx(-25.0f));
  CHECK(kernels::mse_gradient(0.75f, 0.25f, 0.1f) == doctest::Approx(0.1f));
}

TEST_CASE("R-operator element-wise math equals the derivative along the direction") {
  const double s = arg_at(0), c = std::cos(s), sn = std::sin(s);
  double rs = 0, ra = 0;
  kernels::r_sine_forward<double>(kVz, kVb, c, kW0, rs, ra);
  CHECK(rs == doctest::Approx(central_difference(arg_at)).epsilon(1e-7));
  CHECK(ra == doctest::Approx(central_difference(act_at)).epsilon(1e-6));

  double dz = 0, rdz = 0;
  kernels::r_sine_backward<double>(kUp, kVup, sn, c, rs, kW0, dz, rdz);
  CHECK(dz == doctest::Approx(kernels::sine_backward(kUp, c, kW0)));
  CHECK(dz == doctest::Approx(dz_at(0)));
  CHECK(rdz == doctest::Approx(central_difference(dz_at)).epsilon(1e-6));

  // R{2 (y - t) / count} = 2 R{y} / count
  CHECK(kernels::r_mse_gradient(0.3, 0.01) == doctest::Approx(0.006));
}

TEST_CASE("R-operator element-wise math matches the reference SIREN's formulas in float") {
  // The same expressions reference_siren.hpp writes out inline, term by term.
  const float w0 = 200.0f, rz = 0.031f, vb = -0.002f, z = 0.004f, b = 0.001f;
  const float s = w0 * (z + b), c = std::cos(s), sn = std::sin(s);
  float rs = 0, ra = 0;
  kernels::r_sine_forward(rz, vb, c, w0, rs, ra);
  CHECK(rs == w0 * (rz + vb));
  CHECK(ra == c * (w0 * (rz + vb)));
  const float d = 0.17f, rd = -0.05f;
  float dz = 0, rdz = 0;
  kernels::r_sine_backward(d, rd, sn, c, rs, w0, dz, rdz);
  CHECK(dz == d * w0 * c);
  CHECK(rdz == rd * w0 * c - d * w0 * sn * rs);
}

TEST_CASE("Masked Adam update: kept entries follow torch.optim.Adam, masked ones stay exactly zero") {
  const auto s1 = kernels::adam_step_scalars(1e-3f, 0.9f, 0.999f, 1);
  float p = 0.5f, m = 0.0f, v = 0.0f;
  kernels::adam_update(p, m, v, 0.2f, true, 0.9f, 0.999f, 1e-8f, s1);
  // Step 1 of Adam moves every kept parameter by lr * sign(g) (up to eps).
  CHECK(p == doctest::Approx(0.5f - 1e-3f).epsilon(1e-6));
  CHECK(m == doctest::Approx(0.02f));
  CHECK(v == doctest::Approx(0.001f * 0.04f));
  float q = 0.7f, mq = 0.3f, vq = 0.2f;
  kernels::adam_update(q, mq, vq, 5.0f, false, 0.9f, 0.999f, 1e-8f, s1);
  CHECK(q == 0.0f);
  CHECK(mq == 0.0f);
  CHECK(vq == 0.0f);
}
