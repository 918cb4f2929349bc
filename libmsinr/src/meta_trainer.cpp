#include "msinr/meta_trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <string>

#include "msinr/error.hpp"

namespace msinr {

std::size_t weights_after_rounds(std::size_t weights, double prune_fraction, int rounds) {
  for (int r = 0; r < rounds; ++r)
    weights -= static_cast<std::size_t>(std::floor(prune_fraction * static_cast<double>(weights) + 1e-9));
  return weights;
}

int narrow_width_for(std::size_t weights, const Architecture& arch) {
  const bool ffn = arch.network == Network::kFourier;
  for (int w = ffn ? 2 : 1; w <= 4096; w += ffn ? 2 : 1) {  // an FFN's encoding is as wide as its layers
    Architecture a = arch;
    a.hidden_width = w;
    if (ffn) a.fourier_features = w / 2;
    if (ParamLayout(a).weight_count() >= weights) return w;
  }
  throw Error(ErrorCode::kInvalidArgument, "no width up to 4096 has " + std::to_string(weights) + " weights");
}

Mask random_prune_mask(const ParamLayout& layout, const Mask& current, std::size_t keep, Rng& rng) {
  check_mask(layout, current);
  std::vector<std::uint32_t> alive;
  for (std::size_t i = 0; i < current.size(); ++i)
    if (layout.weight_flags()[i] && current[i]) alive.push_back(static_cast<std::uint32_t>(i));
  if (keep > alive.size()) throw Error(ErrorCode::kInvalidArgument, "random pruning: cannot keep more than survive");
  partial_shuffle(alive, keep, rng);
  Mask next = current;
  for (std::size_t k = keep; k < alive.size(); ++k) next[alive[k]] = 0;
  return next;
}

int steps_in_round(const MetaTrainingConfig& config, int round) {
  if (round <= 0) return config.dense_steps;
  if (config.last_round_steps <= 0 || config.rounds <= 1) return config.round_steps;
  const double t = static_cast<double>(round - 1) / (config.rounds - 1);
  return static_cast<int>(std::lround(config.round_steps + t * (config.last_round_steps - config.round_steps)));
}

long long total_outer_steps(const MetaTrainingConfig& config) {
  long long total = 0;
  for (int r = 0; r <= config.rounds; ++r) total += steps_in_round(config, r);
  return total;
}

MetaTrainer::MetaTrainer(const MetaTrainingConfig& config, Backend& backend, std::span<const std::vector<float>> images)
    : config_(config), backend_(backend), images_(images), layout_(config.arch) {
  if (config.tile_size < 1 || config.tasks_per_step < 1 || config.dense_steps < 0 || config.rounds < 0 ||
      config.round_steps < 0 || config.last_round_steps < 0 || !(config.prune_fraction > 0.0 && config.prune_fraction < 1.0) ||
      !(config.pixel_fraction > 0.0 && config.pixel_fraction <= 1.0))
    throw Error(ErrorCode::kInvalidArgument, "invalid meta-training configuration");
  if (images.empty()) throw Error(ErrorCode::kInvalidArgument, "meta-training needs at least one image");
  const std::size_t expected =
      static_cast<std::size_t>(config.tile_size) * config.tile_size * static_cast<std::size_t>(config.arch.out_features);
  for (const auto& im : images)
    if (im.size() != expected)
      throw Error(ErrorCode::kInvalidArgument, "meta-training image has " + std::to_string(im.size()) +
                                                   " values, expected " + std::to_string(expected));
  task_grad_.resize(layout_.param_count());
  mean_grad_.resize(layout_.param_count());
  if (config_.freeze_biases) config_.maml.frozen = bias_flags(layout_);
  else if (!config_.maml.frozen.empty() && config_.maml.frozen.size() != layout_.param_count())
    throw Error(ErrorCode::kInvalidArgument, "meta-training: the frozen set does not match the network");
}

MetaTrainingState MetaTrainer::initial_state() const {
  MetaTrainingState s;
  s.params = siren_init(config_.arch, config_.seed);
  s.mask = dense_mask(layout_);
  s.adam_m.assign(layout_.param_count(), 0.0f);
  s.adam_v.assign(layout_.param_count(), 0.0f);
  // A stream of its own, so task sampling does not depend on how the init consumed the seed.
  s.rng_state = config_.seed ^ 0x6A09E667F3BCC908ull;
  return s;
}

MamlTaskLoss MetaTrainer::outer_step(MetaTrainingState& state, std::span<const int> tasks) {
  // The evaluator's sparse structure follows the mask: rebuild it only when the mask changes.
  if (!evaluator_ || evaluator_mask_copy_ != state.mask) {
    evaluator_mask_copy_ = state.mask;
    evaluator_ = backend_.make_evaluator(config_.arch, evaluator_mask_copy_,
                                         Grid{config_.tile_size, config_.tile_size});
  }
  std::fill(mean_grad_.begin(), mean_grad_.end(), 0.0f);
  MamlTaskLoss mean;
  const std::size_t n_pixels = static_cast<std::size_t>(config_.tile_size) * config_.tile_size;
  const auto n_sample = static_cast<std::size_t>(std::llround(config_.pixel_fraction * static_cast<double>(n_pixels)));
  const bool shared = sharing_ != nullptr && sharing_->size() > 1;
  const int n = static_cast<int>(tasks.size());
  const int mine_begin = shared ? TaskSharing::first_task(sharing_->rank(), n, sharing_->size()) : 0;
  const int mine_end = shared ? TaskSharing::first_task(sharing_->rank() + 1, n, sharing_->size()) : n;
  const std::size_t row = mean_grad_.size();
  if (shared) {
    task_grads_.assign(static_cast<std::size_t>(n) * row, 0.0f);
    task_losses_.assign(static_cast<std::size_t>(n), MamlTaskLoss{});
  }
  for (int k = 0; k < n; ++k) {
    const bool mine = k >= mine_begin && k < mine_end;
    if (n_sample < n_pixels) {
      // A fresh uniform subset per task, drawn from the state's generator (so resumes repeat it).
      // Every process draws every task's subset, so the generator advances the same everywhere.
      Rng rng(state.rng_state);
      std::vector<std::uint32_t> subset = random_pixel_subset(n_pixels, n_sample, rng, pixel_order_);
      state.rng_state = rng.state();
      if (mine) evaluator_->set_pixel_subset(std::move(subset));
    }
    if (!mine) continue;
    float* grad = shared ? task_grads_.data() + static_cast<std::size_t>(k) * row : task_grad_.data();
    const MamlTaskLoss l = maml_outer_gradient(*evaluator_, state.mask, state.params.data(),
                                               images_[static_cast<std::size_t>(tasks[static_cast<std::size_t>(k)])].data(),
                                               config_.maml, grad, scratch_);
    if (shared) {
      task_losses_[static_cast<std::size_t>(k)] = l;
      continue;
    }
    mean.before += l.before / static_cast<double>(n);
    mean.after += l.after / static_cast<double>(n);
    for (std::size_t i = 0; i < row; ++i) mean_grad_[i] += task_grad_[i];
  }
  if (shared) {
    sharing_->share(task_grads_, row, task_losses_);
    // The one-process sums, term for term in task order: the result cannot depend on the split.
    for (int k = 0; k < n; ++k) {
      const MamlTaskLoss& l = task_losses_[static_cast<std::size_t>(k)];
      mean.before += l.before / static_cast<double>(n);
      mean.after += l.after / static_cast<double>(n);
      const float* g = task_grads_.data() + static_cast<std::size_t>(k) * row;
      for (std::size_t i = 0; i < row; ++i) mean_grad_[i] += g[i];
    }
  }
  const float inv = 1.0f / static_cast<float>(tasks.size());
  for (float& g : mean_grad_) g *= inv;
  Adam adam(layout_.param_count(), config_.outer);
  adam.restore(state.adam_steps, std::move(state.adam_m), std::move(state.adam_v));
  adam.step(state.params.data(), mean_grad_.data(), state.mask);
  state.adam_steps = adam.steps_taken();
  state.adam_m = adam.first_moment();
  state.adam_v = adam.second_moment();
  return mean;
}

void MetaTrainer::prune(MetaTrainingState& state) {
  const std::size_t alive = kept_weights(layout_, state.mask);
  const std::size_t keep = weights_after_rounds(alive, config_.prune_fraction, 1);
  if (config_.pruning == PruningMethod::kMagnitude) {
    state.mask = global_magnitude_mask(layout_, state.params, state.mask, keep);
  } else {
    Rng rng(state.rng_state);
    state.mask = random_prune_mask(layout_, state.mask, keep, rng);
    state.rng_state = rng.state();
  }
  apply_mask(state.mask, state.params);
  // Each round retrains with a fresh outer optimizer, as a new MAML run from the pruned weights.
  state.adam_steps = 0;
  std::fill(state.adam_m.begin(), state.adam_m.end(), 0.0f);
  std::fill(state.adam_v.begin(), state.adam_v.end(), 0.0f);
}

bool MetaTrainer::run(MetaTrainingState& state, const MetaCallbacks& cb) {
  check_mask(layout_, state.mask);
  if (state.params.size() != layout_.param_count())
    throw Error(ErrorCode::kInvalidArgument, "training state does not match the architecture");
  auto steps_in = [&](int round) { return steps_in_round(config_, round); };
  const long long total_steps = total_outer_steps(config_);
  long long done_before = 0;
  for (int r = 0; r < state.round; ++r) done_before += steps_in(r);
  done_before += state.step;
  const auto start = std::chrono::steady_clock::now();
  const double seconds_at_start = state.train_seconds;
  long long steps_this_run = 0;
  const int n_tasks = std::min<int>(config_.tasks_per_step, static_cast<int>(images_.size()));
  std::vector<int> tasks(static_cast<std::size_t>(n_tasks));

  while (true) {
    if (state.step >= steps_in(state.round)) {
      if (static_cast<int>(state.levels.size()) <= state.round) {
        state.levels.push_back({state.round, state.mask, state.params});
        if (cb.on_level) cb.on_level(state.levels.back());
      }
      if (state.round >= config_.rounds) return true;
      ++state.round;
      state.step = 0;
      prune(state);
      continue;
    }
    // Tasks: distinct images drawn uniformly.
    Rng rng(state.rng_state);
    for (int k = 0; k < n_tasks; ++k) {
      int pick;
      do pick = static_cast<int>(rng.below(images_.size()));
      while (std::find(tasks.begin(), tasks.begin() + k, pick) != tasks.begin() + k);
      tasks[static_cast<std::size_t>(k)] = pick;
    }
    state.rng_state = rng.state();
    const MamlTaskLoss loss = outer_step(state, tasks);
    if (!std::isfinite(loss.after))
      throw Error(ErrorCode::kInternal, "meta-training diverged (non-finite meta-loss); lower the learning rates");
    ++state.step;
    ++steps_this_run;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    state.train_seconds = seconds_at_start + elapsed;
    if (cb.on_progress) {
      MetaProgress p;
      p.round = state.round;
      p.rounds = config_.rounds;
      p.step = state.step;
      p.steps = steps_in(state.round);
      p.loss_before = loss.before;
      p.loss_after = loss.after;
      p.steps_per_second = static_cast<double>(steps_this_run) / std::max(elapsed, 1e-9);
      p.eta_seconds = static_cast<double>(total_steps - done_before - steps_this_run) / p.steps_per_second;
      p.weights = kept_weights(layout_, state.mask);
      cb.on_progress(p);
    }
    if (cb.on_step_end && !cb.on_step_end(state)) return false;
  }
}

}  // namespace msinr
