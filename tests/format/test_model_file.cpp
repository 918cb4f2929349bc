#include <doctest/doctest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "format/checksum.hpp"
#include "format/model_file.hpp"
#include "testkit.hpp"

using namespace fmt_test;
namespace pb = msinr::format::pb;
using Code = f::FormatErrorCode;

namespace {
void check_same_model(const f::ModelFile& a, const f::ModelFile& b) {
  CHECK(a.arch == b.arch);
  CHECK(a.in_features == b.in_features);
  CHECK(a.hidden_width == b.hidden_width);
  CHECK(a.hidden_layers == b.hidden_layers);
  CHECK(a.out_features == b.out_features);
  CHECK(a.w0 == b.w0);
  CHECK(a.w0_hidden == b.w0_hidden);
  CHECK(a.fourier_features == b.fourier_features);
  CHECK(a.fourier_sigma == b.fourier_sigma);
  CHECK(a.tile_size == b.tile_size);
  CHECK(a.frozen_biases == b.frozen_biases);
  REQUIRE(a.levels.size() == b.levels.size());
  for (std::size_t i = 0; i < a.levels.size(); ++i) {
    CHECK(a.levels[i].index == b.levels[i].index);
    CHECK(a.levels[i].mask == b.levels[i].mask);
    CHECK(a.levels[i].init == b.levels[i].init);
    CHECK(a.levels[i].val_psnr == b.levels[i].val_psnr);
  }
  CHECK(a.provenance == b.provenance);
}
}  // namespace

TEST_CASE("format: model file round trip (siren and ffn)") {
  for (const std::string arch : {"siren", "ffn"}) {
    const f::ModelFile m = small_model(arch);
    const Bytes file = f::write_model_file(m);
    const f::ModelFile r = f::read_model_file(file);
    check_same_model(m, r);
    CHECK(r.param_count == 27);
    CHECK(r.levels[0].kept == 27);
    CHECK(r.levels[1].kept == 18);
    CHECK(r.model_id == f::compute_model_id(m));
    CHECK(f::model_id_hex(r.model_id).size() == 64);
    CHECK(f::write_model_file(r) == file);  // deterministic, and what was read writes back the same
    const f::ModelFile peek = f::peek_model_file(file);
    CHECK(peek.model_id == r.model_id);
    CHECK(peek.levels.size() == 2);
    CHECK(peek.levels[1].kept == 18);
    CHECK(peek.levels[1].mask.empty());
    CHECK(peek.provenance == m.provenance);
  }
}

TEST_CASE("format: model file bytes follow the documented layout") {
  const f::ModelFile m = small_model();
  const Bytes file = f::write_model_file(m);
  CHECK(Bytes(file.begin(), file.begin() + 8) == Bytes{0x89, 0x4D, 0x53, 0x4D, 0x4F, 0x44, 0x0D, 0x0A});
  CHECK(file[8] == 1);
  CHECK(file[9] == 0);
  const Parts parts = split(file);
  pb::ModelHeader h;
  REQUIRE(h.ParseFromArray(parts.header.data(), static_cast<int>(parts.header.size())));
  CHECK(h.payload_compressed_size() == parts.frame.size());
  CHECK(get_le32(file.data() + file.size() - 4) == f::crc32c(std::span(file.data(), file.size() - 4)));
  const Bytes raw = zstd_decompress(parts.frame);
  REQUIRE(raw.size() == 2 * (4 + 4 * 27));
  CHECK(h.payload_raw_size() == raw.size());
  // Level 1: mask bit-packed LSB first (parameters 1, 4, 7, ... pruned), padding zero; then floats LE.
  const std::uint8_t* level1 = raw.data() + 4 + 4 * 27;
  for (std::size_t i = 0; i < 27; ++i) {
    CHECK(((level1[i / 8] >> (i % 8)) & 1) == m.levels[1].mask[i]);
  }
  CHECK((level1[3] >> 3) == 0);
  for (std::size_t i = 0; i < 27; ++i) {
    CHECK(get_le32(level1 + 4 + 4 * i) == std::bit_cast<std::uint32_t>(m.levels[1].init[i]));
  }
  // The id is the spec's SHA-256 over the identity bytes.
  const f::ModelId id = spec_model_id(h, raw);
  CHECK(std::string(id.begin(), id.end()) == h.model_id());
  CHECK(frame_file(std::span(file.data(), 8), 1, parts.header, parts.frame) == file);
  MESSAGE("small model: " << file.size() << " bytes, id " << f::model_id_hex(id));
}

