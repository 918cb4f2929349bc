#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"
#include "test_util.hpp"

using namespace msinr;

TEST_CASE("Adam follows PyTorch's update for three hand-computed steps") {
  // p0 = 1, lr = 0.1, gradients 0.5, -0.2, 0.1. By hand (double):
  //  t=1: m=0.05  v=2.5e-4    m^=0.5      v^=0.25     p = 1 - 0.1*0.5/(0.5+1e-8)        = 0.900000002
  //  t=2: m=0.025 v=2.8975e-4 m^=0.131579 v^=0.144947 p = 0.9 - 0.1*0.131579/0.380720   = 0.865439418
  //  t=3:                                             p                                 = 0.827500241
  Adam adam(2, AdamConfig{0.1f, 0.9f, 0.999f, 1e-8f});
  Mask mask{1, 0};
  float p[2] = {1.0f, 0.7f};
  const float grads[3] = {0.5f, -0.2f, 0.1f};
  const double expected[3] = {0.900000002, 0.8654394181165108, 0.8275002408356956};
  for (int t = 0; t < 3; ++t) {
    float g[2] = {grads[t], 0.3f};
    adam.step(p, g, mask);
    CHECK(p[0] == doctest::Approx(expected[t]).epsilon(1e-6));
    CHECK(p[1] == 0.0f);  // masked: held at exactly zero whatever its gradient
  }
  CHECK(adam.steps_taken() == 3);
}

TEST_CASE("fit keeps masked weights exactly zero and lowers the loss") {
  Architecture arch{2, 32, 3, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.1, 77);
  const Grid grid{12, 12};
  auto target = test::synthetic_target(12, 12);
  for (double sparse_below : {0.0, 1.01}) {
    CpuBackendOptions opt;
    opt.sparse_below_density = sparse_below;
    auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
    auto params = siren_init(arch, 1);
    FitOptions fo;
    fo.steps = 30;
    fo.adam.lr = 1e-3f;
    std::vector<double> losses;
    fo.on_step = [&](const FitProgress& p) {
      losses.push_back(p.loss);
      CHECK(p.psnr == doctest::Approx(-10 * std::log10(p.loss)));
      return true;
    };
    const FitResult r = fit(*ev, mask, params, target.data(), fo);
    CHECK(r.steps_taken == 30);
    CHECK_FALSE(r.cancelled);
    REQUIRE(losses.size() == 30);
    CHECK(r.final_loss < 0.75 * losses.front());  // measured: 0.33 -> 0.20
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (!mask[i]) REQUIRE(params[i] == 0.0f);
  }
}

TEST_CASE("fit leaves frozen parameters at their starting value, bit for bit, and still fits the rest") {
  Architecture arch{2, 16, 2, 3, 30.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.5, 5);
  const Grid grid{10, 10};
  const auto target = test::synthetic_target(10, 10);
  const Frozen frozen = bias_flags(layout);
  for (double sparse_below : {0.0, 1.01}) {
    CpuBackendOptions opt;
    opt.sparse_below_density = sparse_below;
    auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
    const auto start = siren_init(arch, 4);
    auto params = start;
    FitOptions fo;
    fo.steps = 40;
    fo.adam.lr = 3e-3f;
    fo.frozen = frozen;
    const double before = ev->loss(start.data(), target.data());
    const FitResult r = fit(*ev, mask, params, target.data(), fo);
    CHECK(r.final_loss < 0.8 * before);
    std::size_t moved = 0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (frozen[i]) REQUIRE(params[i] == start[i]);
      else if (!mask[i]) REQUIRE(params[i] == 0.0f);
      else moved += params[i] != start[i];
    }
    CHECK(moved == kept_weights(layout, mask));  // every kept weight was fitted
    fo.frozen.pop_back();
    params = start;
    CHECK_THROWS_AS(fit(*ev, mask, params, target.data(), fo), Error);  // a frozen set of the wrong size
  }
}

TEST_CASE("fit stops when the callback says so, and the CPU fit tracks the reference fit") {
  Architecture arch{2, 12, 2, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.5, 3);
  const Grid grid{7, 9};
  auto target = test::synthetic_target(7, 9);
  FitOptions fo;
  fo.steps = 10;
  fo.on_step = [](const FitProgress& p) { return p.step < 4; };
  auto cpu = make_cpu_backend()->make_evaluator(arch, mask, grid);
  auto p_cpu = siren_init(arch, 2);
  FitResult r = fit(*cpu, mask, p_cpu, target.data(), fo);
  CHECK(r.cancelled);
  CHECK(r.steps_taken == 4);

  // Ten full steps on both backends end at nearly the same loss (Adam's normalisation makes the
  // trajectories sensitive to rounding, so the bound is on the outcome, not on every weight).
  fo.on_step = nullptr;
  auto ref = make_reference_backend()->make_evaluator(arch, mask, grid);
  auto p_ref = siren_init(arch, 2);
  p_cpu = siren_init(arch, 2);
  const double loss_ref = fit(*ref, mask, p_ref, target.data(), fo).final_loss;
  const double loss_cpu = fit(*cpu, mask, p_cpu, target.data(), fo).final_loss;
  CHECK(std::fabs(10 * std::log10(loss_ref / loss_cpu)) < 0.05);  // within 0.05 dB
}

TEST_CASE("fit refuses mismatched sizes") {
  Architecture arch{2, 8, 2, 3, 30.0f};
  ParamLayout layout(arch);
  auto ev = make_cpu_backend()->make_evaluator(arch, dense_mask(layout), Grid{2, 2});
  std::vector<float> params(3);
  auto target = test::synthetic_target(2, 2);
  CHECK_THROWS_AS(fit(*ev, dense_mask(layout), params, target.data(), FitOptions{}), Error);
  CHECK_THROWS_AS(make_cpu_backend()->make_evaluator(arch, Mask(5, 1), Grid{2, 2}), Error);
  CHECK_THROWS_AS(make_cpu_backend()->make_evaluator(arch, dense_mask(layout), Grid{0, 2}), Error);
}

TEST_CASE("learning-rate schedules: constant keeps the rate, cosine runs from it to near 0") {
  AdamConfig c;
  c.lr = 0.01f;
  for (int t = 1; t <= 10; ++t) CHECK(scheduled_lr(c, t, 10) == 0.01f);
  c.schedule = LrSchedule::kCosine;
  CHECK(scheduled_lr(c, 1, 100) == 0.01f);
  CHECK(scheduled_lr(c, 51, 100) == doctest::Approx(0.005).epsilon(1e-6));
  CHECK(scheduled_lr(c, 100, 100) == doctest::Approx(0.01 * 0.5 * (1 + std::cos(3.14159265358979 * 0.99))).epsilon(1e-6));
  for (int t = 2; t <= 100; ++t) CHECK(scheduled_lr(c, t, 100) < scheduled_lr(c, t - 1, 100));
  CHECK(lr_schedule_from_name("cosine") == LrSchedule::kCosine);
  CHECK_THROWS_AS(lr_schedule_from_name("linear"), Error);
}
