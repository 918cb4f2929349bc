#include "msinr/test_time_pruning.hpp"

#include "msinr/error.hpp"
#include "msinr/meta_trainer.hpp"

namespace msinr {
namespace {

// Runs phases of Adam separated by pruning to the given survivor counts.
FitResult fit_in_phases(Backend& backend, const Architecture& arch, const Grid& grid, std::vector<float>& params,
                        const float* target, const std::vector<std::size_t>& keeps, int steps, const AdamConfig& adam,
                        Mask* final_mask) {
  ParamLayout layout(arch);
  Mask mask = dense_mask(layout);
  const int phases = static_cast<int>(keeps.size()) + 1;
  FitResult total;
  for (int p = 0; p < phases; ++p) {
    if (p > 0) mask = global_magnitude_mask(layout, params, mask, keeps[static_cast<std::size_t>(p - 1)]);
    const int phase_steps = p + 1 < phases ? steps / phases : steps - (phases - 1) * (steps / phases);
    auto ev = backend.make_evaluator(arch, mask, grid);
    FitOptions fo;
    fo.steps = phase_steps;
    fo.adam = adam;
    const FitResult r = fit(*ev, mask, params, target, fo);
    total.steps_taken += r.steps_taken;
    total.seconds += r.seconds;
    total.final_loss = r.final_loss;
    total.final_psnr = r.final_psnr;
  }
  if (final_mask) *final_mask = mask;
  return total;
}

}  // namespace

FitResult fit_oneshot_pruned(Backend& backend, const Architecture& arch, const Grid& grid, std::vector<float>& params,
                             const float* target, std::size_t keep, int steps, const AdamConfig& adam,
                             Mask* final_mask) {
  return fit_in_phases(backend, arch, grid, params, target, {keep}, steps, adam, final_mask);
}

FitResult fit_imp_pruned(Backend& backend, const Architecture& arch, const Grid& grid, std::vector<float>& params,
                         const float* target, int prunings, double fraction, int steps, const AdamConfig& adam,
                         Mask* final_mask) {
  if (prunings < 0) throw Error(ErrorCode::kInvalidArgument, "IMP needs a non-negative number of prunings");
  ParamLayout layout(arch);
  std::vector<std::size_t> keeps;
  for (int i = 1; i <= prunings; ++i) keeps.push_back(weights_after_rounds(layout.weight_count(), fraction, i));
  return fit_in_phases(backend, arch, grid, params, target, keeps, steps, adam, final_mask);
}

}  // namespace msinr
