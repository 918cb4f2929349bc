#pragma once
// PNG and JPEG reading and writing (libpng, libjpeg-turbo). Policy, limits and error codes are
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
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "codec/image.hpp"

namespace msinr::codec {

inline constexpr std::size_t kMaxImageFileBytes = std::size_t{1} << 31;  // 2 GiB
// Default bound on a read image's pixels, checked from the PNG IHDR / JPEG SOF before any pixel
// memory is allocated (kLimit beyond): a 32 KB PNG cannot declare 16384x16384 and cost gigabytes.
// Callers raise it with the max_pixels argument (the CLI's encode --max-pixels); it is never more
// than the format limit of 2^28. 0 means that format limit.
inline constexpr std::uint64_t kDefaultMaxImagePixels = std::uint64_t{1} << 27;

// kPng or kJpeg from the magic bytes, kNone for anything else.
ImageFormat sniff_format(const std::uint8_t* data, std::size_t size);

// Reads a PNG or JPEG file (sniffed) into 8-bit RGB.
Image read_image(const std::string& path, std::uint64_t max_pixels = kDefaultMaxImagePixels);
Image read_image_from_memory(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors,
                             std::uint64_t max_pixels = kDefaultMaxImagePixels);

// Format-specific decoders (no sniffing beyond their own signature check).
Image decode_png(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors = "<memory>",
                 std::uint64_t max_pixels = kDefaultMaxImagePixels);
Image decode_jpeg(const std::uint8_t* data, std::size_t size, const std::string& name_for_errors = "<memory>",
                  std::uint64_t max_pixels = kDefaultMaxImagePixels);
inline Image decode_jpeg(const std::vector<std::uint8_t>& bytes, const std::string& name_for_errors = "<memory>") {
  return decode_jpeg(bytes.data(), bytes.size(), name_for_errors);
}

// PNG: 8 bits per sample; 1, 2, 3, 4 channels become gray, gray+alpha, RGB, RGBA; non-interlaced,
// zlib's default level, libpng's adaptive filters, no ancillary chunks.
std::vector<std::uint8_t> encode_png(const Image& image);
void write_png(const Image& image, const std::string& path);

// JPEG: baseline sequential, quality 1..100 (libjpeg's standard tables scaled by jpeg_set_quality),
// optimised Huffman tables, islow DCT, JFIF header only (no EXIF/ICC). 1 channel -> grayscale JPEG;
// 3 channels -> YCbCr, chroma 2x2 subsampled (4:2:0) when subsample_420, else 4:4:4. Channels 2 and 4
// are refused (kInvalidArgument): JPEG has no alpha; call to_rgb() first. The bytes are exactly what
// write_jpeg writes, so bpp can be measured from encode_jpeg(...).size().
std::vector<std::uint8_t> encode_jpeg(const Image& image, int quality, bool subsample_420 = true);
void write_jpeg(const Image& image, const std::string& path, int quality, bool subsample_420 = true);

// Whole-file helpers used above, exposed for the CLI and the rate-distortion tool.
// read_file: kIo when the file cannot be opened or read (or is a directory), kLimit past max_bytes.
std::vector<std::uint8_t> read_file(const std::string& path, std::size_t max_bytes = kMaxImageFileBytes);
// write_file_atomic: format::write_file_atomic (temp file "<dir>/.<name>.tmp.<pid>.<n>" fsync()ed and
// renamed over path; the rules of format::AtomicFile) with its errors as msinr::Error. kIo on failure.
void write_file_atomic(const std::string& path, const std::uint8_t* data, std::size_t size);

// Netpbm: 1 channel -> P5 (PGM), 3 channels -> P6 (PPM), maxval 255, binary; other channel counts
// are refused (kInvalidArgument). The header is "P6\n<width> <height>\n255\n".
std::string pnm_header(int width, int height, int channels);
std::vector<std::uint8_t> encode_pnm(const Image& image);
void write_pnm(const Image& image, const std::string& path);

// Writes an 8-bit PNG row by row straight to disk, so a large output never sits in memory whole
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
