#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <vector>

#include "format/checksum.hpp"
#include "format/entropy/range_coder.hpp"
#include "format/entropy/symbol_coder.hpp"
#include "format/error.hpp"

namespace f = msinr::format;
namespace e = msinr::format::entropy;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Symbols = std::vector<std::int32_t>;
using Groups = std::vector<std::uint16_t>;

struct Stream {
  Symbols symbols;
  Groups groups;
  int group_count = 1;
};

// Discretised Laplacian: round(+-Exp(1/scale)), `per_group` symbols in each of `group_count` groups,
// interleaved the way tiles interleave tensors (group 0's block, group 1's block, ..., per tile).
Stream laplace(double scale, int group_count, int per_group, std::uint64_t seed, int tiles = 10) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> ex(1.0 / scale);
  std::bernoulli_distribution coin(0.5);
  Stream s;
  s.group_count = group_count;
  for (int t = 0; t < tiles; ++t) {
    for (int g = 0; g < group_count; ++g) {
      const int n = per_group / tiles + (t < per_group % tiles ? 1 : 0);
      for (int i = 0; i < n; ++i) {
        const double v = std::min(ex(rng), static_cast<double>(e::kMaxMagnitude));
        s.symbols.push_back(static_cast<std::int32_t>(std::lround(coin(rng) ? v : -v)));
        s.groups.push_back(static_cast<std::uint16_t>(g));
      }
    }
  }
  return s;
}

Bytes encode(const Stream& s) { return e::encode_symbols(s.symbols, s.groups, s.group_count); }
Symbols decode(const Bytes& b, const Stream& s) { return e::decode_symbols(b, s.groups, s.group_count); }

void check_round_trip(const Stream& s) {
  const Bytes coded = encode(s);
  CHECK(coded.size() >= 4);
  const Symbols back = decode(coded, s);
  REQUIRE(back.size() == s.symbols.size());
  CHECK(back == s.symbols);
}

// Runs decode and reports whether it threw FormatError(kCorrupt); any other exception fails the test.
bool decode_rejects(const Bytes& b, const Stream& s) {
  try {
    (void)decode(b, s);
    return false;
  } catch (const f::FormatError& err) {
    CHECK(err.code() == f::FormatErrorCode::kCorrupt);
    return true;
  }
}

// ---- An independent decoder written from docs/entropy-coding.md, sharing no code with format/entropy.
class SpecDecoder {
 public:
  explicit SpecDecoder(std::span<const std::uint8_t> b) : b_(b) {
    for (int i = 0; i < 4; ++i) code_ = code_ * 256u + byte();
    if (code_ == 0xFFFFFFFFu) throw f::FormatError(f::FormatErrorCode::kCorrupt, "spec: bad start");
  }
  // One decision with P(0) = p / 65536.
  int decide(std::uint32_t p) {
    const std::uint32_t bound = static_cast<std::uint32_t>((std::uint64_t{range_} * p) / 65536u);
    int bit = 0;
    if (code_ >= bound) {
      bit = 1;
      code_ -= bound;
      range_ -= bound;
    } else {
      range_ = bound;
    }
    while (range_ < (1u << 24)) {
      range_ *= 256u;
      code_ = code_ * 256u + byte();
    }
    return bit;
  }
  bool done() const { return code_ == 0 && pos_ == b_.size(); }

 private:
  std::uint32_t byte() {
    if (pos_ >= b_.size()) throw f::FormatError(f::FormatErrorCode::kCorrupt, "spec: short");
    return b_[pos_++];
  }
  std::span<const std::uint8_t> b_;
  std::size_t pos_ = 0;
  std::uint32_t range_ = 0xFFFFFFFFu, code_ = 0;
};

struct SpecContext {
  std::uint32_t fast = 32768, slow = 32768, n = 0;
};

int spec_adaptive(SpecDecoder& d, SpecContext& c) {
  const int bit = d.decide((c.fast + c.slow) / 2);
  int log = 0;
  while ((2u << log) <= c.n + 4) ++log;  // floor(log2(n + 4))
  const int shift_fast = log < 6 ? log : 6;
  const int shift_slow = log < 10 ? log : 10;
  if (bit == 0) {
    c.fast += (65536 - c.fast) >> shift_fast;
    c.slow += (65536 - c.slow) >> shift_slow;
  } else {
    c.fast -= c.fast >> shift_fast;
    c.slow -= c.slow >> shift_slow;
  }
  ++c.n;
  return bit;
}

