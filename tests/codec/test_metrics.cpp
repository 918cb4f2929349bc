// PSNR, MSE, SSIM and MS-SSIM against hand-computed values and independent implementations.
#include <cmath>
#include <limits>

#include "codec/metrics.hpp"
#include "codec_test_util.hpp"

using namespace msinr::codec;
using namespace codec_test;

TEST_CASE("codec: 8-bit MSE and PSNR of a known constant difference") {
  const Image a = make_pattern(31, 17, 3, [](int x, int y, int k) { return (x * 5 + y * 3 + k) % 250; });
  Image b = a;
  for (auto& v : b.pixels) v = static_cast<std::uint8_t>(v + 5);
  CHECK(mse_8bit(a, b) == 25.0);
  const double want = 10.0 * std::log10(255.0 * 255.0 / 25.0);  // 34.1514 dB
  CHECK(psnr_8bit(a, b) == doctest::Approx(want).epsilon(1e-14));
  CHECK(psnr_8bit(b, a) == doctest::Approx(want).epsilon(1e-14));
  // Half the samples +5, half -5 (where possible): still MSE 25.
  Image c = a;
  for (std::size_t i = 0; i < c.pixels.size(); ++i) c.pixels[i] = static_cast<std::uint8_t>(a.pixels[i] + (a.pixels[i] >= 5 && i % 2 ? -5 : 5));
  CHECK(mse_8bit(a, c) == 25.0);
  // One sample off by 255 in n samples: MSE = 255^2 / n, PSNR = 10 log10(n).
  Image d = make_image(10, 10, 1);
  Image e = d;
  e.pixels[37] = 255;
  CHECK(psnr_8bit(d, e) == doctest::Approx(20.0).epsilon(1e-14));
  CHECK(std::isinf(psnr_8bit(a, a)));
  CHECK(psnr_8bit(a, a) > 0);
  CHECK(mse_8bit(a, a) == 0.0);
}

TEST_CASE("codec: Float PSNR on known arrays (peak 1 and unclamped)") {
  const float a[4] = {0.0f, 0.5f, 1.0f, 0.25f};
  const float b[4] = {0.25f, 0.5f, 0.5f, 0.25f};  // differences 0.25, 0, 0.5, 0 (exact in binary)
  CHECK(mse_float(a, b, 4) == 0.078125);
  CHECK(psnr_float(a, b, 4) == doctest::Approx(-10.0 * std::log10(0.078125)).epsilon(1e-14));
  const float c[2] = {1.5f, -0.5f};  // outside [0, 1]: not clamped
  const float t[2] = {1.0f, 0.0f};
  CHECK(mse_float(c, t, 2) == 0.25);
  CHECK(psnr_float(c, t, 2) == doctest::Approx(10.0 * std::log10(4.0)).epsilon(1e-14));
  CHECK(std::isinf(psnr_float(a, a, 4)));
  check_error([&] { psnr_float(a, b, 0); }, ErrorCode::kInvalidArgument, "mse_float");
}

TEST_CASE("codec: Metrics refuse images of different shapes") {
  const Image a = linear_pattern(12, 12, 3);
  check_error([&] { mse_8bit(a, linear_pattern(12, 13, 3)); }, ErrorCode::kInvalidArgument, "mse_8bit");
  check_error([&] { psnr_8bit(a, linear_pattern(12, 12, 1)); }, ErrorCode::kInvalidArgument, "mse_8bit");
  check_error([&] { ssim(a, linear_pattern(13, 12, 3)); }, ErrorCode::kInvalidArgument, "ssim");
  check_error([&] { ssim(linear_pattern(10, 30, 3), linear_pattern(10, 30, 3)); }, ErrorCode::kInvalidArgument,
              "ssim");
  check_error([&] { ssim(linear_pattern(30, 10, 1), linear_pattern(30, 10, 1)); }, ErrorCode::kInvalidArgument,
              "ssim");
}

TEST_CASE("codec: SSIM of identical images is exactly 1 and SSIM is symmetric") {
  for (const Image& img : {linear_pattern(40, 30, 3), random_image(11, 11, 1, 3), random_image(25, 14, 4, 8)}) {
    CHECK(ssim(img, img) == 1.0);
  }
  const Image a = random_image(30, 20, 3, 1), b = noisy(a, 2, 40);
  CHECK(ssim(a, b) == doctest::Approx(ssim(b, a)).epsilon(1e-15));
  CHECK(ssim(a, b) < 1.0);
}

