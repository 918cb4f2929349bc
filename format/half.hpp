#pragma once
// IEEE 754 binary16 ("half", fp16) conversion.
//
// float -> half rounds to nearest, ties to even, exactly like the x86 F16C instruction VCVTPS2PH
// with imm8 = _MM_FROUND_TO_NEAREST_INT: results below half's subnormal range round to (signed)
// zero, half-way cases go to the even neighbour, magnitudes >= 65520 become infinity, and a NaN
// stays a NaN with its sign and the top 10 payload bits, made quiet (bit 9 set).
// half -> float is exact for every non-NaN half; a NaN half becomes a quiet float NaN with the same
// sign and payload (so a signalling NaN half comes back from a round trip quieted, 0x7C01 -> 0x7E01).
//
// The bulk functions use F16C (8 values per instruction) when the CPU and OS support AVX and F16C,
// chosen at run time, and a portable scalar loop otherwise; both give bit-identical results.
#include <cstdint>
#include <span>

namespace msinr::format {

std::uint16_t float_to_half(float value) noexcept;
float half_to_float(std::uint16_t half) noexcept;

// out.size() must equal in.size(); throws FormatError(kInvalidArgument) otherwise.
void floats_to_halves(std::span<const float> in, std::span<std::uint16_t> out);
void halves_to_floats(std::span<const std::uint16_t> in, std::span<float> out);

// True for a half that is neither infinite nor NaN.
inline bool half_is_finite(std::uint16_t half) noexcept { return (half & 0x7C00u) != 0x7C00u; }

namespace detail {
// Exposed for tests and benchmarks: the two implementations behind the bulk functions.
bool cpu_has_f16c() noexcept;
void floats_to_halves_scalar(const float* in, std::uint16_t* out, std::size_t n) noexcept;
void halves_to_floats_scalar(const std::uint16_t* in, float* out, std::size_t n) noexcept;
// Only call when cpu_has_f16c() is true.
void floats_to_halves_f16c(const float* in, std::uint16_t* out, std::size_t n) noexcept;
void halves_to_floats_f16c(const std::uint16_t* in, float* out, std::size_t n) noexcept;
}  // namespace detail

}  // namespace msinr::format
