// The CUDA backend's own source (libmsinr/src/cuda/cuda_backend.cu) compiled as C++ against a CPU
// emulation of the CUDA runtime and cuBLAS (tests/cuda_emulation/cuda_emu.hpp), run on every
// machine: its kernels, launch configurations, cuBLAS argument choices (layouts, leading dimensions,
// strides), reductions, masking, R-operator and batched fitter, against the CPU backend. Sizes are
// small because the emulator is slow; test_cuda repeats the comparisons at full size on a GPU.
// What this cannot show: data races, the GPU's sincosf, cuBLAS's own algorithms, real memory limits.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/batch_fit.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {
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
}  // namespace

TEST_CASE("emulated CUDA: forward, loss and gradient match the CPU backend") {
  auto cuda = make_cuda_backend();
  CHECK(cuda->description().rfind("cuda (Emulated GPU, sm_90", 0) == 0);
  auto cpu = make_cpu_backend();
  for (int width : {16, 40}) {
    for (auto [rows, cols] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{13, 23}}) {
      for (double density : {1.0, 0.3}) {
        Architecture arch{2, width, 3, 3, 200.0f};
        ParamLayout layout(arch);
        const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 5 + width);
        auto params = siren_init(arch, 21);
        for (std::size_t i = 0; i < mask.size(); ++i)
          if (!mask[i]) params[i] = 7.0f;  // masked values must not matter
        const Grid grid{rows, cols};
        auto target = test::synthetic_target(rows, cols);
        auto c = cpu->make_evaluator(arch, mask, grid);
        auto g = cuda->make_evaluator(arch, mask, grid);
        std::vector<float> ref_out(grid.pixels() * 3), ref_grad(layout.param_count());
        c->forward(params.data(), ref_out.data());
        const double ref_loss = c->loss_and_gradient(params.data(), target.data(), ref_grad.data());
        std::vector<float> out(ref_out.size()), grad(ref_grad.size(), 123.0f);
        g->forward(params.data(), out.data());
        const double loss = g->loss_and_gradient(params.data(), target.data(), grad.data());
        CAPTURE(width);
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
      }
    }
  }
}

TEST_CASE("emulated CUDA: Hessian-vector product matches the CPU backend, with and without a pixel subset") {
  auto cuda = make_cuda_backend();
  auto cpu = make_cpu_backend();
  for (double density : {1.0, 0.2}) {
    for (bool use_subset : {false, true}) {
      Architecture arch{2, 24, 3, 3, 200.0f};
      ParamLayout layout(arch);
      const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 9);
      auto params = siren_init(arch, 2);
      Rng rng(3);
      std::vector<float> v(layout.param_count());
      for (auto& x : v) x = rng.uniform(-0.01f, 0.01f);
      const Grid grid{11, 13};
      auto target = test::synthetic_target(grid.rows, grid.cols);
      auto c = cpu->make_evaluator(arch, mask, grid);
      auto g = cuda->make_evaluator(arch, mask, grid);
      if (use_subset) {
        std::vector<std::uint32_t> subset;
        for (std::uint32_t p = 1; p < grid.pixels(); p += 3) subset.push_back(p);
        c->set_pixel_subset(subset);
        g->set_pixel_subset(subset);
      }
      std::vector<float> rg(layout.param_count()), rh(rg.size()), gg(rg.size()), gh(rg.size());
      const double rloss = c->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
      const double loss = g->gradient_and_hvp(params.data(), v.data(), target.data(), gg.data(), gh.data());
      CAPTURE(density);
      CAPTURE(use_subset);
      CHECK(std::fabs(loss - rloss) <= kOutputTolerance * rloss);
      CHECK(test::rel_max_err(gg, rg) < kGradientTolerance);
      CHECK(test::rel_max_err(gh, rh) < kGradientTolerance);
      CHECK(layerwise_rel_err(layout, gg, rg) < 5 * kGradientTolerance);
      CHECK(layerwise_rel_err(layout, gh, rh) < 5 * kGradientTolerance);
      for (std::size_t i = 0; i < mask.size(); ++i)
        if (!mask[i]) REQUIRE(gh[i] == 0.0f);
      std::vector<float> out_c(grid.pixels() * 3), out_g(out_c.size());
      c->forward(params.data(), out_c.data());
      g->forward(params.data(), out_g.data());  // the whole grid, whatever the subset
      CHECK(test::rel_max_err(out_g, out_c) < kOutputTolerance);
    }
  }
  Architecture arch{2, 8, 1, 3, 30.0f};
  auto g = cuda->make_evaluator(arch, dense_mask(ParamLayout(arch)), Grid{2, 2});
  g->set_pixel_subset({0, 1, 2, 3, 0});  // repeats: larger than the grid's buffers
  std::vector<float> p = siren_init(arch, 1), t(12, 0.5f), gr(p.size());
  CHECK_THROWS_AS(g->loss_and_gradient(p.data(), t.data(), gr.data()), Error);
}

