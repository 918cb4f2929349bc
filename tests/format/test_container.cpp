#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "format/checksum.hpp"
#include "format/container.hpp"
#include "format/half.hpp"
#include "testkit.hpp"

using namespace fmt_test;
namespace pb = msinr::format::pb;
using Code = f::FormatErrorCode;

TEST_CASE("format: container round trip keeps the header and the fp16-rounded values") {
  const f::ContainerHeader h = small_header();
  std::vector<float> values = small_values(42);
  values[0] = 1.0f / 3.0f;
  values[1] = -65504.0f;
  values[2] = 1e-7f;  // subnormal in fp16
  values[3] = -0.0f;
  const Bytes file = f::write_container(h, values);
  const f::Container c = f::read_container(file);
  CHECK(c.header.width == h.width);
  CHECK(c.header.height == h.height);
  CHECK(c.header.channels == 3);
  CHECK(c.header.tile_size == h.tile_size);
  CHECK(c.header.model_id == h.model_id);
  CHECK(c.header.level == h.level);
  CHECK(c.header.precision == f::Precision::kFp16);
  CHECK(c.header.steps == h.steps);
  CHECK(c.header.tile_count == h.tile_count);
  CHECK(c.header.values_per_tile == h.values_per_tile);
  CHECK(c.header.payload_raw_size == 84);
  CHECK(c.header.payload_compressed_size < file.size());
  REQUIRE(c.values.size() == values.size());
  for (std::size_t i = 0; i < values.size(); ++i) {
    CHECK(c.values[i] == f::half_to_float(f::float_to_half(values[i])));
  }
  CHECK(std::signbit(c.values[3]));
  CHECK(f::peek_header(file) == c.header);
  // Deterministic bytes.
  CHECK(f::write_container(h, values) == file);
  // Writing what was read gives the same file.
  CHECK(f::write_container(c.header, c.values) == file);
}

TEST_CASE("format: container bytes follow the documented layout") {
  const Bytes file = small_container();
  // Magic 89 4D 53 49 4E 52 0D 0A, version 1 little-endian.
  const Bytes magic{0x89, 0x4D, 0x53, 0x49, 0x4E, 0x52, 0x0D, 0x0A};
  CHECK(Bytes(file.begin(), file.begin() + 8) == magic);
  CHECK(file[8] == 1);
  CHECK(file[9] == 0);
  const std::uint32_t header_len = get_le32(file.data() + 10);
  pb::ContainerHeader h;
  REQUIRE(h.ParseFromArray(file.data() + 14, static_cast<int>(header_len)));
  CHECK(file.size() == 14 + header_len + h.payload_compressed_size() + 4);
  CHECK(get_le32(file.data() + file.size() - 4) == f::crc32c(std::span(file.data(), file.size() - 4)));
  const Bytes raw = zstd_decompress(split(file).frame);
  CHECK(raw.size() == h.payload_raw_size());
  CHECK(f::crc32c(raw) == h.payload_crc());
  // fp16 little-endian, in order.
  f::ContainerHeader one = small_header();
  one.width = one.height = 1;
  one.tile_count = 1;
  one.values_per_tile = 2;
  const Bytes tiny = f::write_container(one, std::vector<float>{1.0f, -2.0f});
  CHECK(zstd_decompress(split(tiny).frame) == Bytes{0x00, 0x3C, 0x00, 0xC0});
  // The framing helper of the tests (written from the spec) reproduces the file exactly.
  const Parts parts = split(file);
  CHECK(frame_file(magic, 1, parts.header, parts.frame) == file);
  MESSAGE("small container: " << file.size() << " bytes, header " << header_len << ", frame "
                               << h.payload_compressed_size() << ", payload " << raw.size());
}

TEST_CASE("format: write_container refuses what the format cannot hold") {
  const f::ContainerHeader good = small_header();
  const std::vector<float> values = small_values(42);
  auto code = [&](f::ContainerHeader h, std::vector<float> v) { return error_of([&] { f::write_container(h, v); }); };
  CHECK(code(good, small_values(41)) == Code::kInvalidArgument);
  std::vector<float> nan = values;
  nan[5] = std::numeric_limits<float>::quiet_NaN();
  CHECK(code(good, nan) == Code::kInvalidArgument);
  std::vector<float> big = values;
  big[6] = 65520.0f;
  CHECK(code(good, big) == Code::kInvalidArgument);
  big[6] = 65519.0f;  // rounds to 65504: fine
  CHECK(!code(good, big));
  f::ContainerHeader h = good;
  h.width = 0;
  CHECK(code(h, values) == Code::kInvalidArgument);
  h = good;
  h.channels = 4;
  CHECK(code(h, values) == Code::kInvalidArgument);
  h = good;
  h.tile_count = 5;
  CHECK(code(h, small_values(35)) == Code::kInvalidArgument);
  h = good;
  h.precision = static_cast<f::Precision>(2);
  CHECK(code(h, values) == Code::kInvalidArgument);
  h = good;
  h.level = 64;
  CHECK(code(h, values) == Code::kInvalidArgument);
}