Symbols spec_decode(const Bytes& b, const Groups& groups, int group_count) {
  // 94 contexts per group: 0 nonzero, 1 sign, 2 + j prefix position j (j < 23),
  // 25 + 3 (k - 1) + r suffix bit r of class k (r < 3).
  std::vector<SpecContext> ctx(static_cast<std::size_t>(group_count) * 94);
  SpecDecoder d(b);
  Symbols out;
  for (const std::uint16_t g : groups) {
    SpecContext* c = &ctx[std::size_t{g} * 94];
    if (spec_adaptive(d, c[0]) == 0) {
      out.push_back(0);
      continue;
    }
    const int sign = spec_adaptive(d, c[1]);
    int k = 0;
    while (k < 23 && spec_adaptive(d, c[2 + k]) == 1) ++k;
    std::int32_t m = 1;
    for (int r = 0; r < k; ++r) m = 2 * m + (r < 3 ? spec_adaptive(d, c[25 + 3 * (k - 1) + r]) : d.decide(32768));
    out.push_back(sign ? -m : m);
  }
  if (!d.done()) throw f::FormatError(f::FormatErrorCode::kCorrupt, "spec: bad end");
  return out;
}

}  // namespace

TEST_CASE("entropy: the bit model's rate schedule and update rule") {
  // shift = min(limit, floor(log2(n + 4))): 2 for n < 4, 3 for n < 12, ..., then 6 (fast) or 10 (slow).
  const int expected[][3] = {{0, 2, 2},   {3, 2, 2},     {4, 3, 3},     {11, 3, 3},    {12, 4, 4},   {60, 6, 6},
                             {123, 6, 6}, {124, 6, 7},   {507, 6, 8},   {508, 6, 9},   {1019, 6, 9}, {1020, 6, 10},
                             {5000, 6, 10}};
  for (const auto& [n, fast, slow] : expected) {
    CHECK_MESSAGE(e::BitModel::shift(n, e::BitModel::kFastShift) == fast, "n = " << n);
    CHECK_MESSAGE(e::BitModel::shift(n, e::BitModel::kSlowShift) == slow, "n = " << n);
  }
  e::BitModel m;
  CHECK(m.p0() == 32768);
  m.update(0);
  CHECK(m.fast == 32768 + 8192);
  CHECK(m.slow == 32768 + 8192);
  m.update(1);
  CHECK(m.p0() == 40960 - 10240);
  CHECK(m.n == 2);
  for (int i = 0; i < 20; ++i) m.update(1);  // n = 22: shift 4 for both
  const std::uint16_t fast = m.fast, slow = m.slow;
  m.update(0);
  CHECK(m.fast == fast + ((65536 - fast) >> 4));
  CHECK(m.slow == slow + ((65536 - slow) >> 4));
  CHECK(m.p0() == (std::uint32_t{m.fast} + m.slow) / 2);
  // Probabilities never reach 0 or 1, however long the run; the counter stops at its cap.
  e::BitModel zeros, ones;
  for (int i = 0; i < 100000; ++i) {
    zeros.update(0);
    ones.update(1);
  }
  CHECK(zeros.p0() <= 65535);
  CHECK(zeros.p0() > 64000);
  CHECK(ones.p0() >= 1);
  CHECK(ones.p0() < 1500);
  CHECK(zeros.n == e::BitModel::kCountCap);
}

TEST_CASE("entropy: the binary range coder round-trips bits at every probability") {
  std::mt19937_64 rng(11);
  std::vector<std::uint32_t> probs;
  std::vector<int> bits;
  for (int i = 0; i < 200000; ++i) {
    std::uint32_t p;
    switch (i % 5) {
      case 0: p = 1; break;
      case 1: p = 65535; break;
      default: p = static_cast<std::uint32_t>(rng() % 65535) + 1;
    }
    probs.push_back(p);
    // Mostly the likely bit, sometimes the unlikely one (which forces long carries and renorms).
    const bool likely = rng() % 8 != 0;
    bits.push_back(likely ? (p >= 32768 ? 0 : 1) : (p >= 32768 ? 1 : 0));
  }
  e::RangeEncoder enc;
  for (std::size_t i = 0; i < bits.size(); ++i) enc.encode(bits[i], probs[i]);
  const Bytes coded = enc.finish();
  e::RangeDecoder dec(coded);
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const int b = dec.decode(probs[i]);
    if (b != bits[i]) {
      FAIL("bit " << i << " decoded wrongly");
    }
  }
  CHECK_NOTHROW(dec.finish());
}

