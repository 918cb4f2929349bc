// The CUDA backend against the optimized CPU backend: forward, loss, gradient, Hessian-vector
// product, pixel subsets, Adam, full 100-step fits and batched fits. Every case SKIPS (printing
// "SKIPPED: no CUDA device", which ctest reports as skipped) where no GPU is usable, unless
// MSINR_REQUIRE_CUDA=1 is set (scripts/gpu-check sets it), which turns the skip into a failure.
//
// Tolerances and the shared comparisons: cuda_invariance.hpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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

namespace {

// True when a CUDA device is usable. Otherwise prints the skip (or fails under MSINR_REQUIRE_CUDA).
bool cuda_or_skip() {
  if (cuda_backend_available()) return true;
  const char* require = std::getenv("MSINR_REQUIRE_CUDA");
  if (require && std::string(require) == "1") FAIL("MSINR_REQUIRE_CUDA=1 but no CUDA device is usable");
  std::printf("SKIPPED: no CUDA device (or this msinr was built without the CUDA backend)\n");
  MESSAGE("SKIPPED: no CUDA device");
  return false;
}

}  // namespace

TEST_CASE("CUDA backend describes its device") {
  if (!cuda_or_skip()) return;
  auto cuda = make_cuda_backend();
  CHECK(cuda->device() == Device::kCuda);
  const std::string d = cuda->description();
  MESSAGE("device: " << d);
  CHECK(d.rfind("cuda (", 0) == 0);
  CHECK(d.find("sm_") != std::string::npos);
  CHECK(d.find("FP32") != std::string::npos);  // TF32 stays off unless asked for
}

TEST_CASE("CUDA matches the CPU backend: forward, loss and gradient") {
  if (!cuda_or_skip()) return;
  auto cuda = make_cuda_backend();
  auto cpu = make_cpu_backend();
  for (int width : {16, 40, 256})
    for (auto [rows, cols] : {std::pair{1, 1}, std::pair{5, 7}, std::pair{13, 15}, std::pair{37, 41}})
      for (double density : {1.0, 0.3, 0.044}) {
        check_forward_and_gradient(*cuda, *cpu, siren(width), rows, cols, density);
        if (width % 2 == 0) check_forward_and_gradient(*cuda, *cpu, test::ffn(width, 4, width / 2), rows, cols, density);
      }
}

TEST_CASE("CUDA ignores whatever masked parameters hold") {
  if (!cuda_or_skip()) return;
  Architecture arch{2, 32, 2, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.2, 3);
  auto params = siren_init(arch, 4);
  auto dirty = params;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) dirty[i] = 1e3f;
  const Grid grid{10, 10};
  auto target = test::synthetic_target(10, 10);
  auto g = make_cuda_backend()->make_evaluator(arch, mask, grid);
  std::vector<float> a(layout.param_count()), b(layout.param_count()), ha(a.size()), hb(a.size());
  CHECK(g->loss_and_gradient(params.data(), target.data(), a.data()) ==
        g->loss_and_gradient(dirty.data(), target.data(), b.data()));
  CHECK(a == b);
  auto v = random_direction(layout.param_count(), 8), vdirty = v;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) vdirty[i] = 1e3f;
  g->gradient_and_hvp(params.data(), v.data(), target.data(), a.data(), ha.data());
  g->gradient_and_hvp(dirty.data(), vdirty.data(), target.data(), b.data(), hb.data());
  CHECK(ha == hb);
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) REQUIRE(hb[i] == 0.0f);
}

TEST_CASE("CUDA Hessian-vector product matches the CPU backend, with and without pixel subsets") {
  if (!cuda_or_skip()) return;
  auto cuda = make_cuda_backend();
  auto cpu = make_cpu_backend();
  for (int width : {24, 256})
    for (double density : {1.0, 0.1})
      for (bool use_subset : {false, true}) {
        check_hvp(*cuda, *cpu, siren(width), 23, 29, density, use_subset);
        check_hvp(*cuda, *cpu, test::ffn(width, 4, width / 2), 23, 29, density, use_subset);
      }
}

TEST_CASE("CUDA evaluator rejects bad problems with typed errors") {
  if (!cuda_or_skip()) return;
  check_typed_errors(*make_cuda_backend(), 1 << 20);
}

