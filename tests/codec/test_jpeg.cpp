// JPEG encoding and decoding (libjpeg-turbo).
#include <cmath>

#include "imageio/image_io.hpp"
#include "codec/metrics.hpp"
#include "codec_test_util.hpp"

using namespace msinr::codec;
using namespace codec_test;

namespace {

// A smooth colour image: low-frequency sinusoids per channel.
Image smooth_image(int w, int h) {
  return make_pattern(w, h, 3, [](int x, int y, int k) {
    const double v = 128 + 90 * std::sin(0.09 * x + 0.7 * k) * std::cos(0.07 * y - 0.3 * k);
    return static_cast<int>(std::lround(v));
  });
}

// Component 0's sampling-factor byte in the SOF0 segment (0x22 = 2x2, 0x11 = 1x1), -1 if absent.
int luma_sampling(const std::vector<std::uint8_t>& jpg) {
  const std::size_t sof = find_jpeg_marker(jpg, 0xC0);
  if (sof == std::string::npos) return -1;
  return jpg[sof + 11];  // FF C0 len(2) P(1) H(2) W(2) Nf(1) [C1 Hi/Vi ...]
}

}  // namespace

TEST_CASE("codec: JPEG round trip at q=90 4:2:0: size and bytes and quality") {
  TempDir dir;
  const Image img = smooth_image(64, 48);
  const std::vector<std::uint8_t> bytes = encode_jpeg(img, 90);
  REQUIRE(bytes.size() > 4);
  CHECK(bytes[0] == 0xFF);
  CHECK(bytes[1] == 0xD8);
  CHECK(bytes[bytes.size() - 2] == 0xFF);
  CHECK(bytes[bytes.size() - 1] == 0xD9);
  CHECK(luma_sampling(bytes) == 0x22);
  CHECK(encode_jpeg(img, 90) == bytes);  // deterministic

  const Image dec = decode_jpeg(bytes);
  CHECK(dec.width == 64);
  CHECK(dec.height == 48);
  CHECK(dec.channels == 3);
  CHECK(dec.source.format == ImageFormat::kJpeg);
  CHECK(dec.source.channels == 3);
  CHECK(dec.source.warnings.empty());
  const double psnr = psnr_8bit(img, dec);
  INFO("PSNR at q=90: " << psnr);
  CHECK(psnr > 35.0);
  CHECK(psnr < 100.0);  // lossy

  const std::string path = dir.file("out.jpg");
  write_jpeg(img, path, 90);
  CHECK(file_bytes(path) == bytes);  // the file is exactly encode_jpeg's bytes
  CHECK(read_image(path).pixels == dec.pixels);
  CHECK(dir.entries() == std::vector<std::string>{"out.jpg"});
}

TEST_CASE("codec: JPEG quality and subsampling behave monotonically") {
  const Image img = random_image(32, 32, 3, 4);
  const Image smooth = smooth_image(48, 40);
  double last_psnr = 0;
  std::size_t last_size = 0;
  for (int q : {10, 50, 95}) {
    const auto bytes = encode_jpeg(smooth, q);
    const double p = psnr_8bit(smooth, decode_jpeg(bytes));
    CHECK(bytes.size() > last_size);
    CHECK(p > last_psnr);
    last_size = bytes.size();
    last_psnr = p;
  }
  const auto b420 = encode_jpeg(img, 95, true);
  const auto b444 = encode_jpeg(img, 95, false);
  CHECK(luma_sampling(b444) == 0x11);
  CHECK(b444.size() > b420.size());
  CHECK(psnr_8bit(img, decode_jpeg(b444)) > psnr_8bit(img, decode_jpeg(b420)) + 1.0);
}

TEST_CASE("codec: JPEG gray images are grayscale JPEGs and read back as R=G=B") {
  const Image gray = linear_pattern(24, 16, 1);
  const auto bytes = encode_jpeg(gray, 95);
  const std::size_t sof = find_jpeg_marker(bytes, 0xC0);
  REQUIRE(sof != std::string::npos);
  CHECK(bytes[sof + 9] == 1);  // one component
  const Image dec = decode_jpeg(bytes);
  CHECK(dec.source.channels == 1);
  for (std::size_t i = 0; i < 24 * 16; ++i) {
    CHECK(dec.pixels[3 * i] == dec.pixels[3 * i + 1]);
    CHECK(dec.pixels[3 * i] == dec.pixels[3 * i + 2]);
  }
  CHECK(psnr_8bit(to_rgb(gray), dec) > 30.0);
}

TEST_CASE("codec: JPEG odd sizes") {
  for (auto [w, h] : {std::pair{1, 1}, std::pair{17, 9}, std::pair{3, 40}}) {
    const Image img = random_image(w, h, 3, 77);
    const Image dec = decode_jpeg(encode_jpeg(img, 80));
    CHECK(dec.width == w);
    CHECK(dec.height == h);
  }
}

TEST_CASE("codec: JPEG encoder argument checks") {
  TempDir dir;
  const std::string path = dir.file("bad.jpg");
  const Image img = linear_pattern(8, 8, 3);
  check_error([&] { write_jpeg(img, path, 0); }, ErrorCode::kInvalidArgument, path);
  check_error([&] { write_jpeg(img, path, 101); }, ErrorCode::kInvalidArgument, path);
  check_error([&] { write_jpeg(linear_pattern(8, 8, 4), path, 90); }, ErrorCode::kInvalidArgument, path);
  check_error([&] { write_jpeg(linear_pattern(8, 8, 2), path, 90); }, ErrorCode::kInvalidArgument, path);
  check_error([&] { encode_jpeg(Image{}, 90); }, ErrorCode::kInvalidArgument, "encode_jpeg");
  CHECK(dir.entries().empty());
  CHECK_NOTHROW(encode_jpeg(img, 1));
  CHECK_NOTHROW(encode_jpeg(img, 100));
}
