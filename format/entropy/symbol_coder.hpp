#pragma once
// Entropy coding of quantized network weights: signed integer symbols (q = round(w / step)), each in
// a context group (one per tensor: a layer's weights, a layer's biases, shared across tiles), coded
// with the adaptive binary range coder of range_coder.hpp. Byte layout: docs/entropy-coding.md.
//
// A symbol is binarised as: nonzero flag; sign; the bit length class k = floor(log2|s|) in unary
// (one adaptive context per position, no terminator after k = 23); the k bits of |s| below its top
// bit, the top three adaptive per (k, position), the rest bypass. All contexts are per group.
//
// The stream carries no header and no count: the caller stores its byte length and knows the symbol
// count and groups (group_of). It is at least 4 bytes (the coder's flush), even for no symbols.
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "format/error.hpp"

namespace msinr::format::entropy {

inline constexpr std::int32_t kMaxMagnitude = (1 << 24) - 1;
inline constexpr int kMaxGroupCount = 4096;

// Codes `symbols` (|s| <= kMaxMagnitude); symbol i uses context group group_of[i] (< group_count).
// Throws FormatError(kInvalidArgument) when group_of.size() != symbols.size(), group_count is not in
// [1, kMaxGroupCount], a group is out of range or a magnitude exceeds kMaxMagnitude.
std::vector<std::uint8_t> encode_symbols(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of,
                                         int group_count);

// Decodes exactly group_of.size() symbols. Malformed bytes (a stream that ends early, trailing bytes
// beyond the coder's flush, a final coder state other than the flush's) throw FormatError(kCorrupt);
// bad group arguments throw FormatError(kInvalidArgument). Reads only inside `bytes`, does at most
// 48 binary decisions per symbol, and allocates O(group_of.size()) memory (plus a 4096-entry table).
std::vector<std::int32_t> decode_symbols(std::span<const std::uint8_t> bytes, std::span<const std::uint16_t> group_of,
                                         int group_count);

// decode_symbols one run of symbols at a time, for a caller that uses them as they come (the codec
// renders tile after tile while the rest of the stream is still coded). The same decoder and the
// same checks: next() throws FormatError(kCorrupt) where decode_symbols would, finish() checks what
// decode_symbols checks after its last symbol.
class SymbolDecoder {
 public:
  // Throws kInvalidArgument when group_count is not in [1, kMaxGroupCount], kCorrupt on bad first bytes.
  SymbolDecoder(std::span<const std::uint8_t> bytes, int group_count);
  ~SymbolDecoder();
  SymbolDecoder(SymbolDecoder&&) noexcept;
  SymbolDecoder& operator=(SymbolDecoder&&) noexcept;
  // Decodes out.size() symbols of context group `group` (kInvalidArgument unless < group_count).
  void next(std::uint16_t group, std::span<std::int32_t> out);
  // Throws FormatError(kCorrupt) unless the stream ended exactly at the encoder's flush.
  void finish() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Order-0 empirical entropy in bits: per group, -sum over distinct values of count * log2(count / n_group),
// summed over groups. Same argument checks as encode_symbols.
double empirical_entropy_bits(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of,
                              int group_count);

// Ideal code length in bits under exactly the coder's adaptive model: the sum over every binary
// decision of -log2(p) (p the model's probability of the decision's outcome, in double; a bypass bit
// costs 1). encode_symbols(...).size() is cost / 8 plus 3 to 4 bytes: the flush writes all 32 bits of
// the coder's low while the final range is worth 24..32 of them, and the coder's integer rounding
// moves the total by a small fraction of a bit (docs/entropy-coding.md).
double model_cost_bits(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of,
                       int group_count);

}  // namespace msinr::format::entropy
