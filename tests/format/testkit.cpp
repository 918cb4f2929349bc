#include "testkit.hpp"

#include <zstd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <stdexcept>

#include "format/checksum.hpp"
#include "format/half.hpp"

namespace fmt_test {

namespace pb = msinr::format::pb;

void put_le16(Bytes& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v & 0xFF));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
void put_le32(Bytes& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>((v >> (8 * i)) & 0xFF));
}
std::uint32_t get_le32(const std::uint8_t* p) {
  return p[0] | (p[1] << 8) | (p[2] << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
Bytes to_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

Bytes frame_file(std::span<const std::uint8_t> magic, std::uint16_t version, std::span<const std::uint8_t> header,
                 std::span<const std::uint8_t> frame) {
  Bytes out(magic.begin(), magic.end());
  put_le16(out, version);
  put_le32(out, static_cast<std::uint32_t>(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), frame.begin(), frame.end());
  put_le32(out, f::crc32c(out));
  return out;
}

void reseal(Bytes& file) {
  const std::size_t n = file.size() - 4;
  const std::uint32_t crc = f::crc32c(std::span(file.data(), n));
  for (int i = 0; i < 4; ++i) file[n + i] = static_cast<std::uint8_t>(crc >> (8 * i));
}

Parts split(const Bytes& file) {
  if (file.size() < 18) throw std::runtime_error("split: file too short");
  Parts p;
  p.version = static_cast<std::uint16_t>(file[8] | (file[9] << 8));
  const std::uint32_t len = get_le32(file.data() + 10);
  if (14 + static_cast<std::size_t>(len) + 4 > file.size()) throw std::runtime_error("split: bad length");
  p.header.assign(file.begin() + 14, file.begin() + 14 + len);
  p.frame.assign(file.begin() + 14 + len, file.end() - 4);
  return p;
}

Bytes zstd_compress(std::span<const std::uint8_t> raw, int level) {
  Bytes out(ZSTD_compressBound(raw.size()));
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) throw std::runtime_error("zstd_compress failed");
  out.resize(n);
  return out;
}

Bytes zstd_decompress(std::span<const std::uint8_t> frame) {
  const unsigned long long size = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > (1u << 30)) {
    throw std::runtime_error("zstd_decompress: no content size");
  }
  Bytes out(size);
  const std::size_t n = ZSTD_decompress(out.data(), out.size(), frame.data(), frame.size());
  if (ZSTD_isError(n) || n != size) throw std::runtime_error("zstd_decompress failed");
  return out;
}

Bytes zstd_compress_unknown_size(std::span<const std::uint8_t> raw) {
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  Bytes out(ZSTD_compressBound(raw.size()) + 64);
  ZSTD_outBuffer ob{out.data(), out.size(), 0};
  ZSTD_inBuffer ib{raw.data(), raw.size(), 0};
  // Streaming without a pledged size: the frame header carries no content size.
  ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_continue);
  std::size_t left;
  do {
    left = ZSTD_compressStream2(cctx, &ob, &ib, ZSTD_e_end);
  } while (left != 0 && !ZSTD_isError(left));
  ZSTD_freeCCtx(cctx);
  out.resize(ob.pos);
  return out;
}

f::ContainerHeader small_header() {
  f::ContainerHeader h;
  h.width = 5;
  h.height = 3;
  h.channels = 3;
  h.tile_size = 2;
  for (std::size_t i = 0; i < h.model_id.size(); ++i) h.model_id[i] = static_cast<std::uint8_t>(0xA0 + i);
  h.level = 14;
  h.precision = f::Precision::kFp16;
  h.steps = 100;
  h.tile_count = 6;
  h.values_per_tile = 7;
  return h;
}

std::vector<float> small_values(std::size_t count, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  std::vector<float> v(count);
  for (auto& x : v) x = dist(rng);
  return v;
}

Bytes small_container() {
  const f::ContainerHeader h = small_header();
  return f::write_container(h, small_values(static_cast<std::size_t>(h.tile_count) * h.values_per_tile));
}

template <typename Message>
Bytes edit_framed(const Bytes& file, const std::function<void(Message&)>& edit, const std::optional<Bytes>& new_frame) {
  const Parts parts = split(file);
  Message m;
  if (!m.ParseFromArray(parts.header.data(), static_cast<int>(parts.header.size()))) {
    throw std::runtime_error("edit: header does not parse");
  }
  if (new_frame) m.set_payload_compressed_size(new_frame->size());
  edit(m);
  const std::string header = m.SerializeAsString();
  const Bytes& frame = new_frame ? *new_frame : parts.frame;
  return frame_file(std::span(file.data(), 8), parts.version,
                    std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()), frame);
}

