#pragma once
// The paper's test-time pruning baselines (section 5.1): start from a dense meta-learned init and
// prune while fitting each image, instead of meta-learning the sparse structure.
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/fitter.hpp"

namespace msinr {

// MAML+OneShot: steps/2 Adam steps dense, one global-magnitude pruning down to `keep` weights,
// then the remaining steps. Each phase starts a fresh Adam.
FitResult fit_oneshot_pruned(Backend& backend, const Architecture& arch, const Grid& grid, std::vector<float>& params,
                             const float* target, std::size_t keep, int steps, const AdamConfig& adam,
                             Mask* final_mask = nullptr);

// MAML+IMP: `prunings` rounds each removing `fraction` of the surviving weights by magnitude, with
// steps/(prunings+1) Adam steps before, between and after them (the last phase takes the rest).
FitResult fit_imp_pruned(Backend& backend, const Architecture& arch, const Grid& grid, std::vector<float>& params,
                         const float* target, int prunings, double fraction, int steps, const AdamConfig& adam,
                         Mask* final_mask = nullptr);

}  // namespace msinr