TEST_CASE("entropy: Laplacian streams round-trip exactly") {
  for (const double scale : {0.1, 0.5, 1.0, 3.0, 10.0, 30.0, 1000.0, 1e6}) {
    for (const int per_group : {1, 7, 300, 5000}) {
      CAPTURE(scale);
      CAPTURE(per_group);
      const Stream s = laplace(scale, 3, per_group, static_cast<std::uint64_t>(scale * 1000) + per_group);
      check_round_trip(s);
      CHECK(spec_decode(encode(s), s.groups, s.group_count) == s.symbols);
    }
  }
}

TEST_CASE("entropy: edge-case streams round-trip exactly") {
  SUBCASE("empty") {
    const Stream s;
    const Bytes coded = encode(s);
    CHECK(coded == Bytes{0, 0, 0, 0});
    CHECK(decode(coded, s).empty());
    CHECK(e::model_cost_bits(s.symbols, s.groups, 1) == 0.0);
    CHECK(e::empirical_entropy_bits(s.symbols, s.groups, 1) == 0.0);
  }
  SUBCASE("one symbol") {
    for (const std::int32_t v : {0, 1, -1, 2, 63, -64, e::kMaxMagnitude, -e::kMaxMagnitude}) {
      Stream s;
      s.symbols = {v};
      s.groups = {0};
      CAPTURE(v);
      check_round_trip(s);
    }
  }
  SUBCASE("all zeros") {
    Stream s;
    s.symbols.assign(100000, 0);
    s.groups.assign(100000, 0);
    check_round_trip(s);
    // 100000 well-predicted decisions: the model learns P(0) ~ 1 - 2^-7.5 and costs ~ 0.01 bit each.
    CHECK(encode(s).size() < 200);
  }
  SUBCASE("the largest magnitudes") {
    Stream s;
    s.symbols = {e::kMaxMagnitude, -e::kMaxMagnitude, 0, e::kMaxMagnitude, 1, -e::kMaxMagnitude, -e::kMaxMagnitude};
    s.groups.assign(s.symbols.size(), 0);
    check_round_trip(s);
    CHECK(spec_decode(encode(s), s.groups, 1) == s.symbols);
  }
  SUBCASE("the whole alphabet: every class boundary and uniform draws over the full range") {
    Stream s;
    s.group_count = 2;
    for (int k = 0; k <= 24; ++k) {
      for (const std::int64_t d : {-1, 0, 1}) {
        const std::int64_t v = (std::int64_t{1} << k) + d;
        if (v > e::kMaxMagnitude) continue;
        for (const std::int64_t sv : {v, -v}) {
          s.symbols.push_back(static_cast<std::int32_t>(sv));
          s.groups.push_back(static_cast<std::uint16_t>(k % 2));
        }
      }
    }
    std::mt19937_64 rng(5);
    std::uniform_int_distribution<std::int32_t> any(-e::kMaxMagnitude, e::kMaxMagnitude);
    for (int i = 0; i < 20000; ++i) {
      s.symbols.push_back(any(rng));
      s.groups.push_back(static_cast<std::uint16_t>(i % 2));
    }
    check_round_trip(s);
    CHECK(spec_decode(encode(s), s.groups, s.group_count) == s.symbols);
  }
  SUBCASE("many groups") {
    std::mt19937_64 rng(9);
    Stream s;
    s.group_count = e::kMaxGroupCount;
    for (int i = 0; i < 50000; ++i) {
      const auto g = static_cast<std::uint16_t>(rng() % e::kMaxGroupCount);
      s.groups.push_back(g);
      // Each group has its own scale, so sharing contexts across groups would show in the size.
      const double scale = 0.5 + (g % 64);
      std::exponential_distribution<double> ex(1.0 / scale);
      const double v = ex(rng);
      s.symbols.push_back(static_cast<std::int32_t>(std::lround(rng() % 2 ? v : -v)));
    }
    check_round_trip(s);
    CHECK(spec_decode(encode(s), s.groups, s.group_count) == s.symbols);
    // Only the last group used: contexts are made per group used, not per group_count.
    Stream last;
    last.group_count = e::kMaxGroupCount;
    last.symbols = {5, -3, 0, 1};
    last.groups.assign(4, e::kMaxGroupCount - 1);
    check_round_trip(last);
  }
}

