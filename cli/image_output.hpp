#pragma once
// Image outputs of the command line (decode, fit): the format is chosen by the name's extension -
// .png (PNG), .ppm (PPM, P6; P5 with --grey), .pgm (PGM, P5, always grey), .jpg/.jpeg (JPEG) - and
// "-" is standard output, which gets PNG. Rows stream to disk for PNG and PNM, so memory stays at
// what the decoder holds; JPEG gathers the image first. Files are written atomically
// (format::AtomicFile), so an interrupted or failed write leaves nothing behind.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "codec/image.hpp"

namespace msinr::cli {

enum class ImageKind { kPng, kPnm, kJpeg };

// kInvalidArgument naming the accepted extensions when `path` has none of them.
ImageKind image_kind_for(const std::string& path);
// True for .pgm: the format itself is greyscale.
bool extension_is_grey(const std::string& path);

// BT.601 luma, as libjpeg computes it: (299 R + 587 G + 114 B + 500) / 1000.
void rgb_to_grey(const std::uint8_t* rgb, std::uint8_t* grey, std::size_t pixels);

class ImageWriter {
 public:
  // channels: 1 (grey) or 3 (RGB).
  ImageWriter(const std::string& path, int width, int height, int channels, int jpeg_quality = 95);
  ~ImageWriter();
  ImageWriter(const ImageWriter&) = delete;
  ImageWriter& operator=(const ImageWriter&) = delete;
  void write_row(const std::uint8_t* row);  // width * channels bytes
  void finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A whole image (1 or 3 channels) to `path` by its extension, as ImageWriter.
void write_image_by_extension(const codec::Image& image, const std::string& path, int jpeg_quality = 95);

}  // namespace msinr::cli
