#pragma once
// The codec proper: image -> .msinr bytes (fit every tile from a level's sparse init) and back
// (render the fitted networks on any pixel grid).
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "codec/image.hpp"
#include "codec/model.hpp"
#include "format/container.hpp"
#include "msinr/encode_options.hpp"
#include "msinr/fitter.hpp"

namespace msinr::codec {

// How the tiles of an image are fitted. Per tile: several tiles at once on CPU threads, each on its
// own evaluator. Batched: tiles of equal size in one fit_batch call (one strided-batched GEMM per
// layer on the GPU). kAuto batches on the GPU only; the CPU batched path exists so the GPU's
// grouping and ordering are checked on every machine (on the CPU it equals per tile bit for bit).
enum class TileFitting { kAuto, kPerTile, kBatched };

// Where a --bpp / --psnr search stands, for a progress display with an ETA: which level it is
// fitting or quantizing, the quantizer step scale it is trying, and how many level fits it has done
// out of the most it can take (an upper bound: the search may stop sooner). Level fits are nearly
// all of a search's time, so fits_done / fits_max (with the tiles of the fit under way) measures it.
struct SearchStatus {
  const char* phase = "fit";  // "fit" (a level's Adam steps), "quantize" (trying a step), "refit"
  int level = 0;
  double step_scale = 0.0;    // the global step scale tried (steps = scale * allocation); 0 while fitting
  std::size_t bytes = 0;      // the file at that step; 0 when not known yet
  double psnr = 0.0;          // its decoded 8-bit PSNR; 0 when not measured
  int fits_done = 0;          // level fits finished
  int fits_max = 0;           // the most level fits this search takes in all
};

// The public settings (msinr/encode_options.hpp: level, rate targets, steps, lr, payload bits,
// quantization loss, threads, device, progress) and those only the command line and the tools offer.
struct EncodeOptions : msinr::EncodeOptions {
  LrSchedule lr_schedule = LrSchedule::kConstant;  // how the rate moves over the steps
  // Each Adam step on a fresh random subset of this fraction of a tile's pixels (1: all of them); a
  // step then costs about the fraction. Every tile draws the same seeded sequence, so an encode
  // repeats exactly and the CPU's batched and per-tile fits stay equal.
  double pixel_fraction = 1.0;
  // Quantized payload: Adam steps of quantization-aware refit (straight-through) after the steps are
  // chosen; 0 turns it off. refit_lr 0: the fit's rate / 300 (1e-5 for the built-in model), the best
  // of 1e-4 .. 3e-6 on validation: the refit only nudges values across rounding boundaries.
  // 20 steps, each on a quarter of the pixels (refit_pixel_fraction), chosen on validation (15
  // imagenette/val images, levels 1 / 4, docs/results.md): +0.31 / +0.24 dB over no refit, against
  // +0.29 / +0.21 for 10 steps on every pixel, at half their cost (the encode-time budget of issue 14).
  int refit_steps = 20;
  float refit_lr = 0.0f;
  // Each refit step on a fresh random subset of this fraction of a tile's pixels (as pixel_fraction
  // does for the fit): the refit's cost is the largest part of the quantized payload's encode time,
  // and its tiny steps (the fit's rate / 300) average well over subsets.
  double refit_pixel_fraction = 0.25;
  TileFitting tile_fitting = TileFitting::kAuto;
  // Told what a --bpp / --psnr search is trying ("fitting level 5 ..."), one line at a time.
  std::function<void(const std::string& line)> log;
  // Told the same search's state as it moves (from the calling thread; never for a fixed level).
  std::function<void(const SearchStatus&)> search;
};

struct EncodeResult {
  std::vector<std::uint8_t> bytes;  // the complete .msinr file
  int level = 0;
  std::size_t tiles = 0;
  std::size_t values_per_tile = 0;
  double seconds = 0.0;
  double fit_psnr = 0.0;            // 8-bit PSNR of the float fit before fp16 rounding / quantization
  double psnr = 0.0;                // 8-bit PSNR of what the decoder will render (0: not measured, fp16)
  std::string payload;              // "quantized" or "fp16"
  bool target_met = true;           // false: a --bpp / --psnr target could not be reached
  float lr = 0.0f;                  // the Adam learning rate used
  std::string device;               // what did the fitting
};

// The input may have any channel count; it is converted to RGB first (see image.hpp's policy).
EncodeResult encode_image(const Image& image, const Model& model, const EncodeOptions& options);

// Default bound on decoded pixels (output and the container's native size), as libjpeg-turbo's and
// ImageMagick's policies bound theirs: a 2 KB file cannot ask for minutes of rendering or gigabytes.
inline constexpr std::uint64_t kDefaultMaxDecodePixels = 1ull << 27;

struct DecodeOptions {
  int width = 0, height = 0;  // output size; 0 keeps the aspect ratio of the other (both 0: native or scale)
  double scale = 0.0;         // > 0: both sides times this
  int threads = 0;
  // Most pixels decode_rows renders, and most the container may declare natively (its payload grows
  // with the native size): kLimit beyond. 0: only the format's own limit (2^28). The internal default
  // is 0 because encode_image decodes its own candidates; the CLI (--max-pixels) and the public API
  // (msinr::DecodeOptions, msinr_decode_options) default to kDefaultMaxDecodePixels.
  std::uint64_t max_pixels = 0;
};

// Rows per strip decode_rows renders at once, and columns per evaluation: memory while decoding is
// O(output width x kDecodeStripRows) plus the payload, whatever the tile layout or output size.
// 256 rows: at least every shipped tile size (128, 178), so a native-size decode renders each tile
// row as one grid, exactly as before strips existed (w0-200 models are sensitive to the float
// recipe of the coordinates; tests/golden checks it).
inline constexpr int kDecodeStripRows = 256;
inline constexpr int kDecodeChunkCols = 1024;

struct ContainerInfo {
  format::ContainerHeader header;
  std::size_t file_bytes = 0;
  double bpp = 0.0;  // file bytes * 8 / (width * height)
};

ContainerInfo read_info(const std::vector<std::uint8_t>& bytes, const std::string& name);

// Output size for these options on an image of width x height (validated against the limits).
void output_size(const DecodeOptions& options, int width, int height, int& out_width, int& out_height);

// Renders row by row: `row` receives each output row (out_width * 3 bytes) in order. Every header
// count (tile size, level, values per tile, quantizer groups) is checked against the model before
// the payload is decompressed, and the payload is then read with limits tightened to the model's
// counts; rendering goes in strips of at most kDecodeStripRows rows, so memory stays bounded by the
// payload plus O(out_width x kDecodeStripRows). Refuses a file made with another model.
// `size`, when given, is told the output size once: after every check and the payload's read, before
// the first row (so a caller needs no second look at the header).
void decode_rows(const std::vector<std::uint8_t>& bytes, const std::string& name, const Model& model,
                 const DecodeOptions& options, const std::function<void(int y, const std::uint8_t* rgb)>& row,
                 const std::function<void(int out_width, int out_height)>& size = {});
Image decode_image(const std::vector<std::uint8_t>& bytes, const std::string& name, const Model& model,
                   const DecodeOptions& options = {});

}  // namespace msinr::codec
