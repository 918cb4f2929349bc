#include "format/entropy/symbol_coder.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <string>
#include <utility>

#include "format/entropy/range_coder.hpp"

namespace msinr::format::entropy {
namespace {

// Largest bit length class: |s| <= 2^24 - 1 has floor(log2|s|) <= 23.
constexpr int kMaxClass = 23;
// Suffix bits (below the top bit of |s|) coded with adaptive contexts, counted from the most
// significant; the rest are bypass bits.
constexpr int kAdaptiveSuffixBits = 3;

// The contexts of one group. Layout and initial state: docs/entropy-coding.md.
struct GroupContexts {
  BitModel nonzero;                                  // 1 = symbol is not 0
  BitModel sign;                                     // 1 = negative
  BitModel prefix[kMaxClass];                        // position j: 1 = class k > j
  BitModel suffix[kMaxClass][kAdaptiveSuffixBits];   // [k - 1][r]: r-th bit below the top bit of class k
};

// Per group, its contexts, created on first use so memory follows the groups actually coded.
class ContextTable {
 public:
  explicit ContextTable(int group_count) : slot_(static_cast<std::size_t>(group_count), -1) {}
  GroupContexts& operator[](std::uint16_t group) {
    std::int32_t& s = slot_[group];
    if (s < 0) {
      s = static_cast<std::int32_t>(groups_.size());
      groups_.emplace_back();
    }
    return groups_[static_cast<std::size_t>(s)];
  }

 private:
  std::vector<std::int32_t> slot_;
  std::vector<GroupContexts> groups_;
};

[[noreturn]] void invalid(const std::string& what) {
  throw FormatError(FormatErrorCode::kInvalidArgument, "entropy coder: " + what);
}

void check_groups(std::span<const std::uint16_t> group_of, int group_count) {
  if (group_count < 1 || group_count > kMaxGroupCount) {
    invalid("group_count " + std::to_string(group_count) + " is not in [1, " + std::to_string(kMaxGroupCount) + "]");
  }
  for (std::size_t i = 0; i < group_of.size(); ++i) {
    if (group_of[i] >= group_count) {
      invalid("group_of[" + std::to_string(i) + "] = " + std::to_string(group_of[i]) + " is not below group_count " +
              std::to_string(group_count));
    }
  }
}

void check_symbols(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of, int group_count) {
  if (symbols.size() != group_of.size()) {
    invalid(std::to_string(symbols.size()) + " symbols but " + std::to_string(group_of.size()) + " group indices");
  }
  check_groups(group_of, group_count);
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    if (symbols[i] < -kMaxMagnitude || symbols[i] > kMaxMagnitude) {
      invalid("symbol " + std::to_string(i) + " = " + std::to_string(symbols[i]) + " exceeds the magnitude limit 2^24 - 1");
    }
  }
}

// The binarisation, shared by the encoder and the cost model so they cannot disagree.
// Sink: bit(BitModel&, int) codes an adaptive bit; bypass(int) an equiprobable one.
template <class Sink>
void put_symbol(Sink& sink, GroupContexts& g, std::int32_t s) {
  sink.bit(g.nonzero, s != 0 ? 1 : 0);
  if (s == 0) return;
  sink.bit(g.sign, s < 0 ? 1 : 0);
  const auto m = static_cast<std::uint32_t>(s < 0 ? -s : s);
  const int k = std::bit_width(m) - 1;  // class: 2^k <= m < 2^(k+1)
  for (int j = 0; j < k; ++j) sink.bit(g.prefix[j], 1);
  if (k < kMaxClass) sink.bit(g.prefix[k], 0);
  for (int r = 0; r < k; ++r) {
    const int b = static_cast<int>((m >> (k - 1 - r)) & 1u);
    if (r < kAdaptiveSuffixBits) {
      sink.bit(g.suffix[k - 1][r], b);
    } else {
      sink.bypass(b);
    }
  }
}

struct EncodeSink {
  RangeEncoder coder;
  void bit(BitModel& m, int b) { coder.encode(b, m); }
  void bypass(int b) { coder.encode_bypass(b); }
};

struct CostSink {
  double bits = 0.0;
  void bit(BitModel& m, int b) {
    const std::uint32_t p = b == 0 ? m.p0() : kProbOne - m.p0();
    bits -= std::log2(static_cast<double>(p) / static_cast<double>(kProbOne));
    m.update(b);
  }
  void bypass(int) { bits += 1.0; }
};

std::int32_t get_symbol(RangeDecoder& d, GroupContexts& g) {
  if (d.decode(g.nonzero) == 0) return 0;
  const bool negative = d.decode(g.sign) != 0;
  int k = 0;
  while (k < kMaxClass && d.decode(g.prefix[k]) != 0) ++k;
  std::uint32_t m = 1;
  for (int r = 0; r < k; ++r) {
    const int b = r < kAdaptiveSuffixBits ? d.decode(g.suffix[k - 1][r]) : d.decode_bypass();
    m = (m << 1) | static_cast<std::uint32_t>(b);
  }
  const auto v = static_cast<std::int32_t>(m);  // m < 2^24
  return negative ? -v : v;
}

}  // namespace

