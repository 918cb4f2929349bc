#include "cli/eval_protocol.hpp"

#include <cmath>

#include "msinr/error.hpp"
#include "msinr/fitter.hpp"
#include "msinr/test_time_pruning.hpp"

namespace msinr::cli {

LevelScore evaluate_level(Backend& backend, const Architecture& arch, const MetaLevel& level,
                          const std::vector<std::vector<float>>& tiles, int tile_size, int steps, float lr,
                          EvalMethod method, const MetaLevel* dense, LrSchedule schedule, const Frozen& frozen) {
  ParamLayout layout(arch);
  const Grid grid{tile_size, tile_size};
  LevelScore s;
  s.weights = kept_weights(layout, level.mask);
  s.density = weight_density(layout, level.mask);
  if (method != EvalMethod::kMeta && !dense)
    throw Error(ErrorCode::kInvalidArgument, "test-time pruning needs the model's dense level");
  if (method != EvalMethod::kMeta && !frozen.empty())
    throw Error(ErrorCode::kInvalidArgument, "test-time pruning does not take frozen parameters");
  AdamConfig adam;
  adam.lr = lr;
  adam.schedule = schedule;
  auto evaluator = backend.make_evaluator(arch, level.mask, grid);
  double sum = 0.0, sum_sq = 0.0;
  for (const auto& tile : tiles) {
    FitResult r;
    if (method == EvalMethod::kMeta) {
      std::vector<float> params = level.init;
      FitOptions fo;
      fo.steps = steps;
      fo.adam = adam;
      fo.frozen = frozen;
      r = fit(*evaluator, level.mask, params, tile.data(), fo);
    } else {
      std::vector<float> params = dense->init;
      r = method == EvalMethod::kOneShot
              ? fit_oneshot_pruned(backend, arch, grid, params, tile.data(), s.weights, steps, adam)
              : fit_imp_pruned(backend, arch, grid, params, tile.data(), level.index, 0.2, steps, adam);
    }
    sum += r.final_psnr;
    sum_sq += r.final_psnr * r.final_psnr;
    s.seconds += r.seconds;
    ++s.count;
  }
  s.psnr_mean = sum / static_cast<double>(s.count);
  s.psnr_std = std::sqrt(std::max(0.0, sum_sq / static_cast<double>(s.count) - s.psnr_mean * s.psnr_mean));
  return s;
}

}  // namespace msinr::cli
