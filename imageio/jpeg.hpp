#pragma once
// JPEG (libjpeg-turbo): decoding to 8-bit RGB and baseline encoding. The policy and limits are
// image_io.hpp's (docs/image-io.md).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "codec/image.hpp"
#include "imageio/limits.hpp"

namespace msinr::codec {

// Decoder with no sniffing beyond its own signature check.
Image decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors = "<memory>",
                  std::uint64_t max_pixels = kDefaultMaxImagePixels);
inline Image decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& name_for_errors = "<memory>") {
  return decode_jpeg(bytes.data(), bytes.size(), name_for_errors);
}

// JPEG: baseline sequential, quality 1..100 (libjpeg's standard tables scaled by jpeg_set_quality),
// optimised Huffman tables, islow DCT, JFIF header only (no EXIF/ICC). 1 channel -> grayscale JPEG;
// 3 channels -> YCbCr, chroma 2x2 subsampled (4:2:0) when subsample_420, else 4:4:4. Channels 2 and 4
// are refused (kInvalidArgument): JPEG has no alpha; call to_rgb() first. The bytes are exactly what
// write_jpeg writes, so bpp can be measured from encode_jpeg(...).size().
std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality, bool subsample_420 = true);
void write_jpeg(const Image& image, const std::string& path, int quality, bool subsample_420 = true);

}  // namespace msinr::codec
