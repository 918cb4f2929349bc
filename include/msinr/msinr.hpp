#pragma once
// msinr's public C++ API. Two tiers:
//   one call:  msinr::encode(image) -> bytes, msinr::decode(bytes, w, h) -> image, msinr::read_info(bytes)
//   advanced:  msinr::Model (load from file/memory, or the built-in one), msinr::Encoder and
//              msinr::Decoder with options, a progress callback and cancellation.
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

// A trained model: an architecture, a tile size and sparsity levels. Immutable; copies share it.
class MSINR_API Model {
 public:
  // The model compiled into the library (parsed once). Throws kUnsupported when the build has none.
  static Model builtin();
  // A .msm file. Throws kIo, kCorrupt, kUnsupported, kLimit.
  static Model load(const std::string& path);
  // A .msm file's bytes (copied; the caller keeps ownership of `data`). Same errors as load().
  static Model from_memory(const std::uint8_t* data, std::size_t size);

  std::string id() const;        // content hash (hex) that .msinr files cite
  int tile_size() const;         // pixels per tile side
  std::vector<int> levels() const;  // the level indices (pruning rounds) it holds, densest first
  int default_level() const;     // the level encode uses when none is asked for

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
};

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

}  // namespace msinr
