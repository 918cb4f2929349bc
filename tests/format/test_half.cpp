#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <ios>
#include <limits>
#include <random>
#include <vector>

#include "format/half.hpp"

namespace f = msinr::format;

namespace {
float from_bits(std::uint32_t b) { return std::bit_cast<float>(b); }
bool is_nan_half(std::uint16_t h) { return (h & 0x7C00u) == 0x7C00u && (h & 0x3FFu) != 0; }

// Reference: round to nearest even via long double arithmetic on the exact value.
std::uint16_t reference_half(float x) {
  if (std::isnan(x)) return 0;  // not used for NaN
  const std::uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  long double a = std::fabs(static_cast<long double>(x));
  if (a >= 65520.0L) return sign | 0x7C00;
  // Find the best half by brute force over the candidates around a.
  std::uint16_t best = 0;
  long double best_err = std::numeric_limits<long double>::infinity();
  for (std::uint32_t h = 0; h < 0x7C00; ++h) {
    const long double v = static_cast<long double>(f::half_to_float(static_cast<std::uint16_t>(h)));
    const long double err = std::fabs(v - a);
    if (err < best_err || (err == best_err && (h & 1) == 0)) {
      best_err = err;
      best = static_cast<std::uint16_t>(h);
    }
    if (v > a) break;  // halves increase monotonically with their bits
  }
  return sign | best;
}
}  // namespace

TEST_CASE("format: fp16 hand values") {
  CHECK(f::float_to_half(1.0f) == 0x3C00);
  CHECK(f::float_to_half(-2.0f) == 0xC000);
  CHECK(f::float_to_half(0.0f) == 0x0000);
  CHECK(f::float_to_half(-0.0f) == 0x8000);
  CHECK(f::float_to_half(65504.0f) == 0x7BFF);
  CHECK(f::float_to_half(65519.99f) == 0x7BFF);
  CHECK(f::float_to_half(65520.0f) == 0x7C00);  // tie between 65504 and 65536 (odd mantissa): up
  CHECK(f::float_to_half(1e10f) == 0x7C00);
  CHECK(f::float_to_half(-std::numeric_limits<float>::infinity()) == 0xFC00);
  CHECK(f::float_to_half(std::ldexp(1.0f, -24)) == 0x0001);  // smallest subnormal
  CHECK(f::float_to_half(std::ldexp(1.0f, -25)) == 0x0000);  // tie to even: 0
  CHECK(f::float_to_half(std::ldexp(1.5f, -25)) == 0x0001);
  CHECK(f::float_to_half(std::ldexp(3.0f, -25)) == 0x0002);  // 1.5 units: tie to even: 2
  CHECK(f::float_to_half(std::ldexp(1.0f, -14)) == 0x0400);  // smallest normal
  CHECK(f::float_to_half(std::ldexp(1023.5f, -24)) == 0x0400);  // rounds up into the normals
  CHECK(f::float_to_half(1.0f + std::ldexp(1.0f, -11)) == 0x3C00);  // tie, even: down
  CHECK(f::float_to_half(1.0f + 3 * std::ldexp(1.0f, -11)) == 0x3C02);  // tie, odd: up
  CHECK(f::float_to_half(0.1f) == 0x2E66);
  CHECK(f::float_to_half(std::numeric_limits<float>::denorm_min()) == 0x0000);
  CHECK(f::float_to_half(-std::numeric_limits<float>::denorm_min()) == 0x8000);
  CHECK(f::half_to_float(0x3C00) == 1.0f);
  CHECK(f::half_to_float(0x0001) == std::ldexp(1.0f, -24));
  CHECK(f::half_to_float(0x7BFF) == 65504.0f);
  CHECK(std::isinf(f::half_to_float(0x7C00)));
  // NaN: sign and top payload bits kept, made quiet.
  CHECK(f::float_to_half(from_bits(0x7FC00000u)) == 0x7E00);
  CHECK(f::float_to_half(from_bits(0xFF800001u)) == 0xFE00);  // signalling, payload below fp16's: quiet
  CHECK(f::float_to_half(from_bits(0x7FA02000u)) == 0x7F01);
  CHECK(std::isnan(f::half_to_float(0x7C01)));
  CHECK(f::half_is_finite(0x7BFF));
  CHECK(!f::half_is_finite(0x7C00));
  CHECK(!f::half_is_finite(0xFE00));
}

TEST_CASE("format: every half survives half -> float -> half") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const std::uint16_t back = f::float_to_half(f::half_to_float(half));
    if (is_nan_half(half)) {
      // NaNs come back as the quiet NaN with the same sign and payload.
      CHECK(back == (half | 0x0200));
    } else if (back != half) {
      FAIL("half 0x" << std::hex << h << " came back as 0x" << back);
    }
  }
}

