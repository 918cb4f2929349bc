#pragma once
// The CUDA-vs-CPU comparisons shared by test_cuda (a real GPU, full sizes) and test_cuda_emulated
// (the CUDA backend's source on the CPU emulation, small sizes): one definition of what "matches"
// means, so the emulated suite checks exactly what the GPU suite will.
//
// Tolerances: both backends compute in float; they differ in summation order (cuBLAS vs OpenBLAS
// blocking, the reductions) and in sin/cos (CUDA's sincosf vs the CPU's vectorised polynomial),
// amplified by w0 = 200. The CPU backend's own test holds it within 2e-4 (outputs) and 5e-4
// (gradients) of the double-precision reference, so two float backends are held to twice that.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "test_util.hpp"

namespace msinr::cuda_test {

constexpr double kOutputTolerance = 4e-4;
constexpr double kGradientTolerance = 1e-3;

// rel_max_err per layer (weights and biases apart): small layers are not drowned out by large ones.
inline double layerwise_rel_err(const ParamLayout& layout, const std::vector<float>& a, const std::vector<float>& b) {
  double worst = 0.0;
  for (const LayerView& v : layout.layers()) {
    for (auto [off, n] : {std::pair{v.weight_offset, v.weight_count()}, std::pair{v.bias_offset, std::size_t(v.out)}}) {
      std::vector<float> x(a.begin() + off, a.begin() + off + n), y(b.begin() + off, b.begin() + off + n);
      worst = std::max(worst, test::rel_max_err(x, y));
    }
  }
  return worst;
}

inline std::vector<float> random_direction(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (auto& x : v) x = rng.uniform(-0.01f, 0.01f);
  return v;
}

inline Mask mask_of_density(const ParamLayout& layout, double density, std::uint64_t seed) {
  return density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, seed);
}

inline Architecture siren(int width) { return Architecture{2, width, 3, 3, 200.0f}; }

// Forward, loss and gradient of `cuda` against `cpu` on one problem. Masked parameters hold 7 (they
// must not matter); masked gradients must be exactly zero; a repeated call gives the same bits.
inline void check_forward_and_gradient(Backend& cuda, Backend& cpu, const Architecture& arch, int rows, int cols,
                                       double density) {
  ParamLayout layout(arch);
  const Mask mask = mask_of_density(layout, density, 5 + arch.hidden_width);
  auto params = siren_init(arch, 21);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) params[i] = 7.0f;
  const Grid grid{rows, cols};
  auto target = test::synthetic_target(rows, cols);
  auto c = cpu.make_evaluator(arch, mask, grid);
  auto g = cuda.make_evaluator(arch, mask, grid);
  std::vector<float> ref_out(grid.pixels() * 3), ref_grad(layout.param_count());
  c->forward(params.data(), ref_out.data());
  const double ref_loss = c->loss_and_gradient(params.data(), target.data(), ref_grad.data());
  std::vector<float> out(ref_out.size()), grad(ref_grad.size(), 123.0f);
  g->forward(params.data(), out.data());
  const double loss = g->loss_and_gradient(params.data(), target.data(), grad.data());
  CAPTURE(arch.describe());
  CAPTURE(rows);
  CAPTURE(cols);
  CAPTURE(density);
  CHECK(test::rel_max_err(out, ref_out) < kOutputTolerance);
  CHECK(std::fabs(loss - ref_loss) <= kOutputTolerance * ref_loss);
  CHECK(test::rel_max_err(grad, ref_grad) < kGradientTolerance);
  CHECK(layerwise_rel_err(layout, grad, ref_grad) < 5 * kGradientTolerance);
  CHECK(g->loss(params.data(), target.data()) == doctest::Approx(loss).epsilon(1e-6));
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) REQUIRE(grad[i] == 0.0f);
  std::vector<float> again(grad.size());
  CHECK(g->loss_and_gradient(params.data(), target.data(), again.data()) == loss);
  CHECK(again == grad);
}

// Gradient and Hessian-vector product of `cuda` against `cpu`, optionally on every third pixel.
// The HVP pass's gradient must equal the plain gradient pass, and forward renders the whole grid
// whatever the subset.
inline void check_hvp(Backend& cuda, Backend& cpu, const Architecture& arch, int rows, int cols, double density,
                      bool use_subset) {
  ParamLayout layout(arch);
  const Mask mask = mask_of_density(layout, density, 9);
  auto params = siren_init(arch, 2);
  auto v = random_direction(layout.param_count(), 3);
  const Grid grid{rows, cols};
  auto target = test::synthetic_target(grid.rows, grid.cols);
  auto c = cpu.make_evaluator(arch, mask, grid);
  auto g = cuda.make_evaluator(arch, mask, grid);
  if (use_subset) {
    std::vector<std::uint32_t> subset;
    for (std::uint32_t p = 1; p < grid.pixels(); p += 3) subset.push_back(p);
    c->set_pixel_subset(subset);
    g->set_pixel_subset(subset);
  }
  std::vector<float> rg(layout.param_count()), rh(rg.size()), gg(rg.size()), gh(rg.size());
  const double rloss = c->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
  const double loss = g->gradient_and_hvp(params.data(), v.data(), target.data(), gg.data(), gh.data());
  CAPTURE(arch.describe());
  CAPTURE(density);
  CAPTURE(use_subset);
  CHECK(std::fabs(loss - rloss) <= kOutputTolerance * rloss);
  CHECK(test::rel_max_err(gg, rg) < kGradientTolerance);
  CHECK(test::rel_max_err(gh, rh) < kGradientTolerance);
  CHECK(layerwise_rel_err(layout, gg, rg) < 5 * kGradientTolerance);
  CHECK(layerwise_rel_err(layout, gh, rh) < 5 * kGradientTolerance);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) REQUIRE(gh[i] == 0.0f);
  std::vector<float> plain(rg.size());
  CHECK(g->loss_and_gradient(params.data(), target.data(), plain.data()) == doctest::Approx(loss).epsilon(1e-6));
  CHECK(test::rel_max_err(plain, gg) < 1e-5);
  std::vector<float> out_c(grid.pixels() * 3), out_g(out_c.size());
  c->forward(params.data(), out_c.data());
  g->forward(params.data(), out_g.data());
  CHECK(test::rel_max_err(out_g, out_c) < kOutputTolerance);
}

// The paper's mask at a density: global magnitude pruning of `init` (dense at density 1).
inline Mask magnitude_mask_at(const ParamLayout& layout, const std::vector<float>& init, double density) {
  if (density == 1.0) return dense_mask(layout);
  return global_magnitude_mask(layout, init, dense_mask(layout),
                               static_cast<std::size_t>(density * layout.weight_count()));
}

// Bad problems and a missing device are typed errors, never aborts. `missing_device` is an index
// the machine (or the emulator) does not have.
inline void check_typed_errors(Backend& cuda, int missing_device) {
  Architecture arch{2, 8, 1, 3, 30.0f};
  ParamLayout layout(arch);
  CHECK_THROWS_AS(cuda.make_evaluator(arch, Mask(3, 1), Grid{4, 4}), Error);
  CHECK_THROWS_AS(cuda.make_evaluator(arch, dense_mask(layout), Grid{0, 4}), Error);
  Architecture three{3, 8, 1, 3, 30.0f};
  CHECK_THROWS_AS(cuda.make_evaluator(three, dense_mask(ParamLayout(three)), Grid{4, 4}), Error);
  CudaBackendOptions bad;
  bad.device = missing_device;
  try {
    make_cuda_backend(bad);
    FAIL("expected kDevice");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kDevice);
    CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
  }
}

}  // namespace msinr::cuda_test
