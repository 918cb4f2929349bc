// MAML outer gradients against their definitions: second order against central finite
// differences of the t-step objective F(theta0) = L(theta_t(theta0)) computed in double precision;
// first order and Reptile against the quantities they are defined as.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "msinr/maml.hpp"
#include "reference_siren.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {

struct Problem {
  Architecture arch{2, 6, 2, 3, 30.0f};
  ParamLayout layout{arch};
  Grid grid{4, 5};
  Mask mask;
  std::vector<float> theta0, target;
  explicit Problem(double density) {
    mask = density >= 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 3);
    theta0 = siren_init(arch, 9);
    apply_mask(mask, theta0);
    target = test::synthetic_target(grid.rows, grid.cols);
  }
  // The MAML objective in double precision: t inner SGD steps (frozen parameters not stepped),
  // then the loss.
  double objective(const std::vector<double>& theta, const MamlConfig& c) const {
    std::vector<double> th = theta, g(th.size()), t(target.begin(), target.end());
    for (int k = 0; k < c.inner_steps; ++k) {
      reference::loss_and_gradient<double>(layout, mask.data(), th.data(), grid, t.data(), g.data(), nullptr);
      for (std::size_t i = 0; i < th.size(); ++i)
        if (c.frozen.empty() || !c.frozen[i]) th[i] -= c.inner_lr * g[i];
    }
    return reference::loss_and_gradient<double>(layout, mask.data(), th.data(), grid, t.data(), nullptr, nullptr);
  }
  // Central finite differences (step 1e-6) of objective() at theta0 for every kept parameter; 0
  // at masked ones.
  std::vector<double> fd_gradient(const MamlConfig& c) const {
    std::vector<double> th(theta0.begin(), theta0.end()), fd(th.size(), 0.0);
    const double h = 1e-6;
    for (std::size_t i = 0; i < th.size(); ++i) {
      if (!mask[i]) continue;
      const double saved = th[i];
      th[i] = saved + h;
      const double up = objective(th, c);
      th[i] = saved - h;
      const double down = objective(th, c);
      th[i] = saved;
      fd[i] = (up - down) / (2 * h);
    }
    return fd;
  }
};

}  // namespace

TEST_CASE("second-order MAML outer gradient matches finite differences of the two-step objective") {
  for (double density : {1.0, 0.5}) {
    Problem pb(density);
    MamlConfig c;
    c.inner_lr = 0.05f;  // larger than the default so the second-order term is clearly visible
    auto ev = make_reference_backend()->make_evaluator(pb.arch, pb.mask, pb.grid);
    std::vector<float> g2(pb.theta0.size()), g1(pb.theta0.size());
    MamlScratch scratch;
    const MamlTaskLoss l = maml_outer_gradient(*ev, pb.mask, pb.theta0.data(), pb.target.data(), c, g2.data(), scratch);
    CHECK(l.after < l.before);
    MamlConfig first = c;
    first.order = MamlOrder::kFirst;
    maml_outer_gradient(*ev, pb.mask, pb.theta0.data(), pb.target.data(), first, g1.data(), scratch);

    const std::vector<double> fd = pb.fd_gradient(c);
    double scale = 0.0, worst_second = 0.0, worst_first = 0.0;
    for (const double d : fd) scale = std::max(scale, std::fabs(d));
    for (std::size_t i = 0; i < fd.size(); ++i) {
      if (!pb.mask[i]) {
        CHECK(g2[i] == 0.0f);
        continue;
      }
      worst_second = std::max(worst_second, std::fabs(g2[i] - fd[i]));
      worst_first = std::max(worst_first, std::fabs(g1[i] - fd[i]));
    }
    CAPTURE(density);
    CAPTURE(scale);
    CAPTURE(worst_first);
    // Float inner iterates limit the agreement to ~1e-5 of the gradient's scale.
    CHECK(worst_second < 2e-4 * scale);
    // The test can tell: first-order MAML misses the Hessian terms by far more than that.
    CHECK(worst_first > 10 * worst_second);
  }
}

