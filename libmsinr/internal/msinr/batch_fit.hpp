#pragma once
// Many independent fits of one architecture, mask and grid at once: the tiles of one image, or
// many images. On the CUDA backend every layer of every fit runs in one strided-batched cuBLAS
// call and Adam in one masked kernel, so a GPU encodes all tiles of an image together. On any
// other backend the fits run in lockstep on one evaluator with the ordinary Adam, giving exactly
// (bit for bit) what fit() gives for each of them alone. The engines differ through the virtual
// Backend::fit_batch (msinr/backend.hpp); this function checks the arguments and calls it.
//
// Internal API (for the encoder and the benchmarks); it may change without notice.
#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/fitter.hpp"

namespace msinr {

struct BatchFitOptions {
  int steps = 100;
  AdamConfig adam;
  PixelSampling sampling;  // one subset per step, shared by every fit of the batch
  Frozen frozen;           // parameters every fit leaves at its starting value; empty: none
  // Fits per device batch (0: as many as fit in 70% of the free GPU memory). CPU: ignored.
  int max_batch = 0;
  // Called after every step with the mean loss over the fits (of the parameters the step started
  // from); return false to stop all fits. Setting it costs a device synchronization per step.
  std::function<bool(int step, double mean_loss)> on_step;
};

// Fits each params[i] (param_count floats, masked entries forced to zero) to targets[i]
// (grid.pixels() x out_features floats) in place. Throws kInvalidArgument on size mismatches and
// kInternal when a fit diverges, as fit() does. One FitResult per fit; `seconds` is the batch's.
std::vector<FitResult> fit_batch(Backend& backend, const Architecture& arch, const Mask& mask, const Grid& grid,
                                 std::span<std::vector<float>> params, std::span<const float* const> targets,
                                 const BatchFitOptions& options);

}  // namespace msinr
