#include "cli/image_output.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include "cli/output.hpp"
#include "imageio/image_io.hpp"
#include "codec/model.hpp"
#include "format/file_io.hpp"
#include "msinr/error.hpp"

namespace msinr::cli {

ImageKind image_kind_for(const std::string& path) {
  if (is_stdio(path)) return ImageKind::kPng;
  const std::string ext = lower_extension(path);
  if (ext == ".png") return ImageKind::kPng;
  if (ext == ".ppm" || ext == ".pgm") return ImageKind::kPnm;
  if (ext == ".jpg" || ext == ".jpeg") return ImageKind::kJpeg;
  throw Error(ErrorCode::kInvalidArgument,
              path + ": the output's extension chooses its format: .png, .ppm, .pgm, .jpg or .jpeg ('-': PNG on standard output)");
}

bool extension_is_grey(const std::string& path) { return lower_extension(path) == ".pgm"; }

void rgb_to_grey(const std::uint8_t* rgb, std::uint8_t* grey, std::size_t pixels) {
  for (std::size_t i = 0; i < pixels; ++i)
    grey[i] = static_cast<std::uint8_t>((299u * rgb[3 * i] + 587u * rgb[3 * i + 1] + 114u * rgb[3 * i + 2] + 500u) / 1000u);
}

struct ImageWriter::Impl {
  std::string path;
  ImageKind kind = ImageKind::kPng;
  int width = 0, height = 0, channels = 3, quality = 95, rows = 0;
  std::optional<codec::PngRowWriter> png;
  std::unique_ptr<format::AtomicFile> file;  // PNM to a file
  codec::Image image;                        // JPEG: gathered, then encoded

  void pnm_write(const void* data, std::size_t size) {
    if (file) file->write(data, size);
    else if (std::fwrite(data, 1, size, stdout) != size)
      throw Error(ErrorCode::kIo, "cannot write to standard output: " + std::string(std::strerror(errno)));
  }
};

ImageWriter::ImageWriter(const std::string& path, int width, int height, int channels, int jpeg_quality)
    : impl_(std::make_unique<Impl>()) {
  Impl& m = *impl_;
  m.path = path;
  m.kind = image_kind_for(path);
  m.width = width;
  m.height = height;
  m.channels = channels;
  m.quality = jpeg_quality;
  if (channels != 1 && channels != 3) throw Error(ErrorCode::kInvalidArgument, path + ": 1 or 3 channels");
  switch (m.kind) {
    case ImageKind::kPng:
      if (is_stdio(path)) m.png.emplace(stdout, std::string("standard output"), width, height, channels);
      else m.png.emplace(path, width, height, channels);
      break;
    case ImageKind::kPnm: {
      if (!codec::dimensions_within_limits(width, height)) throw Error(ErrorCode::kLimit, path + ": image too large");
      if (!is_stdio(path)) m.file = std::make_unique<format::AtomicFile>(path);
      const std::string header = codec::pnm_header(width, height, channels);
      m.pnm_write(header.data(), header.size());
      break;
    }
    case ImageKind::kJpeg:
      m.image = codec::make_image(width, height, channels);
      break;
  }
}

ImageWriter::~ImageWriter() = default;

void ImageWriter::write_row(const std::uint8_t* row) {
  Impl& m = *impl_;
  if (m.rows >= m.height) throw Error(ErrorCode::kInvalidArgument, m.path + ": more rows than the image has");
  const std::size_t bytes = static_cast<std::size_t>(m.width) * m.channels;
  switch (m.kind) {
    case ImageKind::kPng: m.png->write_row(row); break;
    case ImageKind::kPnm: m.pnm_write(row, bytes); break;
    case ImageKind::kJpeg: std::memcpy(&m.image.pixels[static_cast<std::size_t>(m.rows) * bytes], row, bytes); break;
  }
  ++m.rows;
}

void ImageWriter::finish() {
  Impl& m = *impl_;
  if (m.rows != m.height) throw Error(ErrorCode::kInvalidArgument, m.path + ": not every row was written");
  switch (m.kind) {
    case ImageKind::kPng: m.png->finish(); break;
    case ImageKind::kPnm:
      if (m.file) m.file->commit();
      else if (std::fflush(stdout) != 0)
        throw Error(ErrorCode::kIo, "cannot write to standard output: " + std::string(std::strerror(errno)));
      break;
    case ImageKind::kJpeg: codec::write_jpeg(m.image, m.path, m.quality, /*subsample_420=*/false); break;
  }
}

void write_image_by_extension(const codec::Image& rgb_or_grey, const std::string& path, int jpeg_quality) {
  codec::Image grey;
  if (extension_is_grey(path) && rgb_or_grey.channels == 3) {  // .pgm is grey by definition
    grey = codec::make_image(rgb_or_grey.width, rgb_or_grey.height, 1);
    rgb_to_grey(rgb_or_grey.pixels.data(), grey.pixels.data(), grey.pixels.size());
  }
  const codec::Image& image = grey.channels ? grey : rgb_or_grey;
  ImageWriter w(path, image.width, image.height, image.channels, jpeg_quality);
  const std::size_t row = static_cast<std::size_t>(image.width) * image.channels;
  for (int y = 0; y < image.height; ++y) w.write_row(&image.pixels[static_cast<std::size_t>(y) * row]);
  w.finish();
}

}  // namespace msinr::cli
