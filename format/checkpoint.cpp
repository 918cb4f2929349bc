#include "format/checkpoint.hpp"

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "format/checksum.hpp"
#include "format/detail/framing.hpp"

namespace msinr::format {
namespace {

constexpr detail::Magic kMagic = kCheckpointMagic;
constexpr detail::FileKindInfo kKind{"training checkpoint", &kMagic, kCheckpointVersion, 0};
constexpr std::size_t kPrefixSize = 12;  // magic + version
constexpr std::size_t kMaxFingerprintBytes = std::size_t{1} << 20;

// Little-endian writer of the frame's content.
struct Writer {
  std::vector<std::uint8_t> out;
  void u32(std::uint32_t v) { detail::put_le32(out, v); }
  void u64(std::uint64_t v) {
    u32(static_cast<std::uint32_t>(v));
    u32(static_cast<std::uint32_t>(v >> 32));
  }
  void i32(std::int32_t v) { u32(static_cast<std::uint32_t>(v)); }
  void f64(double v) { u64(std::bit_cast<std::uint64_t>(v)); }
  void floats(const std::vector<float>& v) {
    u64(v.size());
    for (float f : v) u32(std::bit_cast<std::uint32_t>(f));
  }
  void bytes(const std::uint8_t* p, std::size_t n) {
    u64(n);
    out.insert(out.end(), p, p + n);
  }
};

// Little-endian reader with bounds: every read is checked against what is left.
struct Reader {
  const std::uint8_t* p;
  const std::uint8_t* end;
  void need(std::uint64_t n) {
    if (static_cast<std::uint64_t>(end - p) < n) detail::fail(FormatErrorCode::kCorrupt, "truncated checkpoint");
  }
  std::uint32_t u32() {
    need(4);
    const std::uint32_t v = detail::get_le32(p);
    p += 4;
    return v;
  }
  std::uint64_t u64() {
    const std::uint64_t lo = u32();
    return lo | (std::uint64_t{u32()} << 32);
  }
  std::int32_t i32() { return static_cast<std::int32_t>(u32()); }
  double f64() { return std::bit_cast<double>(u64()); }
  std::uint64_t count(std::uint64_t max, std::uint64_t item_bytes) {
    const std::uint64_t n = u64();
    if (n > max) detail::fail(FormatErrorCode::kCorrupt, "checkpoint vector too long");
    need(n * item_bytes);
    return n;
  }
  std::vector<float> floats() {
    std::vector<float> v(count(kMaxCheckpointVectorLength, 4));
    for (float& f : v) f = std::bit_cast<float>(u32());
    return v;
  }
  std::vector<std::uint8_t> bytes(std::uint64_t max) {
    const std::uint64_t n = count(max, 1);
    std::vector<std::uint8_t> v(p, p + n);
    p += n;
    return v;
  }
};

}  // namespace

std::vector<std::uint8_t> write_checkpoint(const Checkpoint& c) {
  Writer w;
  w.bytes(reinterpret_cast<const std::uint8_t*>(c.fingerprint.data()), c.fingerprint.size());
  w.i32(c.round);
  w.i32(c.step);
  w.floats(c.params);
  w.bytes(c.mask.data(), c.mask.size());
  w.i32(c.adam_steps);
  w.floats(c.adam_m);
  w.floats(c.adam_v);
  w.u64(c.rng_state);
  w.f64(c.train_seconds);
  w.u32(static_cast<std::uint32_t>(c.levels.size()));
  for (const auto& l : c.levels) {
    w.i32(l.index);
    w.bytes(l.mask.data(), l.mask.size());
    w.floats(l.init);
  }
  std::vector<std::uint8_t> file(kCheckpointMagic.begin(), kCheckpointMagic.end());
  detail::put_le32(file, kCheckpointVersion);
  const std::vector<std::uint8_t> frame = detail::zstd_compress(w.out, 3);
  file.insert(file.end(), frame.begin(), frame.end());
  detail::put_le32(file, crc32c(file));
  return file;
}

Checkpoint read_checkpoint(std::span<const std::uint8_t> file) {
  if (file.size() < kPrefixSize + detail::kTrailerSize ||
      !std::equal(kCheckpointMagic.begin(), kCheckpointMagic.end(), file.begin()))
    detail::fail(FormatErrorCode::kCorrupt, "not an msinr training checkpoint");
  const std::uint32_t version = detail::get_le32(file.data() + 8);
  const std::uint32_t stored_crc = detail::get_le32(file.data() + file.size() - 4);
  if (version != kCheckpointVersion)
    detail::fail(FormatErrorCode::kUnsupported, "checkpoint version " + std::to_string(version) + " is not supported");
  if (crc32c(file.first(file.size() - 4)) != stored_crc)
    detail::fail(FormatErrorCode::kChecksum, "checkpoint checksum mismatch (damaged file)");
  const auto frame = file.subspan(kPrefixSize, file.size() - kPrefixSize - detail::kTrailerSize);
  const unsigned long long raw = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN)
    detail::fail(FormatErrorCode::kCorrupt, "bad checkpoint payload");
  // Bounded before anything is allocated: no valid frame expands more than kMaxZstdRatio times.
  if (raw > kMaxCheckpointRawBytes || raw > frame.size() * detail::kMaxZstdRatio)
    detail::fail(FormatErrorCode::kLimit, "checkpoint payload declares " + std::to_string(raw) + " bytes from a " +
                                              std::to_string(frame.size()) + "-byte frame");
  const std::vector<std::uint8_t> body = detail::zstd_decompress_exact(frame, raw, kKind);

  Reader r{body.data(), body.data() + body.size()};
  Checkpoint c;
  const auto fingerprint = r.bytes(kMaxFingerprintBytes);
  c.fingerprint.assign(fingerprint.begin(), fingerprint.end());
  c.round = r.i32();
  c.step = r.i32();
  c.params = r.floats();
  c.mask = r.bytes(kMaxCheckpointVectorLength);
  c.adam_steps = r.i32();
  c.adam_m = r.floats();
  c.adam_v = r.floats();
  c.rng_state = r.u64();
  c.train_seconds = r.f64();
  const std::uint32_t n_levels = r.u32();
  if (n_levels > kMaxCheckpointLevels) detail::fail(FormatErrorCode::kCorrupt, "too many levels in checkpoint");
  for (std::uint32_t i = 0; i < n_levels; ++i) {
    CheckpointLevel l;
    l.index = r.i32();
    l.mask = r.bytes(kMaxCheckpointVectorLength);
    l.init = r.floats();
    c.levels.push_back(std::move(l));
  }
  if (r.p != r.end) detail::fail(FormatErrorCode::kCorrupt, "trailing bytes in checkpoint");
  const std::size_t n = c.params.size();
  if (c.mask.size() != n || c.adam_m.size() != n || c.adam_v.size() != n || c.round < 0 || c.step < 0)
    detail::fail(FormatErrorCode::kCorrupt, "inconsistent checkpoint");
  return c;
}

}  // namespace msinr::format