TEST_CASE("format: model id covers what decodes, not provenance") {
  const f::ModelFile m = small_model();
  const f::ModelId id = f::compute_model_id(m);
  f::ModelFile p = m;
  p.provenance.recipe = "something else";
  p.provenance.wall_seconds = 1;
  p.levels[0].val_psnr = 1.0f;
  CHECK(f::compute_model_id(p) == id);
  auto differs = [&](auto change) {
    f::ModelFile x = m;
    change(x);
    return f::compute_model_id(x) != id;
  };
  CHECK(differs([](f::ModelFile& x) { x.levels[1].init[5] = std::nextafter(x.levels[1].init[5], 1.0f); }));
  CHECK(differs([](f::ModelFile& x) { x.levels[1].mask[4] = 1; }));
  CHECK(differs([](f::ModelFile& x) { x.tile_size = 17; }));
  CHECK(differs([](f::ModelFile& x) { x.w0 = 31.0f; }));
  CHECK(differs([](f::ModelFile& x) { x.levels[1].index = 4; }));
  CHECK(differs([](f::ModelFile& x) { x.hidden_layers = 2; }));
  CHECK(differs([](f::ModelFile& x) { std::swap(x.levels[0].init, x.levels[1].init); }));
}

TEST_CASE("format: write_model_file refuses what the format cannot hold") {
  const f::ModelFile good = small_model();
  auto code = [&](auto change) {
    f::ModelFile m = good;
    change(m);
    return error_of([&] { f::write_model_file(m); });
  };
  CHECK(!code([](f::ModelFile&) {}));
  CHECK(code([](f::ModelFile& m) { m.arch = "relu"; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels.clear(); }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[1].mask[2] = 2; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[1].mask.pop_back(); }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[0].init.push_back(0); }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[0].init[0] = std::numeric_limits<float>::infinity(); }) ==
        Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[1].index = 0; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[1].index = 64; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.levels[1].val_psnr = std::numeric_limits<float>::quiet_NaN(); }) ==
        Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.fourier_features = 3; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.w0 = 0; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.tile_size = 0; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.provenance.data = "\xff"; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.provenance.notes.push_back({"", "x"}); }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) { m.provenance.wall_seconds = -1; }) == Code::kInvalidArgument);
  CHECK(code([](f::ModelFile& m) {
          m.arch = "ffn";
          m.fourier_features = 8;
          m.fourier_sigma = 0;
        }) == Code::kInvalidArgument);
}

TEST_CASE("format: model file: hash mismatch, versions and foreign files") {
  const Bytes file = f::write_model_file(small_model());
  std::string message;
  const Bytes forged = edit_model(file, [](pb::ModelHeader& h) {
    std::string id = h.model_id();
    id[0] = static_cast<char>(id[0] ^ 1);
    h.set_model_id(id);
  });
  CHECK(error_of([&] { f::read_model_file(forged); }, &message) == Code::kCorrupt);
  CHECK(message.find("content hash mismatch") != std::string::npos);
  // A payload edit with sizes and CRCs fixed up, but the id left alone.
  Bytes raw = zstd_decompress(split(file).frame);
  raw[10] ^= 0x01;
  const Bytes edited = edit_model(
      file, [&](pb::ModelHeader& h) { h.set_payload_raw_size(raw.size()); }, zstd_compress(raw));
  CHECK(error_of([&] { f::read_model_file(edited); }, &message) == Code::kCorrupt);
  CHECK(message.find("content hash mismatch") != std::string::npos);

  Bytes v4 = file;
  v4[8] = 4;
  CHECK(error_of([&] { f::read_model_file(v4); }, &message) == Code::kUnsupported);
  CHECK(message == "model file format version 4 is newer than this msinr supports (3)");
  CHECK(error_of([&] { f::read_model_file(small_container()); }, &message) == Code::kCorrupt);
  CHECK(message.find("container") != std::string::npos);
  const Bytes png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13};
  CHECK(error_of([&] { f::read_model_file(png); }, &message) == Code::kCorrupt);
  CHECK(message.find("PNG") != std::string::npos);
}

TEST_CASE("format: model file: limits") {
  const Bytes file = f::write_model_file(small_model());
  f::ModelReadLimits tight;
  tight.max_param_count = 26;
  CHECK(error_of([&] { f::read_model_file(file, tight); }) == Code::kLimit);
  tight = {};
  tight.max_levels = 1;
  CHECK(error_of([&] { f::read_model_file(file, tight); }) == Code::kLimit);
  tight = {};
  tight.max_payload_raw_bytes = 100;
  CHECK(error_of([&] { f::read_model_file(file, tight); }) == Code::kLimit);
  CHECK(error_of([&] {
          f::read_model_file(edit_model(file, [](pb::ModelHeader& h) { h.set_param_count(1u << 24); }));
        }) == Code::kCorrupt);  // within the limit, but the payload size no longer matches
  CHECK(error_of([&] {
          f::read_model_file(edit_model(file, [](pb::ModelHeader& h) {
            for (int i = 0; i < 70; ++i) h.add_levels()->set_index(10 + i);
          }));
        }) == Code::kLimit);
}