TEST_CASE("entropy: the coded stream is pinned (byte-exact format)") {
  // Any change to these bytes is a format change: docs/entropy-coding.md must change with it.
  Stream s;
  s.symbols = {0, 1, -1, 2, -3, 7, 100, -e::kMaxMagnitude, 0, 5, 0, 0, -2, 33, 1};
  s.groups = {0, 1, 0, 1, 0, 1, 2, 2, 0, 1, 0, 0, 1, 2, 0};
  s.group_count = 3;
  const Bytes coded = encode(s);
  const Bytes expected = {0x4d, 0xfa, 0xd3, 0x17, 0x5d, 0xed, 0x5e, 0x77, 0xff,
                          0xff, 0xfa, 0x06, 0x24, 0xf2, 0x1a, 0x7d, 0xad, 0x00};
  CHECK(coded == expected);
  CHECK(spec_decode(expected, s.groups, s.group_count) == s.symbols);

  // A longer stream, from a generator that is the same everywhere (splitmix64), where the fast and
  // slow estimates part ways and runs of 0xFF bytes and carries occur: its size and CRC-32C.
  Stream longer;
  longer.group_count = 5;
  std::uint64_t state = 14;
  for (int i = 0; i < 20000; ++i) {
    state += 0x9E3779B97F4A7C15ull;
    std::uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    const auto group = static_cast<std::uint16_t>((z >> 32) % 5);
    // Geometric magnitudes (about 2 bits of class per group index), a quarter zeros, random signs.
    const std::int32_t mag = static_cast<std::int32_t>(std::countr_zero(z | (1ull << 20)) * (group + 1) + (z >> 40) % 7);
    const std::int32_t v = (z >> 50) % 4 == 0 ? 0 : mag;
    longer.symbols.push_back((z >> 63) != 0 ? -v : v);
    longer.groups.push_back(group);
  }
  const Bytes long_coded = encode(longer);
  CHECK(long_coded.size() == 10702u);
  CHECK(f::crc32c(long_coded) == 0x16810C50u);
  CHECK(spec_decode(long_coded, longer.groups, longer.group_count) == longer.symbols);
}

TEST_CASE("entropy: argument checks") {
  const Symbols one = {1};
  const Groups g0 = {0};
  const Groups g1 = {1};
  auto invalid = [](auto&& fn) {
    try {
      fn();
    } catch (const f::FormatError& err) {
      return err.code() == f::FormatErrorCode::kInvalidArgument;
    }
    return false;
  };
  CHECK(invalid([&] { e::encode_symbols(one, g1, 1); }));                      // group out of range
  CHECK(invalid([&] { e::encode_symbols(one, g0, 0); }));                      // no groups
  CHECK(invalid([&] { e::encode_symbols(one, g0, e::kMaxGroupCount + 1); }));  // too many
  CHECK(invalid([&] { e::encode_symbols(one, Groups{0, 0}, 1); }));            // size mismatch
  const Symbols too_big = {e::kMaxMagnitude + 1};
  const Symbols too_small = {-e::kMaxMagnitude - 1};
  const Symbols int_min = {std::numeric_limits<std::int32_t>::min()};
  CHECK(invalid([&] { e::encode_symbols(too_big, g0, 1); }));
  CHECK(invalid([&] { e::encode_symbols(too_small, g0, 1); }));
  CHECK(invalid([&] { e::encode_symbols(int_min, g0, 1); }));
  CHECK(invalid([&] { e::model_cost_bits(int_min, g0, 1); }));
  CHECK(invalid([&] { e::empirical_entropy_bits(one, g1, 1); }));
  const Bytes coded = e::encode_symbols(one, g0, 1);
  CHECK(invalid([&] { e::decode_symbols(coded, g1, 1); }));
  CHECK(invalid([&] { e::decode_symbols(coded, g0, 0); }));
}

TEST_CASE("entropy: the coder's size matches its reference model within a few bytes") {
  std::vector<Stream> streams;
  for (const double scale : {0.5, 3.0, 30.0, 1e5}) {
    for (const int per_group : {10, 2000, 30000}) streams.push_back(laplace(scale, 4, per_group, 77 + per_group));
  }
  for (const Stream& s : streams) {
    const double cost = e::model_cost_bits(s.symbols, s.groups, s.group_count);
    const auto bytes = static_cast<double>(encode(s).size());
    CAPTURE(s.symbols.size());
    CAPTURE(cost);
    CAPTURE(bytes);
    // The flush adds 3 to 4 bytes; rounding in the coder moves the total by far less than a byte.
    CHECK(bytes - cost / 8 >= 2.9);
    CHECK(bytes - cost / 8 <= 4.1);
  }
}

