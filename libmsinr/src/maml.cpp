#include "msinr/maml.hpp"

#include <algorithm>

#include "msinr/error.hpp"

namespace msinr {

MamlTaskLoss maml_outer_gradient(Evaluator& evaluator, const Mask& mask, const float* theta0, const float* target,
                                 const MamlConfig& config, float* outer_grad, MamlScratch& s) {
  if (config.inner_steps < 1) throw Error(ErrorCode::kInvalidArgument, "MAML needs at least one inner step");
  const std::size_t n = mask.size();
  const int t = config.inner_steps;
  const float a = config.inner_lr;
  s.theta.resize(static_cast<std::size_t>(t) + 1);
  for (auto& th : s.theta) th.resize(n);
  s.grad.resize(n);
  for (std::size_t i = 0; i < n; ++i) s.theta[0][i] = mask[i] ? theta0[i] : 0.0f;

  MamlTaskLoss loss;
  // Inner loop: theta_{k+1} = theta_k - a g(theta_k); gradients are zero where the mask is.
  for (int k = 0; k < t; ++k) {
    const double l = evaluator.loss_and_gradient(s.theta[k].data(), target, s.grad.data());
    if (k == 0) loss.before = l;
    zero_frozen(config.frozen, s.grad);
    for (std::size_t i = 0; i < n; ++i) s.theta[k + 1][i] = s.theta[k][i] - a * s.grad[i];
  }
  const std::vector<float>& last = s.theta[static_cast<std::size_t>(t)];
  if (config.order == MamlOrder::kReptile) {
    loss.after = evaluator.loss(last.data(), target);
    for (std::size_t i = 0; i < n; ++i) outer_grad[i] = s.theta[0][i] - last[i];
    return loss;
  }
  loss.after = evaluator.loss_and_gradient(last.data(), target, s.grad.data());
  if (config.order == MamlOrder::kFirst) {
    std::copy(s.grad.begin(), s.grad.end(), outer_grad);
    return loss;
  }
  // Second order: d theta_t / d theta_0 = prod (I - a P H(theta_k)), P the projection onto the
  // parameters the inner steps change (I without frozen ones); apply its transpose, prod of
  // (I - a H P) (H is symmetric), to g(theta_t) from the last inner step back to the first.
  s.u = s.grad;
  s.hv.resize(n);
  for (int k = t - 1; k >= 0; --k) {
    const float* direction = s.u.data();
    if (!config.frozen.empty()) {
      s.frozen_u = s.u;
      zero_frozen(config.frozen, s.frozen_u);
      direction = s.frozen_u.data();
    }
    evaluator.gradient_and_hvp(s.theta[static_cast<std::size_t>(k)].data(), direction, target, s.grad.data(),
                               s.hv.data());
    for (std::size_t i = 0; i < n; ++i) s.u[i] -= a * s.hv[i];
  }
  std::copy(s.u.begin(), s.u.end(), outer_grad);
  return loss;
}

}  // namespace msinr
