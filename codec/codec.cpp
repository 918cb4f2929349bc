#include "codec/codec.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <cmath>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>
#include <unordered_map>

#include "codec/metrics.hpp"
#include "codec/quantize.hpp"
#include "codec/tiling.hpp"
#include "format/entropy/symbol_coder.hpp"
#include "msinr/backend.hpp"
#include "msinr/batch_fit.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"

namespace msinr::codec {
namespace {

// The engine for this encode's device (resolved by encode_image, never kAuto), with `threads` CPU threads.
std::unique_ptr<Backend> backend_for(const EncodeOptions& opt, int threads) {
  BackendOptions b;
  b.device = opt.device;
  b.cpu.threads = threads;
  return make_backend(b);
}

int thread_budget(const EncodeOptions& opt) { return opt.threads > 0 ? opt.threads : std::max(1, omp_get_max_threads()); }

// A tile's parameters before its stored values go in: zero (pruned weights; stored values are
// overwritten), and for a frozen-bias model the level's init biases, which no tile transmits.
std::vector<float> unstored_params(const Model& model, const MetaLevel& level) {
  const ParamLayout layout(model.arch);
  std::vector<float> params(layout.param_count(), 0.0f);
  if (!model.frozen_biases) return params;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (!layout.weight_flags()[i]) params[i] = level.init[i];
  return params;
}

// Fits every tile of `rgb` at one level; returns the float values (tile after tile) and the 8-bit
// PSNR of the float fit.
struct FitAll {
  std::vector<float> values;
  double psnr = 0.0;
  std::string device;
};

// The tile counts an encode uses: merged edges (opt.merge_edges) where they differ from the grid,
// else {0, 0} (the grid, which older versions of the container hold).
std::pair<int, int> encode_tile_counts(const Image& rgb, const Model& model, const EncodeOptions& opt) {
  if (!opt.merge_edges) return {0, 0};
  const int T = model.tile_size;
  const int across = merged_tiles_along(rgb.width, T), down = merged_tiles_along(rgb.height, T);
  if (across == grid_tiles_along(rgb.width, T) && down == grid_tiles_along(rgb.height, T)) return {0, 0};
  return {across, down};
}

std::vector<TileRect> encode_tiles(const Image& rgb, const Model& model, const EncodeOptions& opt) {
  const auto [across, down] = encode_tile_counts(rgb, model, opt);
  return tile_rects(rgb.width, rgb.height, model.tile_size, across, down);
}

// A tile's pixels from the whole image, row by row, and back.
std::vector<float> tile_pixels(const std::vector<float>& image_rgb, int image_width, const TileRect& r) {
  std::vector<float> out(static_cast<std::size_t>(r.width) * r.height * 3);
  for (int y = 0; y < r.height; ++y)
    std::copy_n(&image_rgb[((static_cast<std::size_t>(r.y0) + y) * image_width + r.x0) * 3],
                static_cast<std::size_t>(r.width) * 3, &out[static_cast<std::size_t>(y) * r.width * 3]);
  return out;
}

void place_tile(const std::vector<float>& tile_rgb, const TileRect& r, int image_width, std::vector<float>& image_rgb) {
  for (int y = 0; y < r.height; ++y)
    std::copy_n(&tile_rgb[static_cast<std::size_t>(y) * r.width * 3], static_cast<std::size_t>(r.width) * 3,
                &image_rgb[((static_cast<std::size_t>(r.y0) + y) * image_width + r.x0) * 3]);
}

// `only` when it names tiles, else every tile of n.
std::vector<std::size_t> tile_list(const std::vector<std::size_t>& only, std::size_t n) {
  if (!only.empty()) return only;
  std::vector<std::size_t> all(n);
  for (std::size_t t = 0; t < n; ++t) all[t] = t;
  return all;
}

// Renders every tile of a width x height image from tile values (tile after tile, in stored order,
// absolute) at native resolution into float RGB; evaluators are made once per tile size.
class TileRenderer {
 public:
  TileRenderer(const Model& model, const MetaLevel& level, int width, int height, std::vector<TileRect> tiles,
               int threads)
      : model_(model), level_(level), width_(width), height_(height), layout_(model.arch),
        stored_(stored_indices(model, level)), unstored_(unstored_params(model, level)), tiles_(std::move(tiles)) {
    CpuBackendOptions o;
    o.threads = threads;
    backend_ = make_cpu_backend(o);
  }
  // `only`: these tiles, the others left black (empty: every tile).
  void render(const std::vector<float>& values, std::vector<float>& rgb, const std::vector<std::size_t>& only = {}) {
    rgb.assign(static_cast<std::size_t>(width_) * height_ * 3, 0.0f);
    std::vector<float> params(layout_.param_count()), y;
    for (std::size_t t : tile_list(only, tiles_.size())) {
      const TileRect& r = tiles_[t];
      Evaluator& ev = evaluator_for(r);
      std::copy(unstored_.begin(), unstored_.end(), params.begin());
      for (std::size_t k = 0; k < stored_.size(); ++k) params[stored_[k]] = values[t * stored_.size() + k];
      y.resize(static_cast<std::size_t>(r.width) * r.height * 3);
      ev.forward(params.data(), y.data());
      for (int row = 0; row < r.height; ++row)
        std::copy_n(&y[static_cast<std::size_t>(row) * r.width * 3], static_cast<std::size_t>(r.width) * 3,
                    &rgb[((static_cast<std::size_t>(r.y0) + row) * width_ + r.x0) * 3]);
    }
  }
  const std::vector<std::uint32_t>& stored() const { return stored_; }
  std::size_t tiles() const { return tiles_.size(); }

