// Gradients of the MSE with respect to every weight and bias, from the reference SIREN, against
// central finite differences, all in double precision.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "reference_siren.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {

void check_gradient_against_finite_differences(const Architecture& arch, const Mask& mask, double h) {
  ParamLayout layout(arch);
  const Grid grid{4, 5};
  auto pf = siren_init(arch, 3);
  std::vector<double> p(pf.begin(), pf.end());
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!mask[i]) p[i] = 0.0;
  auto tf = test::synthetic_target(grid.rows, grid.cols, arch.out_features);
  std::vector<double> target(tf.begin(), tf.end());
  std::vector<double> grad(p.size());
  reference::loss_and_gradient<double>(layout, mask.data(), p.data(), grid, target.data(), grad.data(), nullptr);

  int checked = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const double saved = p[i];
    p[i] = saved + h;
    const double up = reference::loss_and_gradient<double>(layout, mask.data(), p.data(), grid, target.data(), nullptr, nullptr);
    p[i] = saved - h;
    const double down = reference::loss_and_gradient<double>(layout, mask.data(), p.data(), grid, target.data(), nullptr, nullptr);
    p[i] = saved;
    CAPTURE(i);
    if (!mask[i]) {
      // A masked weight is not a free parameter: the loss ignores it and its gradient is zero.
      CHECK(grad[i] == 0.0);
      CHECK(up == down);
      continue;
    }
    const double fd = (up - down) / (2 * h);
    CHECK(std::fabs(fd - grad[i]) <= 1e-7 + 1e-5 * std::fabs(grad[i]));
    ++checked;
  }
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("reference gradient matches finite differences: dense, w0 = 30") {
  Architecture arch{2, 6, 2, 3, 30.0f};
  check_gradient_against_finite_differences(arch, dense_mask(ParamLayout(arch)), 1e-6);
}

TEST_CASE("reference gradient matches finite differences: dense, w0 = 200, three sine layers") {
  Architecture arch{2, 5, 3, 3, 200.0f};
  check_gradient_against_finite_differences(arch, dense_mask(ParamLayout(arch)), 1e-7);
}

TEST_CASE("reference gradient matches finite differences: masked at density 0.5 and 0.1") {
  Architecture arch{2, 8, 3, 3, 200.0f};
  ParamLayout layout(arch);
  check_gradient_against_finite_differences(arch, test::random_mask(layout, 0.5, 11), 1e-7);
  check_gradient_against_finite_differences(arch, test::random_mask(layout, 0.1, 12), 1e-7);
}

namespace {

// H v against central differences of the gradient: (g(p + h v) - g(p - h v)) / 2h.
void check_hvp_against_finite_differences(const Architecture& arch, const Mask& mask, double h) {
  ParamLayout layout(arch);
  const Grid grid{3, 4};
  auto pf = siren_init(arch, 5);
  std::vector<double> p(pf.begin(), pf.end()), v(p.size());
  Rng rng(17);
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!mask[i]) p[i] = 0.0;
    v[i] = rng.uniform(-1.0f, 1.0f) * std::fabs(p[i] + 1e-3);  // a direction scaled like the parameters
  }
  auto tf = test::synthetic_target(grid.rows, grid.cols, arch.out_features);
  std::vector<double> target(tf.begin(), tf.end()), g(p.size()), hv(p.size()), g_hvp(p.size());
  const double loss = reference::gradient_and_hvp<double>(layout, mask.data(), p.data(), v.data(), grid, target.data(),
                                                          g_hvp.data(), hv.data());
  const double loss2 =
      reference::loss_and_gradient<double>(layout, mask.data(), p.data(), grid, target.data(), g.data(), nullptr);
  CHECK(loss == doctest::Approx(loss2).epsilon(1e-12));
  std::vector<double> up(p.size()), down(p.size()), gu(p.size()), gd(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) up[i] = p[i] + h * v[i], down[i] = p[i] - h * v[i];
  reference::loss_and_gradient<double>(layout, mask.data(), up.data(), grid, target.data(), gu.data(), nullptr);
  reference::loss_and_gradient<double>(layout, mask.data(), down.data(), grid, target.data(), gd.data(), nullptr);
  double scale = 0.0;
  for (double x : hv) scale = std::max(scale, std::fabs(x));
  REQUIRE(scale > 0.0);
  for (std::size_t i = 0; i < p.size(); ++i) {
    CAPTURE(i);
    CHECK(g_hvp[i] == doctest::Approx(g[i]).epsilon(1e-12).scale(1e-12));
    if (!mask[i]) {
      CHECK(hv[i] == 0.0);
      continue;
    }
    const double fd = (gu[i] - gd[i]) / (2 * h);
    CHECK(std::fabs(fd - hv[i]) <= 1e-6 * scale + 1e-5 * std::fabs(hv[i]));
  }
}

}  // namespace

TEST_CASE("R-operator Hessian-vector product matches finite differences of the gradient") {
  Architecture small{2, 6, 2, 3, 30.0f};
  check_hvp_against_finite_differences(small, dense_mask(ParamLayout(small)), 1e-6);
  Architecture siren{2, 6, 3, 3, 200.0f};
  check_hvp_against_finite_differences(siren, dense_mask(ParamLayout(siren)), 1e-7);
  check_hvp_against_finite_differences(siren, test::random_mask(ParamLayout(siren), 0.4, 8), 1e-7);
}

TEST_CASE("FFN (Fourier features + ReLU): gradient and Hessian-vector product match finite differences") {
  // ReLU is not differentiable at 0; with these seeds no pre-activation sits within the step of 0.
  const Architecture arch = test::ffn(6, 3, 4);  // encoding of 8, two ReLU layers of 6, linear
  const ParamLayout layout(arch);
  check_gradient_against_finite_differences(arch, dense_mask(layout), 1e-6);
  check_gradient_against_finite_differences(arch, test::random_mask(layout, 0.5, 13), 1e-6);
  check_hvp_against_finite_differences(arch, dense_mask(layout), 1e-6);
  check_hvp_against_finite_differences(arch, test::random_mask(layout, 0.4, 14), 1e-6);
}

TEST_CASE("separate first and hidden w0: gradient and Hessian-vector product match finite differences") {
  // The codec's networks use a lower hidden w0 than the first layer's (or a higher one); every
  // value the model search covers (10..200) must differentiate exactly.
  for (const auto& [first, hidden] : {std::pair{30.0f, 10.0f}, std::pair{10.0f, 60.0f}, std::pair{200.0f, 30.0f}}) {
    Architecture arch{2, 6, 3, 3, first};
    arch.w0_hidden = hidden;
    CAPTURE(first);
    CAPTURE(hidden);
    const ParamLayout layout(arch);
    const double h = first >= 100.0f ? 1e-7 : 1e-6;
    check_gradient_against_finite_differences(arch, dense_mask(layout), h);
    check_hvp_against_finite_differences(arch, test::random_mask(layout, 0.5, 21), h);
  }
}