TEST_CASE("format: container truncated at every byte offset is refused") {
  const Bytes file = small_container();
  for (std::size_t n = 0; n < file.size(); ++n) {
    const Bytes cut(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n));
    std::string message;
    const auto code = error_of([&] { f::read_container(cut); }, &message);
    REQUIRE_MESSAGE(code.has_value(), "truncation to " << n << " bytes was accepted");
    CHECK_MESSAGE(*code == Code::kCorrupt, n << " bytes: " << message);
    CHECK(error_of([&] { f::peek_header(cut); }).has_value());
  }
}

TEST_CASE("format: every single bit flip in a container is refused") {
  const Bytes file = small_container();
  std::map<std::string, int> by_code;
  for (std::size_t bit = 0; bit < file.size() * 8; ++bit) {
    Bytes b = file;
    b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (1u << (bit % 8)));
    const auto code = error_of([&] { f::read_container(b); });
    REQUIRE_MESSAGE(code.has_value(), "flip of bit " << bit << " (byte " << bit / 8 << ") was accepted");
    ++by_code[f::format_error_code_name(*code)];
  }
  std::string summary;
  for (const auto& [name, count] : by_code) summary += name + "=" + std::to_string(count) + " ";
  MESSAGE(file.size() * 8 << " flips, all refused: " << summary);
}

TEST_CASE("format: bit flips the CRC trailer does not see are still caught or harmless") {
  // An adversary who recomputes the file CRC: every flip must be refused, or change only fields no
  // reader can check on its own (steps, level, model id: the codec compares the model id).
  const Bytes file = small_container();
  const f::Container original = f::read_container(file);
  int accepted = 0;
  for (std::size_t bit = 14 * 8; bit < (file.size() - 4) * 8; ++bit) {
    Bytes b = file;
    b[bit / 8] = static_cast<std::uint8_t>(b[bit / 8] ^ (1u << (bit % 8)));
    reseal(b);
    f::Container c;
    if (error_of([&] { c = f::read_container(b); })) continue;
    ++accepted;
    f::ContainerHeader a = original.header, h = c.header;
    a.steps = h.steps;
    a.level = h.level;
    a.model_id = h.model_id;
    CHECK_MESSAGE(a == h, "flip of bit " << bit << " changed a validated header field");
    CHECK_MESSAGE(c.values == original.values, "flip of bit " << bit << " changed the values");
  }
  MESSAGE(accepted << " resealed flips accepted, all in steps/level/model_id");
}

TEST_CASE("format: container: foreign files, magic and versions") {
  std::string message;
  const Bytes png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R', 0, 0, 0, 1};
  CHECK(error_of([&] { f::read_container(png); }, &message) == Code::kCorrupt);
  CHECK(message.find("PNG") != std::string::npos);
  Bytes wrong = small_container();
  wrong[1] = 'X';
  CHECK(error_of([&] { f::read_container(wrong); }, &message) == Code::kCorrupt);
  CHECK(message.find("magic") != std::string::npos);
  const Bytes model = f::write_model_file(small_model());
  CHECK(error_of([&] { f::read_container(model); }, &message) == Code::kCorrupt);
  CHECK(message.find("model file") != std::string::npos);

  Bytes v5 = small_container();
  v5[8] = 5;
  CHECK(error_of([&] { f::read_container(v5); }, &message) == Code::kUnsupported);
  CHECK(message == "container format version 5 is newer than this msinr supports (4)");
  CHECK(error_of([&] { f::peek_header(v5); }) == Code::kUnsupported);
  Bytes v258 = small_container();
  v258[9] = 1;  // 0x0101 = 257: little-endian
  CHECK(error_of([&] { f::read_container(v258); }, &message) == Code::kUnsupported);
  CHECK(message.find("version 257 ") != std::string::npos);
}

