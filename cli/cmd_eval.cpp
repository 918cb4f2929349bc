// msinr eval: the paper's protocol on a model: for each level, fit every image from the level's
// init for N Adam steps; report mean and standard deviation of the PSNR.
#include <algorithm>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "cli/commands.hpp"
#include "cli/eval_protocol.hpp"
#include "cli/json.hpp"
#include "cli/models.hpp"
#include "cli/output.hpp"
#include "cli/setup.hpp"
#include "codec/model.hpp"
#include "tools/dataset.hpp"
#include "msinr/error.hpp"

namespace msinr::cli {
namespace {

struct EvalArgs {
  std::string model, data, method = "meta";
  int crop = 0, resize = 0, count = 100, steps = 100;
  std::vector<float> lrs;  // empty: the model's own per-level rate (what the encoder uses)
  std::vector<int> levels;
  std::string tune_out, schedule = "constant";
  int default_level = -1;
  EngineArgs engine;
  bool json = false, force = false;
};

int run_eval(const EvalArgs& a) {
  if (!a.tune_out.empty()) {
    if (is_stdio(a.tune_out)) throw Error(ErrorCode::kInvalidArgument, "--tune-out writes a model file, not standard output");
    check_output(a.tune_out, {a.model}, a.force);
    warn_extension(a.tune_out, {".msm"}, "an msinr model", a.json);
  }
  std::string model_name;
  const codec::Model model = load_codec_model_arg(a.model, &model_name);
  const int crop = a.crop > 0 ? a.crop : model.tile_size;
  const tools::Dataset data = tools::load_dataset(a.data, {crop, a.resize, a.count});
  auto backend = make_backend(backend_options(a.engine));
  const EvalMethod method = a.method == "oneshot" ? EvalMethod::kOneShot
                            : a.method == "imp"   ? EvalMethod::kImp
                                                  : EvalMethod::kMeta;
  std::vector<int> levels = a.levels;
  if (levels.empty())
    for (const auto& l : model.levels) levels.push_back(l.index);
  if (a.default_level >= 0 && a.tune_out.empty())
    throw Error(ErrorCode::kInvalidArgument, "--default-level is written into the --tune-out copy: give --tune-out");
  if (!a.tune_out.empty() && a.lrs.size() < 2)
    throw Error(ErrorCode::kInvalidArgument, "--tune-out needs at least two learning rates in --lr to choose from");
  std::string lr_text = "the model's per-level rate";
  if (!a.lrs.empty()) {
    lr_text = "lr";
    for (const float lr : a.lrs) lr_text += " " + std::to_string(lr);
  }
  if (!a.json)
    std::printf("eval %s (%s) on %zu images of %dx%d, %d steps at %s, method %s, %s\n", model_name.c_str(),
                model.id_hex().substr(0, 12).c_str(), data.tiles.size(), crop, crop, a.steps, lr_text.c_str(),
                a.method.c_str(), backend->description().c_str());
  std::vector<std::pair<int, float>> best_lrs;
  for (int index : levels) {
    const MetaLevel& level = model.level(index);
    const std::vector<float> lrs = a.lrs.empty() ? std::vector<float>{model.fit_lr(index)} : a.lrs;
    double best_psnr = -1e300;
    float best_lr = lrs.front();
    for (const float lr : lrs) {
      const LevelScore s = evaluate_level(*backend, model.arch, level, data.tiles, crop, a.steps, lr, method,
                                          method == EvalMethod::kMeta ? nullptr : &model.level(0),
                                          lr_schedule_from_name(a.schedule),
                                          method == EvalMethod::kMeta ? codec::frozen_params(model) : Frozen{});
      if (s.psnr_mean > best_psnr) {
        best_psnr = s.psnr_mean;
        best_lr = lr;
      }
      if (a.json) {
        JsonLine j;
        j.add("model", a.model.empty() ? std::string("built-in") : a.model).add("method", a.method).add("level", index).add("weights", s.weights);
        j.add("density", s.density).add("psnr_mean", s.psnr_mean).add("psnr_std", s.psnr_std);
        j.add("images", s.count).add("steps", a.steps).add("lr", static_cast<double>(lr)).add("seconds", s.seconds);
        std::printf("%s\n", j.str().c_str());
      } else {
        std::printf("level %2d  weights %6zu  density %.4f  lr %-8g PSNR %6.2f +- %.2f dB  (%.1f s)\n", index,
                    s.weights, s.density, static_cast<double>(lr), s.psnr_mean, s.psnr_std, s.seconds);
      }
      std::fflush(stdout);
    }
    best_lrs.emplace_back(index, best_lr);
  }
  if (!a.tune_out.empty()) {
    // The rates are encoder defaults, not part of the model's identity (the content hash covers
    // the architecture, masks and inits only), so files encoded before stay decodable.
    codec::Model tuned = model;
    for (const auto& l : model.levels)
      if (std::none_of(best_lrs.begin(), best_lrs.end(), [&](const auto& b) { return b.first == l.index; }))
        best_lrs.emplace_back(l.index, model.fit_lr(l.index));
    std::sort(best_lrs.begin(), best_lrs.end());
    auto& notes = tuned.provenance.notes;
    notes.erase(std::remove_if(notes.begin(), notes.end(), [](const auto& n) { return n.first == "fit_lr"; }),
                notes.end());
    notes.push_back({"fit_lr", codec::format_fit_lrs(best_lrs)});
    if (a.default_level >= 0) {
      model.level(a.default_level);  // throws, naming the levels, when there is no such level
      notes.erase(std::remove_if(notes.begin(), notes.end(), [](const auto& n) { return n.first == "default_level"; }),
                  notes.end());
      notes.push_back({"default_level", std::to_string(a.default_level)});
    }
    const codec::Model saved = codec::save_model(tuned, a.tune_out);
    if (saved.id != model.id) throw Error(ErrorCode::kInternal, "tuning changed the model's identity");
    if (!a.json)
      std::printf("wrote %s: per-level learning rates %s%s\n", a.tune_out.c_str(), codec::format_fit_lrs(best_lrs).c_str(),
                  a.default_level >= 0 ? (", default level " + std::to_string(a.default_level)).c_str() : "");
  }
  return 0;
}

}  // namespace

Runner add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand("eval", "PSNR of each model level after N-step fits on a folder of images");
  cmd->footer(
      "The paper's protocol: for every level, fit each image (center-cropped to the model's tile\n"
      "size) from that level's init for --steps Adam steps, and report the mean and standard\n"
      "deviation over images of the PSNR of the float output (peak 1). --method oneshot|imp\n"
      "instead fits the dense level and prunes at test time to each level's weight count (the\n"
      "paper's MAML+OneShot and MAML+IMP baselines).\n\n"
      "Examples:\n  msinr eval --data ../shared/data/kodak --count 24\n"
      "  msinr eval --model faces.msm --data ../shared/data/celeba178/val --count 100 --json\n"
      "  msinr eval --model m.msm --data val/ --count 4 --lr 1e-4,1e-3 --tune-out m-tuned.msm");
  cmd->add_option("--model", a->model, "Model file, or the name of one in the model search path (default: the built-in model)");
  cmd->add_option("--data", a->data, "Folder of images")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--crop", a->crop, "Center-crop size (0: the model's tile size)")->capture_default_str();
  cmd->add_option("--resize", a->resize, "Scale the shorter side to this first (0: no resize)")->capture_default_str();
  cmd->add_option("--count", a->count, "Images to use, first in name order (0: all)")->capture_default_str();
  cmd->add_option("--levels", a->levels, "Levels to evaluate (default: all)")->delimiter(',');
  cmd->add_option("--steps", a->steps, "Adam steps per image")->capture_default_str()->check(CLI::Range(0, 100000));
  cmd->add_option("--lr-schedule", a->schedule, "Encoder learning-rate schedule: constant or cosine (decays to 0 over the steps)")
      ->check(CLI::IsMember({"cosine", "constant"}))->capture_default_str();
  cmd->add_option("--lr", a->lrs, "Adam learning rates to try, comma-separated (default: the model's per-level rate)")
      ->delimiter(',')
      ->check(CLI::PositiveNumber);
  cmd->add_option("--tune-out", a->tune_out,
                  "Write a copy of the model whose per-level encoder learning rate is the best --lr measured here "
                  "(same model identity)");
  cmd->add_flag("-f,--force", a->force, "Overwrite an existing --tune-out file");
  cmd->add_option("--default-level", a->default_level,
                  "With --tune-out: the level the encoder uses by default in the copy (chosen on validation)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--method", a->method, "meta (fit the level), oneshot or imp (test-time pruning baselines)")
      ->capture_default_str()
      ->check(CLI::IsMember({"meta", "oneshot", "imp"}));
  add_engine_options(*cmd, a->engine);
  cmd->add_flag("--json", a->json, "One JSON object per level");
  return [a] { return run_eval(*a); };
}

}  // namespace msinr::cli