Bytes edit_container(const Bytes& file, const std::function<void(pb::ContainerHeader&)>& edit,
                     const std::optional<Bytes>& new_frame) {
  return edit_framed<pb::ContainerHeader>(file, edit, new_frame);
}

Bytes container_with_raw_payload(const Bytes& file, const Bytes& raw) {
  const Bytes frame = zstd_compress(raw);
  return edit_container(
      file,
      [&](pb::ContainerHeader& h) {
        h.set_payload_raw_size(raw.size());
        h.set_payload_crc(f::crc32c(raw));
      },
      frame);
}

f::ModelFile small_model(const std::string& arch) {
  f::ModelFile m;
  m.arch = arch;
  m.in_features = 2;
  m.hidden_width = 4;
  m.hidden_layers = 1;
  m.out_features = 3;
  m.w0 = 30.0f;
  if (arch == "ffn") {
    m.fourier_features = 8;
    m.fourier_sigma = 20.0f;
  }
  m.tile_size = 16;
  const std::size_t p = 2 * 4 + 4 + 4 * 3 + 3;  // 27: not a multiple of 8, so masks have padding
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (std::uint32_t index : {0u, 3u}) {
    f::ModelLevel level;
    level.index = index;
    level.mask.assign(p, 1);
    level.init.resize(p);
    for (std::size_t i = 0; i < p; ++i) {
      if (index > 0 && i % 3 == 1) level.mask[i] = 0;
      level.init[i] = level.mask[i] ? u(rng) : 0.0f;
    }
    level.val_psnr = 30.5f + static_cast<float>(index);
    m.levels.push_back(std::move(level));
  }
  m.provenance.data = "shared/data/celeba89/train";
  m.provenance.recipe = "maml second-order, 2 inner steps at 0.01, outer Adam 1e-5; prune 20%/round";
  m.provenance.steps = 12345;
  m.provenance.seed = 42;
  m.provenance.wall_seconds = 3600.25;
  m.provenance.created_by = "msinr 0.1.0 (tests)";
  m.provenance.notes = {{"crop", "89"}, {"order", "second"}, {"\xc3\xa9t\xc3\xa9", "\xe2\x9c\x93"}};
  return m;
}

Bytes edit_model(const Bytes& file, const std::function<void(pb::ModelHeader&)>& edit,
                 const std::optional<Bytes>& new_frame) {
  return edit_framed<pb::ModelHeader>(file, edit, new_frame);
}

f::ModelId spec_model_id(const pb::ModelHeader& h, std::span<const std::uint8_t> raw) {
  Bytes id = to_bytes("msinr-model-id-1");
  put_le32(id, static_cast<std::uint32_t>(h.arch()));
  put_le32(id, h.in_features());
  put_le32(id, h.hidden_width());
  put_le32(id, h.hidden_layers());
  put_le32(id, h.out_features());
  put_le32(id, std::bit_cast<std::uint32_t>(h.w0()));
  put_le32(id, h.fourier_features());
  put_le32(id, std::bit_cast<std::uint32_t>(h.fourier_sigma()));
  put_le32(id, h.tile_size());
  put_le32(id, h.param_count());
  put_le32(id, static_cast<std::uint32_t>(h.levels_size()));
  for (const auto& l : h.levels()) put_le32(id, l.index());
  if (std::bit_cast<std::uint32_t>(h.w0_hidden()) != 0) put_le32(id, std::bit_cast<std::uint32_t>(h.w0_hidden()));
  if (h.frozen_biases()) {
    const Bytes marker = to_bytes("frozen-biases");
    id.insert(id.end(), marker.begin(), marker.end());
  }
  id.insert(id.end(), raw.begin(), raw.end());
  return f::sha256(id);
}

Bytes model_with_raw_payload(const Bytes& file, const Bytes& raw) {
  const Bytes frame = zstd_compress(raw);
  return edit_model(
      file,
      [&](pb::ModelHeader& h) {
        h.set_payload_raw_size(raw.size());
        const f::ModelId id = spec_model_id(h, raw);
        h.set_model_id(std::string(id.begin(), id.end()));
      },
      frame);
}