TEST_CASE("format: float -> half agrees with a brute-force nearest-even reference") {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint32_t> bits;
  int checked = 0;
  for (int i = 0; i < 3000; ++i) {
    // Random floats concentrated in and around half's range.
    std::uint32_t b = bits(rng);
    const std::uint32_t exponent = 95 + (bits(rng) % 52);  // 2^-32 .. 2^19
    b = (b & 0x807FFFFFu) | (exponent << 23);
    const float x = from_bits(b);
    REQUIRE(f::float_to_half(x) == reference_half(x));
    ++checked;
  }
  // Every exact tie between adjacent halves.
  for (std::uint32_t h = 0; h < 0x7BFF; h += 97) {
    const float lo = f::half_to_float(static_cast<std::uint16_t>(h));
    const float hi = f::half_to_float(static_cast<std::uint16_t>(h + 1));
    const float mid = lo + (hi - lo) / 2;  // exact in float
    REQUIRE(f::float_to_half(mid) == ((h & 1) ? h + 1 : h));
    REQUIRE(f::float_to_half(-mid) == (0x8000 | ((h & 1) ? h + 1 : h)));
  }
  CHECK(checked == 3000);
}

TEST_CASE("format: the F16C bulk path equals the scalar path") {
  std::vector<float> in;
  std::mt19937 rng(5);
  std::uniform_int_distribution<std::uint32_t> bits;
  for (int i = 0; i < 200000; ++i) in.push_back(from_bits(bits(rng)));  // every class of float
  for (int i = 0; i < 100000; ++i) {
    const std::uint32_t exponent = 90 + (bits(rng) % 60);
    in.push_back(from_bits((bits(rng) & 0x807FFFFFu) | (exponent << 23)));
  }
  for (std::uint32_t h = 0; h < 65536; ++h) {  // exact halves, their ties and neighbours
    const float v = f::half_to_float(static_cast<std::uint16_t>(h));
    if (std::isnan(v)) continue;
    in.push_back(v);
    in.push_back(std::nextafter(v, 0.0f));
    in.push_back(std::nextafter(v, std::numeric_limits<float>::infinity()));
    if ((h & 0x7FFF) < 0x7BFF) {
      in.push_back(v + (f::half_to_float(static_cast<std::uint16_t>(h + 1)) - v) / 2);
    }
  }
  for (float v : {65504.0f, 65519.0f, 65520.0f, 65536.0f, 1e30f, std::ldexp(1.0f, -25), std::ldexp(1.0f, -26),
                  std::numeric_limits<float>::denorm_min(), std::numeric_limits<float>::min(),
                  std::numeric_limits<float>::infinity(), from_bits(0x7FC00000u), from_bits(0x7F800001u),
                  from_bits(0xFFBFFFFFu)}) {
    in.push_back(v);
    in.push_back(-v);
  }
  in.push_back(1.0f);  // odd length: exercises the tail
  std::vector<std::uint16_t> scalar(in.size()), bulk(in.size());
  f::detail::floats_to_halves_scalar(in.data(), scalar.data(), in.size());
  f::floats_to_halves(in, bulk);
  if (f::detail::cpu_has_f16c()) {
    MESSAGE("F16C available: bulk conversion uses VCVTPS2PH");
  } else {
    MESSAGE("F16C not available on this CPU: only the scalar path is exercised");
  }
  std::size_t mismatches = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (scalar[i] != bulk[i] && mismatches++ < 5) {
      CHECK_MESSAGE(false, "float 0x" << std::hex << std::bit_cast<std::uint32_t>(in[i]) << " scalar 0x" << scalar[i]
                                      << " bulk 0x" << bulk[i]);
    }
  }
  CHECK(mismatches == 0);

  // half -> float, every half, both paths (NaNs compared bitwise too).
  std::vector<std::uint16_t> halves(65536 + 3);
  for (std::size_t i = 0; i < halves.size(); ++i) halves[i] = static_cast<std::uint16_t>(i);
  std::vector<float> s(halves.size()), b(halves.size());
  f::detail::halves_to_floats_scalar(halves.data(), s.data(), halves.size());
  f::halves_to_floats(halves, b);
  std::size_t float_mismatches = 0;
  for (std::size_t i = 0; i < halves.size(); ++i) {
    if (std::bit_cast<std::uint32_t>(s[i]) != std::bit_cast<std::uint32_t>(b[i]) && float_mismatches++ < 5) {
      CHECK_MESSAGE(false, "half 0x" << std::hex << halves[i] << " scalar 0x" << std::bit_cast<std::uint32_t>(s[i])
                                     << " bulk 0x" << std::bit_cast<std::uint32_t>(b[i]));
    }
  }
  CHECK(float_mismatches == 0);
}

TEST_CASE("format: bulk conversion refuses mismatched spans") {
  std::vector<float> in(3);
  std::vector<std::uint16_t> out(2);
  CHECK_THROWS(f::floats_to_halves(in, out));
}
