#include "msinr/batch_fit.hpp"

#include <string>

#include "msinr/error.hpp"

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
  if (!options.frozen.empty() && options.frozen.size() != layout.param_count())
    throw Error(ErrorCode::kInvalidArgument, "fit_batch: the frozen set does not match the network");
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].size() != layout.param_count())
      throw Error(ErrorCode::kInvalidArgument, "fit_batch: parameter vector " + std::to_string(i) + " has the wrong size");
    if (!targets[i]) throw Error(ErrorCode::kInvalidArgument, "fit_batch: null target");
  }
  return backend.fit_batch(arch, mask, grid, params, targets, options);
}

}  // namespace msinr
