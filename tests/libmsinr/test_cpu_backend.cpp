// The optimized CPU backend against the reference backend over a grid of widths, pixel counts,
// densities and kernel variants, with both the dense (sgemm) and the sparse (CSR) layer paths.
//
// Tolerances: the reference computes in double, the CPU backend in float with w0 = 200
// amplifying rounding in every sine argument. Measured worst cases over this grid: 5.8e-6
// (outputs) and 1.8e-6 (gradients) relative to the largest reference value; the bounds below leave
// 30x headroom or more while still catching any indexing or masking mistake (those give O(1) errors).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "cpu/kernels.hpp"
#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {

constexpr double kOutputTolerance = 2e-4;
constexpr double kGradientTolerance = 5e-4;

std::vector<CpuBackendOptions::Kernels> kernel_variants() {
  std::vector<CpuBackendOptions::Kernels> v{CpuBackendOptions::Kernels::kGeneric};
  if (cpu::cpu_supports_avx2_fma()) v.push_back(CpuBackendOptions::Kernels::kAvx2);
  return v;
}

}  // namespace

TEST_CASE("CPU backend matches the reference: forward, loss and gradient") {
  auto reference = make_reference_backend();
  for (int width : {16, 40}) {
    for (int side : {5, 13}) {  // 25 and 169 pixels: partial blocks and padded lanes
      for (double density : {1.0, 0.5, 0.1, 0.02}) {
        Architecture arch{2, width, 3, 3, 200.0f};
        ParamLayout layout(arch);
        const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 5 + width);
        auto params = siren_init(arch, 21);
        const Grid grid{side, side + 2};
        auto target = test::synthetic_target(grid.rows, grid.cols);
        auto ref = reference->make_evaluator(arch, mask, grid);
        std::vector<float> ref_out(grid.pixels() * 3), ref_grad(layout.param_count());
        ref->forward(params.data(), ref_out.data());
        const double ref_loss = ref->loss_and_gradient(params.data(), target.data(), ref_grad.data());
        for (auto kernels : kernel_variants()) {
          for (double sparse_below : {0.0, 1.01}) {  // every layer dense, then every layer sparse
            for (int block : {8, 64}) {
              CpuBackendOptions opt;
              opt.kernels = kernels;
              opt.sparse_below_density = sparse_below;
              opt.block_pixels = block;
              auto cpu = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
              std::vector<float> out(ref_out.size()), grad(ref_grad.size(), 123.0f);
              cpu->forward(params.data(), out.data());
              const double loss = cpu->loss_and_gradient(params.data(), target.data(), grad.data());
              CAPTURE(width);
              CAPTURE(side);
              CAPTURE(density);
              CAPTURE(static_cast<int>(kernels));
              CAPTURE(sparse_below);
              CAPTURE(block);
              CHECK(test::rel_max_err(out, ref_out) < kOutputTolerance);
              CHECK(std::fabs(loss - ref_loss) <= kOutputTolerance * ref_loss);
              CHECK(test::rel_max_err(grad, ref_grad) < kGradientTolerance);
              CHECK(cpu->loss(params.data(), target.data()) == doctest::Approx(loss).epsilon(1e-6));
              for (std::size_t i = 0; i < mask.size(); ++i)
                if (!mask[i]) REQUIRE(grad[i] == 0.0f);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("CPU backend ignores whatever masked parameters hold") {
  Architecture arch{2, 16, 2, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.3, 9);
  auto params = siren_init(arch, 4);
  apply_mask(mask, params);
  auto dirty = params;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) dirty[i] = 0.5f;
  const Grid grid{6, 6};
  auto target = test::synthetic_target(6, 6);
  for (double sparse_below : {0.0, 1.01}) {
    CpuBackendOptions opt;
    opt.sparse_below_density = sparse_below;
    auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
    std::vector<float> g1(mask.size()), g2(mask.size());
    CHECK(ev->loss_and_gradient(params.data(), target.data(), g1.data()) ==
          ev->loss_and_gradient(dirty.data(), target.data(), g2.data()));
    CHECK(g1 == g2);
  }
}

TEST_CASE("vectorised sincos is accurate over the SIREN argument range") {
  // w0 = 200 puts first-layer arguments at up to a few hundred radians; test well past that.
  std::vector<float> x;
  for (int i = 0; i < 200000; ++i) x.push_back(-3000.0f + 6000.0f * static_cast<float>(i) / 200000.0f);
  for (float v : {0.0f, 1e-30f, -1e-7f, 0.785398f, 1.5707964f, 3.1415927f, 100.0f, -250.5f})
    for (int k = 0; k < 8; ++k) x.push_back(v);
  while (x.size() % 8) x.push_back(0.0f);
  std::vector<const cpu::KernelTable*> tables{&cpu::generic_kernels()};
  if (cpu::cpu_supports_avx2_fma()) tables.push_back(&cpu::avx2_kernels());
  for (const auto* k : tables) {
    std::vector<float> s(x.size()), c(x.size());
    k->sincos(x.data(), s.data(), c.data(), x.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double xd = x[i];
      worst = std::max({worst, std::fabs(s[i] - std::sin(xd)), std::fabs(c[i] - std::cos(xd))});
    }
    CAPTURE(k->name);
    // float's own spacing near 1 is 6e-8; the polynomials are within a few of those.
    CHECK(worst < 3e-7);
  }
}

TEST_CASE("CPU Hessian-vector product matches the reference, dense and sparse paths") {
  auto reference = make_reference_backend();
  for (double density : {1.0, 0.5, 0.1, 0.02}) {
    Architecture arch{2, 24, 3, 3, 200.0f};
    ParamLayout layout(arch);
    const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 31);
    auto params = siren_init(arch, 8);
    std::vector<float> v(params.size());
    Rng rng(4);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = rng.uniform(-1.0f, 1.0f) * (std::fabs(params[i]) + 1e-3f);
    const Grid grid{9, 7};
    auto target = test::synthetic_target(grid.rows, grid.cols);
    std::vector<float> rg(params.size()), rh(params.size());
    const double rloss = reference->make_evaluator(arch, mask, grid)
                             ->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
    for (auto kernels : kernel_variants()) {
      for (double sparse_below : {0.0, 1.01}) {
        CpuBackendOptions opt;
        opt.kernels = kernels;
        opt.sparse_below_density = sparse_below;
        opt.block_pixels = 16;
        auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
        std::vector<float> g(params.size()), h(params.size(), 7.0f);
        const double loss = ev->gradient_and_hvp(params.data(), v.data(), target.data(), g.data(), h.data());
        CAPTURE(density);
        CAPTURE(sparse_below);
        CHECK(std::fabs(loss - rloss) <= kOutputTolerance * rloss);
        CHECK(test::rel_max_err(g, rg) < kGradientTolerance);
        CHECK(test::rel_max_err(h, rh) < kGradientTolerance);
        for (std::size_t i = 0; i < mask.size(); ++i)
          if (!mask[i]) REQUIRE(h[i] == 0.0f);
      }
    }
  }
}

TEST_CASE("pixel subsets: loss over the chosen pixels, CPU and reference agree") {
  Architecture arch{2, 16, 2, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.3, 2);
  auto params = siren_init(arch, 6);
  const Grid grid{11, 13};
  auto target = test::synthetic_target(grid.rows, grid.cols);
  std::vector<std::uint32_t> subset;
  for (std::uint32_t p = 0; p < grid.pixels(); p += 3) subset.push_back(p);
  std::vector<float> v(params.size(), 0.01f);
  auto ref = make_reference_backend()->make_evaluator(arch, mask, grid);
  CpuBackendOptions opt;
  opt.block_pixels = 16;
  auto cpu = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
  // The subset loss is the mean squared error of the rendered image over exactly those pixels.
  std::vector<float> out(grid.pixels() * 3);
  cpu->forward(params.data(), out.data());
  double sse = 0.0;
  for (std::uint32_t p : subset)
    for (int c = 0; c < 3; ++c) sse += std::pow(out[p * 3 + c] - target[p * 3 + c], 2);
  ref->set_pixel_subset(subset);
  cpu->set_pixel_subset(subset);
  std::vector<float> rg(params.size()), rh(params.size()), g(params.size()), h(params.size());
  const double rloss = ref->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
  const double loss = cpu->gradient_and_hvp(params.data(), v.data(), target.data(), g.data(), h.data());
  CHECK(loss == doctest::Approx(sse / (subset.size() * 3.0)).epsilon(1e-5));
  CHECK(rloss == doctest::Approx(loss).epsilon(1e-5));
  CHECK(test::rel_max_err(g, rg) < kGradientTolerance);
  CHECK(test::rel_max_err(h, rh) < kGradientTolerance);
  // Forward still renders the whole grid with a subset set.
  std::vector<float> out2(out.size());
  cpu->forward(params.data(), out2.data());
  CHECK(out2 == out);
  // Every pixel as the subset is the same as none.
  std::vector<std::uint32_t> all(grid.pixels());
  for (std::uint32_t p = 0; p < all.size(); ++p) all[p] = p;
  cpu->set_pixel_subset(all);
  const double l_all = cpu->loss(params.data(), target.data());
  cpu->set_pixel_subset({});
  CHECK(l_all == doctest::Approx(cpu->loss(params.data(), target.data())).epsilon(1e-6));
  CHECK_THROWS_AS(cpu->set_pixel_subset({static_cast<std::uint32_t>(grid.pixels())}), Error);
}

TEST_CASE("CPU backend matches the reference on a Fourier-feature network: output, gradient, HVP") {
  // Same tolerances as the SIREN: the encoding's phase reaches a few hundred radians at sigma 20,
  // which the backend reduces in double before its float sincos (see fourier_encode).
  auto reference = make_reference_backend();
  for (double density : {1.0, 0.5, 0.1, 0.02}) {
    const Architecture arch = test::ffn(24, 4, 12);
    ParamLayout layout(arch);
    CHECK(layout.layers().size() == 4u);  // 3 ReLU layers and the output; the encoding has no parameters
    CHECK(layout.layers().front().in == 24);
    const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 41);
    auto params = siren_init(arch, 9);
    std::vector<float> v(params.size());
    Rng rng(6);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = rng.uniform(-1.0f, 1.0f) * (std::fabs(params[i]) + 1e-3f);
    const Grid grid{11, 9};
    auto target = test::synthetic_target(grid.rows, grid.cols);
    auto ref = reference->make_evaluator(arch, mask, grid);
    std::vector<float> ref_out(grid.pixels() * 3), rg(params.size()), rh(params.size());
    ref->forward(params.data(), ref_out.data());
    const double rloss = ref->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
    for (auto kernels : kernel_variants()) {
      for (double sparse_below : {0.0, 1.01}) {
        CpuBackendOptions opt;
        opt.kernels = kernels;
        opt.sparse_below_density = sparse_below;
        opt.block_pixels = 16;
        auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
        std::vector<float> out(ref_out.size()), g(params.size(), 5.0f), g2(params.size()), h(params.size(), 7.0f);
        ev->forward(params.data(), out.data());
        const double loss = ev->gradient_and_hvp(params.data(), v.data(), target.data(), g.data(), h.data());
        CAPTURE(density);
        CAPTURE(static_cast<int>(kernels));
        CAPTURE(sparse_below);
        CHECK(test::rel_max_err(out, ref_out) < kOutputTolerance);
        CHECK(std::fabs(loss - rloss) <= kOutputTolerance * rloss);
        CHECK(test::rel_max_err(g, rg) < kGradientTolerance);
        CHECK(test::rel_max_err(h, rh) < kGradientTolerance);
        CHECK(ev->loss_and_gradient(params.data(), target.data(), g2.data()) == doctest::Approx(loss).epsilon(1e-6));
        CHECK(test::rel_max_err(g2, g) < 1e-6);
        for (std::size_t i = 0; i < mask.size(); ++i)
          if (!mask[i]) REQUIRE((g[i] == 0.0f && h[i] == 0.0f));
      }
    }
  }
}
