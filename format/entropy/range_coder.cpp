#include "format/entropy/range_coder.hpp"

#include <string>
#include <utility>

#include "format/error.hpp"

namespace msinr::format::entropy {

void RangeEncoder::put(std::uint8_t byte) {
  // The coded value is below 1 in units of the first byte (low + range <= 2^32 - 1 at the start and
  // every interval nests inside the previous one), so that byte is always 0: it is left out.
  if (skip_first_) {
    skip_first_ = false;
    return;
  }
  out_.push_back(byte);
}

void RangeEncoder::shift_low() {
  // Bits 24..31 of low become the next output byte. It can only be written once no carry can reach
  // it: if it is 0xFF a later carry would ripple through it, so it joins the pending run instead.
  if (low_ < 0xFF000000u || low_ >= (std::uint64_t{1} << 32)) {
    const auto carry = static_cast<std::uint8_t>(low_ >> 32);
    std::uint8_t byte = cache_;
    do {
      put(static_cast<std::uint8_t>(byte + carry));
      byte = 0xFF;
    } while (--cache_size_ != 0);
    cache_ = static_cast<std::uint8_t>(low_ >> 24);
  }
  ++cache_size_;
  low_ = (low_ & 0x00FFFFFFu) << 8;
}

std::vector<std::uint8_t> RangeEncoder::finish() {
  // Five shifts push all 32 bits of low (and the pending bytes) out: the decoder then ends with
  // code = 0, which it checks.
  for (int i = 0; i < 5; ++i) shift_low();
  return std::move(out_);
}

RangeDecoder::RangeDecoder(std::span<const std::uint8_t> bytes) : bytes_(bytes) {
  for (int i = 0; i < 4; ++i) code_ = (code_ << 8) | next_byte();
  if (code_ >= range_) {
    throw FormatError(FormatErrorCode::kCorrupt, "entropy-coded stream: invalid first bytes (ff ff ff ff)");
  }
}

void RangeDecoder::throw_truncated() {
  throw FormatError(FormatErrorCode::kCorrupt, "entropy-coded stream ends early (truncated)");
}

void RangeDecoder::finish() const {
  if (code_ != 0) {
    throw FormatError(FormatErrorCode::kCorrupt, "entropy-coded stream: final coder state does not match its flush");
  }
  if (pos_ != bytes_.size()) {
    throw FormatError(FormatErrorCode::kCorrupt, "entropy-coded stream: " + std::to_string(bytes_.size() - pos_) +
                                                     " trailing bytes after the coder's flush");
  }
}

}  // namespace msinr::format::entropy
