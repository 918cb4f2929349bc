#include "msinr/fitter.hpp"

#include <chrono>
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/elementwise.hpp"
#include "msinr/error.hpp"

namespace msinr {

Adam::Adam(std::size_t param_count, const AdamConfig& config)
    : config_(config), m_(param_count, 0.0f), v_(param_count, 0.0f) {}

void Adam::step(float* params, const float* grad, const Mask& mask) {
  if (mask.size() != m_.size()) throw Error(ErrorCode::kInvalidArgument, "Adam: mask size does not match");
  ++t_;
  const auto s = kernels::adam_step_scalars(config_.lr, config_.beta1, config_.beta2, t_);
  for (std::size_t i = 0; i < m_.size(); ++i)
    kernels::adam_update(params[i], m_[i], v_[i], grad[i], mask[i] != 0, config_.beta1, config_.beta2, config_.eps, s);
}

void Adam::restore(int steps_taken, std::vector<float> m, std::vector<float> v) {
  if (m.size() != m_.size() || v.size() != v_.size() || steps_taken < 0)
    throw Error(ErrorCode::kInvalidArgument, "Adam::restore: state does not match this optimizer");
  t_ = steps_taken;
  m_ = std::move(m);
  v_ = std::move(v);
}

float scheduled_lr(const AdamConfig& config, int step, int steps) {
  if (config.schedule == LrSchedule::kConstant || steps <= 1) return config.lr;
  constexpr double kPi = 3.14159265358979323846;
  const double t = static_cast<double>(std::clamp(step, 1, steps) - 1) / steps;
  return static_cast<float>(config.lr * 0.5 * (1.0 + std::cos(kPi * t)));
}

LrSchedule lr_schedule_from_name(const std::string& name) {
  if (name == "constant") return LrSchedule::kConstant;
  if (name == "cosine") return LrSchedule::kCosine;
  throw Error(ErrorCode::kInvalidArgument, "unknown learning-rate schedule '" + name + "' (constant, cosine)");
}

double psnr_from_mse(double mse) {
  if (mse <= 0.0) return std::numeric_limits<double>::infinity();
  return -10.0 * std::log10(mse);
}

PixelSubsets::PixelSubsets(Evaluator& evaluator, const PixelSampling& sampling)
    : evaluator_(evaluator), pixels_(evaluator.grid().pixels()), rng_(sampling.seed) {
  if (!(sampling.fraction > 0.0 && sampling.fraction <= 1.0))
    throw Error(ErrorCode::kInvalidArgument, "the pixel fraction of a fit must be in (0, 1]");
  keep_ = std::max<std::size_t>(1, static_cast<std::size_t>(std::llround(sampling.fraction * static_cast<double>(pixels_))));
}

void PixelSubsets::next() {
  if (keep_ < pixels_) evaluator_.set_pixel_subset(random_pixel_subset(pixels_, keep_, rng_, scratch_));
}

void PixelSubsets::clear() {
  if (keep_ < pixels_) evaluator_.set_pixel_subset({});
}

FitResult fit(Evaluator& evaluator, const Mask& mask, std::vector<float>& params, const float* target,
              const FitOptions& options) {
  if (params.size() != mask.size())
    throw Error(ErrorCode::kInvalidArgument, "fit: parameter and mask sizes differ");
  if (options.steps < 0) throw Error(ErrorCode::kInvalidArgument, "fit: negative step count");
  const auto start = std::chrono::steady_clock::now();
  apply_mask(mask, params);
  Adam adam(params.size(), options.adam);
  std::vector<float> grad(params.size());
  FitResult result;
  PixelSubsets subsets(evaluator, options.sampling);
  for (int step = 1; step <= options.steps; ++step) {
    subsets.next();
    const double loss = evaluator.loss_and_gradient(params.data(), target, grad.data());
    if (!std::isfinite(loss))
      throw Error(ErrorCode::kInternal, "fit diverged: loss is not finite at step " + std::to_string(step) +
                                            " (try a smaller learning rate)");
    zero_frozen(options.frozen, grad);
    adam.set_lr(scheduled_lr(options.adam, step, options.steps));
    adam.step(params.data(), grad.data(), mask);
    result.steps_taken = step;
    if (options.on_step && !options.on_step({step, loss, psnr_from_mse(loss)})) {
      result.cancelled = true;
      break;
    }
  }
  subsets.clear();
  result.final_loss = evaluator.loss(params.data(), target);
  result.final_psnr = psnr_from_mse(result.final_loss);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace msinr
