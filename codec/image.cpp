#include "codec/image.hpp"

#include <algorithm>
#include <cmath>

#include "msinr/error.hpp"

namespace msinr::codec {

bool dimensions_within_limits(std::int64_t width, std::int64_t height) {
  return width >= 1 && height >= 1 && width <= kMaxImageSide && height <= kMaxImageSide &&
         width * height <= kMaxImagePixels;
}

namespace {

void check_dimensions(std::int64_t width, std::int64_t height, int channels, const std::string& what) {
  if (width < 1 || height < 1) {
    throw Error(ErrorCode::kInvalidArgument,
                what + ": image size " + std::to_string(width) + "x" + std::to_string(height) + " is empty");
  }
  if (channels < 1 || channels > 4) {
    throw Error(ErrorCode::kInvalidArgument,
                what + ": " + std::to_string(channels) + " channels (1..4 are supported)");
  }
  if (!dimensions_within_limits(width, height)) {
    throw Error(ErrorCode::kLimit, what + ": image size " + std::to_string(width) + "x" +
                                       std::to_string(height) + " exceeds the limits (each side <= " +
                                       std::to_string(kMaxImageSide) + ", at most 2^28 pixels)");
  }
}

}  // namespace

Image make_image(int width, int height, int channels) {
  check_dimensions(width, height, channels, "make_image");
  Image img;
  img.width = width;
  img.height = height;
  img.channels = channels;
  img.pixels.assign(static_cast<std::size_t>(width) * height * channels, 0);
  return img;
}

void validate_image(const Image& image, const std::string& what) {
  check_dimensions(image.width, image.height, image.channels, what);
  const std::size_t expected = static_cast<std::size_t>(image.width) * image.height * image.channels;
  if (image.pixels.size() != expected) {
    throw Error(ErrorCode::kInvalidArgument,
                what + ": pixel buffer holds " + std::to_string(image.pixels.size()) + " bytes, " +
                    std::to_string(image.width) + "x" + std::to_string(image.height) + "x" +
                    std::to_string(image.channels) + " needs " + std::to_string(expected));
  }
}

Image to_rgb(const Image& image) {
  validate_image(image, "to_rgb");
  if (image.channels == 3) {
    Image out = image;
    out.source = {};
    return out;
  }
  Image out = make_image(image.width, image.height, 3);
  const std::size_t n = static_cast<std::size_t>(image.width) * image.height;
  const int c = image.channels;
  const std::uint8_t* src = image.pixels.data();
  std::uint8_t* dst = out.pixels.data();
  for (std::size_t i = 0; i < n; ++i) {
    if (c <= 2) {
      dst[3 * i] = dst[3 * i + 1] = dst[3 * i + 2] = src[i * c];
    } else {
      dst[3 * i] = src[i * c];
      dst[3 * i + 1] = src[i * c + 1];
      dst[3 * i + 2] = src[i * c + 2];
    }
  }
  return out;
}

std::vector<float> to_float_rgb(const Image& image) {
  validate_image(image, "to_float_rgb");
  const std::size_t n = static_cast<std::size_t>(image.width) * image.height;
  const int c = image.channels;
  std::vector<float> out(n * 3);
  for (std::size_t i = 0; i < n; ++i) {
    for (int k = 0; k < 3; ++k) {
      const std::uint8_t v = image.pixels[i * c + (c <= 2 ? 0 : k)];  // the to_rgb policy
      out[3 * i + k] = static_cast<float>(v) / 255.0f;
    }
  }
  return out;
}

Image from_float_rgb(const float* rgb, int width, int height) {
  Image out = make_image(width, height, 3);
  for (std::size_t i = 0; i < out.pixels.size(); ++i) out.pixels[i] = to_8bit(rgb[i]);
  return out;
}

Image center_crop(const Image& image, int size) {
  validate_image(image, "center_crop");
  if (size < 1 || size > std::min(image.width, image.height)) {
    throw Error(ErrorCode::kInvalidArgument,
                "center_crop: cannot take a " + std::to_string(size) + "x" + std::to_string(size) +
                    " square from a " + std::to_string(image.width) + "x" + std::to_string(image.height) +
                    " image");
  }
  Image out = make_image(size, size, image.channels);
  const int x0 = (image.width - size) / 2;
  const int y0 = (image.height - size) / 2;
  const std::size_t row = static_cast<std::size_t>(size) * image.channels;
  for (int y = 0; y < size; ++y) {
    const std::uint8_t* src =
        image.pixels.data() + (static_cast<std::size_t>(y0 + y) * image.width + x0) * image.channels;
    std::copy(src, src + row, out.pixels.data() + static_cast<std::size_t>(y) * row);
  }
  return out;
}

Image resize_bilinear(const Image& image, int width, int height) {
  validate_image(image, "resize_bilinear");
  check_dimensions(width, height, image.channels, "resize_bilinear");
  Image out = make_image(width, height, image.channels);
  const int c = image.channels;
  // Source coordinate of output index i for an axis of `in` -> `out` samples (align corners).
  auto coord = [](int i, int in, int out_n) {
    return out_n == 1 ? 0.0 : static_cast<double>(i) * (in - 1) / (out_n - 1);
  };
  for (int y = 0; y < height; ++y) {
    const double sy = coord(y, image.height, height);
    const int y0 = std::min(static_cast<int>(sy), image.height - 1);
    const int y1 = std::min(y0 + 1, image.height - 1);
    const double fy = sy - y0;
    for (int x = 0; x < width; ++x) {
      const double sx = coord(x, image.width, width);
      const int x0 = std::min(static_cast<int>(sx), image.width - 1);
      const int x1 = std::min(x0 + 1, image.width - 1);
      const double fx = sx - x0;
      const std::uint8_t* p00 = &image.pixels[(static_cast<std::size_t>(y0) * image.width + x0) * c];
      const std::uint8_t* p01 = &image.pixels[(static_cast<std::size_t>(y0) * image.width + x1) * c];
      const std::uint8_t* p10 = &image.pixels[(static_cast<std::size_t>(y1) * image.width + x0) * c];
      const std::uint8_t* p11 = &image.pixels[(static_cast<std::size_t>(y1) * image.width + x1) * c];
      std::uint8_t* dst = &out.pixels[(static_cast<std::size_t>(y) * width + x) * c];
      for (int k = 0; k < c; ++k) {
        const double top = p00[k] + (p01[k] - p00[k]) * fx;
        const double bottom = p10[k] + (p11[k] - p10[k]) * fx;
        const double v = top + (bottom - top) * fy;
        dst[k] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
    }
  }
  return out;
}

}  // namespace msinr::codec