TEST_CASE("format: container: sizes and limits") {
  const Bytes file = small_container();
  std::string message;
  CHECK(error_of([&] { f::read_container(edit_container(file, [](pb::ContainerHeader& h) { h.set_width(1u << 31); })); },
                 &message) == Code::kLimit);
  CHECK(message.find("2147483648") != std::string::npos);
  CHECK(error_of([&] {
          f::read_container(edit_container(file, [](pb::ContainerHeader& h) {
            h.set_width(1u << 31);
            h.set_height(1u << 31);
          }));
        }) == Code::kLimit);
  // Tighter caller limits.
  f::ReadLimits tight;
  tight.max_pixels = 14;
  CHECK(error_of([&] { f::read_container(file, tight); }) == Code::kLimit);
  tight = {};
  tight.max_payload_raw_bytes = 83;
  CHECK(error_of([&] { f::read_container(file, tight); }) == Code::kLimit);
  // Raw size not matching tiles x values.
  CHECK(error_of([&] {
          f::read_container(edit_container(file, [](pb::ContainerHeader& h) { h.set_payload_raw_size(86); }));
        }) == Code::kCorrupt);
  // Trailing bytes.
  Bytes trailing = file;
  trailing.push_back(0);
  CHECK(error_of([&] { f::read_container(trailing); }, &message) == Code::kCorrupt);
  CHECK(message.find("trailing") != std::string::npos);
  // Header length bounds.
  Bytes zero_len = file;
  zero_len[10] = zero_len[11] = zero_len[12] = zero_len[13] = 0;
  CHECK(error_of([&] { f::read_container(zero_len); }) == Code::kCorrupt);
  Bytes huge_len = file;
  huge_len[13] = 0xFF;
  CHECK(error_of([&] { f::read_container(huge_len); }) == Code::kCorrupt);
  // Compressed size claiming more than the file holds, or 2^64 - 1.
  CHECK(error_of([&] {
          f::read_container(edit_container(file, [](pb::ContainerHeader& h) { h.set_payload_compressed_size(~0ull); }));
        }) == Code::kCorrupt);
}

TEST_CASE("format: container: the zstd frame must declare exactly the header's size") {
  const Bytes file = small_container();
  const Bytes raw = zstd_decompress(split(file).frame);
  Bytes more = raw;
  more.push_back(0);
  more.push_back(0);
  std::string message;
  CHECK(error_of([&] { f::read_container(edit_container(file, [](pb::ContainerHeader&) {}, zstd_compress(more))); },
                 &message) == Code::kCorrupt);
  CHECK(message.find("declares 86 bytes but the header says 84") != std::string::npos);
  const Bytes less(raw.begin(), raw.end() - 2);
  CHECK(error_of([&] { f::read_container(edit_container(file, [](pb::ContainerHeader&) {}, zstd_compress(less))); },
                 &message) == Code::kCorrupt);
  CHECK(message.find("declares 82 bytes") != std::string::npos);
  CHECK(error_of([&] {
          f::read_container(edit_container(file, [](pb::ContainerHeader&) {}, zstd_compress_unknown_size(raw)));
        },
                 &message) == Code::kCorrupt);
  CHECK(message.find("content size") != std::string::npos);
  // peek_header checks the frame's declared size too, without decompressing.
  CHECK(error_of([&] { f::peek_header(edit_container(file, [](pb::ContainerHeader&) {}, zstd_compress(more))); }) ==
        Code::kCorrupt);
}

TEST_CASE("format: container: checksums") {
  const Bytes file = small_container();
  std::string message;
  // Payload CRC wrong (file CRC right): read refuses, peek (which does not decompress) accepts.
  const Bytes bad_crc =
      edit_container(file, [](pb::ContainerHeader& h) { h.set_payload_crc(h.payload_crc() + 1); });
  CHECK(error_of([&] { f::read_container(bad_crc); }, &message) == Code::kChecksum);
  CHECK(message.find("payload checksum") != std::string::npos);
  CHECK(!error_of([&] { f::peek_header(bad_crc); }));
  // File CRC wrong.
  Bytes bad_trailer = file;
  bad_trailer.back() ^= 0x40;
  CHECK(error_of([&] { f::read_container(bad_trailer); }, &message) == Code::kChecksum);
  CHECK(error_of([&] { f::peek_header(bad_trailer); }) == Code::kChecksum);
}

TEST_CASE("format: container: the generated corrupt variants are all refused with the expected code") {
  int n = 0;
  for (const CorpusCase& c : make_corpus()) {
    if (c.name.rfind("container/", 0) != 0) continue;
    const std::string base = c.name.substr(10);
    std::string message;
    const auto code = error_of([&] { f::read_container(c.bytes); }, &message);
    const auto expected = expected_code(base);
    if (expected) {
      CHECK_MESSAGE(code == expected, c.name << ": " << (code ? f::format_error_code_name(*code) : "accepted") << ": "
                                             << message);
    } else {
      CHECK_MESSAGE(!code, c.name << ": " << message);
    }
    ++n;
  }
  CHECK(n >= 20);
}