TEST_CASE("CUDA fits track CPU fits: Adam steps, and 100 steps at 178x178 within 0.1 dB") {
  if (!cuda_or_skip()) return;
  auto cuda = make_cuda_backend();
  auto cpu = make_cpu_backend();
  const Architecture arch;  // the paper's 4 x 256 SIREN, w0 = 200
  const ParamLayout layout(arch);
  const Grid grid{178, 178};
  const auto target = test::synthetic_target(grid.rows, grid.cols);
  for (double density : {1.0, 0.044}) {
    CAPTURE(density);
    const auto init = siren_init(arch, 7);
    const Mask mask = magnitude_mask_at(layout, init, density);
    // A few Adam steps: parameters agree closely (Adam moves each by at most about lr per step).
    // 1e-3 diverges from a dense w0 = 200 init (trajectories would then differ chaotically).
    const float lr = density >= 0.25 ? 1e-4f : 1e-3f;
    FitOptions few;
    few.steps = 3;
    few.adam.lr = lr;
    auto pc = init, pg = init;
    auto ec = cpu->make_evaluator(arch, mask, grid);
    auto eg = cuda->make_evaluator(arch, mask, grid);
    fit(*ec, mask, pc, target.data(), few);
    fit(*eg, mask, pg, target.data(), few);
    std::size_t far = 0;
    for (std::size_t i = 0; i < pc.size(); ++i) {
      if (!mask[i]) REQUIRE(pg[i] == 0.0f);
      if (std::fabs(pc[i] - pg[i]) > 0.1 * few.adam.lr * few.steps) ++far;
    }
    CHECK(far <= pc.size() / 1000);  // only entries whose gradient is near zero may differ in sign
    // The full 100-step fit.
    FitOptions full;
    full.adam.lr = lr;
    auto qc = init, qg = init;
    const FitResult rc = fit(*ec, mask, qc, target.data(), full);
    const FitResult rg = fit(*eg, mask, qg, target.data(), full);
    MESSAGE("density " << density << ": CPU " << rc.final_psnr << " dB in " << rc.seconds << " s, CUDA "
                       << rg.final_psnr << " dB in " << rg.seconds << " s");
    CHECK(std::fabs(rc.final_psnr - rg.final_psnr) < 0.1);
    // The CUDA backend's own loss of the CUDA fit agrees with the CPU's loss of it.
    CHECK(ec->loss(qg.data(), target.data()) == doctest::Approx(rg.final_loss).epsilon(1e-3));
  }
}

// The gate for TF32 (issue: tensor cores only where a test shows the PSNR after 100 steps unchanged
// within 0.05 dB). --tf32 stays opt-in until this passes on the GPU the project targets.
TEST_CASE("TF32 GEMMs leave the PSNR of a 100-step fit at 178x178 within 0.05 dB of FP32") {
  if (!cuda_or_skip()) return;
  CudaBackendOptions tf32_options;
  tf32_options.allow_tf32 = true;
  auto fp32 = make_cuda_backend();
  auto tf32 = make_cuda_backend(tf32_options);
  CHECK(tf32->description().find("TF32") != std::string::npos);
  const Architecture arch;
  const ParamLayout layout(arch);
  const Grid grid{178, 178};
  const auto target = test::synthetic_target(grid.rows, grid.cols);
  for (double density : {1.0, 0.044}) {
    CAPTURE(density);
    const auto init = siren_init(arch, 11);
    const Mask mask = magnitude_mask_at(layout, init, density);
    FitOptions full;
    full.adam.lr = density >= 0.25 ? 1e-4f : 1e-3f;
    auto a = init, b = init;
    const FitResult ra = fit(*fp32->make_evaluator(arch, mask, grid), mask, a, target.data(), full);
    const FitResult rb = fit(*tf32->make_evaluator(arch, mask, grid), mask, b, target.data(), full);
    MESSAGE("density " << density << ": FP32 " << ra.final_psnr << " dB in " << ra.seconds << " s, TF32 "
                       << rb.final_psnr << " dB in " << rb.seconds << " s");
    CHECK(std::fabs(ra.final_psnr - rb.final_psnr) < 0.05);
  }
}

TEST_CASE("CUDA batched fits equal CUDA single fits, and repeat bit for bit") {
  if (!cuda_or_skip()) return;
  auto cuda = make_cuda_backend();
  const Architecture arch;
  const ParamLayout layout(arch);
  const Grid grid{64, 48};  // not a multiple of the block size in any direction
  for (double density : {1.0, 0.044}) {
    CAPTURE(density);
    const auto init = siren_init(arch, 11);
    const Mask mask = magnitude_mask_at(layout, init, density);
    std::vector<std::vector<float>> targets;
    std::vector<std::vector<float>> inits;
    for (int i = 0; i < 5; ++i) {
      auto t = test::synthetic_target(grid.rows, grid.cols);
      for (auto& x : t) x = (i % 2) ? 1.0f - x : x * (0.6f + 0.1f * i);
      targets.push_back(std::move(t));
      inits.push_back(siren_init(arch, 11 + i));
    }
    std::vector<const float*> tp;
    for (const auto& t : targets) tp.push_back(t.data());
    BatchFitOptions bo;
    bo.steps = 100;
    bo.adam.lr = density >= 0.25 ? 1e-4f : 1e-3f;
    auto batched = inits;
    const auto rb = fit_batch(*cuda, arch, mask, grid, batched, tp, bo);
    auto again = inits;
    bo.max_batch = 0;
    fit_batch(*cuda, arch, mask, grid, again, tp, bo);
    CHECK(again == batched);  // deterministic
    auto split = inits;
    bo.max_batch = 2;  // 2 + 2 + 1: device batches of different sizes, including one of one
    const auto rs = fit_batch(*cuda, arch, mask, grid, split, tp, bo);
    auto eval = cuda->make_evaluator(arch, mask, grid);
    for (std::size_t i = 0; i < inits.size(); ++i) {
      auto single = inits[i];
      FitOptions fo;
      fo.steps = bo.steps;
      fo.adam = bo.adam;
      const FitResult r = fit(*eval, mask, single, targets[i].data(), fo);
      CAPTURE(i);
      CHECK(std::fabs(r.final_psnr - rb[i].final_psnr) < 0.05);
      CHECK(std::fabs(r.final_psnr - rs[i].final_psnr) < 0.05);
      for (std::size_t k = 0; k < mask.size(); ++k)
        if (!mask[k]) REQUIRE(batched[i][k] == 0.0f);
    }
  }
}
