#pragma once
// The paper's evaluation protocol: fit every image from a level's init for N Adam steps and
// report the mean and standard deviation of the PSNR (the paper's: float output, peak 1).
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/meta_trainer.hpp"

namespace msinr::cli {

enum class EvalMethod { kMeta, kOneShot, kImp };

struct LevelScore {
  std::size_t weights = 0;
  double density = 0.0;
  double psnr_mean = 0.0;
  double psnr_std = 0.0;   // over images (population standard deviation)
  double seconds = 0.0;    // fitting time, all images
  std::size_t count = 0;
};

// `level` is fitted as is (kMeta); kOneShot / kImp instead fit `dense` (a level-0 init) and prune
// at test time down to the level's survivor count (MAML+OneShot, MAML+IMP of the paper). `frozen`
// (kMeta only): parameters the fits leave at the level's init, as a frozen-bias model's encoder does.
LevelScore evaluate_level(Backend& backend, const Architecture& arch, const MetaLevel& level,
                          const std::vector<std::vector<float>>& tiles, int tile_size, int steps, float lr,
                          EvalMethod method = EvalMethod::kMeta, const MetaLevel* dense = nullptr,
                          LrSchedule schedule = LrSchedule::kConstant, const Frozen& frozen = {});

}  // namespace msinr::cli
