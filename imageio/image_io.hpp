#pragma once
// Image I/O: PNG and JPEG reading and writing (libpng, libjpeg-turbo; png.hpp, jpeg.hpp), PNM
// writing (pnm.hpp), one place for each format. Policy, limits and error codes are
// specified in docs/image-io.md; in short:
//  - The format is sniffed from the first bytes, never from the file name. PNG and JPEG are read;
//    GIF, BMP, WebP, TIFF, PNM, QOI, JPEG 2000, JPEG XL, HEIF/AVIF are recognised and refused
//    (kUnsupported); anything else is kUnsupported too ("unrecognised format").
//  - Readers always return 8-bit RGB (Image::channels == 3): gray expands to R = G = B, alpha
//    (including PNG tRNS) is discarded, not composited; 16-bit samples become 8-bit by
//    (v * 255 + 32767) / 65535 (round to nearest). Image::source keeps what the file held.
//    Colour management (gAMA, sRGB, iCCP, Adobe/ICC in JPEG) and EXIF orientation are ignored:
//    samples pass through as stored.
//  - Width and height each in 1..32768 and width * height <= 2^28, checked right after the header
//    and before any pixel allocation (kLimit). Files over kMaxImageFileBytes are refused (kLimit).
//  - Corrupt or truncated data is kCorrupt; nothing aborts or prints. PNG: CRC and Adler-32 are
//    checked and the file must run to IEND. JPEG: libjpeg's data-corruption warnings (premature end,
//    bad Huffman code, ...) are errors; the rest are collected in Image::source.warnings.
//  - Writers validate the image (kInvalidArgument), encode to memory, write a temporary file in the
//    destination's directory and rename() it over the destination; on any failure the temporary is
//    removed and an existing destination is left untouched. I/O failures are kIo. The output rules
//    (symbolic links, non-regular files, modes, long names, signals) are format::AtomicFile's.
// Every error message starts with the file name (or the name given for in-memory data).
#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "codec/image.hpp"
#include "imageio/jpeg.hpp"
#include "imageio/limits.hpp"
#include "imageio/png.hpp"
#include "imageio/pnm.hpp"

namespace msinr::codec {

// kPng or kJpeg from the magic bytes, kNone for anything else.
ImageFormat sniff_format(const std::uint8_t* data, std::size_t size);

// Reads a PNG or JPEG file (sniffed) into 8-bit RGB.
Image read_image(const std::string& path, std::uint64_t max_pixels = kDefaultMaxImagePixels);
Image read_image_from_memory(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors,
                             std::uint64_t max_pixels = kDefaultMaxImagePixels);


// The file names taken as images when a folder is listed (encode DIR, rd, train, eval): the one
// list, lower case; the comparison ignores case. The content is still sniffed when it is read.
inline constexpr std::array<std::string_view, 3> kImageFileExtensions = {".png", ".jpg", ".jpeg"};
bool is_image_file_name(const std::filesystem::path& path);

// Whole-file helpers used above, exposed for the CLI and the rate-distortion tool.
// read_file: kIo when the file cannot be opened or read (or is a directory), kLimit past max_bytes.
std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes = kMaxImageFileBytes);
// write_file_atomic: format::write_file_atomic (temp file "<dir>/.<name>.tmp.<pid>.<n>" fsync()ed and
// renamed over path; the rules of format::AtomicFile) with its errors as msinr::Error. kIo on failure.
void write_file_atomic(const std::string& path, const std::uint8_t* data, std::size_t size);

}  // namespace msinr::codec
