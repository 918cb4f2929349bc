#pragma once
// msinr's public C++ API. Two tiers:
//   one call:  msinr::encode(image) -> bytes, msinr::decode(bytes, w, h) -> image, msinr::read_info(bytes)
//   advanced:  msinr::Model (load from file/memory, or the built-in one), msinr::Encoder and
//              msinr::Decoder with options, a progress callback and cancellation, row-by-row decode.
// The msinr command line's encode, decode and info run on this API.
// Errors: every function throws msinr::Error (msinr/error.hpp) with an ErrorCode on bad input or
// failure; nothing aborts. Images are 8-bit, interleaved, row-major.
// Threads: every function may be called from many threads at once. A Model is immutable and may be
// shared by any number of threads; use one Encoder / Decoder per thread (they hold no locks).
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "msinr/encode_options.hpp"  // Device, EncodeOptions
#include "msinr/error.hpp"
#include "msinr/export.h"
#include "msinr/version.h"

namespace msinr {

// The library's version at run time, e.g. "0.1.0" (compare with MSINR_VERSION_STRING).
MSINR_API const char* version() noexcept;

// An 8-bit image: width * height * channels bytes, (y * width + x) * channels + c.
// channels is 1..4 on input (gray and alpha are converted: gray -> R=G=B, alpha dropped);
// every decode returns 3 (RGB).
struct Image {
  int width = 0;
  int height = 0;
  int channels = 3;
  std::vector<std::uint8_t> pixels;
};

// PNG or JPEG file -> RGB image. Throws kIo (unreadable), kCorrupt, kUnsupported, kLimit.
MSINR_API Image read_image(const std::string& path);
// Writes a PNG atomically. Throws kInvalidArgument (malformed image), kIo.
MSINR_API void write_png(const Image& image, const std::string& path);
// Whole file -> bytes. Throws kIo, kLimit (files over 1 GiB).
MSINR_API std::vector<std::uint8_t> read_file(const std::string& path);
// bytes -> file, written to a temporary and renamed. Throws kIo.
MSINR_API void write_file(const std::string& path, const std::vector<std::uint8_t>& bytes);

// PSNR in dB of `b` against `a` over 8-bit RGB (both converted to RGB; sizes must match, else
// kInvalidArgument). Infinity for identical images.
MSINR_API double psnr(const Image& a, const Image& b);
// SSIM of `b` against `a` over 8-bit RGB (both converted to RGB): 11x11 Gaussian window (sigma 1.5),
// the valid region only, the mean over the channels (docs/image-io.md, "Metrics"; it equals
// skimage's structural_similarity with gaussian_weights). kInvalidArgument when the sizes differ or
// a side is under 11 pixels. 1 for identical images.
MSINR_API double ssim(const Image& a, const Image& b);

// What `msinr info` says about a model (Model::info()).
struct ModelInfo {
  std::string id;            // as Model::id()
  std::string architecture;  // e.g. "SIREN 2-256x4-3, w0 200"
  std::string network;       // "siren", or "ffn" (Fourier features, then ReLU layers)
  int width = 0;             // units per hidden layer
  int layers = 0;            // hidden layers
  double w0 = 0.0;           // a SIREN's first-layer frequency factor
  double w0_hidden = 0.0;    // and its later layers'
  int tile_size = 0;
  int default_level = 0;
  bool frozen_biases = false;  // tiles keep the model's biases and transmit weights only
  struct Level {
    int index = 0;                    // the level's index (its pruning round), as EncodeOptions::level takes
    std::size_t weights = 0;          // weights it keeps
    double density = 0.0;             // weights kept / all weights
    std::size_t values_per_tile = 0;  // values each tile of a file stores: the kept weights, and every bias unless frozen
    double val_psnr = 0.0;            // validation PSNR measured when the model was trained; 0: not measured
    double lr = 0.0;                  // the encoder's Adam rate for the level when EncodeOptions::lr is 0
  };
  std::vector<Level> levels;  // in the model's order (Model::levels())
  std::string data;           // provenance: what it was trained on
  std::string recipe;         //   and how
  double wall_seconds = 0.0;  //   and how long training took
};

// A trained model: an architecture, a tile size and sparsity levels. Immutable; copies share it.
class MSINR_API Model {
 public:
  // The model compiled into the library (parsed once). Throws kUnsupported when the build has none.
  static Model builtin();
  // A .msm file. Throws kIo, kCorrupt, kUnsupported, kLimit.
  static Model load(const std::string& path);
  // A .msm file's bytes (copied; the caller keeps ownership of `data`). Same errors as load().
  static Model from_memory(const std::uint8_t* data, std::size_t size);
  // The same, with errors naming `name` (the file the bytes came from) instead of "<memory>".
  static Model from_memory(const std::uint8_t* data, std::size_t size, const std::string& name);

  std::string id() const;        // content hash (hex) that .msinr files cite
  int tile_size() const;         // pixels per tile side
  std::vector<int> levels() const;  // the level indices (pruning rounds) it holds, densest first
  int default_level() const;     // the level encode uses when none is asked for
  // The level for a cjpeg-like quality 0..100 (kInvalidArgument outside): 100 the densest level, 0
  // the sparsest, evenly spaced in the levels' measured validation PSNR when every level has one,
  // else evenly over the levels by size.
  int level_for_quality(int quality) const;
  ModelInfo info() const;

  struct Impl;
  explicit Model(std::shared_ptr<const Impl> impl);
  const Impl& impl() const { return *impl_; }

