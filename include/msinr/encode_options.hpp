#pragma once
// The encoder's settings and the enums they use: part of the public API (msinr.hpp includes this),
// and the very struct the codec inside the library runs on (codec::EncodeOptions adds only a test
// switch), so a setting exists once, is checked in one place, and is never copied field by field
// between layers. The command line sets these same fields.
#include <cstddef>
#include <functional>
#include <string>

namespace msinr {

// Where the networks are fitted and evaluated. The C API's MSINR_DEVICE_* values are these, in order.
enum class Device {
  kAuto = 0,       // the GPU when this build has CUDA and one answers, else the CPU
  kCpu = 1,        // OpenBLAS and the AVX2 kernels (generic kernels on older CPUs)
  kCuda = 2,       // Error(kDevice) when this build or machine has no usable GPU
  kReference = 3,  // the scalar reference engine: slow; the oracle the others are tested against
};

// Which level each tile of an image is fitted from, at a fixed level (given or the default).
enum class TileLevels {
  kUniform = 0,   // every tile at the level (container version 2)
  kAdaptive = 1,  // each tile at the level or its denser or sparser neighbour, whichever buys the most
                  // quality for the bits, at the bits of the uniform file (container version 3); the
                  // tiles predicted to move are fitted twice, 1.4-1.9x the uniform encode's time.
                  // Refused with bits 16 or a target_bpp / target_psnr.
  kAuto = 2,      // kAdaptive where it applies (the quantized payload at a fixed level), else kUniform
};
// How the learning rate moves over a fit of N steps.
enum class LrSchedule {
  kConstant = 0,  // lr at every step
  kCosine = 1,    // lr * (1 + cos(pi (t - 1) / N)) / 2 at step t = 1..N: full rate first, near 0 at the end
};

// Where a target_bpp / target_psnr search stands, for a progress display with an ETA: which level it
// is fitting or quantizing, the quantizer step scale it is trying, and how many level fits it has
// done out of the most it can take (an upper bound: the search may stop sooner). Level fits are
// nearly all of a search's time, so fits_done / fits_max (with the tiles of the fit under way)
// measures it.
struct SearchStatus {
  const char* phase = "fit";  // "fit" (a level's Adam steps), "quantize" (trying a step), "refit"
  int level = 0;
  double step_scale = 0.0;    // the global step scale tried (steps = scale * allocation); 0 while fitting
  std::size_t bytes = 0;      // the file at that step; 0 when not known yet
  double psnr = 0.0;          // its decoded 8-bit PSNR; 0 when not measured
  int fits_done = 0;          // level fits finished
  int fits_max = 0;           // the most level fits this search takes in all
};

// Every field is checked when an Encoder is made (Error(kInvalidArgument) naming the field).
struct EncodeOptions {
  int level = -1;            // a model level; -1: chosen by target_bpp / target_psnr, else the model's default
  double target_bpp = 0.0;   // > 0: the best PSNR at or under this many bits per pixel (searches levels and steps)
  double target_psnr = 0.0;  // > 0: the smallest file reaching this PSNR (searches levels and steps)
  int steps = 100;           // Adam steps per tile (>= 0; 0 stores the level's meta-learned init, unfitted)
  float lr = 0.0f;           // Adam learning rate; 0: the rate the model measured for the level
  LrSchedule lr_schedule = LrSchedule::kConstant;  // how the rate moves over the steps
  // Each Adam step on a fresh random subset of this fraction of a tile's pixels, in (0, 1] (1: all
  // of them); a step then costs about the fraction. Every tile draws the same seeded sequence, so an
  // encode repeats exactly and the CPU's batched and per-tile fits stay equal.
  double pixel_fraction = 1.0;
  int bits = 0;              // payload: 0 quantized + entropy-coded (default), 16 fp16 + zstd
  // Per-tile levels. kAuto (per-tile levels wherever they apply) since 2026-12-02: on 30 validation
  // images they need 5.6% fewer bits than one level per image for the same PSNR (docs/results.md).
  TileLevels tile_levels = TileLevels::kAuto;
  // Thin edges join their neighbour: where the last tile of a row or column would hold fewer than a
  // quarter of the model's tile, its pixels go to the tile before it, which is fitted over them on
  // a grid up to 1.25x denser (container version 4; images whose sides need no merge are written as
  // before). On validation crops with 8-24-pixel edges: 47-60% fewer bits at equal PSNR, for a
  // densest level 0.9-2.3 dB lower (docs/results.md, "Odd sizes"). false: every edge its own tile.
  bool merge_edges = true;
  // Quantized payload: the decoded 8-bit PSNR may fall at most this far below the float fit's (before
  // the refit wins some of it back). 0.5 dB, chosen on validation (docs/results.md): at equal rate it
  // beats 0.1 dB by 0.2-0.3 dB, since coarser steps on a denser level beat fine steps on a sparser one.
  double quant_loss_db = 0.5;
  // Quantized payload: Adam steps of quantization-aware refit (straight-through) after the steps are
  // chosen; 0 turns it off. refit_lr 0: the fit's rate / 300 (1e-5 for the built-in model), the best
  // of 1e-4 .. 3e-6 on validation: the refit only nudges values across rounding boundaries.
  // 20 steps, each on a quarter of the pixels (refit_pixel_fraction), chosen on validation (15
  // imagenette/val images, levels 1 / 4, docs/results.md): +0.31 / +0.24 dB over no refit, against
  // +0.29 / +0.21 for 10 steps on every pixel, at half their cost (the encode-time budget of issue 14).
  int refit_steps = 20;
  float refit_lr = 0.0f;
  // Each refit step on a fresh random subset of this fraction of a tile's pixels, in (0, 1] (as
  // pixel_fraction does for the fit): the refit's cost is the largest part of the quantized payload's
  // encode time, and its tiny steps (the fit's rate / 300) average well over subsets.
  double refit_pixel_fraction = 0.25;
  int threads = 0;           // worker threads; 0: all cores
  Device device = Device::kAuto;
  // Called as each tile finishes (from worker threads, one call at a time). Return false to cancel:
  // encode then throws ErrorCode::kCancelled.
  std::function<bool(std::size_t tiles_done, std::size_t tiles_total)> progress;
  // Both from the calling thread, and either may be empty. `log` is told what the encoder does, one
  // line at a time ("fitting level 5 ...", "refit: ..."): a target_bpp / target_psnr search also
  // says each level and step it tries. `search` is told such a search's state as it moves (never
  // called for a fixed level).
  std::function<void(const std::string& line)> log;
  std::function<void(const SearchStatus&)> search;
};

}  // namespace msinr
