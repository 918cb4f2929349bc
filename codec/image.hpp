#pragma once
// The codec's in-memory image: interleaved, row-major, 8 bits per sample, plus the few pixel
// helpers the encoder, decoder and rate-distortion tools share. See docs/image-io.md.
//
// Channel policy: the codec stores colour only. Readers (image_io.hpp) always return 3-channel RGB:
// gray expands to R = G = B, alpha (an alpha channel or a tRNS chunk) is discarded, not composited.
// What the file held is kept in Image::source so the CLI can warn. Other code may build images with
// 1..4 channels (write_png accepts them all).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace msinr::codec {

// Dimension limits, checked by the readers before any pixel buffer is allocated (ErrorCode::kLimit)
// and by every function that takes an Image.
inline constexpr int kMaxImageSide = 32768;                       // width and height, each
inline constexpr std::int64_t kMaxImagePixels = std::int64_t{1} << 28;  // width * height

enum class ImageFormat { kNone, kPng, kJpeg };

// What a reader found in the file, before the channel policy was applied. Images made in memory
// (or derived by the helpers below) leave this default.
struct ImageSource {
  ImageFormat format = ImageFormat::kNone;
  int channels = 0;    // 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA (palette: 3, or 4 with tRNS; tRNS counts as alpha)
  int bit_depth = 0;   // bits per sample in the file: 1, 2, 4, 8 or 16 (palette: bits per index)
  std::string warnings;  // decoder warnings that were not errors, "; "-separated (silenced, not printed)
  bool had_alpha() const { return channels == 2 || channels == 4; }
};

struct Image {
  int width = 0;
  int height = 0;
  int channels = 0;             // 1..4
  std::vector<std::uint8_t> pixels;  // width * height * channels bytes, (y * width + x) * channels + c
  ImageSource source;
};

// True when 1 <= w, h <= kMaxImageSide and w * h <= kMaxImagePixels.
bool dimensions_within_limits(std::int64_t width, std::int64_t height);

// A zero-filled image; kInvalidArgument for channels outside 1..4 or sides < 1, kLimit past the limits.
Image make_image(int width, int height, int channels);

// Throws kInvalidArgument (naming `what`) unless the image is well formed: sides >= 1, channels 1..4,
// pixels.size() == width * height * channels; kLimit when it is beyond the dimension limits.
void validate_image(const Image& image, const std::string& what);

// Applies the channel policy: 1 -> R=G=B, 2 -> R=G=B (alpha dropped), 3 -> copy, 4 -> RGB (alpha dropped).
Image to_rgb(const Image& image);

// width * height * 3 floats, value / 255, in [0, 1], interleaved RGB (channel policy as to_rgb).
std::vector<float> to_float_rgb(const Image& image);

// One sample of the inverse: lround(clamp(v, 0, 1) * 255), NaN to 0. Written without lround (a
// libm call per sample, a visible share of a decode): x in [0, 255] is non-negative, so rounding half
// away from zero is its integer part plus one when the fraction, exact in float, is at least 1/2.
inline std::uint8_t to_8bit(float v) {
  const float c = v >= 0.0f ? (v <= 1.0f ? v : 1.0f) : 0.0f;  // NaN fails both tests: 0
  const float x = c * 255.0f;
  const int i = static_cast<int>(x);
  return static_cast<std::uint8_t>(i + (x - static_cast<float>(i) >= 0.5f ? 1 : 0));
}

// The inverse: to_8bit per sample. rgb holds width*height*3 floats.
Image from_float_rgb(const float* rgb, int width, int height);

// The size x size square centred in the image, its top-left corner at ((w - size) / 2, (h - size) / 2)
// rounded down. kInvalidArgument when size < 1 or size > min(width, height).
// (The largest centred square is center_crop(img, std::min(img.width, img.height)).)
Image center_crop(const Image& image, int size);

// Bilinear resampling with the codec's own grid convention ("align corners"): output pixel i of N
// samples the input at i * (M - 1) / (N - 1) (0 when N == 1), the same linspace(-1, 1, N) rule the
// decoder uses for coordinates, so corner pixels map to corner pixels. Values are rounded to nearest.
// No low-pass filter: a strong downscale aliases (it is meant to compare decodes at other scales).
Image resize_bilinear(const Image& image, int width, int height);

}  // namespace msinr::codec
