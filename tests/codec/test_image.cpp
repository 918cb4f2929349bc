// codec/image.hpp: the Image type and its pixel helpers.
#include <algorithm>
#include <cmath>
#include <limits>

#include "codec/image.hpp"
#include "codec_test_util.hpp"

using namespace msinr::codec;
using namespace codec_test;

TEST_CASE("codec: make_image and validate_image enforce channels and limits") {
  const Image img = make_image(4, 3, 2);
  CHECK(img.pixels.size() == 24);
  check_error([] { make_image(4, 3, 0); }, ErrorCode::kInvalidArgument, "make_image");
  check_error([] { make_image(4, 3, 5); }, ErrorCode::kInvalidArgument, "make_image");
  check_error([] { make_image(0, 3, 3); }, ErrorCode::kInvalidArgument, "make_image");
  check_error([] { make_image(kMaxImageSide + 1, 1, 3); }, ErrorCode::kLimit, "make_image");
  check_error([] { make_image(20000, 20000, 1); }, ErrorCode::kLimit, "make_image");  // 4e8 > 2^28
  CHECK(dimensions_within_limits(kMaxImageSide, kMaxImagePixels / kMaxImageSide));
  CHECK_FALSE(dimensions_within_limits(kMaxImageSide, kMaxImagePixels / kMaxImageSide + 1));
  Image bad = make_image(4, 3, 3);
  bad.pixels.pop_back();
  check_error([&] { validate_image(bad, "thing"); }, ErrorCode::kInvalidArgument, "thing");
}

TEST_CASE("codec: to_rgb applies the channel policy: gray replicated and alpha dropped") {
  const Image gray = linear_pattern(5, 4, 1);
  const Image ga = linear_pattern(5, 4, 2);
  const Image rgba = linear_pattern(5, 4, 4);
  const Image a = to_rgb(gray), b = to_rgb(ga), c = to_rgb(rgba);
  for (const Image* img : {&a, &b, &c}) {
    CHECK(img->channels == 3);
    CHECK(img->pixels.size() == 5 * 4 * 3);
  }
  for (std::size_t i = 0; i < 20; ++i) {
    for (int k = 0; k < 3; ++k) {
      CHECK(a.pixels[3 * i + k] == gray.pixels[i]);
      CHECK(b.pixels[3 * i + k] == ga.pixels[2 * i]);
      CHECK(c.pixels[3 * i + k] == rgba.pixels[4 * i + k]);
    }
  }
}

TEST_CASE("codec: to_float_rgb and from_float_rgb") {
  Image all = make_image(256, 1, 3);
  for (int v = 0; v < 256; ++v) all.pixels[3 * v] = all.pixels[3 * v + 1] = all.pixels[3 * v + 2] = v;
  const std::vector<float> f = to_float_rgb(all);
  REQUIRE(f.size() == 256 * 3);
  CHECK(f[0] == 0.0f);
  CHECK(f[3 * 255] == 1.0f);
  CHECK(f[3 * 51] == doctest::Approx(0.2).epsilon(1e-7));
  CHECK(from_float_rgb(f.data(), 256, 1).pixels == all.pixels);  // exact round trip of every level

  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float in[9] = {-0.1f, 1.7f, nan, 0.5f, 0.2f, 1.0f, 0.0f, 127.4f / 255.0f, 127.6f / 255.0f};
  const Image out = from_float_rgb(in, 3, 1);
  const std::vector<std::uint8_t> want = {0, 255, 0, 128, 51, 255, 0, 127, 128};  // 127.5 rounds up
  CHECK(out.pixels == want);

  const std::vector<float> g = to_float_rgb(linear_pattern(3, 2, 1));  // gray replicated
  for (std::size_t i = 0; i < 6; ++i) CHECK((g[3 * i] == g[3 * i + 1] && g[3 * i] == g[3 * i + 2]));
}

