// fit_batch on a non-CUDA backend: the fits run in lockstep on one evaluator and must give, bit for
// bit, what fit() gives for each of them alone (the CUDA version is compared in test_cuda).
#include <doctest/doctest.h>

#include <algorithm>
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
    if (density == 0.3) single.sampling.fraction = 0.4;  // and subset fits: the same subsets, step for step
    if (density == 0.5) single.frozen = bias_flags(layout);  // and frozen biases
    std::vector<std::vector<float>> expected = inits;
    std::vector<FitResult> expected_results;
    auto evaluator = backend->make_evaluator(arch, mask, grid);
    for (std::size_t i = 0; i < expected.size(); ++i)
      expected_results.push_back(fit(*evaluator, mask, expected[i], targets[i].data(), single));

    BatchFitOptions batch;
    batch.steps = single.steps;
    batch.adam = single.adam;
    batch.sampling = single.sampling;
    batch.frozen = single.frozen;
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
      for (std::size_t k = 0; k < mask.size(); ++k) {
        if (!mask[k]) REQUIRE(got[i][k] == 0.0f);
        if (!single.frozen.empty() && single.frozen[k]) REQUIRE(got[i][k] == inits[i][k]);
      }
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

TEST_CASE("CUDA availability is answered without throwing, and a missing GPU is a typed kDevice error") {
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

TEST_CASE("make_backend is the one factory: devices resolve, names round-trip, unknown names are refused") {
  for (Device d : {Device::kAuto, Device::kCpu, Device::kCuda, Device::kReference})
    CHECK(parse_device(device_name(d)) == d);
  CHECK_THROWS_AS(parse_device("gpu"), Error);
  CHECK_THROWS_AS(parse_device(""), Error);

  BackendOptions cpu;
  cpu.device = Device::kCpu;
  CHECK(make_backend(cpu)->device() == Device::kCpu);
  BackendOptions reference;
  reference.device = Device::kReference;
  CHECK(make_backend(reference)->device() == Device::kReference);
  // kAuto is never a backend's device: it becomes the GPU where one answers, else the CPU.
  const Device automatic = make_backend()->device();
  CHECK(automatic == (cuda_backend_available() ? Device::kCuda : Device::kCpu));
  CHECK(resolve_device(Device::kAuto) == automatic);
  CHECK(resolve_device(Device::kReference) == Device::kReference);
  if (!cuda_backend_available()) {
    try {
      (void)resolve_device(Device::kCuda);
      FAIL("resolve_device(kCuda) succeeded without a usable GPU");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kDevice);
    }
  }
  // Only an engine that batches on a device asks for batched fits.
  CHECK_FALSE(make_backend(cpu)->prefers_batched_fits());
  CHECK_FALSE(make_backend(reference)->prefers_batched_fits());
}

TEST_CASE("fit_batch goes through the backend's own fit_batch, after checking the arguments") {
  // A backend that records the call: the seam is the virtual, not a type test on the backend.
  struct Recording final : Backend {
    std::unique_ptr<Backend> inner = make_reference_backend();
    int calls = 0;
    Device device() const override { return Device::kReference; }
    std::string description() const override { return "recording"; }
    std::unique_ptr<Evaluator> make_evaluator(const Architecture& a, const Mask& m, const Grid& g) override {
      return inner->make_evaluator(a, m, g);
    }
    std::vector<FitResult> fit_batch(const Architecture& a, const Mask& m, const Grid& g,
                                     std::span<std::vector<float>> p, std::span<const float* const> t,
                                     const BatchFitOptions& o) override {
      ++calls;
      return Backend::fit_batch(a, m, g, p, t, o);
    }
  } backend;
  const Architecture arch{2, 8, 2, 3, 30.0f};
  const ParamLayout layout(arch);
  const Mask mask = dense_mask(layout);
  const Grid grid{6, 6};
  std::vector<float> target(grid.pixels() * 3, 0.25f);
  std::vector<std::vector<float>> params(2, siren_init(arch, 7));
  std::vector<const float*> targets{target.data(), target.data()};
  BatchFitOptions o;
  o.steps = 3;
  const auto results = fit_batch(backend, arch, mask, grid, params, targets, o);
  CHECK(backend.calls == 1);
  CHECK(results.size() == 2);
  CHECK(results[0].steps_taken == 3);
  std::vector<const float*> short_targets{target.data()};
  CHECK_THROWS_AS(fit_batch(backend, arch, mask, grid, params, short_targets, o), Error);
  CHECK(backend.calls == 1);  // refused before the backend saw it
}

TEST_CASE("subset fits: each step sees a fresh seeded subset of the asked size, and the final loss sees every pixel") {
  const Architecture arch{2, 16, 2, 3, 30.0f};
  const ParamLayout layout(arch);
  const Grid grid{10, 12};
  auto backend = make_cpu_backend();
  auto evaluator = backend->make_evaluator(arch, dense_mask(layout), grid);
  PixelSampling sampling;
  sampling.fraction = 0.25;
  PixelSubsets subsets(*evaluator, sampling);
  subsets.next();
  const auto first = evaluator->pixel_subset();
  CHECK(first.size() == 30u);  // round(0.25 * 120)
  CHECK(std::is_sorted(first.begin(), first.end()));
  CHECK(std::adjacent_find(first.begin(), first.end()) == first.end());  // no pixel twice
  subsets.next();
  CHECK(evaluator->pixel_subset() != first);
  subsets.clear();
  CHECK(evaluator->pixel_subset().empty());
  PixelSubsets again(*evaluator, sampling);  // the same seed draws the same sequence
  again.next();
  CHECK(evaluator->pixel_subset() == first);
  again.clear();
  sampling.fraction = 1.0;  // every pixel: the evaluator is left as it is
  PixelSubsets all(*evaluator, sampling);
  all.next();
  CHECK(evaluator->pixel_subset().empty());
  for (double bad : {0.0, 1.01, -1.0}) {
    sampling.fraction = bad;
    CHECK_THROWS_AS(PixelSubsets(*evaluator, sampling), Error);
  }

  // A subset fit reports the loss over every pixel at the end, as a plain fit does.
  const auto target = test::synthetic_target(grid.rows, grid.cols);
  std::vector<float> params = siren_init(arch, 3);
  FitOptions fo;
  fo.steps = 15;
  fo.adam.lr = 1e-3f;
  fo.sampling.fraction = 0.5;
  const FitResult r = fit(*evaluator, dense_mask(layout), params, target.data(), fo);
  CHECK(evaluator->pixel_subset().empty());
  CHECK(r.final_loss == doctest::Approx(evaluator->loss(params.data(), target.data())));
}
