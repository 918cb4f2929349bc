#include "msinr/batch_fit.hpp"

#include <chrono>
#include <cmath>
#include <string>

#include "msinr/error.hpp"
#if defined(MSINR_HAVE_CUDA)
#include "cuda/cuda_batch_fitter.hpp"
#endif

namespace msinr {

std::vector<FitResult> fit_batch(Backend& backend, const Architecture& arch, const Mask& mask, const Grid& grid,
                                 std::span<std::vector<float>> params, std::span<const float* const> targets,
                                 const BatchFitOptions& options) {
  const ParamLayout layout(arch);
  check_mask(layout, mask);
  if (params.size() != targets.size())
    throw Error(ErrorCode::kInvalidArgument, "fit_batch: " + std::to_string(params.size()) + " parameter vectors but " +
                                                 std::to_string(targets.size()) + " targets");
  if (options.steps < 0) throw Error(ErrorCode::kInvalidArgument, "fit_batch: negative step count");
  if (options.max_batch < 0) throw Error(ErrorCode::kInvalidArgument, "fit_batch: negative max_batch");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].size() != layout.param_count())
      throw Error(ErrorCode::kInvalidArgument, "fit_batch: parameter vector " + std::to_string(i) + " has the wrong size");
    if (!targets[i]) throw Error(ErrorCode::kInvalidArgument, "fit_batch: null target");
  }
#if defined(MSINR_HAVE_CUDA)
  if (cuda::is_cuda_backend(backend)) return cuda::fit_batch(backend, arch, mask, grid, params, targets, options);
#endif
  // Any other backend: the fits in lockstep on one evaluator, each step exactly fit()'s step.
  const auto start = std::chrono::steady_clock::now();
  std::vector<FitResult> results(params.size());
  if (params.empty()) return results;
  auto evaluator = backend.make_evaluator(arch, mask, grid);
  std::vector<Adam> adams(params.size(), Adam(layout.param_count(), options.adam));
  for (auto& p : params) apply_mask(mask, p);
  std::vector<float> grad(layout.param_count());
  int steps_taken = 0;
  bool cancelled = false;
  for (int step = 1; step <= options.steps && !cancelled; ++step) {
    double mean = 0.0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const double loss = evaluator->loss_and_gradient(params[i].data(), targets[i], grad.data());
      if (!std::isfinite(loss))
        throw Error(ErrorCode::kInternal, "fit diverged: loss is not finite at step " + std::to_string(step) +
                                              " of fit " + std::to_string(i) + " (try a smaller learning rate)");
      adams[i].set_lr(scheduled_lr(options.adam, step, options.steps));
      adams[i].step(params[i].data(), grad.data(), mask);
      mean += loss;
    }
    steps_taken = step;
    if (options.on_step && !options.on_step(step, mean / static_cast<double>(params.size()))) cancelled = true;
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    FitResult& r = results[i];
    r.steps_taken = steps_taken;
    r.cancelled = cancelled;
    r.final_loss = evaluator->loss(params[i].data(), targets[i]);
    r.final_psnr = psnr_from_mse(r.final_loss);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (FitResult& r : results) r.seconds = seconds;
  return results;
}

}  // namespace msinr