std::optional<f::FormatErrorCode> error_of(const std::function<void()>& fn, std::string* message) {
  try {
    fn();
  } catch (const f::FormatError& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return std::nullopt;
}

void read_as(const std::string& kind, const Bytes& bytes) {
  if (kind == "container") {
    (void)f::read_container(bytes);
  } else if (kind == "model") {
    (void)f::read_model_file(bytes);
  } else {
    throw std::runtime_error("read_as: unknown kind " + kind);
  }
}

std::optional<f::FormatErrorCode> expected_code(const std::string& file_name) {
  if (file_name.rfind("ok-", 0) == 0) return std::nullopt;
  using C = f::FormatErrorCode;
  for (C c : {C::kIo, C::kCorrupt, C::kUnsupported, C::kLimit, C::kInvalidArgument, C::kChecksum,
              C::kModelMismatch}) {
    if (file_name.rfind(std::string("bad-") + f::format_error_code_name(c) + "-", 0) == 0) return c;
  }
  throw std::runtime_error("corpus file name with no expectation: " + file_name);
}

namespace {

Bytes flip_bit(Bytes b, std::size_t bit) {
  b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (1u << (bit % 8)));
  return b;
}

Bytes payload_of_container(const Bytes& file) { return zstd_decompress(split(file).frame); }
Bytes payload_of_model(const Bytes& file) { return zstd_decompress(split(file).frame); }

}  // namespace