TEST_CASE("emulated CUDA: batched fits equal single fits exactly, track CPU fits, and stop on request") {
  auto cuda = make_cuda_backend();
  auto cpu = make_cpu_backend();
  const Architecture arch{2, 24, 2, 3, 200.0f};
  const ParamLayout layout(arch);
  const Grid grid{9, 11};
  for (double density : {1.0, 0.3}) {
    CAPTURE(density);
    const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 17);
    std::vector<std::vector<float>> targets, inits;
    for (int i = 0; i < 4; ++i) {
      auto t = test::synthetic_target(grid.rows, grid.cols);
      for (auto& x : t) x = (i % 2) ? 1.0f - x : x * (0.5f + 0.2f * i);
      targets.push_back(t);
      inits.push_back(siren_init(arch, 100 + i));
    }
    std::vector<const float*> tp;
    for (auto& t : targets) tp.push_back(t.data());
    BatchFitOptions bo;
    bo.steps = 12;
    bo.adam.lr = 2e-3f;
    int calls = 0;
    bo.on_step = [&](int, double) { return ++calls > 0; };
    auto batched = inits;
    const auto rb = fit_batch(*cuda, arch, mask, grid, batched, tp, bo);
    CHECK(calls == bo.steps);
    auto split = inits;
    bo.max_batch = 3;  // device batches of 3 and 1
    const auto rs = fit_batch(*cuda, arch, mask, grid, split, tp, bo);
    auto ev = cuda->make_evaluator(arch, mask, grid);
    auto evc = cpu->make_evaluator(arch, mask, grid);
    for (std::size_t i = 0; i < inits.size(); ++i) {
      CAPTURE(i);
      FitOptions fo;
      fo.steps = bo.steps;
      fo.adam = bo.adam;
      auto single = inits[i];
      const FitResult r = fit(*ev, mask, single, tp[i], fo);
      // The emulator does the same arithmetic for a batch as for one fit: equal to the bit.
      CHECK(single == batched[i]);
      CHECK(single == split[i]);
      CHECK(r.final_loss == rb[i].final_loss);
      CHECK(r.final_loss == rs[i].final_loss);
      auto c = inits[i];
      const FitResult rc = fit(*evc, mask, c, tp[i], fo);
      CHECK(std::fabs(rc.final_psnr - r.final_psnr) < 0.01);
      CHECK(test::rel_max_err(single, c) < 1e-3);
      for (std::size_t k = 0; k < mask.size(); ++k)
        if (!mask[k]) REQUIRE(batched[i][k] == 0.0f);
    }
    bo.max_batch = 0;
    bo.on_step = [](int step, double) { return step < 4; };
    auto stopped = inits;
    const auto rc = fit_batch(*cuda, arch, mask, grid, stopped, tp, bo);
    CHECK(rc[0].steps_taken == 4);
    CHECK(rc[3].cancelled);
  }
}

TEST_CASE("emulated CUDA: typed errors for bad problems") {
  auto cuda = make_cuda_backend();
  Architecture arch{2, 8, 1, 3, 30.0f};
  ParamLayout layout(arch);
  CHECK_THROWS_AS(cuda->make_evaluator(arch, Mask(3, 1), Grid{4, 4}), Error);
  CHECK_THROWS_AS(cuda->make_evaluator(arch, dense_mask(layout), Grid{0, 4}), Error);
  Architecture three{3, 8, 1, 3, 30.0f};
  CHECK_THROWS_AS(cuda->make_evaluator(three, dense_mask(ParamLayout(three)), Grid{4, 4}), Error);
  CudaBackendOptions bad;
  bad.device = 5;  // the emulator has one device
  try {
    make_cuda_backend(bad);
    FAIL("expected kDevice");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kDevice);
    CHECK(std::string(e.what()).find("does not exist") != std::string::npos);
  }
}
