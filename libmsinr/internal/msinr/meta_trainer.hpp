#pragma once
// The paper's Algorithm 1: meta-train a dense SIREN with MAML, then repeat {prune 20% of the
// surviving weights by global magnitude; meta-train again}, saving every round as a level.
// Level i has density 0.8^i (round 14: 8,704 of 197,888 weights; round 15: 6,964).
//
// The trainer is pure computation: images arrive as float tiles, and the whole training state is
// a plain struct so the caller can checkpoint it anywhere and resume exactly.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "msinr/backend.hpp"
#include "msinr/fitter.hpp"
#include "msinr/maml.hpp"

namespace msinr {

enum class PruningMethod { kMagnitude, kRandom };

struct MetaTrainingConfig {
  Architecture arch;
  int tile_size = 178;           // images are tile_size x tile_size x 3 floats in [0, 1]
  MamlConfig maml;               // inner loop: 2 SGD steps at 0.01, second order
  AdamConfig outer{1e-5f};       // outer Adam at 1e-5
  int tasks_per_step = 3;
  int dense_steps = 1000;        // outer steps before the first pruning (paper: 150,000)
  int rounds = 15;               // pruning rounds after the dense phase
  int round_steps = 200;         // outer steps after each pruning (paper: 30,000)
  // Steps of the last round; rounds in between ramp linearly from round_steps (0: all rounds take
  // round_steps). Late rounds lose the most to pruning and cost the least per step on sparse
  // kernels, so a CPU budget is better spent there.
  int last_round_steps = 0;
  PruningMethod pruning = PruningMethod::kMagnitude;
  double prune_fraction = 0.2;   // of the surviving weights, each round
  std::uint64_t seed = 0;        // init, task sampling and random pruning
  // Fraction of each task's pixels the inner and outer losses use, drawn anew per task (1: full
  // batch, as in the paper). Below 1 it makes large tiles affordable on a CPU.
  double pixel_fraction = 1.0;
  // Tasks fit weights only: the biases stay at the shared init in the inner loop (and in every
  // encode), so tiles transmit no bias; the outer loop still learns them.
  bool freeze_biases = false;
};

// Outer steps of `round` (0: the dense phase) under `config`'s schedule.
int steps_in_round(const MetaTrainingConfig& config, int round);
long long total_outer_steps(const MetaTrainingConfig& config);

// Weights kept after `rounds` rounds: each round removes floor(fraction * survivors), the rule that
// reproduces the paper's counts (17,000 after 11 rounds, 8,704 after 14, 6,964 after 15).
std::size_t weights_after_rounds(std::size_t weights, double prune_fraction, int rounds);

struct MetaLevel {
  int index = 0;                 // the round that produced it (0: dense)
  Mask mask;
  std::vector<float> init;
};

// Everything a checkpoint holds; a run resumed from it continues bit for bit (same thread count).
struct MetaTrainingState {
  int round = 0;                 // 0: dense phase; i: retraining after the i-th pruning
  int step = 0;                  // outer steps done in this round
  std::vector<float> params;
  Mask mask;
  int adam_steps = 0;
  std::vector<float> adam_m, adam_v;
  std::uint64_t rng_state = 0;
  std::vector<MetaLevel> levels;
  double train_seconds = 0.0;    // accumulated over resumes
};

struct MetaProgress {
  int round = 0, rounds = 0;
  int step = 0, steps = 0;       // within this round
  double loss_before = 0.0;      // mean over the step's tasks, at the shared parameters
  double loss_after = 0.0;       // after the inner steps: the meta-loss
  double steps_per_second = 0.0;
  double eta_seconds = 0.0;      // for the whole run
  std::size_t weights = 0;
};

// Data-parallel meta-training: the processes of one job share each outer step's tasks. The trainer
// knows no transport; the caller supplies one (the command line's is MPI, cli/distributed.cpp).
// Every process runs the same trainer on the same images and state. Of a step's n tasks, process
// r computes tasks [first_task(r), first_task(r + 1)); share() then gives every process every
// task's gradient, and each sums them in task order exactly as one process would, so a run on
// any number of processes equals the one-process run bit for bit (at the same thread count).
class TaskSharing {
 public:
  virtual ~TaskSharing() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // `grads` holds n rows of `row` floats, `losses` n entries (n = losses.size()). On entry the rows
  // of this process's tasks are filled; on return every row holds its owner's values, the same
  // on every process. Throws msinr::Error when another process has failed.
  virtual void share(std::span<float> grads, std::size_t row, std::span<MamlTaskLoss> losses) = 0;
  // The first of the `n` tasks that process `r` computes (r = size(): n). Contiguous blocks, so a
  // process's rows are one span and an allgather moves them.
  static int first_task(int r, int n, int size) {
    return static_cast<int>(static_cast<long long>(r) * n / size);
  }
};

struct MetaCallbacks {
  std::function<void(const MetaProgress&)> on_progress;
  // After every outer step, with a consistent state: the place to checkpoint. Return false to stop.
  std::function<bool(const MetaTrainingState&)> on_step_end;
  std::function<void(const MetaLevel&)> on_level;
};

class MetaTrainer {
 public:
  // `images`: each tile_size * tile_size * 3 floats. Throws kInvalidArgument on a bad config or image.
  MetaTrainer(const MetaTrainingConfig& config, Backend& backend, std::span<const std::vector<float>> images);
  // Shares every outer step's tasks with the other processes of a job (null: this process does
  // them all). Not owned; must outlive the trainer's use.
  void set_task_sharing(TaskSharing* sharing) { sharing_ = sharing; }
  MetaTrainingState initial_state() const;
  // Runs until every level exists or a callback stops it. Returns true when finished.
  bool run(MetaTrainingState& state, const MetaCallbacks& callbacks);
  // One outer step on explicit tasks (exposed for tests): returns the mean (before, after) losses.
  MamlTaskLoss outer_step(MetaTrainingState& state, std::span<const int> tasks);

 private:
  void prune(MetaTrainingState& state);
  MetaTrainingConfig config_;
  Backend& backend_;
  std::span<const std::vector<float>> images_;
  ParamLayout layout_;
  std::unique_ptr<Evaluator> evaluator_;
  const Mask* evaluator_mask_ = nullptr;
  Mask evaluator_mask_copy_;
  MamlScratch scratch_;
  std::vector<float> task_grad_, mean_grad_;
  TaskSharing* sharing_ = nullptr;
  std::vector<float> task_grads_;          // n rows, with sharing
  std::vector<MamlTaskLoss> task_losses_;
  std::vector<std::uint32_t> pixel_order_;
};

// The Dense-Narrow baseline's width: the smallest hidden width whose dense network has at least
// `weights` weights (biases not counted, as in the paper's tables: width 76 has 17,708, 68 has
// 14,212, 94 has 26,978), keeping the other sizes of `arch`.
int narrow_width_for(std::size_t weights, const Architecture& arch);

// Random pruning: keeps `keep` of the weights `current` keeps, uniformly at random.
Mask random_prune_mask(const ParamLayout& layout, const Mask& current, std::size_t keep, Rng& rng);

}  // namespace msinr