TEST_CASE("format: model file truncated at every offset or with any bit flipped is refused") {
  const Bytes file = f::write_model_file(small_model());
  for (std::size_t n = 0; n < file.size(); ++n) {
    const Bytes cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
    std::string message;
    const auto code = error_of([&] { f::read_model_file(cut); }, &message);
    REQUIRE_MESSAGE(code.has_value(), "truncation to " << n << " bytes was accepted");
    CHECK_MESSAGE(*code == Code::kCorrupt, n << " bytes: " << message);
  }
  std::map<std::string, int> by_code;
  for (std::size_t bit = 0; bit < file.size() * 8; ++bit) {
    Bytes b = file;
    b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (1u << (bit % 8)));
    const auto code = error_of([&] { f::read_model_file(b); });
    REQUIRE_MESSAGE(code.has_value(), "flip of bit " << bit << " was accepted");
    ++by_code[f::format_error_code_name(*code)];
  }
  std::string summary;
  for (const auto& [name, count] : by_code) summary += name + "=" + std::to_string(count) + " ";
  MESSAGE(file.size() * 8 << " flips, all refused: " << summary);
}

TEST_CASE("format: model: the generated corrupt variants are all refused with the expected code") {
  int n = 0;
  for (const CorpusCase& c : make_corpus()) {
    if (c.name.rfind("model/", 0) != 0) continue;
    const std::string base = c.name.substr(6);
    std::string message;
    const auto code = error_of([&] { f::read_model_file(c.bytes); }, &message);
    const auto expected = expected_code(base);
    if (expected) {
      CHECK_MESSAGE(code == expected, c.name << ": " << (code ? f::format_error_code_name(*code) : "accepted") << ": "
                                             << message);
    } else {
      CHECK_MESSAGE(!code, c.name << ": " << message);
    }
    ++n;
  }
  CHECK(n >= 15);
}

TEST_CASE("format: model file: w0_hidden is version 2, absent keeps version 1 and the old id") {
  f::ModelFile m = small_model();
  const Bytes v1 = f::write_model_file(m);
  CHECK(v1[8] == 1);
  m.w0_hidden = 12.5f;
  const Bytes v2 = f::write_model_file(m);
  CHECK(v2[8] == 2);
  const f::ModelFile back = f::read_model_file(v2);
  check_same_model(m, back);
  CHECK(back.model_id != f::read_model_file(v1).model_id);  // it changes how the network decodes
  // The id follows the spec, field included.
  const Parts parts = split(v2);
  pb::ModelHeader h;
  REQUIRE(h.ParseFromArray(parts.header.data(), static_cast<int>(parts.header.size())));
  CHECK(spec_model_id(h, zstd_decompress(parts.frame)) == back.model_id);
  // A version-1 file cannot carry the field: an old reader would ignore it and decode wrongly.
  std::string message;
  const Bytes forged = edit_model(v1, [](pb::ModelHeader& x) { x.set_w0_hidden(12.5f); });
  CHECK(error_of([&] { f::read_model_file(forged); }, &message) == Code::kCorrupt);
  CHECK(message.find("w0_hidden") != std::string::npos);
  m.w0_hidden = -1.0f;
  CHECK(error_of([&] { f::write_model_file(m); }) == Code::kInvalidArgument);
}

TEST_CASE("format: model file: frozen biases are version 3 with their own id, and older versions cannot claim them") {
  f::ModelFile m = small_model();
  const Bytes v1 = f::write_model_file(m);
  m.frozen_biases = true;
  const Bytes v3 = f::write_model_file(m);
  CHECK(v3[8] == 3);
  const f::ModelFile back = f::read_model_file(v3);
  check_same_model(m, back);
  CHECK(back.frozen_biases);
  // Same weights and levels, but tiles store different values: a container must not decode with the other.
  CHECK(back.model_id != f::read_model_file(v1).model_id);
  const Parts parts = split(v3);
  pb::ModelHeader h;
  REQUIRE(h.ParseFromArray(parts.header.data(), static_cast<int>(parts.header.size())));
  CHECK(spec_model_id(h, zstd_decompress(parts.frame)) == back.model_id);
  // Both later fields together stay version 3, and the id covers both.
  m.w0_hidden = 12.5f;
  const Bytes both = f::write_model_file(m);
  CHECK(both[8] == 3);
  check_same_model(m, f::read_model_file(both));
  // A version 1 or 2 file with the flag set is refused: a reader of that version would look for
  // biases in every tile.
  std::string message;
  const Bytes forged = edit_model(v1, [](pb::ModelHeader& x) { x.set_frozen_biases(true); });
  CHECK(error_of([&] { f::read_model_file(forged); }, &message) == Code::kCorrupt);
  CHECK(message.find("frozen biases") != std::string::npos);
  m.frozen_biases = false;
  const Bytes v2 = f::write_model_file(m);
  REQUIRE(v2[8] == 2);
  const Bytes forged2 = edit_model(v2, [](pb::ModelHeader& x) { x.set_frozen_biases(true); });
  CHECK(error_of([&] { f::read_model_file(forged2); }) == Code::kCorrupt);
}
