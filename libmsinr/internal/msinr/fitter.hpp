#pragma once
// Per-image fitting: full-batch Adam from a given initialization with a fixed mask.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/encode_options.hpp"  // LrSchedule: a public encode setting

namespace msinr {

// PyTorch's torch.optim.Adam semantics (bias-corrected, eps added after the square root).
struct AdamConfig {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  LrSchedule schedule = LrSchedule::kConstant;
};

// The rate of step `step` (1-based) of `steps` under config's schedule (float, the same on every backend).
float scheduled_lr(const AdamConfig& config, int step, int steps);
// "constant" or "cosine"; throws Error(kInvalidArgument) otherwise.
LrSchedule lr_schedule_from_name(const std::string& name);

class Adam {
 public:
  Adam(std::size_t param_count, const AdamConfig& config);
  // One step on every parameter the mask keeps; masked parameters are set to exactly zero.
  void step(float* params, const float* grad, const Mask& mask);
  int steps_taken() const { return t_; }
  // Changes the rate of the following steps (a schedule); the moments are kept.
  void set_lr(float lr) { config_.lr = lr; }
  const AdamConfig& config() const { return config_; }
  // The optimizer's state, for checkpoints: step count and both moment vectors.
  const std::vector<float>& first_moment() const { return m_; }
  const std::vector<float>& second_moment() const { return v_; }
  void restore(int steps_taken, std::vector<float> m, std::vector<float> v);

 private:
  AdamConfig config_;
  std::vector<float> m_, v_;
  int t_ = 0;
};

struct FitProgress {
  int step = 0;        // 1-based index of the step just taken
  double loss = 0.0;   // loss of the parameters the step started from
  double psnr = 0.0;   // the paper's PSNR of that loss: -10 log10(MSE), peak 1
};

// Subset fits: each step's loss and gradient over a fresh uniform random subset of this fraction of
// the pixels (1: every pixel). A step then costs about the fraction, so more steps fit in the same
// time, and on validation more steps on fewer pixels beat fewer steps on all of them
// (docs/results.md). The draws are seeded, so a fit repeats exactly; the final loss is over every pixel.
struct PixelSampling {
  double fraction = 1.0;
  std::uint64_t seed = 0x5355425345540000ull;  // "SUBSET"
};

// Puts PixelSampling's per-step subsets on an evaluator (nothing at fraction 1). Throws
// kInvalidArgument for a fraction outside (0, 1].
class PixelSubsets {
 public:
  PixelSubsets(Evaluator& evaluator, const PixelSampling& sampling);
  void next();   // a fresh subset for the coming step
  void clear();  // every pixel again (the final loss)

 private:
  Evaluator& evaluator_;
  std::size_t pixels_ = 0, keep_ = 0;
  Rng rng_;
  std::vector<std::uint32_t> scratch_;
};

struct FitOptions {
  int steps = 100;
  AdamConfig adam;
  PixelSampling sampling;
  Frozen frozen;  // parameters left at their starting value (msinr/mask.hpp); empty: none
  // Called after every step; return false to stop early (the result then says so).
  std::function<bool(const FitProgress&)> on_step;
};

struct FitResult {
  int steps_taken = 0;
  bool cancelled = false;
  double final_loss = 0.0;  // loss of the returned parameters
  double final_psnr = 0.0;
  double seconds = 0.0;
};

double psnr_from_mse(double mse);

// Fits `params` (in place; param_count floats, masked entries forced to zero) to `target`
// (pixels x out_features in [0, 1]).
FitResult fit(Evaluator& evaluator, const Mask& mask, std::vector<float>& params, const float* target,
              const FitOptions& options);

}  // namespace msinr