std::vector<std::uint8_t> encode_symbols(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of,
                                         int group_count) {
  check_symbols(symbols, group_of, group_count);
  ContextTable contexts(group_count);
  EncodeSink sink;
  for (std::size_t i = 0; i < symbols.size(); ++i) put_symbol(sink, contexts[group_of[i]], symbols[i]);
  return sink.coder.finish();
}

std::vector<std::int32_t> decode_symbols(std::span<const std::uint8_t> bytes, std::span<const std::uint16_t> group_of,
                                         int group_count) {
  check_groups(group_of, group_count);
  ContextTable contexts(group_count);
  RangeDecoder decoder(bytes);
  std::vector<std::int32_t> symbols;
  symbols.reserve(group_of.size());
  for (const std::uint16_t group : group_of) symbols.push_back(get_symbol(decoder, contexts[group]));
  decoder.finish();
  return symbols;
}

struct SymbolDecoder::State {
  State(std::span<const std::uint8_t> bytes, int groups) : contexts(groups), decoder(bytes), group_count(groups) {}
  ContextTable contexts;
  RangeDecoder decoder;
  int group_count;
};

SymbolDecoder::SymbolDecoder(std::span<const std::uint8_t> bytes, int group_count) {
  check_groups({}, group_count);
  state_ = std::make_unique<State>(bytes, group_count);
}
SymbolDecoder::~SymbolDecoder() = default;
SymbolDecoder::SymbolDecoder(SymbolDecoder&&) noexcept = default;
SymbolDecoder& SymbolDecoder::operator=(SymbolDecoder&&) noexcept = default;

void SymbolDecoder::next(std::uint16_t group, std::span<std::int32_t> out) {
  if (group >= state_->group_count) {
    invalid("group " + std::to_string(group) + " is not below group_count " + std::to_string(state_->group_count));
  }
  GroupContexts& g = state_->contexts[group];
  RangeDecoder& d = state_->decoder;
  for (std::int32_t& s : out) s = get_symbol(d, g);
}

void SymbolDecoder::finish() const { state_->decoder.finish(); }

double empirical_entropy_bits(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of,
                              int group_count) {
  check_symbols(symbols, group_of, group_count);
  std::vector<std::pair<std::uint16_t, std::int32_t>> sorted(symbols.size());
  std::vector<std::size_t> group_size(static_cast<std::size_t>(group_count), 0);
  for (std::size_t i = 0; i < symbols.size(); ++i) {
    sorted[i] = {group_of[i], symbols[i]};
    ++group_size[group_of[i]];
  }
  std::sort(sorted.begin(), sorted.end());
  double bits = 0.0;
  for (std::size_t i = 0; i < sorted.size();) {
    std::size_t j = i;
    while (j < sorted.size() && sorted[j] == sorted[i]) ++j;
    const auto count = static_cast<double>(j - i);
    bits -= count * std::log2(count / static_cast<double>(group_size[sorted[i].first]));
    i = j;
  }
  return bits;
}

double model_cost_bits(std::span<const std::int32_t> symbols, std::span<const std::uint16_t> group_of,
                       int group_count) {
  check_symbols(symbols, group_of, group_count);
  ContextTable contexts(group_count);
  CostSink sink;
  for (std::size_t i = 0; i < symbols.size(); ++i) put_symbol(sink, contexts[group_of[i]], symbols[i]);
  return sink.bits;
}

}  // namespace msinr::format::entropy
