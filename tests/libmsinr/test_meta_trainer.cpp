#include <doctest/doctest.h>

#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

#include "msinr/error.hpp"
#include "msinr/meta_trainer.hpp"
#include "msinr/test_time_pruning.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {

MetaTrainingConfig tiny_config(PruningMethod pruning) {
  MetaTrainingConfig c;
  c.arch = Architecture{2, 8, 2, 3, 30.0f};
  c.tile_size = 5;
  c.outer.lr = 1e-3f;
  c.dense_steps = 3;
  c.rounds = 3;
  c.round_steps = 2;
  c.pruning = pruning;
  c.seed = 42;
  return c;
}

std::vector<std::vector<float>> tiny_images(int count, int size) {
  std::vector<std::vector<float>> images;
  for (int k = 0; k < count; ++k) {
    auto t = test::synthetic_target(size, size);
    for (std::size_t i = 0; i < t.size(); ++i) t[i] = std::fmod(t[i] + 0.13f * k, 1.0f);
    images.push_back(t);
  }
  return images;
}

}  // namespace

TEST_CASE("pruning schedule reproduces the paper's survivor counts") {
  CHECK(weights_after_rounds(197888, 0.2, 0) == 197888u);
  CHECK(weights_after_rounds(197888, 0.2, 11) == 17000u);
  CHECK(weights_after_rounds(197888, 0.2, 14) == 8704u);
  CHECK(weights_after_rounds(197888, 0.2, 15) == 6964u);
  // And global magnitude pruning of the full default network follows it exactly, round by round.
  Architecture arch;
  ParamLayout layout(arch);
  auto params = siren_init(arch, 1);
  Mask mask = dense_mask(layout);
  for (int round = 1; round <= 15; ++round) {
    const Mask next =
        global_magnitude_mask(layout, params, mask, weights_after_rounds(kept_weights(layout, mask), 0.2, 1));
    for (std::size_t i = 0; i < mask.size(); ++i)
      if (!mask[i]) REQUIRE(next[i] == 0);  // no weight ever returns
    mask = next;
    CHECK(kept_weights(layout, mask) == weights_after_rounds(197888, 0.2, round));
  }
  CHECK(kept_weights(layout, mask) == 6964u);
}

TEST_CASE("round schedule: flat, or a linear ramp from round_steps to last_round_steps") {
  MetaTrainingConfig c;
  c.dense_steps = 7;
  c.rounds = 5;
  c.round_steps = 10;
  CHECK(steps_in_round(c, 0) == 7);
  CHECK(steps_in_round(c, 3) == 10);
  CHECK(total_outer_steps(c) == 7 + 5 * 10);
  c.last_round_steps = 50;
  const int expected[] = {7, 10, 20, 30, 40, 50};
  for (int r = 0; r <= 5; ++r) CHECK(steps_in_round(c, r) == expected[r]);
  CHECK(total_outer_steps(c) == 7 + 150);
  c.rounds = 1;  // a single round takes round_steps
  CHECK(steps_in_round(c, 1) == 10);
}

TEST_CASE("Algorithm 1 on a tiny network: levels, global threshold, nested masks, biases kept") {
  for (PruningMethod method : {PruningMethod::kMagnitude, PruningMethod::kRandom}) {
    auto cfg = tiny_config(method);
    auto images = tiny_images(4, cfg.tile_size);
    auto backend = make_cpu_backend();
    MetaTrainer trainer(cfg, *backend, images);
    MetaTrainingState state = trainer.initial_state();
    int progress_calls = 0;
    MetaCallbacks cb;
    cb.on_progress = [&](const MetaProgress& p) {
      ++progress_calls;
      CHECK(std::isfinite(p.loss_after));
    };
    REQUIRE(trainer.run(state, cb));
    CHECK(progress_calls == cfg.dense_steps + cfg.rounds * cfg.round_steps);
    ParamLayout layout(cfg.arch);
    REQUIRE(state.levels.size() == 4);
    for (std::size_t i = 0; i < state.levels.size(); ++i) {
      const MetaLevel& lv = state.levels[i];
      CHECK(lv.index == static_cast<int>(i));
      CHECK(kept_weights(layout, lv.mask) == weights_after_rounds(layout.weight_count(), 0.2, static_cast<int>(i)));
      for (std::size_t k = 0; k < lv.mask.size(); ++k) {
        if (!layout.weight_flags()[k]) REQUIRE(lv.mask[k] == 1);
        if (!lv.mask[k]) REQUIRE(lv.init[k] == 0.0f);
      }
      if (i == 0) continue;
      const MetaLevel& prev = state.levels[i - 1];
      for (std::size_t k = 0; k < lv.mask.size(); ++k)
        if (!prev.mask[k]) REQUIRE(lv.mask[k] == 0);
      if (method == PruningMethod::kMagnitude) {
        // One threshold over all layers: every kept weight outweighs every weight pruned this round
        // (magnitudes taken at the moment of pruning: the previous level's final parameters).
        float smallest_kept = 1e30f, largest_pruned = 0.0f;
        for (std::size_t k = 0; k < lv.mask.size(); ++k) {
          if (!layout.weight_flags()[k] || !prev.mask[k]) continue;
          if (lv.mask[k]) smallest_kept = std::min(smallest_kept, std::fabs(prev.init[k]));
          else largest_pruned = std::max(largest_pruned, std::fabs(prev.init[k]));
        }
        CHECK(smallest_kept >= largest_pruned);
      }
    }
  }
}