TEST_CASE("second-order MAML with frozen biases matches finite differences of its objective") {
  // Frozen biases stay at theta0 through the inner steps but are meta-learned: their outer
  // gradient is the derivative of L(theta_t) through every inner step, which the HVPs must carry
  // without moving them in the inner loop.
  for (double density : {1.0, 0.5}) {
    Problem pb(density);
    MamlConfig c;
    c.inner_lr = 0.05f;
    c.frozen = bias_flags(pb.layout);
    auto ev = make_reference_backend()->make_evaluator(pb.arch, pb.mask, pb.grid);
    std::vector<float> g(pb.theta0.size()), g_fitted(pb.theta0.size());
    MamlScratch scratch;
    maml_outer_gradient(*ev, pb.mask, pb.theta0.data(), pb.target.data(), c, g.data(), scratch);
    MamlConfig fitted = c;
    fitted.frozen.clear();
    maml_outer_gradient(*ev, pb.mask, pb.theta0.data(), pb.target.data(), fitted, g_fitted.data(), scratch);
    const std::vector<double> fds = pb.fd_gradient(c);
    double scale = 0.0, worst = 0.0, bias_scale = 0.0, differs = 0.0;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (!pb.mask[i]) {
        CHECK(g[i] == 0.0f);
        continue;
      }
      const double fd = fds[i];
      scale = std::max(scale, std::fabs(fd));
      worst = std::max(worst, std::fabs(g[i] - fd));
      if (c.frozen[i]) bias_scale = std::max(bias_scale, std::fabs(fd));
      differs = std::max(differs, std::fabs(static_cast<double>(g[i]) - g_fitted[i]));
    }
    CAPTURE(density);
    CAPTURE(scale);
    CHECK(worst < 2e-4 * scale);
    CHECK(bias_scale > 1e-3 * scale);       // the biases are still learned by the outer loop
    CHECK(differs > 10 * worst);            // and freezing is a different objective, not a no-op
  }
}

TEST_CASE("first-order MAML and Reptile follow their definitions") {
  Problem pb(0.5);
  MamlConfig c;
  auto ev = make_reference_backend()->make_evaluator(pb.arch, pb.mask, pb.grid);
  const std::size_t n = pb.theta0.size();
  // The inner iterates by hand.
  std::vector<float> th1(n), th2(n), g(n);
  ev->loss_and_gradient(pb.theta0.data(), pb.target.data(), g.data());
  for (std::size_t i = 0; i < n; ++i) th1[i] = pb.theta0[i] - c.inner_lr * g[i];
  ev->loss_and_gradient(th1.data(), pb.target.data(), g.data());
  for (std::size_t i = 0; i < n; ++i) th2[i] = th1[i] - c.inner_lr * g[i];
  std::vector<float> g_at_th2(n);
  const double after = ev->loss_and_gradient(th2.data(), pb.target.data(), g_at_th2.data());

  MamlScratch scratch;
  std::vector<float> out(n);
  c.order = MamlOrder::kFirst;
  MamlTaskLoss l = maml_outer_gradient(*ev, pb.mask, pb.theta0.data(), pb.target.data(), c, out.data(), scratch);
  CHECK(l.after == doctest::Approx(after));
  CHECK(out == g_at_th2);
  c.order = MamlOrder::kReptile;
  l = maml_outer_gradient(*ev, pb.mask, pb.theta0.data(), pb.target.data(), c, out.data(), scratch);
  CHECK(l.after == doctest::Approx(after));
  for (std::size_t i = 0; i < n; ++i) CHECK(out[i] == doctest::Approx(pb.theta0[i] - th2[i]).epsilon(1e-6));
}

TEST_CASE("MAML on the CPU backend agrees with the reference backend") {
  Problem pb(0.3);
  MamlConfig c;
  auto ref = make_reference_backend()->make_evaluator(pb.arch, pb.mask, pb.grid);
  auto cpu = make_cpu_backend()->make_evaluator(pb.arch, pb.mask, pb.grid);
  std::vector<float> a(pb.theta0.size()), b(pb.theta0.size());
  MamlScratch s1, s2;
  maml_outer_gradient(*ref, pb.mask, pb.theta0.data(), pb.target.data(), c, a.data(), s1);
  maml_outer_gradient(*cpu, pb.mask, pb.theta0.data(), pb.target.data(), c, b.data(), s2);
  CHECK(test::rel_max_err(b, a) < 5e-4);
}
