#pragma once
// PNG (libpng): decoding to 8-bit RGB, encoding from 1..4 channels, and a row-by-row writer.
// The policy and limits are image_io.hpp's (docs/image-io.md).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "codec/image.hpp"
#include "imageio/limits.hpp"

namespace msinr::codec {

// Decoder with no sniffing beyond its own signature check.
Image decode_png(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors = "<memory>",
                 std::uint64_t max_pixels = kDefaultMaxImagePixels);

// PNG: 8 bits per sample; 1, 2, 3, 4 channels become gray, gray+alpha, RGB, RGBA; non-interlaced,
// zlib's default level, libpng's adaptive filters, no ancillary chunks.
std::vector<std::uint8_t> encode_png(const Image& image);
void write_png(const Image& image, const std::string& path);

// Writes an 8-bit PNG row by row straight to disk (deflate's run-length strategy after the adaptive
// filters: it writes decoded images, where that is several times faster than the default level
// for about the same size), so a large output never sits in memory whole
// (the decoder renders one tile row at a time). The rows go to a temporary file beside `path`
// (format::AtomicFile: symbolic links followed, non-regular destinations refused, the mode of a
// replaced file kept), which finish() renames into place; destroying the writer unfinished removes it.
class PngRowWriter {
 public:
  PngRowWriter(const std::string& path, int width, int height, int channels);
  // Into an open stream (e.g. stdout), flushed by finish(); `name` is used in messages.
  PngRowWriter(std::FILE* stream, const std::string& name, int width, int height, int channels);
  ~PngRowWriter();
  PngRowWriter(const PngRowWriter&) = delete;
  PngRowWriter& operator=(const PngRowWriter&) = delete;
  void write_row(const std::uint8_t* pixels);  // width * channels bytes
  void finish();                               // after exactly `height` rows

 private:
  PngRowWriter(const std::string& path, std::FILE* stream, int width, int height, int channels);
  struct State;
  void cleanup() noexcept;
  State* state_;
};

}  // namespace msinr::codec
