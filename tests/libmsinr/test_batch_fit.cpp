// fit_batch on a non-CUDA backend: the fits run in lockstep on one evaluator and must give, bit for
// bit, what fit() gives for each of them alone (the CUDA version is compared in test_cuda).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/batch_fit.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"
#include "test_util.hpp"

using namespace msinr;

TEST_CASE("fit_batch on the CPU equals single fits exactly, dense and masked") {
  const Architecture arch{2, 24, 2, 3, 200.0f};
  const ParamLayout layout(arch);
  const Grid grid{9, 11};
  auto backend = make_cpu_backend();
  for (double density : {1.0, 0.3, 0.5}) {
    const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 17);
    std::vector<std::vector<float>> targets, inits;
    for (int i = 0; i < 3; ++i) {
      auto t = test::synthetic_target(grid.rows, grid.cols);
      for (std::size_t k = 0; k < t.size(); ++k) t[k] = (i % 2) ? 1.0f - t[k] : t[k] * (0.5f + 0.2f * i);
      targets.push_back(std::move(t));
      inits.push_back(siren_init(arch, 100 + i));  // unmasked: both paths must zero the masked entries
    }
    FitOptions single;
    single.steps = 12;
    single.adam.lr = 2e-3f;
    if (density == 0.5) single.adam.schedule = LrSchedule::kCosine;  // the schedule too, step for step
    std::vector<std::vector<float>> expected = inits;
    std::vector<FitResult> expected_results;
    auto evaluator = backend->make_evaluator(arch, mask, grid);
    for (std::size_t i = 0; i < expected.size(); ++i)
      expected_results.push_back(fit(*evaluator, mask, expected[i], targets[i].data(), single));

    BatchFitOptions batch;
    batch.steps = single.steps;
    batch.adam = single.adam;
    int calls = 0;
    batch.on_step = [&](int step, double mean_loss) {
      CHECK(step == ++calls);
      CHECK(mean_loss > 0.0);
      return true;
    };
    std::vector<std::vector<float>> got = inits;
    std::vector<const float*> target_ptrs;
    for (const auto& t : targets) target_ptrs.push_back(t.data());
    const auto results = fit_batch(*backend, arch, mask, grid, got, target_ptrs, batch);
    CAPTURE(density);
    CHECK(calls == single.steps);
    REQUIRE(results.size() == expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) {
      CHECK(got[i] == expected[i]);  // bit for bit
      CHECK(results[i].final_loss == expected_results[i].final_loss);
      CHECK(results[i].steps_taken == single.steps);
      CHECK_FALSE(results[i].cancelled);
      for (std::size_t k = 0; k < mask.size(); ++k)
        if (!mask[k]) REQUIRE(got[i][k] == 0.0f);
    }
  }
}

TEST_CASE("fit_batch stops every fit when the callback says so, and checks its inputs") {
  const Architecture arch{2, 8, 1, 3, 30.0f};
  const ParamLayout layout(arch);
  const Grid grid{4, 4};
  auto backend = make_cpu_backend();
  const Mask mask = dense_mask(layout);
  const auto target = test::synthetic_target(grid.rows, grid.cols);
  std::vector<std::vector<float>> params{siren_init(arch, 1), siren_init(arch, 2)};
  std::vector<const float*> targets{target.data(), target.data()};
  BatchFitOptions o;
  o.steps = 10;
  o.on_step = [](int step, double) { return step < 3; };
  const auto r = fit_batch(*backend, arch, mask, grid, params, targets, o);
  CHECK(r[0].steps_taken == 3);
  CHECK(r[1].cancelled);
  std::vector<const float*> one{target.data()};
  CHECK_THROWS_AS(fit_batch(*backend, arch, mask, grid, params, one, o), Error);
  std::vector<std::vector<float>> wrong{std::vector<float>(3)};
  CHECK_THROWS_AS(fit_batch(*backend, arch, mask, grid, wrong, one, o), Error);
  std::vector<std::vector<float>> none;
  CHECK(fit_batch(*backend, arch, mask, grid, none, {}, o).empty());
}

TEST_CASE("CUDA availability is answered without throwing; a missing GPU is a typed kDevice error") {
  // Runs everywhere (no skip): on a machine without a GPU or driver this is the path users hit.
  const bool available = cuda_backend_available();
  MESSAGE("cuda_backend_available() = " << available);
  if (available) return;
  try {
    make_cuda_backend();
    FAIL("make_cuda_backend() succeeded without a usable device");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kDevice);
    CHECK(std::string(e.what()).size() > 10);
  }
}