TEST_CASE("codec: SSIM of two constant images by hand") {
  // Constant images: every local variance and covariance is 0, so each map entry is
  // (2 mu_x mu_y + C1) / (mu_x^2 + mu_y^2 + C1) with C1 = (0.01 * 255)^2 = 6.5025.
  Image a = make_image(16, 13, 3), b = make_image(16, 13, 3);
  std::fill(a.pixels.begin(), a.pixels.end(), 100);
  std::fill(b.pixels.begin(), b.pixels.end(), 110);
  const double want = (2.0 * 100 * 110 + 6.5025) / (100.0 * 100 + 110.0 * 110 + 6.5025);  // 0.995476...
  CHECK(ssim(a, b) == doctest::Approx(want).epsilon(1e-12));
  std::fill(b.pixels.begin(), b.pixels.end(), 0);
  CHECK(ssim(a, b) == doctest::Approx(6.5025 / (10000 + 6.5025)).epsilon(1e-12));
}

TEST_CASE("codec: SSIM with alpha: the mean over all four channels") {
  const Image rgb_a = random_image(20, 16, 3, 5), rgb_b = noisy(rgb_a, 6, 25);
  Image a = make_image(20, 16, 4), b = make_image(20, 16, 4);
  for (std::size_t i = 0; i < 20 * 16; ++i) {
    for (int k = 0; k < 3; ++k) {
      a.pixels[4 * i + k] = rgb_a.pixels[3 * i + k];
      b.pixels[4 * i + k] = rgb_b.pixels[3 * i + k];
    }
    a.pixels[4 * i + 3] = b.pixels[4 * i + 3] = static_cast<std::uint8_t>(i * 3);  // identical alpha: SSIM 1
  }
  CHECK(ssim(a, b) == doctest::Approx((3.0 * ssim(rgb_a, rgb_b) + 1.0) / 4.0).epsilon(1e-14));
}

TEST_CASE("codec: SSIM matches scikit-image on deterministic synthetic images") {
  // Reference values from tests/codec/ssim_reference.py (scikit-image 0.26.0, numpy 2.4.6):
  //   python3 -m venv /tmp/venv-ssim && /tmp/venv-ssim/bin/pip install scikit-image numpy
  //   /tmp/venv-ssim/bin/python tests/codec/ssim_reference.py
  // which calls skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
  // use_sample_covariance=False, data_range=255, channel_axis=2) on float64 copies of the same
  // images built here (and cross-checks each against a 'valid'-mode scipy correlate2d version).
  // Both sides compute in double with the same formula; the bound covers summation order only.
  const auto quadratic = [](int x, int y, int k) { return ((x * x + 3 * y * y) / 7 + 40 * k) % 256; };
  const auto other_linear = [](int x, int y, int k) { return (x * 11 + y * 5 + k * 71) % 256; };
  struct Case {
    const char* name;
    Image a, b;
    double reference;
  };
  const Image lin32 = linear_pattern(32, 24, 3);
  const Image quad48 = make_pattern(48, 40, 3, quadratic);
  const Image lin11 = linear_pattern(11, 11, 1);
  const Case cases[] = {
      {"linear 32x24x3 vs noisy(seed 1, +-20)", lin32, noisy(lin32, 1, 20), 0.9318431361416456},
      {"quadratic 48x40x3 vs noisy(seed 7, +-20)", quad48, noisy(quad48, 7, 20), 0.9188975205615982},
      {"linear 11x11x1 vs noisy(seed 3, +-30)", lin11, noisy(lin11, 3, 30), 0.7892195741247413},
      {"linear 64x16x3 vs other_linear", linear_pattern(64, 16, 3), make_pattern(64, 16, 3, other_linear),
       0.2069224926002485},
      {"random(seed 11) 20x20x3 vs random(seed 12)", random_image(20, 20, 3, 11), random_image(20, 20, 3, 12),
       -0.010861219255220607},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const double got = ssim(c.a, c.b);
    CHECK(std::abs(got - c.reference) < 1e-12);
  }
}