TEST_CASE("a resumed run equals an uninterrupted one, bit for bit") {
  auto cfg = tiny_config(PruningMethod::kMagnitude);
  auto images = tiny_images(5, cfg.tile_size);
  auto backend = make_cpu_backend();
  MetaTrainer whole(cfg, *backend, images);
  MetaTrainingState a = whole.initial_state();
  REQUIRE(whole.run(a, {}));

  for (int stop_after : {1, 3, 4, 7}) {  // inside the dense phase, at its end, inside a round
    MetaTrainer first(cfg, *backend, images);
    MetaTrainingState checkpoint;
    MetaTrainingState b = first.initial_state();
    int steps = 0;
    MetaCallbacks cb;
    cb.on_step_end = [&](const MetaTrainingState& s) {
      if (++steps < stop_after) return true;
      checkpoint = s;  // what a checkpoint file would hold
      return false;
    };
    REQUIRE_FALSE(first.run(b, cb));
    MetaTrainer second(cfg, *backend, images);  // a new process, as it were
    REQUIRE(second.run(checkpoint, {}));
    CAPTURE(stop_after);
    CHECK(checkpoint.params == a.params);
    CHECK(checkpoint.mask == a.mask);
    REQUIRE(checkpoint.levels.size() == a.levels.size());
    for (std::size_t i = 0; i < a.levels.size(); ++i) {
      CHECK(checkpoint.levels[i].init == a.levels[i].init);
      CHECK(checkpoint.levels[i].mask == a.levels[i].mask);
    }
  }
}

TEST_CASE("meta-training lowers the meta-loss on a fixed task set") {
  auto cfg = tiny_config(PruningMethod::kMagnitude);
  cfg.outer.lr = 3e-3f;
  auto images = tiny_images(3, cfg.tile_size);
  auto backend = make_cpu_backend();
  MetaTrainer trainer(cfg, *backend, images);
  MetaTrainingState state = trainer.initial_state();
  const int tasks[3] = {0, 1, 2};
  const double first = trainer.outer_step(state, tasks).after;
  double last = first;
  for (int i = 0; i < 40; ++i) last = trainer.outer_step(state, tasks).after;
  CHECK(last < 0.8 * first);
}

TEST_CASE("meta-trainer refuses bad input") {
  auto cfg = tiny_config(PruningMethod::kMagnitude);
  auto backend = make_cpu_backend();
  std::vector<std::vector<float>> none;
  CHECK_THROWS_AS(MetaTrainer(cfg, *backend, none), Error);
  std::vector<std::vector<float>> wrong{std::vector<float>(7)};
  CHECK_THROWS_AS(MetaTrainer(cfg, *backend, wrong), Error);
}

TEST_CASE("test-time pruning baselines end at the requested sparsity and fit") {
  Architecture arch{2, 16, 2, 3, 30.0f};
  ParamLayout layout(arch);
  const Grid grid{6, 6};
  auto target = test::synthetic_target(6, 6);
  auto backend = make_cpu_backend();
  AdamConfig adam;
  adam.lr = 1e-2f;
  auto p1 = siren_init(arch, 3);
  Mask m1;
  const FitResult r1 = fit_oneshot_pruned(*backend, arch, grid, p1, target.data(), 100, 20, adam, &m1);
  CHECK(r1.steps_taken == 20);
  CHECK(kept_weights(layout, m1) == 100u);
  for (std::size_t i = 0; i < m1.size(); ++i)
    if (!m1[i]) REQUIRE(p1[i] == 0.0f);
  auto p2 = siren_init(arch, 3);
  Mask m2;
  const FitResult r2 = fit_imp_pruned(*backend, arch, grid, p2, target.data(), 3, 0.2, 21, adam, &m2);
  CHECK(r2.steps_taken == 21);
  CHECK(kept_weights(layout, m2) == weights_after_rounds(layout.weight_count(), 0.2, 3));
  CHECK(std::isfinite(r2.final_loss));
}

TEST_CASE("pixel-subsampled meta-training is deterministic, resumable, and still learns") {
  auto cfg = tiny_config(PruningMethod::kMagnitude);
  cfg.tile_size = 8;
  cfg.pixel_fraction = 0.25;
  auto images = tiny_images(4, cfg.tile_size);
  auto backend = make_cpu_backend();
  MetaTrainer a(cfg, *backend, images), b(cfg, *backend, images);
  MetaTrainingState sa = a.initial_state(), sb = b.initial_state();
  REQUIRE(a.run(sa, {}));
  MetaTrainingState checkpoint;
  int steps = 0;
  MetaCallbacks cb;
  cb.on_step_end = [&](const MetaTrainingState& s) {
    if (++steps < 5) return true;
    checkpoint = s;
    return false;
  };
  REQUIRE_FALSE(b.run(sb, cb));
  MetaTrainer c(cfg, *backend, images);
  REQUIRE(c.run(checkpoint, {}));
  CHECK(checkpoint.params == sa.params);
  CHECK(checkpoint.mask == sa.mask);
}

