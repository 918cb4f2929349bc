// Sniffing and reading any supported image, the one list of image file names, and whole-file helpers.
#include "imageio/image_io.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>

#include "format/file_io.hpp"
#include "imageio/detail/common.hpp"
#include "msinr/error.hpp"

namespace msinr::codec {
using namespace detail;
namespace {

// Names formats we recognise but do not read, or nullptr.
const char* other_format_name(const std::uint8_t* d, std::size_t n) {
  auto has = [&](std::size_t off, const char* s) {
    const std::size_t len = std::strlen(s);
    return n >= off + len && std::memcmp(d + off, s, len) == 0;
  };
  if (has(0, "GIF87a") || has(0, "GIF89a")) return "GIF";
  if (has(0, "BM")) return "BMP";
  if (has(0, "RIFF") && has(8, "WEBP")) return "WebP";
  if (has(0, "II*") || has(0, "MM")) {
    if (n >= 4 && ((d[0] == 'I' && d[2] == 42 && d[3] == 0) || (d[0] == 'M' && d[2] == 0 && d[3] == 42)))
      return "TIFF";
  }
  if (n >= 3 && d[0] == 'P' && d[1] >= '1' && d[1] <= '7' &&
      (d[2] == '\n' || d[2] == '\r' || d[2] == ' ' || d[2] == '\t'))
    return "PNM";
  if (has(0, "qoif")) return "QOI";
  static const std::uint8_t jp2[12] = {0, 0, 0, 0x0C, 'j', 'P', ' ', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  static const std::uint8_t j2k[4] = {0xFF, 0x4F, 0xFF, 0x51};
  static const std::uint8_t jxl_box[12] = {0, 0, 0, 0x0C, 'J', 'X', 'L', ' ', 0x0D, 0x0A, 0x87, 0x0A};
  if (starts_with(d, n, jp2, 12) || starts_with(d, n, j2k, 4)) return "JPEG 2000";
  if (starts_with(d, n, jxl_box, 12) || (n >= 2 && d[0] == 0xFF && d[1] == 0x0A)) return "JPEG XL";
  if (has(4, "ftyp")) return "HEIF/AVIF (ISO media)";
  return nullptr;
}

}  // namespace

ImageFormat sniff_format(const std::uint8_t* data, std::size_t size) {
  if (starts_with(data, size, kPngSig, sizeof kPngSig)) return ImageFormat::kPng;
  if (starts_with(data, size, kJpegSig, sizeof kJpegSig)) return ImageFormat::kJpeg;
  return ImageFormat::kNone;
}

Image read_image_from_memory(const std::uint8_t* data, std::size_t size, const std::string& name, std::uint64_t max_pixels) {
  if (size == 0) throw Error(ErrorCode::kCorrupt, name + ": empty file");
  switch (sniff_format(data, size)) {
    case ImageFormat::kPng: return decode_png(data, size, name, max_pixels);
    case ImageFormat::kJpeg: return decode_jpeg(data, size, name, max_pixels);
    case ImageFormat::kNone: break;
  }
  if (proper_prefix_of(data, size, kPngSig, sizeof kPngSig))
    throw Error(ErrorCode::kCorrupt, name + ": truncated PNG data (" + std::to_string(size) + " bytes)");
  if (proper_prefix_of(data, size, kJpegSig, sizeof kJpegSig))
    throw Error(ErrorCode::kCorrupt, name + ": truncated JPEG data (" + std::to_string(size) + " bytes)");
  if (const char* other = other_format_name(data, size)) {
    throw Error(ErrorCode::kUnsupported,
                name + ": " + other + " images are not supported (only PNG and JPEG are read)");
  }
  throw Error(ErrorCode::kUnsupported, name + ": unrecognised image format (not PNG or JPEG)");
}

Image read_image(const std::string& path, std::uint64_t max_pixels) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  return read_image_from_memory(bytes.data(), bytes.size(), path, max_pixels);
}

bool is_image_file_name(const std::filesystem::path& path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(kImageFileExtensions.begin(), kImageFileExtensions.end(), ext) != kImageFileExtensions.end();
}

// Files go through format/'s implementation (one place for temp-file-and-rename); its errors are
// msinr::Errors already (format::FormatError).
std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes) {
  return format::read_file(path, max_bytes);
}

void write_file_atomic(const std::string& path, const std::uint8_t* data, std::size_t size) {
  format::write_file_atomic(path, std::span<const std::uint8_t>(data, size));
}

}  // namespace msinr::codec