std::vector<CorpusCase> make_corpus() {
  std::vector<CorpusCase> out;
  auto add = [&](const std::string& name, Bytes bytes, bool seed) { out.push_back({name, std::move(bytes), seed}); };

  // ---- containers
  const Bytes c = small_container();
  const std::string C = "container/";
  add(C + "ok-small", c, true);
  {
    f::ContainerHeader h = small_header();
    h.width = h.height = 1;
    h.tile_size = 16;
    h.tile_count = 1;
    h.values_per_tile = 40;
    add(C + "ok-one-pixel", f::write_container(h, small_values(40, 3)), true);
  }
  {
    // Version 2: the quantized payload, and damage to it.
    f::ContainerHeader h = small_header();
    h.precision = f::Precision::kQuantized;
    h.group_sizes = {5, 2};
    h.quant_steps = {0.01f, 0.002f};
    std::vector<std::int32_t> q(static_cast<std::size_t>(h.tile_count) * h.values_per_tile);
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = static_cast<std::int32_t>(i % 7) - 3;
    const Bytes qc = f::write_quantized_container(h, q);
    add(C + "ok-quantized", qc, true);
    add(C + "bad-checksum-quantized-bit-flip", flip_bit(qc, (qc.size() - 8) * 8 + 1), true);
    add(C + "bad-corrupt-quantized-group-sum",
        edit_container(qc, [](pb::ContainerHeader& x) { x.set_group_sizes(0, 6); }), true);
    add(C + "bad-corrupt-quantized-truncated", Bytes(qc.begin(), qc.end() - 6), false);
  }
  {
    // Version 3: per-tile levels, and damage to their header fields.
    f::ContainerHeader h = small_header();  // 6 tiles
    h.precision = f::Precision::kQuantized;
    h.quant_steps = {0.01f, 0.002f};
    h.tile_level_set = {1, 4};
    h.level_group_sizes = {5, 2, 3, 1};
    h.values_per_tile = 7;
    const std::vector<std::uint32_t> levels = {1, 4, 4, 1, 1, 4};
    std::vector<std::int32_t> q;
    for (std::uint32_t l : levels)
      for (int k = 0; k < (l == 1 ? 7 : 4); ++k) q.push_back(static_cast<std::int32_t>(q.size() % 7) - 3);
    const Bytes tc = f::write_quantized_container(h, q, levels);
    add(C + "ok-tile-levels", tc, true);
    add(C + "bad-corrupt-tile-levels-unsorted",
        edit_container(tc, [](pb::ContainerHeader& x) { x.set_tile_level_set(1, 0); }), true);
    add(C + "bad-corrupt-tile-levels-sizes",
        edit_container(tc, [](pb::ContainerHeader& x) { x.set_level_group_sizes(0, 9); }), true);
    // Merged edges are a version-4 feature: a version-3 file that claims them is damaged.
    add(C + "bad-corrupt-merged-edges-in-v3", edit_container(tc, [](pb::ContainerHeader& x) {
          x.set_tiles_across(3);
          x.set_tiles_down(2);
        }), true);
  }
  {
    // Version 4: merged edges. 5x3 in tiles of 2 is a 3x2 grid; merged, 2x1 (the last column holds
    // 3 pixels, the only row 3).
    f::ContainerHeader h = small_header();
    h.tiles_across = 2;
    h.tiles_down = 1;
    h.tile_count = 2;
    const Bytes mc = f::write_container(h, small_values(2u * h.values_per_tile));
    add(C + "ok-merged-edges", mc, true);
    h.precision = f::Precision::kQuantized;
    h.group_sizes = {5, 2};
    h.quant_steps = {0.01f, 0.002f};
    std::vector<std::int32_t> q(2u * h.values_per_tile);
    for (std::size_t i = 0; i < q.size(); ++i) q[i] = static_cast<std::int32_t>(i % 5) - 2;
    add(C + "ok-merged-edges-quantized", f::write_quantized_container(h, q), true);
    // One tile across cannot cover 5 pixels in tiles of 2 (its last would hold 5 > 2 x 2 - 1).
    add(C + "bad-corrupt-merged-edges-counts", edit_container(mc, [](pb::ContainerHeader& x) {
          x.set_tiles_across(1);
          x.set_tile_count(1);
        }), true);
  }
  add(C + "bad-corrupt-empty", {}, false);
  add(C + "bad-corrupt-png", Bytes{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R'}, true);
  add(C + "bad-corrupt-model-file", f::write_model_file(small_model()), false);
  add(C + "bad-corrupt-truncated-header", Bytes(c.begin(), c.begin() + 20), true);
  add(C + "bad-corrupt-truncated-payload", Bytes(c.begin(), c.end() - 10), false);
  {
    Bytes t = c;
    t.insert(t.end(), {0, 0, 0});
    add(C + "bad-corrupt-trailing-bytes", t, true);
  }
  {
    Bytes v = c;
    v[8] = static_cast<std::uint8_t>(f::kContainerVersion + 1);
    add(C + "bad-unsupported-version-" + std::to_string(f::kContainerVersion + 1), v, true);
    v[8] = 0;
    add(C + "bad-corrupt-version-0", v, false);
    Bytes l = c;
    l[13] = 0x7F;
    add(C + "bad-corrupt-header-length", l, false);
  }
  add(C + "bad-checksum-payload-bit-flip", flip_bit(c, (c.size() - 8) * 8 + 3), true);
  add(C + "bad-checksum-payload-crc",
      edit_container(c, [](pb::ContainerHeader& h) { h.set_payload_crc(h.payload_crc() ^ 1u); }), false);
  add(C + "bad-limit-width-2pow31", edit_container(c, [](pb::ContainerHeader& h) { h.set_width(1u << 31); }), true);
  add(C + "bad-limit-pixels",
      edit_container(c,
                     [](pb::ContainerHeader& h) {
                       h.set_width(1u << 20);
                       h.set_height(1u << 20);
                     }),
      false);
  add(C + "bad-corrupt-tile-count", edit_container(c, [](pb::ContainerHeader& h) { h.set_tile_count(7); }), false);
  add(C + "bad-corrupt-tile-size-0", edit_container(c, [](pb::ContainerHeader& h) { h.set_tile_size(0); }), false);
  add(C + "bad-unsupported-channels-4", edit_container(c, [](pb::ContainerHeader& h) { h.set_channels(4); }), false);
  add(C + "bad-unsupported-precision-3",
      edit_container(c, [](pb::ContainerHeader& h) { h.set_precision(static_cast<pb::Precision>(3)); }), false);
  add(C + "bad-corrupt-precision-2-in-version-1",
      edit_container(c, [](pb::ContainerHeader& h) { h.set_precision(static_cast<pb::Precision>(2)); }), false);
  add(C + "bad-corrupt-model-id-short",
      edit_container(c, [](pb::ContainerHeader& h) { h.set_model_id(std::string(16, 'x')); }), false);
  {
    const Bytes raw = payload_of_container(c);
    Bytes more = raw;
    more.insert(more.end(), {0, 0});
    add(C + "bad-corrupt-zstd-declares-more", edit_container(c, [](pb::ContainerHeader&) {}, zstd_compress(more)),
        true);
    Bytes less(raw.begin(), raw.end() - 2);
    add(C + "bad-corrupt-zstd-declares-less", edit_container(c, [](pb::ContainerHeader&) {}, zstd_compress(less)),
        false);
    add(C + "bad-corrupt-zstd-unknown-size",
        edit_container(c, [](pb::ContainerHeader&) {}, zstd_compress_unknown_size(raw)), true);
    Bytes two = zstd_compress(raw);
    const Bytes empty_frame = zstd_compress(Bytes{});
    two.insert(two.end(), empty_frame.begin(), empty_frame.end());
    add(C + "bad-corrupt-zstd-two-frames", edit_container(c, [](pb::ContainerHeader&) {}, two), false);
    Bytes garbage = zstd_compress(raw);
    for (std::size_t i = 6; i < garbage.size(); ++i) garbage[i] = static_cast<std::uint8_t>(i * 37);
    add(C + "bad-corrupt-zstd-garbage", edit_container(c, [](pb::ContainerHeader&) {}, garbage), false);
    Bytes inf = raw;
    inf[0] = 0x00;
    inf[1] = 0x7C;  // +infinity
    add(C + "bad-corrupt-value-infinite", container_with_raw_payload(c, inf), true);
    Bytes nan = raw;
    nan[2] = 0x01;
    nan[3] = 0xFE;  // a NaN
    add(C + "bad-corrupt-value-nan", container_with_raw_payload(c, nan), false);
  }
  // 2^28 pixels in tiles of 1 with 2 values each is exactly the 1 GiB payload limit, claimed by a
  // tiny frame: refused by the zstd expansion bound before anything is allocated.
  add(C + "bad-corrupt-impossible-ratio",
      edit_container(c,
                     [](pb::ContainerHeader& h) {
                       h.set_width(1u << 14);
                       h.set_height(1u << 14);
                       h.set_tile_size(1);
                       h.set_tile_count(1u << 28);
                       h.set_values_per_tile(2);
                       h.set_payload_raw_size(1ull << 30);
                     }),
      false);
  {
    Bytes junk = c;
    const Parts parts = split(c);
    // Header bytes that are not a protobuf message (a field with wire type 7).
    for (std::size_t i = 0; i < parts.header.size(); ++i) junk[14 + i] = 0xFF;
    reseal(junk);
    add(C + "bad-corrupt-header-not-protobuf", junk, false);
  }

  // ---- models
  const std::string M = "model/";
  const Bytes m = f::write_model_file(small_model());
  add(M + "ok-siren", m, true);
  add(M + "ok-ffn", f::write_model_file(small_model("ffn")), true);
  add(M + "bad-corrupt-container", c, false);
  add(M + "bad-corrupt-jpeg", Bytes{0xFF, 0xD8, 0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0}, false);
  add(M + "bad-corrupt-truncated", Bytes(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(m.size() / 2)), true);
  {
    Bytes v = m;
    v[8] = 9;
    add(M + "bad-unsupported-version-9", v, false);
  }
  add(M + "bad-checksum-payload-bit-flip", flip_bit(m, (m.size() - 6) * 8 + 5), true);
  add(M + "bad-corrupt-hash-mismatch",
      edit_model(m,
                 [](pb::ModelHeader& h) {
                   std::string id = h.model_id();
                   id[5] = static_cast<char>(id[5] ^ 0x10);
                   h.set_model_id(id);
                 }),
      true);
  add(M + "bad-unsupported-arch-7", edit_model(m, [](pb::ModelHeader& h) { h.set_arch(static_cast<pb::Arch>(7)); }),
      false);
  add(M + "bad-limit-param-count", edit_model(m, [](pb::ModelHeader& h) { h.set_param_count(1u << 25); }), false);
  add(M + "bad-corrupt-param-count", edit_model(m, [](pb::ModelHeader& h) { h.set_param_count(28); }), false);
  add(M + "bad-corrupt-levels-order", edit_model(m, [](pb::ModelHeader& h) { h.mutable_levels(1)->set_index(0); }),
      false);
  add(M + "bad-corrupt-kept-mismatch", edit_model(m, [](pb::ModelHeader& h) { h.mutable_levels(1)->set_kept(20); }),
      true);
  add(M + "bad-corrupt-utf8",
      edit_model(m, [](pb::ModelHeader& h) { h.mutable_provenance()->set_recipe("bad \xC3\x28 utf8"); }), false);
  add(M + "bad-corrupt-siren-with-fourier",
      edit_model(m, [](pb::ModelHeader& h) { h.set_fourier_features(4); }), false);
  {
    const Bytes raw = payload_of_model(m);
    Bytes pad = raw;
    pad[3] = static_cast<std::uint8_t>(pad[3] | 0x80);  // bit 31 of a 27-bit mask: padding
    add(M + "bad-corrupt-mask-padding", model_with_raw_payload(m, pad), true);
    Bytes nan = raw;
    const std::size_t init0 = 4;  // after ceil(27 / 8) = 4 mask bytes
    nan[init0 + 3] = 0x7F;
    nan[init0 + 2] = 0xC0;
    add(M + "bad-corrupt-init-nan", model_with_raw_payload(m, nan), true);
    Bytes shorter(raw.begin(), raw.end() - 4);
    add(M + "bad-corrupt-zstd-declares-less", edit_model(m, [](pb::ModelHeader&) {}, zstd_compress(shorter)), false);
  }
  return out;
}

}  // namespace fmt_test
