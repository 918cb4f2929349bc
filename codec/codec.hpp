#pragma once
// The codec proper: image -> .msinr bytes (fit every tile from a level's sparse init) and back
// (render the fitted networks on any pixel grid).
#include <cstdint>
#include <functional>
#include <span>
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

// The public settings (msinr/encode_options.hpp: level, rate targets, steps and their rate and pixel
// subsets, payload, quantization and refit, threads, device, progress and search callbacks, checked
// by check_encode_options) and the one switch only the tests use.
struct EncodeOptions : msinr::EncodeOptions {
  TileFitting tile_fitting = TileFitting::kAuto;
};

// Throws Error(kInvalidArgument) naming the first field out of range. The one check of the encode
// settings: encode_image runs it, and msinr::Encoder runs it when it is made.
void check_encode_options(const msinr::EncodeOptions& options);

// Whether an encode with these settings gives each tile its own level: kAdaptive, or kAuto with the
// quantized payload at a fixed level (a rate or quality target searches one level per image).
bool per_tile_levels(const msinr::EncodeOptions& options);

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

// `name` says which input in error messages (a file name, "(stdin)", "<memory>").
ContainerInfo read_info(std::span<const std::uint8_t> bytes, const std::string& name);

// Output size for these options on an image of width x height (validated against the limits).
void output_size(const DecodeOptions& options, int width, int height, int& out_width, int& out_height);

// Renders row by row: `row` receives each output row (out_width * 3 bytes) in order, always on the
// calling thread. Every header count (tile size, level, values per tile, quantizer groups) is
// checked against the model before the payload is decompressed, and the payload is then read with
// limits tightened to the model's counts. Rendering goes in strips of at most kDecodeStripRows
// rows; with options.threads > 1 each thread renders whole tiles, a few strips ahead of the rows
// handed out, and a quantized payload is range-decoded tile by tile as rendering needs it (a
// fp16 payload is decompressed whole first, as before). Memory stays O(threads x out_width x
// kDecodeStripRows) plus a few tile rows of values (fp16: plus the payload). The pixels do not
// depend on the thread count. Refuses a file made with another model.
// `size`, when given, is told the output size once: after every check of the file's framing, sizes
// and both CRC-32Cs (and for fp16 its values), before the first row (so a caller needs no second
// look at the header). A quantized stream that is damaged behind valid checksums (a crafted file,
// or a writer's bug) is only noticed by the range decoder, so its kCorrupt can come after some rows.
void decode_rows(std::span<const std::uint8_t> bytes, const std::string& name, const Model& model,
                 const DecodeOptions& options, const std::function<void(int y, const std::uint8_t* rgb)>& row,
                 const std::function<void(int out_width, int out_height)>& size = {});
Image decode_image(std::span<const std::uint8_t> bytes, const std::string& name, const Model& model,
                   const DecodeOptions& options = {});

}  // namespace msinr::codec