TEST_CASE("format: the worked example in docs/format.md is byte exact") {
  const Bytes expected{
      0x89, 0x4d, 0x53, 0x49, 0x4e, 0x52, 0x0d, 0x0a, 0x01, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x08, 0x01,
      0x10, 0x01, 0x18, 0x03, 0x20, 0x10, 0x2a, 0x20, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
      0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
      0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x30, 0x0e, 0x38, 0x01, 0x40, 0x64, 0x48, 0x01,
      0x50, 0x02, 0x58, 0x04, 0x60, 0x0d, 0x6d, 0x42, 0x71, 0x83, 0xbc, 0x28, 0xb5, 0x2f, 0xfd, 0x20,
      0x04, 0x21, 0x00, 0x00, 0x00, 0x3c, 0x00, 0xc0, 0xd0, 0x43, 0x8d, 0x03};
  f::ContainerHeader h;
  h.width = h.height = 1;
  h.tile_size = 16;
  h.tile_count = 1;
  h.values_per_tile = 2;
  h.level = 14;
  h.steps = 100;
  for (std::size_t i = 0; i < h.model_id.size(); ++i) h.model_id[i] = static_cast<std::uint8_t>(i);
  const f::Container c = f::read_container(expected);
  CHECK(c.values == std::vector<float>{1.0f, -2.0f});
  CHECK(c.header.payload_crc == 0xBC837142u);
  h.payload_raw_size = 4;
  h.payload_compressed_size = 13;
  h.payload_crc = 0xBC837142u;
  CHECK(c.header == h);
  // A 4-byte payload is stored as a raw zstd block, so this holds for any zstd version.
  CHECK(f::write_container(h, c.values) == expected);
}

TEST_CASE("format: container: merged edges (version 4) and the counts an axis may have") {
  // The grid's count along an axis, or one fewer when its last tile is partial.
  CHECK(f::grid_tiles_along(5, 2) == 3u);
  CHECK(f::grid_tiles_along(4, 2) == 2u);
  CHECK(f::grid_tiles_along(0, 2) == 0u);
  CHECK(f::valid_tiles_along(3, 5, 2));
  CHECK(f::valid_tiles_along(2, 5, 2));   // the last tile holds 3 = 2 x 2 - 1
  CHECK_FALSE(f::valid_tiles_along(1, 5, 2));
  CHECK_FALSE(f::valid_tiles_along(4, 5, 2));
  CHECK(f::valid_tiles_along(2, 4, 2));
  CHECK_FALSE(f::valid_tiles_along(1, 4, 2));  // two whole tiles are never stretched into one
  CHECK(f::valid_tiles_along(1, 1, 128));
  CHECK_FALSE(f::valid_tiles_along(0, 1, 128));
  CHECK(f::valid_tiles_along(1, 130, 128));
  CHECK_FALSE(f::valid_tiles_along(1, 256, 128));

  // Written at version 4 exactly when the counts are set; they read back as written.
  f::ContainerHeader h = small_header();  // 5x3 in tiles of 2: a 3x2 grid
  CHECK(small_container()[8] == 1);
  h.tiles_across = 2;
  h.tiles_down = 1;
  h.tile_count = 2;
  const Bytes merged = f::write_container(h, small_values(2u * h.values_per_tile));
  CHECK(merged[8] == 4);
  const f::Container back = f::read_container(merged);
  CHECK(back.header.tiles_across == 2u);
  CHECK(back.header.tiles_down == 1u);
  CHECK(back.header.merged_edges());
  CHECK(f::tile_count_for(back.header) == 2u);
  h.precision = f::Precision::kQuantized;
  h.group_sizes = {5, 2};
  h.quant_steps = {0.01f, 0.002f};
  const Bytes quantized = f::write_quantized_container(h, std::vector<std::int32_t>(14, 1));
  CHECK(quantized[8] == 4);
  CHECK(f::read_container(quantized).symbols == std::vector<std::int32_t>(14, 1));

  // The writer refuses what a reader would: a count that cannot cover the side, one axis set alone,
  // a tile count that is not across x down.
  f::ContainerHeader bad = small_header();
  bad.tiles_across = 1;
  bad.tiles_down = 1;
  bad.tile_count = 1;
  CHECK(error_of([&] { f::write_container(bad, small_values(bad.values_per_tile)); }) == Code::kInvalidArgument);
  bad.tiles_across = 2;
  bad.tiles_down = 0;
  bad.tile_count = 2;
  CHECK(error_of([&] { f::write_container(bad, small_values(2u * bad.values_per_tile)); }) == Code::kInvalidArgument);
  bad.tiles_down = 1;
  bad.tile_count = 6;
  CHECK(error_of([&] { f::write_container(bad, small_values(6u * bad.values_per_tile)); }) == Code::kInvalidArgument);
}