// to_8bit replaced lround(clamp(v, 0, 1) * 255) in the decoder's inner loop; decoded pixels must not
// move, so it is checked against that formula on every float in [0, 1] near a rounding boundary
// (k + 1/2 for every level k, 64 floats either side), on a sweep of the whole range, and outside it.
TEST_CASE("codec: to_8bit equals lround(clamp(v, 0, 1) * 255) on every float near a boundary") {
  auto formula = [](float v) {
    const float c = std::isnan(v) ? 0.0f : std::clamp(v, 0.0f, 1.0f);
    return static_cast<std::uint8_t>(std::lround(c * 255.0f));
  };
  std::size_t checked = 0, mismatches = 0;
  auto check = [&](float v) {
    ++checked;
    if (to_8bit(v) != formula(v)) ++mismatches;
  };
  for (int k = 0; k < 255; ++k) {
    float v = (static_cast<float>(k) + 0.5f) / 255.0f;
    for (int i = 0; i < 64; ++i) v = std::nextafter(v, 0.0f);
    for (int i = 0; i < 129; ++i, v = std::nextafter(v, 2.0f)) check(v);
  }
  for (int i = 0; i <= 1 << 20; ++i) check(static_cast<float>(i) / static_cast<float>(1 << 20));
  const float inf = std::numeric_limits<float>::infinity();
  for (float v : {-inf, -1.0f, -0.0f, 0.0f, std::numeric_limits<float>::denorm_min(), 1.0f, std::nextafter(1.0f, 2.0f), 3e38f, inf,
                  std::numeric_limits<float>::quiet_NaN()})
    check(v);
  CHECK(checked > 1000000);
  CHECK(mismatches == 0);
}

TEST_CASE("codec: center_crop takes the centred square") {
  const Image img = linear_pattern(7, 5, 3);
  const Image c = center_crop(img, 3);
  REQUIRE(c.width == 3);
  REQUIRE(c.height == 3);
  // x0 = (7 - 3) / 2 = 2, y0 = (5 - 3) / 2 = 1
  for (int y = 0; y < 3; ++y)
    for (int x = 0; x < 3; ++x)
      for (int k = 0; k < 3; ++k)
        CHECK(c.pixels[(y * 3 + x) * 3 + k] == img.pixels[((y + 1) * 7 + x + 2) * 3 + k]);
  const Image odd = center_crop(linear_pattern(6, 6, 1), 3);  // (6-3)/2 = 1: rounds down
  CHECK(odd.pixels[0] == linear_pattern(6, 6, 1).pixels[1 * 6 + 1]);
  CHECK(center_crop(img, 5).pixels.size() == 75);
  check_error([&] { center_crop(img, 6); }, ErrorCode::kInvalidArgument, "center_crop");
  check_error([&] { center_crop(img, 0); }, ErrorCode::kInvalidArgument, "center_crop");
}

TEST_CASE("codec: resize_bilinear uses the align-corners grid") {
  const Image img = random_image(9, 7, 3, 5);
  CHECK(resize_bilinear(img, 9, 7).pixels == img.pixels);
  // 9x7 -> 5x4: output i samples input i*8/4 = 2i (x) and j*6/3 = 2j (y), exact pixels.
  const Image down = resize_bilinear(img, 5, 4);
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 5; ++x)
      for (int k = 0; k < 3; ++k)
        CHECK(down.pixels[(y * 5 + x) * 3 + k] == img.pixels[((2 * y) * 9 + 2 * x) * 3 + k]);
  // 5x4 -> 9x7 keeps every original pixel at even positions and averages in between.
  const Image up = resize_bilinear(down, 9, 7);
  CHECK(up.pixels[0] == down.pixels[0]);
  CHECK(up.pixels.back() == down.pixels.back());
  Image two = make_image(2, 1, 1);
  two.pixels = {0, 255};
  CHECK(resize_bilinear(two, 3, 1).pixels == std::vector<std::uint8_t>{0, 128, 255});  // 127.5 -> 128
  Image quad = make_image(2, 2, 1);
  quad.pixels = {0, 100, 200, 40};
  CHECK(resize_bilinear(quad, 3, 3).pixels[4] == 85);  // centre: (0 + 100 + 200 + 40) / 4 = 85
  CHECK(resize_bilinear(img, 1, 1).pixels == std::vector<std::uint8_t>(img.pixels.begin(), img.pixels.begin() + 3));
  check_error([&] { resize_bilinear(img, 0, 3); }, ErrorCode::kInvalidArgument, "resize_bilinear");
}