TEST_CASE("entropy: coded size is close to the empirical entropy of realistic streams") {
  struct Case {
    double scale;
    int groups, per_group;
    double max_overhead;  // bytes * 8 / entropy - 1
  };
  // Measured overheads (docs/entropy-coding.md) are 1.0-1.8% at 2,000 per group and 0.3-0.6% at 20,000
  // (2.7% at scale 30, 2,000 per group, is why that case is not here): the limits leave room for
  // other seeds and standard libraries, not for a worse coder.
  const Case cases[] = {{3.0, 3, 2000, 0.03}, {1.0, 3, 2000, 0.03}, {10.0, 3, 2000, 0.03},
                        {0.5, 10, 2000, 0.03}, {3.0, 5, 20000, 0.01}, {30.0, 5, 20000, 0.015}};
  for (const Case& c : cases) {
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      const Stream s = laplace(c.scale, c.groups, c.per_group, seed);
      const double h = e::empirical_entropy_bits(s.symbols, s.groups, s.group_count);
      const double bits = 8.0 * static_cast<double>(encode(s).size());
      CAPTURE(c.scale);
      CAPTURE(c.per_group);
      CAPTURE(h);
      CAPTURE(bits);
      CHECK(bits <= (1.0 + c.max_overhead) * h);
      CHECK(bits >= h * 0.99);  // an adaptive code cannot beat order-0 by more than noise here
    }
  }
}

TEST_CASE("entropy: empirical entropy of hand-made groups") {
  // Group 0: {1, 1, 2, 2} -> 4 bits; group 1: {7} -> 0 bits; group 2: {0, 5, 0, 5, 0, 5, 0, 9} ->
  // 4 log2(8/4) + 3 log2(8/3) + 1 log2(8/1) bits.
  const Symbols s = {1, 7, 1, 2, 2, 0, 5, 0, 5, 0, 5, 0, 9};
  const Groups g = {0, 1, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2};
  const double expected = 4.0 + 0.0 + (4 * 1.0 + 3 * std::log2(8.0 / 3) + 3.0);
  CHECK(e::empirical_entropy_bits(s, g, 3) == doctest::Approx(expected).epsilon(1e-12));
}

TEST_CASE("entropy: truncated, extended and damaged streams are rejected or decoded, never crash") {
  const Stream s = laplace(3.0, 4, 500, 123);
  const Bytes coded = encode(s);
  REQUIRE(coded.size() > 100);
  // Every truncation is detected: the decoder reads exactly as many bytes as the encoder wrote.
  for (std::size_t len = 0; len < coded.size(); ++len) {
    const Bytes cut(coded.begin(), coded.begin() + static_cast<std::ptrdiff_t>(len));
    if (!decode_rejects(cut, s)) FAIL("truncation to " << len << " bytes decoded");
  }
  // So is every extension.
  for (const std::uint8_t extra : {0x00, 0x01, 0xFF}) {
    Bytes longer = coded;
    longer.push_back(extra);
    CHECK(decode_rejects(longer, s));
  }
  // Bit flips: decoding must end (throwing kCorrupt or returning symbols); the final-state check
  // (code 0 after the flush) catches nearly all of them.
  std::mt19937_64 rng(99);
  int undetected = 0;
  const int flips = 3000;
  for (int i = 0; i < flips; ++i) {
    Bytes bad = coded;
    const std::size_t bit = rng() % (bad.size() * 8);
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    if (i % 3 == 0) {  // and a second flip somewhere else
      const std::size_t bit2 = rng() % (bad.size() * 8);
      bad[bit2 / 8] ^= static_cast<std::uint8_t>(1u << (bit2 % 8));
    }
    if (bad == coded) continue;
    if (!decode_rejects(bad, s)) ++undetected;
  }
  MESSAGE("bit flips not detected: " << undetected << " of " << flips);
  CHECK(undetected <= flips / 100);
  // Random bytes of random lengths, decoded as 0 to 5000 symbols.
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(rng() % 64);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    Stream t;
    const std::size_t n = rng() % 5000;
    t.symbols.assign(n, 0);
    t.groups.assign(n, 0);
    (void)decode_rejects(junk, t);
  }
  // The 0xFFFFFFFF start can never come from the encoder.
  CHECK(decode_rejects(Bytes{0xFF, 0xFF, 0xFF, 0xFF}, Stream{}));
}
