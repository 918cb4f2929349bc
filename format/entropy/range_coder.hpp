#pragma once
// Adaptive binary range coder (LZMA-style carry-less encoder with a 64-bit low, 32-bit range, one
// byte at a time) and its adaptive probability model. The byte-level algorithm is specified in
// docs/entropy-coding.md; this file is one implementation of it.
//
// Everything is exact integer arithmetic, so the bytes are identical on every machine.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace msinr::format::entropy {

// Probabilities are P(bit = 0) in units of 2^-16.
inline constexpr int kProbBits = 16;
inline constexpr std::uint32_t kProbOne = 1u << kProbBits;  // 65536
inline constexpr std::uint32_t kProbHalf = kProbOne / 2;    // a bypass bit
// Renormalise whenever the range drops below 2^24.
inline constexpr std::uint32_t kRangeTop = 1u << 24;

// An adaptive estimate of P(bit = 0): the mean of a fast and a slow estimate, each in [1, 65535]
// units of 2^-16. After each coded bit both move towards the bit by 2^-shift of their distance to it,
// shift = min(limit, floor(log2(n + 4))) with limit 6 (fast) or 10 (slow) and n the number of bits
// this model has coded before: a running average over the first bits (quick learning for small
// groups), then exponential windows of about 2^6 and 2^10 bits (tracking drift across tiles while
// keeping the precision of a long average).
struct BitModel {
  static constexpr int kFastShift = 6;
  static constexpr int kSlowShift = 10;
  static constexpr std::uint16_t kCountCap = 1020;  // floor(log2(1020 + 4)) = 10: counting further changes nothing

  std::uint16_t fast = kProbHalf;
  std::uint16_t slow = kProbHalf;
  std::uint16_t n = 0;

  // P(bit = 0) in units of 2^-16, in [1, 65535].
  std::uint32_t p0() const noexcept { return (static_cast<std::uint32_t>(fast) + slow) >> 1; }
  static int shift(int n, int limit) noexcept {
    const int s = std::bit_width(static_cast<unsigned>(n) + 4u) - 1;  // floor(log2(n + 4))
    return s < limit ? s : limit;
  }
  static std::uint16_t moved(std::uint16_t p, int bit, int s) noexcept {
    return static_cast<std::uint16_t>(bit == 0 ? p + ((kProbOne - p) >> s) : p - (p >> s));
  }
  void update(int bit) noexcept {
    fast = moved(fast, bit, shift(n, kFastShift));
    slow = moved(slow, bit, shift(n, kSlowShift));
    if (n < kCountCap) ++n;
  }
};

class RangeEncoder {
 public:
  // Codes `bit` (0 or 1) with P(0) = p0 / 65536, p0 in [1, 65535].
  void encode(int bit, std::uint32_t p0) {
    const auto bound = static_cast<std::uint32_t>((static_cast<std::uint64_t>(range_) * p0) >> kProbBits);
    if (bit == 0) {
      range_ = bound;
    } else {
      low_ += bound;
      range_ -= bound;
    }
    while (range_ < kRangeTop) {
      range_ <<= 8;
      shift_low();
    }
  }
  void encode(int bit, BitModel& model) {
    encode(bit, model.p0());
    model.update(bit);
  }
  void encode_bypass(int bit) { encode(bit, kProbHalf); }

  // Flushes the coder (4 bytes of `low`) and returns the stream. The encoder is spent afterwards.
  std::vector<std::uint8_t> finish();

 private:
  void shift_low();
  void put(std::uint8_t byte);

  std::uint64_t low_ = 0;  // < 2^33: bit 32 is a carry not yet propagated into the output
  std::uint32_t range_ = 0xFFFFFFFFu;
  std::uint8_t cache_ = 0;         // the last byte not yet written (a carry may still change it)
  std::uint64_t cache_size_ = 1;   // cache_ plus the 0xFF bytes that follow it, all pending
  bool skip_first_ = true;         // the first byte is always 0 and is not stored
  std::vector<std::uint8_t> out_;
};

// Decodes a stream written by RangeEncoder. Every read is bounds-checked: a stream that ends before
// the decoder has read all it needs throws FormatError(kCorrupt), as does finish() when the final
// state is not the one the encoder's flush leaves (code 0) or bytes are left over.
class RangeDecoder {
 public:
  explicit RangeDecoder(std::span<const std::uint8_t> bytes);

  int decode(std::uint32_t p0) {
    const auto bound = static_cast<std::uint32_t>((static_cast<std::uint64_t>(range_) * p0) >> kProbBits);
    int bit;
    if (code_ < bound) {
      range_ = bound;
      bit = 0;
    } else {
      code_ -= bound;
      range_ -= bound;
      bit = 1;
    }
    while (range_ < kRangeTop) {
      range_ <<= 8;
      code_ = (code_ << 8) | next_byte();
    }
    return bit;
  }
  int decode(BitModel& model) {
    const int bit = decode(model.p0());
    model.update(bit);
    return bit;
  }
  int decode_bypass() { return decode(kProbHalf); }

  // Throws FormatError(kCorrupt) unless the stream ended exactly where the encoder's flush did.
  void finish() const;

 private:
  std::uint32_t next_byte() {
    if (pos_ == bytes_.size()) throw_truncated();
    return bytes_[pos_++];
  }
  [[noreturn]] static void throw_truncated();

  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFu;
  std::uint32_t code_ = 0;  // invariant: code_ < range_
};

}  // namespace msinr::format::entropy
