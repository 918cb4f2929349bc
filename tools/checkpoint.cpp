#include "tools/checkpoint.hpp"

#include <zstd.h>

#include <cstring>

#include "format/checksum.hpp"
#include "format/file_io.hpp"
#include "msinr/error.hpp"

namespace msinr::tools {
namespace {

// Little-endian byte writer/reader for the checkpoint body.
struct Writer {
  std::vector<std::uint8_t> out;
  template <class T>
  void pod(T v) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
  }
  template <class T>
  void vec(const std::vector<T>& v) {
    pod<std::uint64_t>(v.size());
    const auto* p = reinterpret_cast<const std::uint8_t*>(v.data());
    out.insert(out.end(), p, p + v.size() * sizeof(T));
  }
  void str(const std::string& s) { vec(std::vector<char>(s.begin(), s.end())); }
};

struct Reader {
  const std::uint8_t* p;
  const std::uint8_t* end;
  std::string name;
  void need(std::size_t n) {
    if (static_cast<std::size_t>(end - p) < n) throw Error(ErrorCode::kCorrupt, name + ": truncated checkpoint");
  }
  template <class T>
  T pod() {
    need(sizeof(T));
    T v;
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    return v;
  }
  template <class T>
  std::vector<T> vec(std::size_t max_count) {
    const auto n = pod<std::uint64_t>();
    if (n > max_count) throw Error(ErrorCode::kCorrupt, name + ": checkpoint vector too long");
    need(n * sizeof(T));
    std::vector<T> v(n);
    std::memcpy(v.data(), p, n * sizeof(T));
    p += n * sizeof(T);
    return v;
  }
  std::string str() {
    auto v = vec<char>(1 << 20);
    return std::string(v.begin(), v.end());
  }
};

constexpr char kCheckpointMagic[8] = {'M', 'S', 'I', 'N', 'R', 'C', 'K', 'P'};
constexpr std::uint32_t kCheckpointVersion = 1;
constexpr std::size_t kMaxParams = 1u << 24;

}  // namespace

void save_checkpoint(const std::string& path, const std::string& fingerprint, const MetaTrainingState& s) {
  Writer w;
  w.str(fingerprint);
  w.pod<std::int32_t>(s.round);
  w.pod<std::int32_t>(s.step);
  w.vec(s.params);
  w.vec(s.mask);
  w.pod<std::int32_t>(s.adam_steps);
  w.vec(s.adam_m);
  w.vec(s.adam_v);
  w.pod<std::uint64_t>(s.rng_state);
  w.pod<double>(s.train_seconds);
  w.pod<std::uint32_t>(static_cast<std::uint32_t>(s.levels.size()));
  for (const auto& l : s.levels) {
    w.pod<std::int32_t>(l.index);
    w.vec(l.mask);
    w.vec(l.init);
  }
  std::vector<std::uint8_t> file(kCheckpointMagic, kCheckpointMagic + 8);
  for (int i = 0; i < 4; ++i) file.push_back(static_cast<std::uint8_t>(kCheckpointVersion >> (8 * i)));
  const std::size_t bound = ZSTD_compressBound(w.out.size());
  const std::size_t at = file.size();
  file.resize(at + bound);
  const std::size_t n = ZSTD_compress(file.data() + at, bound, w.out.data(), w.out.size(), 3);
  if (ZSTD_isError(n)) throw Error(ErrorCode::kInternal, "checkpoint compression failed");
  file.resize(at + n);
  const std::uint32_t crc = format::crc32c(file);
  for (int i = 0; i < 4; ++i) file.push_back(static_cast<std::uint8_t>(crc >> (8 * i)));
  format::write_file_atomic(path, file);
}

MetaTrainingState load_checkpoint(const std::string& path, const std::string& expected_fingerprint) {
  const std::vector<std::uint8_t> file = format::read_file(path, 1ull << 32);
  if (file.size() < 16 || std::memcmp(file.data(), kCheckpointMagic, 8) != 0)
    throw Error(ErrorCode::kCorrupt, path + ": not an msinr training checkpoint");
  std::uint32_t version = 0, stored_crc = 0;
  std::memcpy(&version, file.data() + 8, 4);
  std::memcpy(&stored_crc, file.data() + file.size() - 4, 4);
  if (version != kCheckpointVersion)
    throw Error(ErrorCode::kUnsupported, path + ": checkpoint version " + std::to_string(version) + " is not supported");
  if (format::crc32c(std::span<const std::uint8_t>(file.data(), file.size() - 4)) != stored_crc)
    throw Error(ErrorCode::kCorrupt, path + ": checkpoint checksum mismatch (damaged file)");
  const std::uint8_t* frame = file.data() + 12;
  const std::size_t frame_size = file.size() - 16;
  const unsigned long long raw = ZSTD_getFrameContentSize(frame, frame_size);
  if (raw == ZSTD_CONTENTSIZE_ERROR || raw == ZSTD_CONTENTSIZE_UNKNOWN || raw > (1ull << 32))
    throw Error(ErrorCode::kCorrupt, path + ": bad checkpoint payload");
  std::vector<std::uint8_t> body(raw);
  const std::size_t got = ZSTD_decompress(body.data(), body.size(), frame, frame_size);
  if (ZSTD_isError(got) || got != raw) throw Error(ErrorCode::kCorrupt, path + ": bad checkpoint payload");
  Reader r{body.data(), body.data() + body.size(), path};
  const std::string fingerprint = r.str();
  if (fingerprint != expected_fingerprint)
    throw Error(ErrorCode::kInvalidArgument, path + ": checkpoint was made with other settings (" + fingerprint +
                                                 "); now: " + expected_fingerprint);
  MetaTrainingState s;
  s.round = r.pod<std::int32_t>();
  s.step = r.pod<std::int32_t>();
  s.params = r.vec<float>(kMaxParams);
  s.mask = r.vec<std::uint8_t>(kMaxParams);
  s.adam_steps = r.pod<std::int32_t>();
  s.adam_m = r.vec<float>(kMaxParams);
  s.adam_v = r.vec<float>(kMaxParams);
  s.rng_state = r.pod<std::uint64_t>();
  s.train_seconds = r.pod<double>();
  const auto n_levels = r.pod<std::uint32_t>();
  if (n_levels > 64) throw Error(ErrorCode::kCorrupt, path + ": too many levels in checkpoint");
  for (std::uint32_t i = 0; i < n_levels; ++i) {
    MetaLevel l;
    l.index = r.pod<std::int32_t>();
    l.mask = r.vec<std::uint8_t>(kMaxParams);
    l.init = r.vec<float>(kMaxParams);
    s.levels.push_back(std::move(l));
  }
  if (r.p != r.end) throw Error(ErrorCode::kCorrupt, path + ": trailing bytes in checkpoint");
  const std::size_t n = s.params.size();
  if (s.mask.size() != n || s.adam_m.size() != n || s.adam_v.size() != n || s.round < 0 || s.step < 0)
    throw Error(ErrorCode::kCorrupt, path + ": inconsistent checkpoint");
  return s;
}

}  // namespace msinr::tools
