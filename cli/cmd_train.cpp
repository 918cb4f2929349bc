// msinr train: meta-learn a sparse initialization family (Algorithm 1) and write a model file.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "cli/distributed.hpp"
#include "cli/eval_protocol.hpp"
#include "cli/output.hpp"
#include "cli/progress.hpp"
#include "cli/setup.hpp"
#include "codec/model.hpp"
#include "format/checksum.hpp"
#include "msinr/error.hpp"
#include "msinr/meta_trainer.hpp"
#include "msinr/version.h"
#include "tools/checkpoint.hpp"
#include "tools/dataset.hpp"

namespace msinr::cli {
namespace {

struct TrainArgs {
  std::string data, out, resume, checkpoint, val_data;
  int crop = 178, resize = 0, count = 0, val_count = 0;
  std::string arch = "siren";
  float fourier_sigma = 20.0f;
  int width = 256, layers = 4;
  float w0 = 200.0f;
  float w0_hidden = 0.0f;
  int stop_after_round = -1;
  int dense_steps = 1000, rounds = 15, round_steps = 200, last_round_steps = 0;
  std::string order = "second", pruning = "magnitude";
  int inner_steps = 2, tasks = 3;
  float inner_lr = 0.01f, outer_lr = 1e-5f;
  std::vector<float> fit_lrs;  // empty: 1e-4,1e-3 (siren) or 1e-3,3e-3,1e-2 (ffn)
  std::uint64_t seed = 0;
  double checkpoint_every = 120.0;
  double pixel_fraction = 1.0;
  int default_level = -1;
  long long max_steps = 0;
  std::size_t narrow_for = 0;
  EngineArgs engine;
  bool quiet = false, force = false;
  bool freeze_biases = false;
};

std::string fingerprint(const TrainArgs& a, const MetaTrainingConfig& c) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "data=%s crop=%d resize=%d count=%d %swidth=%d layers=%d w0=%g dense=%d rounds=%d round=%d order=%s "
                "inner=%d@%g outer=%g tasks=%d pruning=%s seed=%llu pixels=%g%s",
                std::filesystem::absolute(a.data).lexically_normal().string().c_str(), a.crop, a.resize, a.count,
                c.arch.network == Network::kFourier ? ("arch=ffn sigma=" + CLI::detail::to_string(c.arch.fourier_sigma) + " ").c_str() : "",
                c.arch.hidden_width, c.arch.hidden_layers, c.arch.w0, c.dense_steps, c.rounds, c.round_steps,
                a.order.c_str(), c.maml.inner_steps, c.maml.inner_lr, c.outer.lr, c.tasks_per_step, a.pruning.c_str(),
                static_cast<unsigned long long>(c.seed), c.pixel_fraction,
                c.last_round_steps > 0 ? (" last-round=" + std::to_string(c.last_round_steps)).c_str() : "");
  std::string out = buf;
  if (c.arch.w0_hidden > 0.0f) out += " w0-hidden=" + CLI::detail::to_string(c.arch.w0_hidden);
  if (c.freeze_biases) out += " frozen-biases";
  return out;
}

// What every process of a job must agree on before training: the data and the starting state.
std::string agreement(const tools::Dataset& data, const MetaTrainingState& s) {
  std::uint32_t crc = 0;
  for (const auto& t : data.tiles)
    crc = format::crc32c(std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(t.data()), t.size() * sizeof(float)), crc);
  const std::uint32_t params_crc = format::crc32c(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(s.params.data()), s.params.size() * sizeof(float)));
  char buf[160];
  std::snprintf(buf, sizeof buf, "%zu images (crc %08x), round %d step %d, parameters crc %08x", data.tiles.size(), crc,
                s.round, s.step, params_crc);
  return buf;
}