 private:
  Evaluator& evaluator_for(const TileRect& r) {
    for (auto& [w, h, ev] : evaluators_)
      if (w == r.width && h == r.height) return *ev;
    evaluators_.emplace_back(r.width, r.height, backend_->make_evaluator(model_.arch, level_.mask, tile_grid(r)));
    return *std::get<2>(evaluators_.back());
  }
  const Model& model_;
  const MetaLevel& level_;
  int width_, height_;
  ParamLayout layout_;
  std::vector<std::uint32_t> stored_;
  std::vector<float> unstored_;  // unstored_params(): what a tile holds before its values go in
  std::vector<TileRect> tiles_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::tuple<int, int, std::unique_ptr<Evaluator>>> evaluators_;
};

bool batched_fitting(const EncodeOptions& opt, const Backend& backend) {
  switch (opt.tile_fitting) {
    case TileFitting::kPerTile: return false;
    case TileFitting::kBatched: return true;
    case TileFitting::kAuto: break;
  }
  return backend.prefers_batched_fits();
}

// Every tile's stored values at the level's init (what a tile left unfitted holds: zero offsets).
std::vector<float> unfitted_values(const MetaLevel& level, const std::vector<std::uint32_t>& stored, std::size_t tiles) {
  std::vector<float> values(tiles * stored.size());
  for (std::size_t t = 0; t < tiles; ++t)
    for (std::size_t k = 0; k < stored.size(); ++k) values[t * stored.size() + k] = level.init[stored[k]];
  return values;
}

// Batched: the tiles fall into at most four sizes (interior, right edge, bottom edge, corner), and
// tiles of one size share a coordinate grid, so each size is one fit_batch call.
FitAll fit_tiles_batched(const Image& rgb, const Model& model, const MetaLevel& level, const EncodeOptions& opt,
                         Backend& backend, const std::vector<std::size_t>& only) {
  const auto tiles = encode_tiles(rgb, model, opt);
  const auto stored = stored_indices(model, level);
  const std::vector<float> target_all = to_float_rgb(rgb);
  std::vector<float> recon(target_all.size());
  FitAll out;
  out.values = unfitted_values(level, stored, tiles.size());
  out.device = backend.description() + ", tiles batched";
  const std::vector<std::size_t> fitted = tile_list(only, tiles.size());

  std::vector<std::vector<std::size_t>> groups;  // tile indices by size, in order of first appearance
  for (std::size_t t : fitted) {
    auto same = std::find_if(groups.begin(), groups.end(), [&](const auto& g) {
      return tiles[g.front()].width == tiles[t].width && tiles[g.front()].height == tiles[t].height;
    });
    if (same == groups.end()) groups.push_back({t});
    else same->push_back(t);
  }
  BatchFitOptions bo;
  bo.steps = opt.steps;
  bo.adam.lr = opt.lr > 0.0f ? opt.lr : model.fit_lr(level.index);
  bo.adam.schedule = opt.lr_schedule;
  bo.sampling.fraction = opt.pixel_fraction;
  bo.frozen = frozen_params(model);
  std::size_t done = 0;
  for (const auto& group : groups) {
    const Grid grid = tile_grid(tiles[group.front()]);
    std::vector<std::vector<float>> targets, params(group.size(), level.init);
    std::vector<const float*> target_ptrs;
    for (std::size_t t : group) targets.push_back(tile_pixels(target_all, rgb.width, tiles[t]));
    for (const auto& v : targets) target_ptrs.push_back(v.data());
    fit_batch(backend, model.arch, level.mask, grid, params, target_ptrs, bo);
    auto ev = backend.make_evaluator(model.arch, level.mask, grid);
    std::vector<float> y(grid.pixels() * 3);
    for (std::size_t i = 0; i < group.size(); ++i) {
      const std::size_t t = group[i];
      for (std::size_t k = 0; k < stored.size(); ++k) out.values[t * stored.size() + k] = params[i][stored[k]];
      ev->forward(params[i].data(), y.data());
      place_tile(y, tiles[t], rgb.width, recon);
    }
    done += group.size();
    if (opt.progress && !opt.progress(done, fitted.size())) throw Error(ErrorCode::kCancelled, "encoding cancelled");
  }
  if (fitted.size() == tiles.size()) out.psnr = psnr_8bit(from_float_rgb(recon.data(), rgb.width, rgb.height), rgb);
  return out;
}

// Runs job(backend, tile) for every tile. On the CPU several tiles run at once, each on fewer
// threads, which beats spreading one small tile's blocks over every core. Returns what did the work.
std::string for_each_tile(const EncodeOptions& opt, std::size_t tile_count,
                          const std::function<void(Backend&, std::size_t)>& job) {
  const int hw = thread_budget(opt);
  // An engine that wants its fits batched (a GPU) gets one stream of tiles, not one per thread.
  const bool spread = !backend_for(opt, 1)->prefers_batched_fits();
  const int workers = spread ? std::max(1, std::min<int>(hw, static_cast<int>(tile_count))) : 1;
  const int threads_each = std::max(1, hw / workers);
  std::atomic<std::size_t> next{0}, done{0};
  std::atomic<bool> cancelled{false};
  std::vector<std::string> errors(static_cast<std::size_t>(workers));
  std::mutex device_mutex;
  std::string device;
  auto work = [&](int worker) {
    try {
      auto backend = backend_for(opt, threads_each);
      {
        std::lock_guard<std::mutex> lock(device_mutex);
        if (device.empty()) device = backend->description() + (workers > 1 ? " x" + std::to_string(workers) + " tiles at once" : "");
      }
      for (std::size_t t; !cancelled && (t = next++) < tile_count;) {
        job(*backend, t);
        const std::size_t finished = ++done;
        if (opt.progress) {
          std::lock_guard<std::mutex> lock(device_mutex);
          if (!opt.progress(finished, tile_count)) cancelled = true;
        }
      }
    } catch (const std::exception& e) {
      errors[static_cast<std::size_t>(worker)] = e.what();
      cancelled = true;
    }
  };
  std::vector<std::thread> pool;
  for (int w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (const auto& e : errors)
    if (!e.empty()) throw Error(ErrorCode::kInternal, "encoding failed: " + e);
  if (cancelled) throw Error(ErrorCode::kCancelled, "encoding cancelled");
  return device;
}

// `only`: fit these tiles (the others keep the init's values and the PSNR is not measured); empty: all.
FitAll fit_tiles(const Image& rgb, const Model& model, const MetaLevel& level, const EncodeOptions& opt,
                 const std::vector<std::size_t>& only = {}) {
  {
    auto backend = backend_for(opt, thread_budget(opt));
    if (batched_fitting(opt, *backend)) return fit_tiles_batched(rgb, model, level, opt, *backend, only);
  }
  ParamLayout layout(model.arch);
  const auto tiles = encode_tiles(rgb, model, opt);
  const auto stored = stored_indices(model, level);
  const std::vector<std::size_t> fitted = tile_list(only, tiles.size());
  FitAll out;
  out.values = unfitted_values(level, stored, tiles.size());
  const std::vector<float> target_all = to_float_rgb(rgb);
  std::vector<float> recon(target_all.size());
  const Frozen frozen = frozen_params(model);
  out.device = for_each_tile(opt, fitted.size(), [&](Backend& backend, std::size_t i) {
    const std::size_t t = fitted[i];
    const TileRect& r = tiles[t];
    const Grid grid = tile_grid(r);
    const std::vector<float> target = tile_pixels(target_all, rgb.width, r);
    auto ev = backend.make_evaluator(model.arch, level.mask, grid);
    std::vector<float> params = level.init;
    FitOptions fo;
    fo.steps = opt.steps;
    fo.adam.lr = opt.lr > 0.0f ? opt.lr : model.fit_lr(level.index);
    fo.adam.schedule = opt.lr_schedule;
    fo.sampling.fraction = opt.pixel_fraction;
    fo.frozen = frozen;
    fit(*ev, level.mask, params, target.data(), fo);
    for (std::size_t k = 0; k < stored.size(); ++k) out.values[t * stored.size() + k] = params[stored[k]];
    std::vector<float> y(target.size());
    ev->forward(params.data(), y.data());
    place_tile(y, r, rgb.width, recon);  // tiles do not overlap: no two workers write one pixel
  });
  if (fitted.size() == tiles.size()) out.psnr = psnr_8bit(from_float_rgb(recon.data(), rgb.width, rgb.height), rgb);
  return out;
}

// Quantization-aware refit (straight-through estimator): `opt.refit_steps` more Adam steps per tile
// in which the loss and its gradient are taken at the quantized values (init + round((w - init) /
// step) * step, with each stored value's step) and the update is applied to the float values. The
// float values then settle where rounding costs the picture least, instead of wherever the fit
// happened to stop. Returns the refitted float values (tile after tile, stored order); with `only`,
// the other tiles' values are returned as they came.
std::vector<float> refit_quantized(const Image& rgb, const Model& model, const MetaLevel& level, const EncodeOptions& opt,
                                   const std::vector<float>& values, const std::vector<float>& value_steps,
                                   const std::vector<std::size_t>& only = {}) {
  ParamLayout layout(model.arch);
  const auto tiles = encode_tiles(rgb, model, opt);
  const auto stored = stored_indices(model, level);
  const std::vector<float> target_all = to_float_rgb(rgb);
  std::vector<float> out = values;
  const double max_q = format::entropy::kMaxMagnitude;
  const Frozen frozen = frozen_params(model);
  EncodeOptions quiet = opt;
  quiet.progress = nullptr;
  const std::vector<std::size_t> refitted = tile_list(only, tiles.size());
  for_each_tile(quiet, refitted.size(), [&](Backend& backend, std::size_t i) {
    const std::size_t t = refitted[i];
    const TileRect& r = tiles[t];
    const std::vector<float> target = tile_pixels(target_all, rgb.width, r);
    auto ev = backend.make_evaluator(model.arch, level.mask, tile_grid(r));
    std::vector<float> params = level.init, quantized, grad(params.size());
    for (std::size_t k = 0; k < stored.size(); ++k) params[stored[k]] = values[t * stored.size() + k];
    AdamConfig ac;
    ac.lr = opt.refit_lr > 0.0f ? opt.refit_lr : (opt.lr > 0.0f ? opt.lr : model.fit_lr(level.index)) / 300.0f;
    Adam adam(params.size(), ac);
    PixelSampling sampling;
    sampling.fraction = opt.refit_pixel_fraction;
    PixelSubsets subsets(*ev, sampling);
    for (int step = 0; step < opt.refit_steps; ++step) {
      subsets.next();
      quantized = params;
      for (std::size_t k = 0; k < stored.size(); ++k) {
        const std::uint32_t i = stored[k];
        const float s = value_steps[k];
        const double q = std::clamp(std::nearbyint((static_cast<double>(params[i]) - level.init[i]) / s), -max_q, max_q);
        quantized[i] = level.init[i] + static_cast<float>(q) * s;
      }
      const double loss = ev->loss_and_gradient(quantized.data(), target.data(), grad.data());
      if (!std::isfinite(loss)) break;
      zero_frozen(frozen, grad);
      adam.step(params.data(), grad.data(), level.mask);
    }
    for (std::size_t k = 0; k < stored.size(); ++k) out[t * stored.size() + k] = params[stored[k]];
  });
  return out;
}

}  // namespace

bool per_tile_levels(const msinr::EncodeOptions& o) {
  switch (o.tile_levels) {
    case TileLevels::kUniform: return false;
    case TileLevels::kAdaptive: return true;
    case TileLevels::kAuto: break;
  }
  return o.bits == 0 && !(o.target_bpp > 0.0) && !(o.target_psnr > 0.0);
}

void check_encode_options(const msinr::EncodeOptions& o) {
  auto require = [](bool ok, const char* what) {
    if (!ok) throw Error(ErrorCode::kInvalidArgument, std::string("encode options: ") + what);
  };
  // Written so that NaN fails every test: !(x >= 0) rather than x < 0.
  auto finite_at_least_0 = [](double x) { return x >= 0.0 && std::isfinite(x); };
  auto fraction = [](double x) { return x > 0.0 && x <= 1.0; };
  require(o.level >= -1, "level must be -1 (chosen by the targets or the model's default) or a model level");
  require(finite_at_least_0(o.target_bpp), "target_bpp must be >= 0 (0: no target)");
  require(finite_at_least_0(o.target_psnr), "target_psnr must be >= 0 (0: no target)");
  require(o.steps >= 0, "steps must be >= 0");
  require(finite_at_least_0(o.lr), "lr must be >= 0 (0: the model's rate for the level)");
  require(o.lr_schedule == LrSchedule::kConstant || o.lr_schedule == LrSchedule::kCosine,
          "lr_schedule must be kConstant or kCosine");
  require(fraction(o.pixel_fraction), "pixel_fraction must be in (0, 1]");
  require(o.bits == 0 || o.bits == 16, "bits must be 0 (quantized) or 16 (fp16)");
  require(o.tile_levels == TileLevels::kUniform || o.tile_levels == TileLevels::kAdaptive ||
              o.tile_levels == TileLevels::kAuto,
          "tile_levels must be kUniform, kAdaptive or kAuto");
  require(o.tile_levels != TileLevels::kAdaptive || (o.bits == 0 && !(o.target_bpp > 0.0) && !(o.target_psnr > 0.0)),
          "tile_levels adaptive needs the quantized payload (bits 0) and a fixed level (not target_bpp / target_psnr)");
  require(finite_at_least_0(o.quant_loss_db), "quant_loss_db must be a finite number of dB >= 0");
  require(o.refit_steps >= 0, "refit_steps must be >= 0 (0: no refit)");
  require(finite_at_least_0(o.refit_lr), "refit_lr must be >= 0 (0: the fit's rate / 300)");
  require(fraction(o.refit_pixel_fraction), "refit_pixel_fraction must be in (0, 1]");
  require(o.threads >= 0, "threads must be >= 0 (0: all cores)");
  require(o.device == Device::kAuto || o.device == Device::kCpu || o.device == Device::kCuda ||
              o.device == Device::kReference,
          "device must be kAuto, kCpu, kCuda or kReference");
}

EncodeResult encode_image(const Image& input, const Model& model, const EncodeOptions& requested) {
  const auto start = std::chrono::steady_clock::now();
  check_encode_options(requested);
  // The device is chosen once (kAuto: the GPU when one answers), so every fit of this encode, and
  // the search's candidates, run on the same engine; kCuda without a GPU fails here, before any work.
  EncodeOptions opt = requested;
  opt.device = resolve_device(requested.device);
  if (model.levels.empty()) throw Error(ErrorCode::kInvalidArgument, "the model has no levels");
  const Image rgb = to_rgb(input);
  ParamLayout layout(model.arch);
  const auto tiles = encode_tiles(rgb, model, opt);
  const double pixels = static_cast<double>(rgb.width) * rgb.height;
  auto say = [&](const std::string& line) {
    if (opt.log) opt.log(line);
  };
  const bool searching = opt.level < 0 && (opt.target_psnr > 0.0 || opt.target_bpp > 0.0);
  SearchStatus status;  // fits_max is set by each search below
  auto tell = [&](const char* phase, int level, double scale = 0.0, std::size_t bytes = 0, double psnr = 0.0) {
    if (!searching || !opt.search) return;
    status.phase = phase;
    status.level = level;
    status.step_scale = scale;
    status.bytes = bytes;
    status.psnr = psnr;
    opt.search(status);
  };

  auto values_of = [&](const MetaLevel& l) { return values_per_tile(model, l); };
  // Levels from densest to sparsest.
  std::vector<const MetaLevel*> order;
  for (const auto& l : model.levels) order.push_back(&l);
  std::sort(order.begin(), order.end(), [&](auto* a, auto* b) { return values_of(*a) > values_of(*b); });

  auto header_for = [&](const MetaLevel& level) {
    format::ContainerHeader h;
    h.width = static_cast<std::uint32_t>(rgb.width);
    h.height = static_cast<std::uint32_t>(rgb.height);
    h.channels = 3;
    h.tile_size = static_cast<std::uint32_t>(model.tile_size);
    h.model_id = model.id;
    h.level = static_cast<std::uint32_t>(level.index);
    h.precision = format::Precision::kFp16;
    h.steps = static_cast<std::uint32_t>(opt.steps);
    h.tile_count = static_cast<std::uint32_t>(tiles.size());
    const auto [across, down] = encode_tile_counts(rgb, model, opt);
    h.tiles_across = static_cast<std::uint32_t>(across);
    h.tiles_down = static_cast<std::uint32_t>(down);
    h.values_per_tile = static_cast<std::uint32_t>(values_of(level));
    return h;
  };

  // One level's fit and everything the quantizer needs to try steps on it.
  struct Fitted {
    const MetaLevel* level = nullptr;
    FitAll fit;
    std::unique_ptr<TileRenderer> renderer;
    std::vector<float> init;
    std::vector<std::uint32_t> groups;
    std::vector<double> allocation;
  };
  // `only`: fit just these tiles, and skip the step-allocation probe (a level fitted in part borrows
  // its steps from a fully fitted one).
  auto fit_level = [&](const MetaLevel& level, const std::vector<std::size_t>& only = {}) {
    say("fitting level " + std::to_string(level.index) + " (" + std::to_string(values_of(level)) + " values per tile, " +
        std::to_string(only.empty() ? tiles.size() : only.size()) + " tiles)");
    tell("fit", level.index);
    auto f = std::make_unique<Fitted>();
    f->level = &level;
    f->fit = fit_tiles(rgb, model, level, opt, only);
    status.fits_max = std::max(status.fits_max, ++status.fits_done);
    if (opt.bits == 16) return f;
    f->renderer = std::make_unique<TileRenderer>(model, level, rgb.width, rgb.height, encode_tiles(rgb, model, opt), opt.threads);
    f->init.resize(f->renderer->stored().size());
    for (std::size_t k = 0; k < f->init.size(); ++k) f->init[k] = level.init[f->renderer->stored()[k]];
    f->groups = quant_groups(layout, level.mask, !model.frozen_biases);
    if (!only.empty()) return f;
    std::vector<float> clean;
    f->renderer->render(f->fit.values, clean);
    // The probe sees offsets from the init: that is what the steps quantize.
    std::vector<float> offsets = f->fit.values;
    for (std::size_t i = 0; i < offsets.size(); ++i) offsets[i] -= f->init[i % f->init.size()];
    f->allocation = step_allocation(offsets, f->groups, tiles.size(), clean,
                                    [&](const std::vector<float>& off, std::vector<float>& out) {
                                      std::vector<float> v = off;
                                      for (std::size_t i = 0; i < v.size(); ++i) v[i] += f->init[i % f->init.size()];
                                      f->renderer->render(v, out);
                                    });
    return f;
  };
  auto render_fn = [&](Fitted& f) {
    return RenderFn([&f](const std::vector<float>& v, std::vector<float>& out) { f.renderer->render(v, out); });
  };
  const PsnrFn psnr_fn = [&](const std::vector<float>& out) {
    return psnr_8bit(from_float_rgb(out.data(), rgb.width, rgb.height), rgb);
  };
  auto result_of = [&](const Fitted& f, std::vector<std::uint8_t> bytes, double psnr, const char* payload) {
    EncodeResult r;
    r.bytes = std::move(bytes);
    r.level = f.level->index;
    r.tiles = tiles.size();
    r.values_per_tile = values_of(*f.level);
    r.fit_psnr = f.fit.psnr;
    r.psnr = psnr;
    r.payload = payload;
    r.lr = opt.lr > 0.0f ? opt.lr : model.fit_lr(f.level->index);
    r.device = f.fit.device;
    return r;
  };
  auto write_quantized = [&](const Fitted& f, const QuantizedPayload& q) {
    format::ContainerHeader h = header_for(*f.level);
    h.group_sizes = q.group_sizes;
    h.quant_steps = q.steps;
    try {
      return format::write_quantized_container(h, q.symbols);
    } catch (const format::FormatError& e) {
      rethrow_format_error(e, "encode");
    }
  };
  // The quantization-aware refit at q's steps; kept only when the decoded picture improves.
  auto refit_at = [&](Fitted& f, QuantizedPayload q) {
    tell("refit", f.level->index, q.scale);
    std::vector<float> value_steps;
    for (std::size_t g = 0; g < f.groups.size(); ++g) value_steps.insert(value_steps.end(), f.groups[g], q.steps[g]);
    const std::vector<float> refitted = refit_quantized(rgb, model, *f.level, opt, f.fit.values, value_steps);
    QuantizedPayload r = quantize_with_scale(refitted, f.init, f.groups, f.allocation, q.scale);
    std::vector<float> out;
    f.renderer->render(r.values, out);
    r.psnr = psnr_fn(out);
    if (q.psnr <= 0.0) {  // quantize_with_scale does not measure
      f.renderer->render(q.values, out);
      q.psnr = psnr_fn(out);
    }
    say("refit: " + std::to_string(q.psnr).substr(0, 5) + " -> " + std::to_string(r.psnr).substr(0, 5) + " dB");
    return r.psnr > q.psnr ? r : q;
  };
  // The payload at the default quantization (or fp16): the coarsest steps within quant_loss_db.
  // `quantized`: the default steps' payload when the caller has it already (per-tile levels).
  auto finish_default = [&](Fitted& f, std::optional<QuantizedPayload> quantized = std::nullopt) {
    if (opt.bits == 16) {
      try {
        return result_of(f, format::write_container(header_for(*f.level), f.fit.values), 0.0, "fp16");
      } catch (const format::FormatError& e) {
        rethrow_format_error(e, "encode");
      }
    }
    QuantizedPayload q = quantized ? std::move(*quantized)
                                   : quantize_for_psnr(f.fit.values, f.init, f.groups, f.allocation,
                                                       f.fit.psnr - opt.quant_loss_db, render_fn(f), psnr_fn);
    tell("quantize", f.level->index, q.scale, 0, q.psnr);
    if (opt.refit_steps > 0) q = refit_at(f, std::move(q));
    return result_of(f, write_quantized(f, q), q.psnr, "quantized");
  };
  // The largest file at or under max_bytes from this level's fit (coarser steps cost fewer bits);
  // nullopt when even the coarsest steps tried do not fit.
  auto finish_for_bytes = [&](Fitted& f, double max_bytes) -> std::optional<EncodeResult> {
    if (opt.bits == 16) {
      EncodeResult r = finish_default(f);
      if (static_cast<double>(r.bytes.size()) > max_bytes) return std::nullopt;
      return r;
    }
    auto at = [&](double scale) {
      QuantizedPayload q = quantize_with_scale(f.fit.values, f.init, f.groups, f.allocation, scale);
      std::vector<std::uint8_t> bytes = write_quantized(f, q);
      tell("quantize", f.level->index, scale, bytes.size());
      return std::pair{q, std::move(bytes)};
    };
    // Scales bracket: from the default's quality outwards, doubling.
    const QuantizedPayload base = quantize_for_psnr(f.fit.values, f.init, f.groups, f.allocation,
                                                    f.fit.psnr - opt.quant_loss_db, render_fn(f), psnr_fn, 6);
    double lo = base.scale, hi = base.scale;  // lo: fits (or unknown), hi: too big (or unknown)
    auto [q, bytes] = at(base.scale);
    bool fits = static_cast<double>(bytes.size()) <= max_bytes;
    std::optional<std::pair<QuantizedPayload, std::vector<std::uint8_t>>> best;
    if (fits) {
      best = std::pair{q, bytes};
      // Finer steps while they still fit (better PSNR at a larger size).
      for (int i = 0; i < 12; ++i) {
        hi = lo / 2.0;
        auto cand = at(hi);
        if (static_cast<double>(cand.second.size()) > max_bytes) break;
        best = std::move(cand);
        lo = hi;
      }
      std::swap(lo, hi);  // now lo: too big, hi: fits
    } else {
      for (int i = 0; i < 16; ++i) {
        lo = hi;
        hi = hi * 2.0;
        auto cand = at(hi);
        if (static_cast<double>(cand.second.size()) <= max_bytes) {
          best = std::move(cand);
          break;
        }
      }
      if (!best) return std::nullopt;
    }
    // Bisect between lo (too big) and hi (fits) for the finest steps that fit.
    for (int i = 0; i < 10 && hi / lo > 1.02; ++i) {
      const double mid = std::sqrt(lo * hi);
      auto cand = at(mid);
      if (static_cast<double>(cand.second.size()) <= max_bytes) {
        best = std::move(cand);
        hi = mid;
      } else {
        lo = mid;
      }
    }
    if (opt.refit_steps > 0) {
      QuantizedPayload r = refit_at(f, best->first);
      if (r.psnr > best->first.psnr) {
        std::vector<std::uint8_t> bytes = write_quantized(f, r);
        if (static_cast<double>(bytes.size()) <= max_bytes) best = std::pair{std::move(r), std::move(bytes)};
      }
    }
    std::vector<float> out;
    f.renderer->render(best->first.values, out);
    return result_of(f, std::move(best->second), psnr_fn(out), "quantized");
  };
  // The smallest file reaching target_psnr from this level's fit; nullopt when the fit itself falls short.
  auto finish_for_psnr = [&](Fitted& f, double target) -> std::optional<EncodeResult> {
    if (f.fit.psnr < target) return std::nullopt;
    if (opt.bits == 16) return finish_default(f);
    QuantizedPayload q = quantize_for_psnr(f.fit.values, f.init, f.groups, f.allocation, target, render_fn(f), psnr_fn);
    tell("quantize", f.level->index, q.scale, 0, q.psnr);
    if (q.psnr < target) return std::nullopt;
    std::vector<std::uint8_t> bytes;
    if (opt.refit_steps <= 0) {
      bytes = write_quantized(f, q);
    } else {
      // The refit raises the PSNR of given steps, so coarser steps than the unrefitted search found
      // may still reach the target: also try the steps that reach (target - what the refit won) and
      // the level's default steps, and keep the smallest file that reaches the target.
      const double before = q.psnr;
      q = refit_at(f, std::move(q));
      bytes = write_quantized(f, q);
      std::vector<double> looser = {f.fit.psnr - opt.quant_loss_db};
      if (q.psnr > before) looser.push_back(target - (q.psnr - before));
      for (double t : looser) {
        if (t >= target) continue;
        QuantizedPayload c = refit_at(f, quantize_for_psnr(f.fit.values, f.init, f.groups, f.allocation, t, render_fn(f), psnr_fn));
        if (c.psnr < target) continue;
        std::vector<std::uint8_t> b = write_quantized(f, c);
        if (b.size() < bytes.size()) q = std::move(c), bytes = std::move(b);
      }
    }
    return result_of(f, std::move(bytes), q.psnr, "quantized");
  };
  // Per-tile levels (TileLevels::kAdaptive): each tile takes the level, its next denser or its next
  // sparser one, whichever minimises the tile's squared error + lambda * its bits, with lambda set so
  // that the file is the uniform file's size. One step per tensor serves every tile, whatever its
  // level (the level's default steps). So a file costs what it did, and the bits move to the tiles
  // where they buy the most: textured tiles denser, flat and small edge tiles sparser.
  //
  // Fitting every tile at all three levels would cost three fits. Instead the level's own fit
  // predicts the others: one pruning round moves a tile's error by a nearly constant factor, while
  // tiles differ from each other by far more, so ranking the tiles by error per bit already says
  // which ones move (on 30 validation images, crop by crop, the predicted moves kept all but
  // 0.00-0.03 dB of the gain of fitting everything, and did not depend on the factor: 0.6 to 1.1 dB
  // per round gave the same within 0.02 dB). Only those tiles are fitted at their new level, and the
  // final choice is made on measured error and bits, between each tile's level and its predicted move.
  // When no tile moves, the uniform file from the level's fit, byte for byte; nullopt when none can
  // move (no neighbour on one side, or one tile), before any fit.
  auto finish_adaptive = [&](std::size_t at) -> std::optional<EncodeResult> {
    const std::size_t n_tiles = tiles.size();
    if (at == 0 || at + 1 >= order.size() || n_tiles < 2) return std::nullopt;  // the rate-neutral choice cannot move
    constexpr std::size_t kDenser = 0, kBase = 1, kSparser = 2;
    const std::array<const MetaLevel*, 3> levels = {order[at - 1], order[at], order[at + 1]};
    // One progress bar: the level's fit is the first half, the moving tiles' fits the rest.
    const auto user_progress = opt.progress;
    if (user_progress) opt.progress = [&](std::size_t done, std::size_t) { return user_progress(done, 2 * n_tiles); };
    std::array<std::unique_ptr<Fitted>, 3> fits;
    fits[kBase] = fit_level(*levels[kBase]);
    opt.progress = user_progress;
    Fitted& base = *fits[kBase];
    const QuantizedPayload base_q = quantize_for_psnr(base.fit.values, base.init, base.groups, base.allocation,
                                                      base.fit.psnr - opt.quant_loss_db, render_fn(base), psnr_fn);
    const std::vector<float> original = to_float_rgb(rgb);
    // Per level: its payload at the base's steps, its rendering, and per tile squared error and bits
    // (for the tiles fitted at that level).
    struct Candidate {
      QuantizedPayload q;
      std::vector<float> rgb;
      std::vector<double> sse, bits;
    };
    std::array<Candidate, 3> cand;
    auto measure_sse = [&](Candidate& c, const std::vector<std::size_t>& only) {
      c.sse.resize(n_tiles, 0.0);
      for (std::size_t t : tile_list(only, n_tiles)) {
        const TileRect& r = tiles[t];
        double e = 0.0;
        for (int y = r.y0; y < r.y0 + r.height; ++y)
          for (std::size_t i = (static_cast<std::size_t>(y) * rgb.width + r.x0) * 3,
                           end = i + static_cast<std::size_t>(r.width) * 3;
               i < end; ++i) {
            const double d = 255.0 * (std::clamp(c.rgb[i], 0.0f, 1.0f) - original[i]);
            e += d * d;
          }
        c.sse[t] = e;
      }
    };
    auto measure = [&](Fitted& f, Candidate& c, const std::vector<std::size_t>& only) {
      c.q = quantize_with_scale(f.fit.values, f.init, f.groups, base.allocation, base_q.scale);
      f.renderer->render(c.q.values, c.rgb, only);
      measure_sse(c, only);
      // Bits per tile under each group's order-0 statistics over the level's tiles: the adaptive
      // coder's steady state, without coding every combination.
      const std::vector<std::size_t> measured = tile_list(only, n_tiles);
      const std::size_t n = f.init.size();
      c.bits.assign(n_tiles, 0.0);
      std::size_t offset = 0;
      for (std::uint32_t size : f.groups) {
        std::unordered_map<std::int32_t, double> count;
        for (std::size_t t : measured)
          for (std::uint32_t j = 0; j < size; ++j) count[c.q.symbols[t * n + offset + j]] += 1.0;
        const double total = static_cast<double>(measured.size()) * size;
        for (std::size_t t : measured)
          for (std::uint32_t j = 0; j < size; ++j) c.bits[t] -= std::log2(count[c.q.symbols[t * n + offset + j]] / total);
        offset += size;
      }
    };
    measure(base, cand[kBase], {});

    // What each tile may take, and the rate-neutral choice among them.
    struct Option {
      double sse = 0.0, bits = 0.0;
      std::size_t level = kBase;
    };
    std::vector<std::vector<Option>> options(n_tiles);
    std::vector<std::size_t> choice(n_tiles, kBase);
    auto choose = [&](double lambda) {
      double total = 0.0;
      for (std::size_t t = 0; t < n_tiles; ++t) {
        const Option* best = &options[t].front();
        for (const Option& o : options[t])
          if (o.sse + lambda * o.bits < best->sse + lambda * best->bits) best = &o;
        choice[t] = best->level;
        total += best->bits;
      }
      return total;
    };
    // The smallest lambda within a budget of bits (bits fall as lambda grows; a huge one picks the
    // sparsest option).
    auto choose_within = [&](double budget) {
      double lo = 1e-6, hi = 1e9;
      for (int i = 0; i < 80 && hi / lo > 1.0001; ++i) {
        const double mid = std::sqrt(lo * hi);
        (choose(mid) > budget ? lo : hi) = mid;
      }
      choose(hi);
    };
    double budget = 0.0;
    for (double b : cand[kBase].bits) budget += b;

    // The prediction: error ~ values^-kErrorExponent and bits ~ values from one level to the next. The
    // exponent is what the built-in model's tiles showed (x0.82 error one level denser, x1.2 sparser,
    // for x1.25 and x0.8 values: about 0.85 dB per round); the choice hardly depends on it.
    constexpr double kErrorExponent = 0.88;
    for (std::size_t t = 0; t < n_tiles; ++t) {
      options[t] = {{cand[kBase].sse[t], cand[kBase].bits[t], kBase}};
      for (std::size_t k : {kDenser, kSparser}) {
        const double ratio = static_cast<double>(values_of(*levels[k])) / static_cast<double>(values_of(*levels[kBase]));
        options[t].push_back({cand[kBase].sse[t] * std::pow(ratio, -kErrorExponent), cand[kBase].bits[t] * ratio, k});
      }
    }
    choose_within(budget);
    std::array<std::vector<std::size_t>, 3> movers;
    for (std::size_t t = 0; t < n_tiles; ++t) movers[choice[t]].push_back(t);
    if (movers[kDenser].empty() && movers[kSparser].empty()) return finish_default(base, base_q);
    say("predicted moves: " + std::to_string(movers[kDenser].size()) + " tiles to level " +
        std::to_string(levels[kDenser]->index) + ", " + std::to_string(movers[kSparser].size()) + " to level " +
        std::to_string(levels[kSparser]->index));

    // The moving tiles' fits, measured; each tile then chooses between its level and its move.
    const std::size_t to_fit = movers[kDenser].size() + movers[kSparser].size();
    std::size_t fitted_before = 0;
    for (std::size_t k : {kDenser, kSparser}) {
      if (movers[k].empty()) continue;
      if (user_progress)
        opt.progress = [&](std::size_t done, std::size_t) { return user_progress(n_tiles + fitted_before + done, n_tiles + to_fit); };
      fits[k] = fit_level(*levels[k], movers[k]);
      opt.progress = user_progress;
      fitted_before += movers[k].size();
      measure(*fits[k], cand[k], movers[k]);
    }
    for (std::size_t t = 0; t < n_tiles; ++t) {
      const std::size_t k = choice[t];
      options[t] = {{cand[kBase].sse[t], cand[kBase].bits[t], kBase}};
      if (k != kBase) options[t].push_back({cand[k].sse[t], cand[k].bits[t], k});
    }

    // The file of the current choice (version 3): the levels used, ascending by index, each with its
    // groups, and every tile's symbols; `used` receives each tile's level.
    auto file_for_choice = [&](std::vector<std::uint32_t>& used) {
      format::ContainerHeader h = header_for(*base.level);
      h.quant_steps = base_q.steps;
      used.clear();
      for (std::size_t t = 0; t < n_tiles; ++t) used.push_back(static_cast<std::uint32_t>(levels[choice[t]]->index));
      std::vector<std::uint32_t> set = used;
      std::sort(set.begin(), set.end());
      set.erase(std::unique(set.begin(), set.end()), set.end());
      h.tile_level_set = set;
      h.values_per_tile = 0;
      for (std::uint32_t index : set)
        for (auto& f : fits)
          if (f && static_cast<std::uint32_t>(f->level->index) == index) {
            h.level_group_sizes.insert(h.level_group_sizes.end(), f->groups.begin(), f->groups.end());
            h.values_per_tile = std::max(h.values_per_tile, static_cast<std::uint32_t>(f->init.size()));
          }
      std::vector<std::int32_t> symbols;
      for (std::size_t t = 0; t < n_tiles; ++t) {
        const std::size_t n = fits[choice[t]]->init.size();
        const auto& q = cand[choice[t]].q.symbols;
        symbols.insert(symbols.end(), q.begin() + static_cast<std::ptrdiff_t>(t * n), q.begin() + static_cast<std::ptrdiff_t>((t + 1) * n));
      }
      try {
        return format::write_quantized_container(h, symbols, used);
      } catch (const format::FormatError& e) {
        rethrow_format_error(e, "encode");
      }
    };
    // The estimates rank tiles well but miss the coder's total by a few percent (on validation the
    // files came out 3-5% under the uniform size), so the budget is corrected by the real size of
    // the choice's file against the uniform file's (the same steps, before either is refitted), a
    // few times: writing a file costs milliseconds next to the fits.
    const double uniform_bytes = static_cast<double>(write_quantized(base, cand[kBase].q).size());
    double estimated_budget = budget;
    std::vector<std::uint32_t> used_now;
    for (int round = 0; round < 4; ++round) {
      choose_within(estimated_budget);
      const double bytes = static_cast<double>(file_for_choice(used_now).size());
      if (std::abs(bytes - uniform_bytes) <= 0.003 * uniform_bytes) break;
      estimated_budget *= uniform_bytes / bytes;
    }
    if (std::all_of(choice.begin(), choice.end(), [](std::size_t k) { return k == kBase; })) return finish_default(base, base_q);
    auto assemble = [&](std::vector<float>& image) {
      image.assign(original.size(), 0.0f);
      for (std::size_t t = 0; t < n_tiles; ++t) {
        const TileRect& r = tiles[t];
        for (int y = r.y0; y < r.y0 + r.height; ++y) {
          const std::size_t i = (static_cast<std::size_t>(y) * rgb.width + r.x0) * 3;
          std::copy_n(&cand[choice[t]].rgb[i], static_cast<std::size_t>(r.width) * 3, &image[i]);
        }
      }
    };
    std::vector<float> image;
    assemble(image);
    double psnr = psnr_fn(image);
    // The refit, per level, on the tiles that took it.
    if (opt.refit_steps > 0) {
      std::array<Candidate, 3> before = cand;
      for (std::size_t k : {kDenser, kBase, kSparser}) {
        std::vector<std::size_t> taken;
        for (std::size_t t = 0; t < n_tiles; ++t)
          if (choice[t] == k) taken.push_back(t);
        if (taken.empty()) continue;
        Fitted& f = *fits[k];
        tell("refit", f.level->index, base_q.scale);
        std::vector<float> value_steps;
        for (std::size_t g = 0; g < f.groups.size(); ++g) value_steps.insert(value_steps.end(), f.groups[g], base_q.steps[g]);
        const std::vector<float> refitted = refit_quantized(rgb, model, *f.level, opt, f.fit.values, value_steps, taken);
        cand[k].q = quantize_with_scale(refitted, f.init, f.groups, base.allocation, base_q.scale);
        f.renderer->render(cand[k].q.values, cand[k].rgb, taken);
      }
      std::vector<float> refit_image;
      assemble(refit_image);
      const double refit_psnr = psnr_fn(refit_image);
      say("refit: " + std::to_string(psnr).substr(0, 5) + " -> " + std::to_string(refit_psnr).substr(0, 5) + " dB");
      if (refit_psnr > psnr) {
        psnr = refit_psnr;
      } else {
        cand = std::move(before);
      }
    }
    std::vector<std::uint32_t> used;
    std::vector<std::uint8_t> bytes = file_for_choice(used);
    std::vector<std::uint32_t> set = used;
    std::sort(set.begin(), set.end());
    set.erase(std::unique(set.begin(), set.end()), set.end());
    std::string counts;
    for (std::uint32_t index : set)
      counts += (counts.empty() ? "" : ", ") + std::to_string(std::count(used.begin(), used.end(), index)) + " at level " +
                std::to_string(index);
    say("tile levels: " + counts);
    EncodeResult r = result_of(base, std::move(bytes), psnr, "quantized");
    r.fit_psnr = base.fit.psnr;
    return r;
  };
  auto bpp_of = [&](const EncodeResult& r) { return static_cast<double>(r.bytes.size()) * 8.0 / pixels; };

  EncodeResult result;
  result.target_met = true;
  // A fixed level (given, or the model's default): per tile around it when asked.
  auto encode_at_level = [&](const MetaLevel& level) {
    if (per_tile_levels(opt)) {
      const std::size_t at = static_cast<std::size_t>(std::find(order.begin(), order.end(), &level) - order.begin());
      if (auto r = finish_adaptive(at)) return std::move(*r);
    }
    auto f = fit_level(level);
    return finish_default(*f);
  };
  if (opt.level >= 0) {
    result = encode_at_level(model.level(opt.level));
  } else if (opt.target_psnr > 0.0) {
    // The sparsest level whose fit reaches the target (binary search: PSNR falls with sparsity),
    // then the next denser one too: more values at coarser steps can make the smaller file.
    std::size_t lo = 0, hi = order.size();  // in sparsest-first index: answer in [lo, hi]; hi = none
    std::optional<EncodeResult> best;
    auto consider = [&](std::optional<EncodeResult> r) {
      if (r && (!best || r->bytes.size() < best->bytes.size())) best = std::move(r);
    };
    std::vector<std::unique_ptr<Fitted>> fitted(order.size());
    // Fits at most: the bisection's, plus the next denser level's (fits are cached).
    int bisections = 0;
    while ((std::size_t{1} << bisections) < order.size() + 1) ++bisections;
    status.fits_max = std::min(static_cast<int>(order.size()), bisections + 1);
    auto fitted_at = [&](std::size_t sparse_index) -> Fitted& {
      auto& slot = fitted[sparse_index];
      if (!slot) slot = fit_level(*order[order.size() - 1 - sparse_index]);
      return *slot;
    };
    while (lo < hi) {
      const std::size_t mid = (lo + hi) / 2;
      Fitted& f = fitted_at(mid);
      say("level " + std::to_string(f.level->index) + ": fit " + std::to_string(f.fit.psnr).substr(0, 5) + " dB");
      if (f.fit.psnr >= opt.target_psnr) {
        hi = mid;
      } else {
        lo = mid + 1;
      }
    }
    if (hi < order.size()) {
      consider(finish_for_psnr(fitted_at(hi), opt.target_psnr));
      if (opt.bits != 16 && hi + 1 < order.size()) consider(finish_for_psnr(fitted_at(hi + 1), opt.target_psnr));
    }
    if (best) {
      result = std::move(*best);
    } else {  // unreachable: the densest level at its default quantization is the closest
      result = finish_default(fitted_at(order.size() - 1));
      result.target_met = false;
    }
  } else if (opt.target_bpp > 0.0) {
    // Start at the densest level whose values could fit at ~6 bits each (fp16: 16), then walk to
    // denser levels while the PSNR at the budget improves, or to sparser ones until one fits.
    const double max_bytes = opt.target_bpp * pixels / 8.0;
    const double bits_per_value = opt.bits == 16 ? 16.5 : 6.0;
    std::size_t i = order.size() - 1;  // densest-first index
    for (std::size_t k = 0; k < order.size(); ++k)
      if (values_of(*order[k]) * tiles.size() * bits_per_value / 8.0 + 200.0 <= max_bytes) {
        i = k;
        break;
      }
    std::optional<EncodeResult> best;
    std::size_t best_i = i;
    // Fits at most: the first, then every denser level, or every sparser one and the fallback.
    const int n = static_cast<int>(order.size()), first = static_cast<int>(i);
    status.fits_max = std::max(first + 1, n - first + 1);
    auto try_level = [&](std::size_t k) {
      auto f = fit_level(*order[k]);
      auto r = finish_for_bytes(*f, max_bytes);
      if (r) say("level " + std::to_string(order[k]->index) + ": " + std::to_string(bpp_of(*r)).substr(0, 5) + " bpp, " +
                 std::to_string(r->psnr).substr(0, 5) + " dB");
      else say("level " + std::to_string(order[k]->index) + ": cannot fit " + std::to_string(opt.target_bpp) + " bpp");
      return r;
    };
    best = try_level(i);
    status.fits_max = best ? first + 1 : n - first + 1;
    if (best) {
      while (best_i > 0) {  // denser while it pays
        auto r = try_level(best_i - 1);
        if (!r || r->psnr <= best->psnr) break;
        best = std::move(r);
        --best_i;
      }
    } else {
      while (!best && best_i + 1 < order.size()) best = try_level(++best_i);  // sparser until one fits
    }
    if (best) {
      result = std::move(*best);
    } else {  // nothing fits: the sparsest level at its default quantization is the closest
      auto f = fit_level(*order.back());
      result = finish_default(*f);
      result.target_met = false;
    }
  } else {
    result = encode_at_level(model.level(model.default_level()));
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

ContainerInfo read_info(std::span<const std::uint8_t> bytes, const std::string& name) {
  ContainerInfo info;
  try {
    info.header = format::peek_header(bytes);
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, name);
  }
  info.file_bytes = bytes.size();
  info.bpp = static_cast<double>(bytes.size()) * 8.0 / (static_cast<double>(info.header.width) * info.header.height);
  return info;
}

void output_size(const DecodeOptions& o, int width, int height, int& ow, int& oh) {
  if (o.width < 0 || o.height < 0 || o.scale < 0 || !std::isfinite(o.scale))
    throw Error(ErrorCode::kInvalidArgument, "output size and scale must be positive");
  if (o.scale > 0.0 && (o.width > 0 || o.height > 0))
    throw Error(ErrorCode::kInvalidArgument, "give either a scale or an output size, not both");
  const double w = width, h = height;
  double fw = w, fh = h;
  if (o.scale > 0.0) fw = w * o.scale, fh = h * o.scale;
  else if (o.width > 0 && o.height > 0) fw = o.width, fh = o.height;
  else if (o.width > 0) fw = o.width, fh = h * o.width / w;
  else if (o.height > 0) fh = o.height, fw = w * o.height / h;
  if (!(fw < 1e9 && fh < 1e9) || !dimensions_within_limits(std::llround(std::max(1.0, fw)), std::llround(std::max(1.0, fh))))
    throw Error(ErrorCode::kLimit, "output size " + std::to_string(std::llround(fw)) + "x" + std::to_string(std::llround(fh)) +
                                       " is beyond the limits (each side <= 32768, at most 2^28 pixels)");
  ow = static_cast<int>(std::max(1LL, std::llround(fw)));
  oh = static_cast<int>(std::max(1LL, std::llround(fh)));
}

namespace {
void check_decode_pixels(std::uint64_t w, std::uint64_t h, std::uint64_t max_pixels, const std::string& what) {
  if (max_pixels != 0 && w * h > max_pixels)
    throw Error(ErrorCode::kLimit, what + " " + std::to_string(w) + "x" + std::to_string(h) + " has " + std::to_string(w * h) +
                                       " pixels, more than the decode limit of " + std::to_string(max_pixels) +
                                       " (raise it with --max-pixels / DecodeOptions::max_pixels)");
}
}  // namespace

namespace {

// Renders a decode's output rows from a TileReader, on `threads` threads, each rendering whole tiles
// on an evaluator of its own (one thread each), so threads meet only to hand out work, not at a
// barrier per tile. The work goes in units, one tile's part of one output strip (a strip is a tile
// row's output rows, at most kDecodeStripRows of them), in output order. Three things overlap:
//  - range decoding: the stream is one adaptive sequence, so tiles decode strictly in order, one at a
//    time, by whichever thread needs the next tile (or has nothing else to do), while the others render;
//  - rendering: a thread takes the next unit as soon as its tile's values are decoded and its strip
//    has a buffer, so it runs up to slack_ strips ahead of the row output;
//  - row output: the calling thread hands finished strips to `row` in order (it alone calls it, so
//    a callback needs no locking and what it throws comes back unchanged), rendering in between.
// Memory: slack_ strip buffers and slack_ tile rows of values (slack_ <= threads + 1, 3 when a strip
// has at least as many tiles as there are threads), whatever the image size. The pixels
// are exactly those of a decode tile by tile on one thread: every unit is rendered on the grid it
// always had, by the same kernels, and the 8-bit values land in fixed places.
// What a tile at one level needs to be rendered: its level, where its stored values go, and its
// parameters before they go in (unstored_params()).
struct TileLevel {
  const MetaLevel* level = nullptr;
  std::vector<std::uint32_t> stored;
  std::vector<float> unstored;
};

class DecodeJob {
 public:
  // `levels`: the levels tiles may have (one, or a per-tile-levels file's set, in its order).
  DecodeJob(const Model& model, std::vector<TileLevel> levels, bool offsets, const std::string& name,
            format::TileReader& reader, int W, int H, int ow, int oh, int threads)
      : model_(model), levels_(std::move(levels)), offsets_(offsets), name_(name), reader_(reader), W_(W), H_(H),
        ow_(ow), oh_(oh), T_(model.tile_size),
        tiles_x_(reader.header().merged_edges() ? static_cast<int>(reader.header().tiles_across) : grid_tiles_along(W, T_)),
        tiles_y_(reader.header().merged_edges() ? static_cast<int>(reader.header().tiles_down) : grid_tiles_along(H, T_)),
        tile_count_(reader.header().tile_count), vpt_(reader.header().values_per_tile) {
    // Output pixel i of n maps to source position i (n - 1)/(N - 1): the corners stay the corners.
    const auto col_ranges = ranges(ow_, W_, tiles_x_), row_ranges = ranges(oh_, H_, tiles_y_);
    live_row_.assign(static_cast<std::size_t>(tiles_y_), -1);
    int live = 0;
    for (int ty = 0; ty < tiles_y_; ++ty) {
      const auto [ry0, ry1] = row_ranges[static_cast<std::size_t>(ty)];
      if (ry1 < ry0) continue;
      live_row_[static_cast<std::size_t>(ty)] = live++;
      // A tile row's output rows go in strips of at most kDecodeStripRows (one strip when the band is
      // that short, so native decodes render each tile on its whole grid).
      for (int sy0 = ry0; sy0 <= ry1; sy0 += kDecodeStripRows) {
        Strip st{ty, sy0, std::min(ry1, sy0 + kDecodeStripRows - 1), 0};
        for (int tx = 0; tx < tiles_x_; ++tx) {
          const auto [cx0, cx1] = col_ranges[static_cast<std::size_t>(tx)];
          if (cx1 < cx0) continue;
          units_.push_back({static_cast<int>(strips_.size()), tx, cx0, cx1});
          ++st.units;
        }
        max_strip_rows_ = std::max(max_strip_rows_, st.y1 - st.y0 + 1);
        strips_.push_back(st);
      }
    }
    tile_level_.assign(tile_count_, 0);
    remaining_.resize(strips_.size());
    for (std::size_t s = 0; s < strips_.size(); ++s) remaining_[s] = strips_[s].units;
    const int budget = threads > 0 ? threads : std::max(1, omp_get_max_threads());
    workers_ = std::max(1, std::min<int>(budget, static_cast<int>(units_.size())));
    // Fewer units than threads (a one-tile image): the spare threads split each unit's pixels.
    evaluator_threads_ = std::max(1, budget / workers_);
    // Strips in flight: enough that, beyond the one being handed out, every worker finds a unit
    // (a strip has the same units as any other), never more than workers + 1.
    const int per_strip = strips_.empty() ? 1 : std::max(1, strips_.front().units);
    slack_ = workers_ == 1 ? 1 : std::min(workers_ + 1, 2 + (workers_ + per_strip - 1) / per_strip);
    bands_.assign(static_cast<std::size_t>(slack_),
                  std::vector<std::uint8_t>(static_cast<std::size_t>(max_strip_rows_) * ow_ * 3, 0));
    values_.assign(static_cast<std::size_t>(slack_), std::vector<float>(static_cast<std::size_t>(tiles_x_) * vpt_));
  }

  void run(const std::function<void(int, const std::uint8_t*)>& row) {
    std::vector<std::thread> pool;
    try {
      for (int w = 1; w < workers_; ++w) pool.emplace_back([this] { work(nullptr); });
    } catch (...) {
      fail(std::current_exception());
    }
    work(&row);
    for (auto& t : pool) t.join();
    if (error_) std::rethrow_exception(error_);
  }

 private:
  struct Strip {
    int ty, y0, y1;  // tile row, output rows (inclusive)
    int units;
  };
  struct Unit {
    int strip, tx, x0, x1;  // output columns x0..x1 (inclusive) of tile column tx
  };
  // One worker's engine: evaluators (one thread each) by grid, and buffers.
  struct Worker {
    std::unique_ptr<Backend> backend;
    std::vector<std::tuple<Grid, std::size_t, std::unique_ptr<Evaluator>>> evaluators;  // by grid and level
    std::vector<float> params, out;
  };

  std::vector<std::pair<int, int>> ranges(int n, int N, int tiles) const {
    auto source_pos = [](int i, int n, int N) { return source_position(i, n, N); };
    std::vector<std::pair<int, int>> r(static_cast<std::size_t>(tiles), {0, -1});
    for (int i = 0; i < n; ++i) {
      const int t = std::min(tiles - 1, static_cast<int>(std::floor(source_pos(i, n, N) / T_)));
      auto& p = r[static_cast<std::size_t>(t)];
      if (p.second < p.first) p.first = i;
      p.second = i;
    }
    return r;
  }
  static double source_position(int i, int n, int N) {
    return n <= 1 ? (N - 1) / 2.0 : static_cast<double>(i) * (N - 1) / (n - 1);
  }

  void fail(std::exception_ptr e) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!error_) error_ = e;
    failed_ = true;
    cv_.notify_all();
  }

  // Whether tile `t` (the next to decode) may be decoded now: its tile row's values slot must be free
  // (the row slack_ live rows back fully emitted). Rows with no output decode into scratch.
  bool may_decode(std::uint32_t t) const {
    const int j = live_row_[t / static_cast<std::uint32_t>(tiles_x_)];
    if (j < 0 || emitted_ >= strips_.size()) return true;
    return j < live_row_[static_cast<std::size_t>(strips_[emitted_].ty)] + slack_;
  }

  // Decodes the next tile; called with the lock held, returns with it held (on an error, with failed_ set).
  void decode_next(std::unique_lock<std::mutex>& lk, std::vector<float>& scratch) {
    decoding_ = true;
    const std::uint32_t t = decoded_;
    const int j = live_row_[t / static_cast<std::uint32_t>(tiles_x_)];
    lk.unlock();
    try {
      float* dst;
      if (j < 0) {
        scratch.resize(vpt_);
        dst = scratch.data();
      } else {
        dst = &values_[static_cast<std::size_t>(j % slack_)][(t % static_cast<std::uint32_t>(tiles_x_)) * vpt_];
      }
      try {
        reader_.next_tile(std::span<float>(dst, vpt_));
      } catch (const format::FormatError& e) {
        rethrow_format_error(e, name_);
      }
      // Written before decoded_ moves past t (under the lock), read only after: no race.
      tile_level_[t] = level_position(reader_.tile_level());
    } catch (...) {
      // Failed in the same critical section that gives the decoder up: no other thread may take it
      // and call the reader again (past its end: a misleading error) before the failure is seen.
      lk.lock();
      decoding_ = false;
      failed_ = true;
      if (!error_) error_ = std::current_exception();
      cv_.notify_all();
      return;
    }
    lk.lock();
    decoding_ = false;
    ++decoded_;
    cv_.notify_all();
  }

  std::uint8_t level_position(std::uint32_t level) const {
    for (std::size_t k = 0; k < levels_.size(); ++k)
      if (static_cast<std::uint32_t>(levels_[k].level->index) == level) return static_cast<std::uint8_t>(k);
    throw Error(ErrorCode::kCorrupt, name_ + ": a tile names level " + std::to_string(level) + ", not in the file's set");
  }

  Evaluator& evaluator_for(Worker& wk, const Grid& g, std::size_t k) {
    for (auto& [eg, ek, ev] : wk.evaluators)
      if (ek == k && eg.rows == g.rows && eg.cols == g.cols && eg.row_lo == g.row_lo && eg.row_hi == g.row_hi &&
          eg.col_lo == g.col_lo && eg.col_hi == g.col_hi)
        return *ev;
    // A resized decode's grids rarely repeat; per-tile levels multiply the grids by the levels used.
    if (wk.evaluators.size() >= 16 * levels_.size()) wk.evaluators.erase(wk.evaluators.begin());
    wk.evaluators.emplace_back(g, k, wk.backend->make_evaluator(model_.arch, levels_[k].level->mask, g));
    return *std::get<2>(wk.evaluators.back());
  }

  // Renders one unit into its strip's band (no lock held: the unit's values and band columns are its own).
  void render(Worker& wk, const Unit& u) {
    const Strip& st = strips_[static_cast<std::size_t>(u.strip)];
    const int ty = st.ty, tx = u.tx, sy0 = st.y0, sy1 = st.y1;
    const float* values = &values_[static_cast<std::size_t>(live_row_[static_cast<std::size_t>(ty)] % slack_)]
                                  [static_cast<std::size_t>(tx) * vpt_];
    std::uint8_t* band = bands_[static_cast<std::size_t>(u.strip % slack_)].data();
    const std::size_t k_level = tile_level_[static_cast<std::size_t>(ty) * tiles_x_ + tx];
    const TileLevel& tl = levels_[k_level];
    std::copy(tl.unstored.begin(), tl.unstored.end(), wk.params.begin());
    for (std::size_t k = 0; k < tl.stored.size(); ++k)
      wk.params[tl.stored[k]] = offsets_ ? tl.level->init[tl.stored[k]] + values[k] : values[k];
    for (int kx0 = u.x0; kx0 <= u.x1; kx0 += kDecodeChunkCols) {
      const int kx1 = std::min(u.x1, kx0 + kDecodeChunkCols - 1);
      Grid g;
      g.rows = sy1 - sy0 + 1;
      g.cols = kx1 - kx0 + 1;
      const int span_y = tile_span(ty, tiles_y_, H_, T_), span_x = tile_span(tx, tiles_x_, W_, T_);
      g.row_lo = static_cast<float>(tile_coord(source_position(sy0, oh_, H_) - ty * T_, span_y));
      g.row_hi = static_cast<float>(tile_coord(source_position(sy1, oh_, H_) - ty * T_, span_y));
      g.col_lo = static_cast<float>(tile_coord(source_position(kx0, ow_, W_) - tx * T_, span_x));
      g.col_hi = static_cast<float>(tile_coord(source_position(kx1, ow_, W_) - tx * T_, span_x));
      wk.out.resize(g.pixels() * 3);
      evaluator_for(wk, g, k_level).forward(wk.params.data(), wk.out.data());
      const std::size_t row_values = static_cast<std::size_t>(g.cols) * 3;
      for (int y = 0; y < g.rows; ++y) {
        const float* src = &wk.out[static_cast<std::size_t>(y) * row_values];
        std::uint8_t* dst = &band[(static_cast<std::size_t>(y) * ow_ + kx0) * 3];
        for (std::size_t i = 0; i < row_values; ++i) dst[i] = to_8bit(src[i]);
      }
    }
  }

  // One thread's loop; worker 0 is the calling thread and the only one that emits rows.
  void work(const std::function<void(int, const std::uint8_t*)>* row) {
    try {
      Worker wk;
      CpuBackendOptions o;
      o.threads = evaluator_threads_;
      wk.backend = make_cpu_backend(o);
      wk.params.resize(levels_.front().unstored.size());
      std::vector<float> scratch;
      std::unique_lock<std::mutex> lk(mutex_);
      while (!failed_) {
        if (row != nullptr && emitted_ < strips_.size() && remaining_[emitted_] == 0) {
          const Strip& st = strips_[emitted_];
          const std::uint8_t* band = bands_[emitted_ % static_cast<std::size_t>(slack_)].data();
          lk.unlock();
          for (int y = st.y0; y <= st.y1; ++y) (*row)(y, &band[static_cast<std::size_t>(y - st.y0) * ow_ * 3]);
          lk.lock();
          ++emitted_;
          cv_.notify_all();
          continue;
        }
        if (next_unit_ < units_.size()) {
          const Unit& u = units_[next_unit_];
          const std::uint32_t tile = static_cast<std::uint32_t>(strips_[static_cast<std::size_t>(u.strip)].ty) * tiles_x_ + u.tx;
          if (static_cast<std::size_t>(u.strip) < emitted_ + static_cast<std::size_t>(slack_)) {
            if (tile < decoded_) {
              ++next_unit_;
              lk.unlock();
              render(wk, u);
              lk.lock();
              if (--remaining_[static_cast<std::size_t>(u.strip)] == 0) cv_.notify_all();
              continue;
            }
            if (!decoding_) {  // the unit's tile comes next (or soon): decode it
              decode_next(lk, scratch);
              continue;
            }
          }
        }
        // Nothing to render now: decode ahead while the values have somewhere to go.
        if (!decoding_ && decoded_ < tile_count_ && may_decode(decoded_)) {
          decode_next(lk, scratch);
          continue;
        }
        const bool rendered = next_unit_ == units_.size() && decoded_ == tile_count_ && !decoding_;
        if (rendered && (row == nullptr || emitted_ == strips_.size())) break;
        cv_.wait(lk);
      }
    } catch (...) {
      fail(std::current_exception());
    }
  }

  const Model& model_;
  const std::vector<TileLevel> levels_;
  const bool offsets_;
  const std::string& name_;
  format::TileReader& reader_;
  const int W_, H_, ow_, oh_, T_, tiles_x_, tiles_y_;
  const std::uint32_t tile_count_;
  const std::size_t vpt_;  // values per tile (the most, with per-tile levels): a tile's values slot

  std::vector<std::uint8_t> tile_level_;  // per tile: its position in levels_ (set when decoded)
  std::vector<int> live_row_;  // per tile row: its index among the rows with output, -1 for none
  std::vector<Strip> strips_;
  std::vector<Unit> units_;
  int max_strip_rows_ = 1;
  int workers_ = 1, evaluator_threads_ = 1, slack_ = 1;
  std::vector<std::vector<std::uint8_t>> bands_;  // strip s renders into bands_[s % slack_]
  std::vector<std::vector<float>> values_;        // live tile row j's values in values_[j % slack_]

  std::mutex mutex_;
  std::condition_variable cv_;
  // Under mutex_:
  bool failed_ = false, decoding_ = false;
  std::exception_ptr error_;
  std::size_t next_unit_ = 0, emitted_ = 0;
  std::uint32_t decoded_ = 0;
  std::vector<int> remaining_;  // per strip: units not yet rendered
};

}  // namespace

void decode_rows(std::span<const std::uint8_t> bytes, const std::string& name, const Model& model,
                 const DecodeOptions& opt, const std::function<void(int, const std::uint8_t*)>& row,
                 const std::function<void(int, int)>& size) {
  // The header alone first (fp16: the zstd frame header is checked, nothing is decompressed), so
  // every count is compared with the model before the payload costs any memory.
  format::ContainerHeader h;
  try {
    h = format::peek_header(bytes);
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, name);
  }
  if (h.model_id != model.id)
    throw Error(ErrorCode::kModelMismatch, name + " was encoded with model " + format::model_id_hex(h.model_id).substr(0, 16) +
                                               ", not with the model given (" + model.id_hex().substr(0, 16) +
                                               "); pass the right one with --model");
  if (static_cast<int>(h.tile_size) != model.tile_size)
    throw Error(ErrorCode::kCorrupt, name + ": tile size " + std::to_string(h.tile_size) + " differs from the model's (" +
                                         std::to_string(model.tile_size) + ")");
  std::string have;
  for (const auto& l : model.levels) have += (have.empty() ? "" : ", ") + std::to_string(l.index);
  auto level_named = [&](std::uint32_t index) -> const MetaLevel& {
    for (const auto& l : model.levels)
      if (l.index >= 0 && static_cast<std::uint32_t>(l.index) == index) return l;
    throw Error(ErrorCode::kCorrupt, name + ": encoded at level " + std::to_string(index) + ", which the model " +
                                         model.id_hex().substr(0, 16) + " does not have (its levels: " + have + ")");
  };
  level_named(h.level);
  ParamLayout layout(model.arch);
  const bool offsets = h.precision == format::Precision::kQuantized;
  // The levels tiles may have, each checked against the file's counts before any payload is read.
  std::vector<TileLevel> levels;
  std::uint32_t max_level = h.level;
  const std::size_t set_size = h.per_tile_levels() ? h.tile_level_set.size() : 1;
  for (std::size_t k = 0; k < set_size; ++k) {
    const std::uint32_t index = h.per_tile_levels() ? h.tile_level_set[k] : h.level;
    max_level = std::max(max_level, index);
    TileLevel tl;
    tl.level = &level_named(index);
    tl.stored = stored_indices(model, *tl.level);
    tl.unstored = unstored_params(model, *tl.level);
    if (tl.stored.size() != h.values_of(k))
      throw Error(ErrorCode::kCorrupt, name + ": " + std::to_string(h.values_of(k)) + " values per tile, level " +
                                           std::to_string(index) + " stores " + std::to_string(tl.stored.size()));
    if (offsets) {
      const auto groups = h.groups_of(k);
      if (std::vector<std::uint32_t>(groups.begin(), groups.end()) != quant_groups(layout, tl.level->mask, !model.frozen_biases))
        throw Error(ErrorCode::kCorrupt, name + ": its quantizer groups do not match level " + std::to_string(index) +
                                             "'s tensors");
    }
    levels.push_back(std::move(tl));
  }
  // The payload grows with the native size, so the pixel limit bounds it too.
  check_decode_pixels(h.width, h.height, opt.max_pixels, name + ": the encoded image");
  const int W = static_cast<int>(h.width), H = static_cast<int>(h.height);
  int ow = 0, oh = 0;
  output_size(opt, W, H, ow, oh);
  check_decode_pixels(static_cast<std::uint64_t>(ow), static_cast<std::uint64_t>(oh), opt.max_pixels, "output size");