TEST_CASE("Dense-Narrow widths match the paper's parameter counts") {
  Architecture arch;
  CHECK(narrow_width_for(17708, arch) == 76);
  CHECK(narrow_width_for(14212, arch) == 68);
  CHECK(narrow_width_for(26978, arch) == 94);
  CHECK(narrow_width_for(14213, arch) == 69);  // "equal or slightly larger"
  const int w = narrow_width_for(8704, arch);  // the counterpart of round 14
  Architecture narrow = arch;
  narrow.hidden_width = w;
  CHECK(ParamLayout(narrow).weight_count() >= 8704u);
  narrow.hidden_width = w - 1;
  CHECK(ParamLayout(narrow).weight_count() < 8704u);
}

namespace {

// The processes of a data-parallel job, played by threads: share() copies each "rank"'s rows
// into a common buffer and every rank reads all of them back, as MPI_Allgatherv does.
struct ThreadJob {
  explicit ThreadJob(int n) : size(n), sync(n) {}
  int size;
  std::barrier<> sync;
  std::vector<float> grads;
  std::vector<MamlTaskLoss> losses;
};

class ThreadSharing final : public TaskSharing {
 public:
  ThreadSharing(ThreadJob& job, int rank) : job_(job), rank_(rank) {}
  int rank() const override { return rank_; }
  int size() const override { return job_.size; }
  void share(std::span<float> grads, std::size_t row, std::span<MamlTaskLoss> losses) override {
    const int n = static_cast<int>(losses.size());
    if (rank_ == 0) {
      job_.grads.assign(grads.size(), std::nanf(""));
      job_.losses.assign(losses.size(), MamlTaskLoss{});
    }
    job_.sync.arrive_and_wait();
    const int b = first_task(rank_, n, job_.size), e = first_task(rank_ + 1, n, job_.size);
    std::copy(grads.begin() + static_cast<std::ptrdiff_t>(b * row), grads.begin() + static_cast<std::ptrdiff_t>(e * row),
              job_.grads.begin() + static_cast<std::ptrdiff_t>(b * row));
    std::copy(losses.begin() + b, losses.begin() + e, job_.losses.begin() + b);
    job_.sync.arrive_and_wait();
    std::copy(job_.grads.begin(), job_.grads.end(), grads.begin());
    std::copy(job_.losses.begin(), job_.losses.end(), losses.begin());
    job_.sync.arrive_and_wait();
  }

 private:
  ThreadJob& job_;
  int rank_;
};

}  // namespace

TEST_CASE("data-parallel meta-training on 2 and 3 processes equals one process, bit for bit") {
  auto cfg = tiny_config(PruningMethod::kMagnitude);
  cfg.tile_size = 8;
  cfg.pixel_fraction = 0.5;  // per-task pixel subsets: every process must draw them all
  cfg.tasks_per_step = 3;
  auto images = tiny_images(5, cfg.tile_size);
  CpuBackendOptions one_thread;
  one_thread.threads = 1;
  auto backend = make_cpu_backend(one_thread);
  MetaTrainer whole(cfg, *backend, images);
  MetaTrainingState expected = whole.initial_state();
  REQUIRE(whole.run(expected, {}));

  for (int ranks : {2, 3, 4}) {  // 4 > 3 tasks: one process idles every step
    CAPTURE(ranks);
    ThreadJob job(ranks);
    std::vector<MetaTrainingState> states(static_cast<std::size_t>(ranks));
    std::vector<std::thread> threads;
    for (int r = 0; r < ranks; ++r)
      threads.emplace_back([&, r] {
        auto b = make_cpu_backend(one_thread);
        ThreadSharing sharing(job, r);
        MetaTrainer t(cfg, *b, images);
        t.set_task_sharing(&sharing);
        MetaTrainingState s = t.initial_state();
        t.run(s, {});
        states[static_cast<std::size_t>(r)] = std::move(s);
      });
    for (auto& t : threads) t.join();
    for (const auto& s : states) {
      CHECK(s.params == expected.params);
      CHECK(s.mask == expected.mask);
      CHECK(s.adam_m == expected.adam_m);
      REQUIRE(s.levels.size() == expected.levels.size());
      for (std::size_t i = 0; i < s.levels.size(); ++i) CHECK(s.levels[i].init == expected.levels[i].init);
    }
  }
}

TEST_CASE("tasks are split into contiguous blocks that cover every task once") {
  for (int size = 1; size <= 5; ++size)
    for (int n = 0; n <= 7; ++n) {
      CHECK(TaskSharing::first_task(0, n, size) == 0);
      CHECK(TaskSharing::first_task(size, n, size) == n);
      for (int r = 0; r < size; ++r) CHECK(TaskSharing::first_task(r, n, size) <= TaskSharing::first_task(r + 1, n, size));
    }
}