int run_train(const TrainArgs& in) {
  // Under mpirun/srun every process runs this; rank 0 alone prints, checkpoints and writes the model.
  Distributed& job = Distributed::get();
  TrainArgs a = in;
  if (!job.root()) a.quiet = true;
  a.engine.threads = job.threads_for(a.engine.threads);
  MetaTrainingConfig c;
  c.arch = Architecture{2, a.width, a.layers, 3, a.w0};
  if (a.w0_hidden > 0.0f && a.w0_hidden != a.w0) c.arch.w0_hidden = a.w0_hidden;
  if (a.arch == "ffn") {  // the paper's appendix B: width/2 Gaussian frequencies, so the encoding is as wide as a layer
    if (a.width % 2 != 0) throw Error(ErrorCode::kInvalidArgument, "--arch ffn needs an even --width (the encoding is sin and cos of width/2 frequencies)");
    c.arch.network = Network::kFourier;
    c.arch.fourier_features = a.width / 2;
    c.arch.fourier_sigma = a.fourier_sigma;
  }
  if (a.narrow_for > 0) {  // the Dense-Narrow baseline: a dense net of about that many weights
    c.arch.hidden_width = narrow_width_for(a.narrow_for, c.arch);
    if (!a.quiet) std::fprintf(stderr, "dense-narrow: width %d for >= %zu weights\n", c.arch.hidden_width, a.narrow_for);
  }
  c.arch.validate();
  c.tile_size = a.crop;
  c.maml.inner_steps = a.inner_steps;
  c.maml.inner_lr = a.inner_lr;
  c.maml.order = a.order == "first" ? MamlOrder::kFirst : a.order == "reptile" ? MamlOrder::kReptile : MamlOrder::kSecond;
  c.outer.lr = a.outer_lr;
  c.tasks_per_step = a.tasks;
  c.dense_steps = a.dense_steps;
  c.rounds = a.narrow_for > 0 ? 0 : a.rounds;
  c.round_steps = a.round_steps;
  c.last_round_steps = a.last_round_steps;
  c.pruning = a.pruning == "random" ? PruningMethod::kRandom : PruningMethod::kMagnitude;
  c.seed = a.seed;
  c.pixel_fraction = a.pixel_fraction;
  c.freeze_biases = a.freeze_biases;
  if (a.freeze_biases && a.arch == "ffn")
    throw Error(ErrorCode::kInvalidArgument, "--freeze-biases is for SIRENs (an ffn's ReLU layers need their biases fitted)");
  const std::string fp = fingerprint(a, c);
  const std::string ckpt = a.checkpoint.empty() ? a.out + ".ckpt" : a.checkpoint;
  // Refused now rather than after hours of training.
  if (is_stdio(a.out)) throw Error(ErrorCode::kInvalidArgument, "train writes its model to a file (and OUT.ckpt beside it), not to standard output");
  if (job.root()) {
    check_output(a.out, {a.resume}, a.force);
    warn_extension(a.out, {".msm"}, "an msinr model", a.quiet);
  }

  if (!a.quiet) std::fprintf(stderr, "loading %s ...\n", a.data.c_str());
  tools::Dataset data = tools::load_dataset(a.data, {a.crop, a.resize, a.count});
  if (!a.quiet)
    std::fprintf(stderr, "%zu images of %dx%d (%d smaller than the crop skipped)\n", data.tiles.size(), a.crop, a.crop,
                 data.skipped_small);
  auto backend = make_backend(backend_options(a.engine));
  MetaTrainer trainer(c, *backend, data.tiles);
  trainer.set_task_sharing(job.task_sharing());
  MetaTrainingState state = a.resume.empty() ? trainer.initial_state() : tools::load_checkpoint(a.resume, fp);
  if (job.size() > 1) {
    // Each process read the data and the checkpoint itself (a shared file system, or copies):
    // a difference would silently train on a mix, so it is refused.
    const std::string mine = agreement(data, state);
    const std::string root = job.broadcast(mine);
    if (mine != root)
      throw Error(ErrorCode::kInvalidArgument, "this process has " + mine + " but rank 0 has " + root +
                                                   "; every process needs the same --data (and --resume checkpoint)");
    if (!a.quiet && a.tasks < job.size())
      std::fprintf(stderr, "warning: --tasks %d is fewer than the %d processes; %d of them idle each step\n", a.tasks,
                   job.size(), job.size() - a.tasks);
  }
  if (!a.quiet) {
    if (job.size() > 1)
      std::fprintf(stderr, "%d processes share each step's %d tasks (data-parallel, gradients summed in task order)\n",
                   job.size(), std::min<int>(c.tasks_per_step, static_cast<int>(data.tiles.size())));
    std::fprintf(stderr, "training on %s: %d dense steps, then %d rounds x %d%s steps, %s-order MAML, %s pruning\n",
                 backend->description().c_str(), c.dense_steps, c.rounds, c.round_steps,
                 c.last_round_steps > 0 ? (" to " + std::to_string(c.last_round_steps)).c_str() : "", a.order.c_str(),
                 a.pruning.c_str());
    if (!a.resume.empty())
      std::fprintf(stderr, "resuming %s at round %d step %d\n", a.resume.c_str(), state.round, state.step);
  }
  auto last_ckpt = std::chrono::steady_clock::now();
  // A bar per round (its ETA is the whole run's, from the trainer); off a terminal a line every 30 s.
  Progress progress(progress_mode(a.quiet), "", 0.0, "steps", 30.0);
  int shown_round = -1;
  MetaCallbacks cb;
  cb.on_progress = [&](const MetaProgress& p) {
    if (p.round != shown_round) {
      progress.restart("round " + std::to_string(p.round) + "/" + std::to_string(p.rounds), p.steps);
      shown_round = p.round;
    }
    char detail[160];
    std::snprintf(detail, sizeof detail, "%zu weights  meta-loss %.5f (PSNR %.2f dB, %.2f before)", p.weights,
                  p.loss_after, -10 * std::log10(p.loss_after), -10 * std::log10(p.loss_before));
    progress.update(p.step, detail, p.eta_seconds);
  };
  cb.on_level = [&](const MetaLevel& l) { progress.note("level " + std::to_string(l.index) + " done"); };
  long long steps_run = 0;
  bool stopped_after_round = false;
  cb.on_step_end = [&](const MetaTrainingState& s) {
    // Early finish: the levels of rounds 0..R are kept, the rest of the schedule is not run.
    if (a.stop_after_round >= 0 && s.round > a.stop_after_round) {
      stopped_after_round = true;
      return false;
    }
    const auto now = std::chrono::steady_clock::now();
    if (job.root() && now - last_ckpt >= std::chrono::duration<double>(a.checkpoint_every)) {
      tools::save_checkpoint(ckpt, fp, s);
      last_ckpt = now;
    }
    // Every process counts the same steps, so all stop together.
    return a.max_steps <= 0 || ++steps_run < a.max_steps;
  };
  const bool finished = trainer.run(state, cb) || stopped_after_round;
  progress.finish();
  if (!job.root()) return 0;
  tools::save_checkpoint(ckpt, fp, state);  // the finished state, in case writing the model fails
  if (!finished) {
    std::printf("stopped after %lld steps at round %d step %d; continue with --resume %s\n", steps_run, state.round,
                state.step, ckpt.c_str());
    return 0;
  }

  codec::Model model;
  model.arch = c.arch;
  model.tile_size = a.crop;
  model.frozen_biases = c.freeze_biases;
  model.levels = state.levels;
  model.provenance.data = a.data + " (" + std::to_string(data.tiles.size()) + " images)";
  model.provenance.recipe = fp;
  long long steps_done = 0;
  for (const auto& l : state.levels) steps_done += steps_in_round(c, l.index);
  model.provenance.steps = static_cast<std::uint64_t>(steps_done);
  if (static_cast<int>(state.levels.size()) < c.rounds + 1)
    model.provenance.notes.push_back({"stopped_after_round", std::to_string(state.levels.size() - 1) + " of " +
                                                                 std::to_string(c.rounds) + " (--stop-after-round)"});
  model.provenance.seed = c.seed;
  model.provenance.wall_seconds = state.train_seconds;
  model.provenance.created_by = "msinr " MSINR_VERSION_STRING;
  model.provenance.notes.push_back({"device", backend->description()});
  if (a.default_level >= 0) {
    if (a.default_level > c.rounds) throw Error(ErrorCode::kInvalidArgument, "--default-level is beyond --rounds");
    model.provenance.notes.push_back({"default_level", std::to_string(a.default_level)});
  }
  if (!a.val_data.empty() && a.val_count > 0) {
    tools::Dataset val = tools::load_dataset(a.val_data, {a.crop, a.resize, a.val_count});
    // Each level is fitted at every candidate learning rate; the best becomes the encoder's
    // default for that level (the paper's text says 1e-3, its code 1e-4: which wins depends on
    // the level's density, so the model records the measurement).
    std::vector<std::pair<int, float>> best_lrs;
    const std::vector<float> fit_lrs = !a.fit_lrs.empty() ? a.fit_lrs
                                       : model.arch.network == Network::kFourier ? std::vector<float>{1e-3f, 3e-3f, 1e-2f}
                                                                                 : std::vector<float>{1e-4f, 1e-3f};
    for (const auto& level : model.levels) {
      LevelScore best;
      float best_lr = fit_lrs.front();
      for (const float lr : fit_lrs) {
        const LevelScore s = evaluate_level(*backend, model.arch, level, val.tiles, a.crop, 100, lr, EvalMethod::kMeta,
                                            nullptr, LrSchedule::kConstant, codec::frozen_params(model));
        if (!a.quiet)
          std::fprintf(stderr, "level %2d: %zu weights, lr %g: validation PSNR %.2f +- %.2f dB after 100 steps\n",
                       level.index, s.weights, static_cast<double>(lr), s.psnr_mean, s.psnr_std);
        if (lr == fit_lrs.front() || s.psnr_mean > best.psnr_mean) {
          best = s;
          best_lr = lr;
        }
      }
      model.val_psnr.push_back(static_cast<float>(best.psnr_mean));
      best_lrs.emplace_back(level.index, best_lr);
    }
    std::string lrs;
    for (const float lr : fit_lrs) lrs += (lrs.empty() ? "" : ",") + CLI::detail::to_string(lr);
    model.provenance.notes.push_back({"validation", a.val_data + " (" + std::to_string(val.tiles.size()) +
                                                        " images, 100 Adam steps, best of lr " + lrs + ")"});
    model.provenance.notes.push_back({"fit_lr", codec::format_fit_lrs(best_lrs)});
  }
  const codec::Model saved = codec::save_model(model, a.out);
  std::error_code ec;
  std::filesystem::remove(ckpt, ec);
  std::printf("wrote %s: %zu levels, model id %s, %.0f s of training\n", a.out.c_str(), saved.levels.size(),
              saved.id_hex().c_str(), state.train_seconds);
  return 0;
}

}  // namespace