 private:
  std::shared_ptr<const Impl> impl_;
};

struct EncodeResult {
  std::vector<std::uint8_t> bytes;  // the complete .msinr file (owned by the caller)
  int level = 0;                    // level used
  double bpp = 0.0;                 // bytes * 8 / pixels
  double seconds = 0.0;             // fitting time
  float lr = 0.0f;                  // the Adam learning rate used
  std::string device;               // what did the fitting ("cpu", "cuda")
  double psnr = 0.0;                // 8-bit PSNR of the decoded image (0 for fp16: not measured)
  bool target_met = true;           // false: target_bpp / target_psnr could not be reached (closest file returned)
  double fit_psnr = 0.0;            // 8-bit PSNR of the float fit, before fp16 rounding or quantization
  std::string payload;              // "quantized" or "fp16" (EncodeOptions::bits 0 / 16)
  std::size_t tiles = 0;            // tiles the image was cut into
  std::size_t values_per_tile = 0;  // values each tile stores
};

struct DecodeOptions {
  int width = 0, height = 0;  // output size; 0 keeps the aspect ratio of the other (both 0: native or scale)
  double scale = 0.0;         // > 0: both sides times this
  int threads = 0;            // 0: all cores
  // Most pixels decoded, output and the file's native size alike (a 2 KB file cannot ask for a
  // 16384x16384 render): Error(kLimit) beyond. 0: only the format's limit (2^28 pixels).
  std::uint64_t max_pixels = std::uint64_t{1} << 27;
};

// What a .msinr file says about itself (only the header is checked; no model needed).
struct Info {
  int width = 0, height = 0;  // native size
  int level = 0;
  int tile_size = 0;
  int steps = 0;
  std::string model_id;       // hex; must match the decoding Model's id()
  std::size_t file_bytes = 0;
  double bpp = 0.0;
  int tiles = 0;              // tiles the image was cut into: tiles_across x tiles_down
  int tiles_across = 0, tiles_down = 0;
  bool merged_edges = false;  // a thin edge joined its neighbouring tile (container version 4)
  int values_per_tile = 0;    // values each tile stores (with per-tile levels: the most a tile stores)
  std::string payload;        // "quantized" or "fp16"
  // Per-tile levels (container version 3, --tile-levels adaptive): the levels the tiles were fitted
  // from around `level` (each tile's own is in the payload). Empty: every tile at `level`.
  std::vector<int> tile_levels;
};

// The size decode renders an image of width x height at (an Info's width and height) under
// `options`: both sides 0 and no scale, the native size; scale > 0, both sides times it; one side
// given, the other keeps the aspect ratio; each rounded to the nearest pixel, at least 1.
// kInvalidArgument for sides < 1, negative or non-finite options, or a scale with a size; kLimit
// beyond 32768 per side or 2^28 pixels. options.max_pixels is not applied here (decode applies it).
struct OutputSize {
  int width = 0, height = 0;
};
MSINR_API OutputSize output_size(int width, int height, const DecodeOptions& options);

// Encodes with one Model and fixed options; reusable. One Encoder per thread.
class MSINR_API Encoder {
 public:
  // Throws kInvalidArgument for options out of range (checked here, not at encode time).
  explicit Encoder(Model model, EncodeOptions options = {});
  // Throws kInvalidArgument / kLimit for a malformed image, kCancelled, kDevice.
  EncodeResult encode(const Image& image) const;

 private:
  Model model_;
  EncodeOptions options_;
};

// Decodes files made with one Model, at any output size. One Decoder per thread.
class MSINR_API Decoder {
 public:
  explicit Decoder(Model model);
  // Throws kCorrupt (bad bytes), kModelMismatch (another model), kLimit / kInvalidArgument (size).
  Image decode(const std::uint8_t* data, std::size_t size, const DecodeOptions& options = {}) const;
  Image decode(const std::vector<std::uint8_t>& bytes, const DecodeOptions& options = {}) const {
    return decode(bytes.data(), bytes.size(), options);
  }
  // Renders row by row, for output that streams (a PNG written as it decodes): `row(y, rgb)` gets
  // each output row, y = 0 .. height - 1 in order, width * 3 bytes valid during the call, always on
  // the calling thread. Memory stays at O(threads x width x 256 rows) plus a few tile rows of the
  // payload, whatever the output size. `on_size(width, height)`, when given, is told the output
  // size once: after every check of the file's framing, sizes and checksums, and before the first
  // row (a coded stream damaged behind valid checksums, which only a crafted file carries, is found
  // while decoding: its kCorrupt may follow some rows). The pixels are decode()'s, on any thread
  // count. Errors as decode(), naming `name` (the input, e.g. its file name); what a callback throws
  // propagates unchanged.
  void decode_rows(const std::uint8_t* data, std::size_t size, const DecodeOptions& options,
                   const std::function<void(int y, const std::uint8_t* rgb)>& row,
                   const std::function<void(int width, int height)>& on_size = {},
                   const std::string& name = "<memory>") const;

 private:
  Model model_;
};

// One-call tier, with the built-in model.
MSINR_API std::vector<std::uint8_t> encode(const Image& image, const EncodeOptions& options = {});
// width/height 0: native size (or keep the aspect ratio when only one is given).
MSINR_API Image decode(const std::uint8_t* data, std::size_t size, int width = 0, int height = 0);
inline Image decode(const std::vector<std::uint8_t>& bytes, int width = 0, int height = 0) {
  return decode(bytes.data(), bytes.size(), width, height);
}
// Throws kCorrupt / kUnsupported for bytes that are not a valid .msinr header.
MSINR_API Info read_info(const std::uint8_t* data, std::size_t size);
// The same, with errors naming `name` (the file the bytes came from) instead of "<memory>".
MSINR_API Info read_info(const std::uint8_t* data, std::size_t size, const std::string& name);

}  // namespace msinr