TEST_CASE("codec: MS-SSIM is 1 for identical images and refuses images too small for five scales") {
  const Image a = noisy(linear_pattern(kMsSsimMinSide, kMsSsimMinSide + 3, 3), 4, 30);
  CHECK(ms_ssim(a, a) == doctest::Approx(1.0).epsilon(1e-15));
  const Image b = noisy(a, 5, 10);
  CHECK(ms_ssim(a, b) == doctest::Approx(ms_ssim(b, a)).epsilon(1e-14));
  CHECK(ms_ssim(a, b) < 1.0);
  check_error([&] { ms_ssim(linear_pattern(kMsSsimMinSide - 1, 300, 3), linear_pattern(kMsSsimMinSide - 1, 300, 3)); },
              ErrorCode::kInvalidArgument, "ms_ssim");
  check_error([&] { ms_ssim(linear_pattern(300, kMsSsimMinSide - 1, 1), linear_pattern(300, kMsSsimMinSide - 1, 1)); },
              ErrorCode::kInvalidArgument, "ms_ssim");
  check_error([&] { ms_ssim(a, linear_pattern(kMsSsimMinSide, kMsSsimMinSide, 3)); }, ErrorCode::kInvalidArgument,
              "ms_ssim");
}

TEST_CASE("codec: MS-SSIM falls monotonically as noise grows") {
  const Image a = make_pattern(176, 176, 3, [](int x, int y, int k) { return ((x * x + 3 * y * y) / 7 + 40 * k) % 256; });
  double previous = ms_ssim(a, a);
  for (int amplitude : {2, 5, 10, 20, 40, 80}) {
    CAPTURE(amplitude);
    const double v = ms_ssim(a, noisy(a, 17, amplitude));
    CHECK(v < previous);
    CHECK(v > 0.0);
    previous = v;
  }
}

TEST_CASE("codec: MS-SSIM of an inverted image clips the negative contrast terms to 0") {
  // Every contrast-structure mean is negative (perfect anti-correlation); unclipped, the fractional
  // powers would be NaN.
  const Image a = noisy(linear_pattern(176, 176, 1), 8, 60);
  Image inverted = a;
  for (auto& v : inverted.pixels) v = static_cast<std::uint8_t>(255 - v);
  CHECK(ms_ssim(a, inverted) == 0.0);
}

TEST_CASE("codec: MS-SSIM matches an independent implementation") {
  // Reference values from tests/codec/ms_ssim_reference.py: an independent numpy implementation
  // (numpy 2.4.6), cross-checked there against pytorch_msssim 1.0.0's ms_ssim(data_range=255) (torch
  // 2.15.0, float64, its Gaussian window given in float64) on the three cases whose sides stay even
  // to the fifth scale: they agreed to 5e-15. To regenerate:
  //   python3 -m venv /tmp/venv-msssim && /tmp/venv-msssim/bin/pip install numpy torch pytorch-msssim
  //   /tmp/venv-msssim/bin/python tests/codec/ms_ssim_reference.py
  const auto quadratic = [](int x, int y, int k) { return ((x * x + 3 * y * y) / 7 + 40 * k) % 256; };
  struct Case {
    const char* name;
    Image a, b;
    double reference;
  };
  const Image quad176 = make_pattern(176, 176, 3, quadratic);
  const Image lin192 = linear_pattern(192, 176, 3);
  const Image quad161 = make_pattern(161, 170, 1, quadratic);
  const Case cases[] = {
      {"quadratic 176x176x3 vs noisy(seed 5, +-20)", quad176, noisy(quad176, 5, 20), 0.9840972468576604},
      {"linear 192x176x3 vs noisy(seed 9, +-40)", lin192, noisy(lin192, 9, 40), 0.9794595565776468},
      {"random(seed 11) 176x176x3 vs random(seed 12)", random_image(176, 176, 3, 11), random_image(176, 176, 3, 12),
       0.10609569067063558},
      // Odd sides at every scale: the last row and column are averaged with themselves.
      {"quadratic 161x170x1 vs noisy(seed 2, +-25)", quad161, noisy(quad161, 2, 25), 0.9760685293938164},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    const double got = ms_ssim(c.a, c.b);
    CHECK(std::abs(got - c.reference) < 1e-12);
  }
}