Runner add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  CLI::App* cmd = app.add_subcommand("train", "Meta-learn a sparse SIREN initialization family (a model file)");
  cmd->footer(
      "Meta-learns one shared initialization over a folder of images with MAML, then prunes it by\n"
      "global weight magnitude, 20% of the survivors per round, retraining after each round\n"
      "(Algorithm 1 of Lee et al. 2021). Every round becomes a level of the model: level i keeps\n"
      "0.8^i of the weights. Progress goes to stderr; a checkpoint is written every few minutes\n"
      "(OUT.ckpt) and --resume continues a killed run exactly where that checkpoint left it.\n\n"
      "Examples:\n"
      "  msinr train --data ../shared/data/celeba89 --crop 89 --out faces.msm\n"
      "  msinr train --data imgs --out m.msm --dense-steps 20000 --rounds 15 --round-steps 2000 --order first\n"
      "  msinr train --data imgs --out m.msm --resume m.msm.ckpt\n"
      "  mpirun -np 8 msinr train --data imgs --out m.msm --tasks 8 --threads 4   (see docs/distributed.md)");
  cmd->add_option("--data", a->data, "Folder of training images (PNG/JPEG)")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("-o,--out", a->out, "Model file to write (.msm)")->required();
  cmd->add_flag("-f,--force", a->force, "Overwrite an existing model file");
  cmd->add_option("--crop", a->crop, "Center-crop size: the model's tile size")->capture_default_str()->check(CLI::Range(8, 1024));
  cmd->add_option("--resize", a->resize, "Scale the shorter side to this first (0: no resize)")->capture_default_str();
  cmd->add_option("--count", a->count, "Use the first N images (0: all)")->capture_default_str();
  cmd->add_option("--arch", a->arch,
                  "Network: siren (sine layers), or ffn (the paper's appendix B: a fixed Gaussian Fourier encoding of\n"
                  "width/2 frequencies as the first hidden layer, then ReLU layers; the encoding is never trained or pruned)")
      ->capture_default_str()
      ->check(CLI::IsMember({"siren", "ffn"}));
  cmd->add_option("--fourier-sigma", a->fourier_sigma, "ffn: standard deviation of the Fourier frequencies (the paper: 20)")
      ->capture_default_str()
      ->check(CLI::PositiveNumber);
  cmd->add_option("--width", a->width, "Hidden width")->capture_default_str()->check(CLI::Range(1, 4096));
  cmd->add_option("--layers", a->layers, "Hidden layers (ffn: the encoding counts as the first)")->capture_default_str()->check(CLI::Range(1, 64));
  cmd->add_option("--w0", a->w0, "SIREN frequency factor of the first layer (and of the others unless --w0-hidden)")
      ->capture_default_str();
  cmd->add_option("--stop-after-round", a->stop_after_round,
                  "Finish early: write the model with the levels of rounds 0..R and stop (the schedule, and so "
                  "--resume, stay those of --rounds)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--w0-hidden", a->w0_hidden, "SIREN frequency factor of the sine layers after the first (0: same as --w0)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--dense-steps", a->dense_steps, "Outer steps before the first pruning")->capture_default_str();
  cmd->add_option("--rounds", a->rounds, "Pruning rounds (each keeps 80% of the survivors)")->capture_default_str()->check(CLI::Range(0, 63));
  cmd->add_option("--round-steps", a->round_steps, "Outer steps after each pruning")->capture_default_str();
  cmd->add_option("--last-round-steps", a->last_round_steps,
                  "Steps of the last round; rounds in between ramp linearly from --round-steps (0: no ramp)")
      ->capture_default_str();
  cmd->add_option("--order", a->order, "MAML variant: second (exact), first, or reptile")
      ->capture_default_str()
      ->check(CLI::IsMember({"second", "first", "reptile"}));
  cmd->add_option("--inner-steps", a->inner_steps, "Inner SGD steps per task")->capture_default_str()->check(CLI::Range(1, 100));
  cmd->add_option("--inner-lr", a->inner_lr, "Inner SGD learning rate")->capture_default_str();
  cmd->add_option("--outer-lr", a->outer_lr, "Outer Adam learning rate")->capture_default_str();
  cmd->add_option("--tasks", a->tasks, "Images per outer step (in all: under mpirun the processes share them)")->capture_default_str()->check(CLI::Range(1, 1024));
  cmd->add_option("--pruning", a->pruning, "magnitude (Meta-SparseINR) or random (the baseline)")
      ->capture_default_str()
      ->check(CLI::IsMember({"magnitude", "random"}));
  cmd->add_option("--pixel-fraction", a->pixel_fraction,
                  "Fraction of each image's pixels per task, drawn anew each time (1: full batch, as the paper)")
      ->capture_default_str()
      ->check(CLI::Range(1e-4, 1.0));
  cmd->add_flag("--freeze-biases", a->freeze_biases,
                "Tiles fit and transmit weights only: every bias stays at the meta-learned init (MAML's inner steps "
                "leave biases alone, its outer steps learn them), so a file carries no bias values (model format v3)");
  cmd->add_option("--narrow-for", a->narrow_for,
                  "Dense-Narrow baseline: the narrowest dense width with at least this many weights, no pruning");
  cmd->add_option("--default-level", a->default_level, "Level the encoder uses by default (default: the sparsest)");
  cmd->add_option("--seed", a->seed, "Seed for init, task sampling and random pruning")->capture_default_str();
  cmd->add_option("--resume", a->resume, "Continue from this checkpoint")->check(CLI::ExistingFile);
  cmd->add_option("--checkpoint", a->checkpoint, "Checkpoint path (default: OUT.ckpt)");
  cmd->add_option("--checkpoint-every", a->checkpoint_every, "Seconds between checkpoints")->capture_default_str();
  cmd->add_option("--max-steps", a->max_steps,
                  "Stop after this many outer steps of this run and write the checkpoint (for batch jobs with a time "
                  "limit; 0: run to the end)")
      ->capture_default_str()
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--val-data", a->val_data, "Folder of validation images for each level's PSNR")->check(CLI::ExistingDirectory);
  cmd->add_option("--val-count", a->val_count, "Validation images (0: none)")->capture_default_str();
  cmd->add_option("--fit-lrs", a->fit_lrs,
                  "Adam learning rates tried in each level's 100-step validation fits; the best becomes the "
                  "encoder's default for that level, comma-separated (default: 1e-4,1e-3 for siren, 1e-3,3e-3,1e-2 for ffn)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  add_engine_options(*cmd, a->engine);
  cmd->add_flag("--quiet", a->quiet, "Print nothing but errors and the final line (no progress)");
  return [a] { return run_train(*a); };
}

}  // namespace msinr::cli
