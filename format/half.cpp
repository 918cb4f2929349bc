#include "format/half.hpp"

#include <bit>
#include <cstring>
#include <string>

#include "format/error.hpp"

#if defined(__x86_64__) || defined(__i386__)
#define MSINR_FORMAT_X86 1
#include <cpuid.h>
#include <immintrin.h>
#endif

namespace msinr::format {

std::uint16_t float_to_half(float value) noexcept {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const std::uint16_t sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  const std::uint32_t x = bits & 0x7FFFFFFFu;
  if (x >= 0x7F800000u) {  // infinity or NaN
    if (x == 0x7F800000u) return sign | 0x7C00u;
    return static_cast<std::uint16_t>(sign | 0x7E00u | ((x >> 13) & 0x03FFu));
  }
  if (x >= 0x47800000u) return sign | 0x7C00u;  // >= 65536: overflow (65520..65536 rounds below)
  const std::uint32_t exponent = x >> 23;
  if (exponent < 113) {
    // Result is a half subnormal (or zero): units of 2^-24. value = m * 2^(exponent - 150) with the
    // implicit bit in m, so the half mantissa is m * 2^(exponent - 126) = m >> (126 - exponent).
    if (exponent < 102) return sign;  // below 2^-25: rounds to zero (2^-25 itself is handled below)
    const std::uint32_t m = (x & 0x007FFFFFu) | 0x00800000u;
    const std::uint32_t shift = 126 - exponent;  // 14..24
    std::uint32_t h = m >> shift;
    const std::uint32_t rem = m & ((1u << shift) - 1u);
    const std::uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (h & 1u))) ++h;  // may carry into the smallest normal
    return static_cast<std::uint16_t>(sign | h);
  }
  // Normal half: rebias the exponent (127 -> 15) and round the 13 dropped mantissa bits. A carry out
  // of the mantissa increments the exponent, and 65520 and above carries into infinity (0x7C00).
  std::uint32_t h = ((exponent - 112) << 10) | ((x >> 13) & 0x03FFu);
  const std::uint32_t rem = x & 0x1FFFu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<std::uint16_t>(sign | h);
}

float half_to_float(std::uint16_t half) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1Fu;
  const std::uint32_t mantissa = half & 0x03FFu;
  std::uint32_t bits;
  if (exponent == 0) {
    if (mantissa == 0) return std::bit_cast<float>(sign);
    // Subnormal: mantissa * 2^-24, exact in float (a normal float).
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
  }
  if (exponent == 31) {
    bits = mantissa == 0 ? (sign | 0x7F800000u) : (sign | 0x7FC00000u | (mantissa << 13));
  } else {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  }
  return std::bit_cast<float>(bits);
}

namespace detail {

bool cpu_has_f16c() noexcept {
#if defined(MSINR_FORMAT_X86)
#if defined(__GNUC__) && !defined(__clang__)
  // GCC knows both feature names; its "avx" check includes the OS's XSAVE support.
  static const bool has = __builtin_cpu_supports("avx") && __builtin_cpu_supports("f16c");
#else
  // Clang (used for the fuzz build) does not accept "f16c" here: ask CPUID and XGETBV directly.
  static const bool has = [] {
    unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return false;
    const bool osxsave = (ecx & (1u << 27)) != 0, avx = (ecx & (1u << 28)) != 0,
               f16c = (ecx & (1u << 29)) != 0;
    if (!(osxsave && avx && f16c)) return false;
    unsigned lo = 0, hi = 0;
    __asm__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 0x6u) == 0x6u;  // XMM and YMM state enabled by the OS
  }();
#endif
  return has;
#else
  return false;
#endif
}

void floats_to_halves_scalar(const float* in, std::uint16_t* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = float_to_half(in[i]);
}

void halves_to_floats_scalar(const std::uint16_t* in, float* out, std::size_t n) noexcept {
  for (std::size_t i = 0; i < n; ++i) out[i] = half_to_float(in[i]);
}

#if defined(MSINR_FORMAT_X86)
__attribute__((target("f16c,avx"))) void floats_to_halves_f16c(const float* in, std::uint16_t* out,
                                                                std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(in + i);
    const __m128i h = _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), h);
  }
  if (i < n) {  // tail through the same instruction, so every value takes the same path
    float tmp_in[8] = {};
    std::uint16_t tmp_out[8];
    std::memcpy(tmp_in, in + i, (n - i) * sizeof(float));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(tmp_out),
                     _mm256_cvtps_ph(_mm256_loadu_ps(tmp_in), _MM_FROUND_TO_NEAREST_INT));
    std::memcpy(out + i, tmp_out, (n - i) * sizeof(std::uint16_t));
  }
}

__attribute__((target("f16c,avx"))) void halves_to_floats_f16c(const std::uint16_t* in, float* out,
                                                                std::size_t n) noexcept {
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in + i));
    _mm256_storeu_ps(out + i, _mm256_cvtph_ps(h));
  }
  if (i < n) {
    std::uint16_t tmp_in[8] = {};
    float tmp_out[8];
    std::memcpy(tmp_in, in + i, (n - i) * sizeof(std::uint16_t));
    _mm256_storeu_ps(tmp_out, _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(tmp_in))));
    std::memcpy(out + i, tmp_out, (n - i) * sizeof(float));
  }
}
#else
void floats_to_halves_f16c(const float* in, std::uint16_t* out, std::size_t n) noexcept {
  floats_to_halves_scalar(in, out, n);
}
void halves_to_floats_f16c(const std::uint16_t* in, float* out, std::size_t n) noexcept {
  halves_to_floats_scalar(in, out, n);
}
#endif

}  // namespace detail

void floats_to_halves(std::span<const float> in, std::span<std::uint16_t> out) {
  if (in.size() != out.size()) {
    throw FormatError(FormatErrorCode::kInvalidArgument,
                      "floats_to_halves: " + std::to_string(in.size()) + " inputs but " +
                          std::to_string(out.size()) + " outputs");
  }
  if (detail::cpu_has_f16c()) {
    detail::floats_to_halves_f16c(in.data(), out.data(), in.size());
  } else {
    detail::floats_to_halves_scalar(in.data(), out.data(), in.size());
  }
}

void halves_to_floats(std::span<const std::uint16_t> in, std::span<float> out) {
  if (in.size() != out.size()) {
    throw FormatError(FormatErrorCode::kInvalidArgument,
                      "halves_to_floats: " + std::to_string(in.size()) + " inputs but " +
                          std::to_string(out.size()) + " outputs");
  }
  if (detail::cpu_has_f16c()) {
    detail::halves_to_floats_f16c(in.data(), out.data(), in.size());
  } else {
    detail::halves_to_floats_scalar(in.data(), out.data(), in.size());
  }
}

}  // namespace msinr::format
