#pragma once
// The CUDA side of fit_batch (msinr/batch_fit.hpp): B fits of one architecture, mask and grid in
// strided-batched cuBLAS calls and one masked Adam kernel per step. Only in CUDA builds.
#include <span>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/batch_fit.hpp"
#include "msinr/fitter.hpp"

namespace msinr::cuda {

// True when `backend` is this build's CUDA backend.
bool is_cuda_backend(const Backend& backend);

// As msinr::fit_batch, on the device of `backend` (which must be the CUDA backend). The fits are
// split into device batches of options.max_batch (0: what fits in 70% of the free memory).
std::vector<FitResult> fit_batch(Backend& backend, const Architecture& arch, const Mask& mask, const Grid& grid,
                                 std::span<std::vector<float>> params, std::span<const float* const> targets,
                                 const BatchFitOptions& options);

}  // namespace msinr::cuda