  // Only now the payload, with limits tightened to exactly what the model allows. Every check of the
  // file runs here (its CRC-32C and the payload's; fp16: the values themselves); a quantized
  // payload's range decoding then runs tile by tile while earlier tiles render.
  format::ReadLimits limits;
  limits.max_values_per_tile = h.values_per_tile;  // each level's count was checked against the model
  limits.max_tile_size = static_cast<std::uint32_t>(model.tile_size);
  limits.max_level = max_level;
  limits.max_payload_raw_bytes = static_cast<std::uint64_t>(h.tile_count) * h.values_per_tile * 2;
  std::optional<format::TileReader> reader;
  try {
    reader.emplace(bytes, limits);
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, name);
  }
  if (size) size(ow, oh);

  DecodeJob job{model, std::move(levels), offsets, name, *reader, W, H, ow, oh, opt.threads};
  job.run(row);
}

Image decode_image(std::span<const std::uint8_t> bytes, const std::string& name, const Model& model,
                   const DecodeOptions& options) {
  Image im;
  decode_rows(
      bytes, name, model, options,
      [&](int y, const std::uint8_t* rgb) {
        std::copy_n(rgb, static_cast<std::size_t>(im.width) * 3, &im.pixels[static_cast<std::size_t>(y) * im.width * 3]);
      },
      [&](int width, int height) { im = make_image(width, height, 3); });
  return im;
}

}  // namespace msinr::codec
