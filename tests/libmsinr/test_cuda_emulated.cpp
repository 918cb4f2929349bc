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
#include "cuda_invariance.hpp"
#include "test_util.hpp"

using namespace msinr;

using namespace msinr::cuda_test;

TEST_CASE("emulated CUDA: forward, loss and gradient match the CPU backend") {
  auto cuda = make_cuda_backend();
  CHECK(cuda->description().rfind("cuda (Emulated GPU, sm_90", 0) == 0);
  auto cpu = make_cpu_backend();
  for (int width : {16, 40})
    for (auto [rows, cols] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{13, 23}})
      for (double density : {1.0, 0.3}) {
        check_forward_and_gradient(*cuda, *cpu, siren(width), rows, cols, density);
        check_forward_and_gradient(*cuda, *cpu, test::ffn(width, 3, width / 2), rows, cols, density);
      }
}

TEST_CASE("emulated CUDA: Hessian-vector product matches the CPU backend, with and without a pixel subset") {
  auto cuda = make_cuda_backend();
  auto cpu = make_cpu_backend();
  for (double density : {1.0, 0.2})
    for (bool use_subset : {false, true}) {
      check_hvp(*cuda, *cpu, siren(24), 11, 13, density, use_subset);
      check_hvp(*cuda, *cpu, test::ffn(24, 3, 12), 11, 13, density, use_subset);
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
  check_typed_errors(*make_cuda_backend(), 5);  // the emulator has one device
}
