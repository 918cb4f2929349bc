// The quantized payload (container version 2): integers per value, a step per group, coded by the
// adaptive range coder. Exact round trips, the version rules, and refusal of damage.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "format/checksum.hpp"
#include "format/container.hpp"
#include "format/entropy/symbol_coder.hpp"
#include "testkit.hpp"

using namespace fmt_test;
namespace pb = msinr::format::pb;
using Code = f::FormatErrorCode;

namespace {

f::ContainerHeader quantized_header() {
  f::ContainerHeader h = small_header();  // 6 tiles of 7 values
  h.precision = f::Precision::kQuantized;
  h.group_sizes = {4, 0, 3};  // an empty group (a fully pruned layer) is legal
  h.quant_steps = {0.01f, 0.5f, 0.002f};
  return h;
}

std::vector<std::int32_t> laplace_symbols(std::size_t n, double scale, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::exponential_distribution<double> e(1.0 / scale);
  std::vector<std::int32_t> s(n);
  for (auto& x : s) x = static_cast<std::int32_t>(std::lround(e(rng) - e(rng)));
  return s;
}

void check_round_trip(const f::ContainerHeader& h, const std::vector<std::int32_t>& symbols) {
  const Bytes file = f::write_quantized_container(h, symbols);
  CHECK(file[8] == 2);  // version 2
  const f::Container c = f::read_container(file);
  CHECK(c.header.precision == f::Precision::kQuantized);
  CHECK(c.header.group_sizes == h.group_sizes);
  CHECK(c.header.quant_steps == h.quant_steps);
  REQUIRE(c.symbols == symbols);  // integer for integer
  REQUIRE(c.values.size() == symbols.size());
  std::size_t i = 0;
  for (std::uint32_t t = 0; t < h.tile_count; ++t)
    for (std::size_t g = 0; g < h.group_sizes.size(); ++g)
      for (std::uint32_t k = 0; k < h.group_sizes[g]; ++k, ++i)
        CHECK(c.values[i] == static_cast<float>(symbols[i]) * h.quant_steps[g]);
  CHECK(f::peek_header(file) == c.header);
  CHECK(f::write_quantized_container(c.header, c.symbols) == file);  // deterministic
}

}  // namespace

TEST_CASE("format: quantized container round-trips random and adversarial symbol streams exactly") {
  const f::ContainerHeader h = quantized_header();
  const std::size_t n = static_cast<std::size_t>(h.tile_count) * h.values_per_tile;
  check_round_trip(h, laplace_symbols(n, 3.0, 1));
  check_round_trip(h, laplace_symbols(n, 300.0, 2));
  check_round_trip(h, std::vector<std::int32_t>(n, 0));  // all zeros
  std::vector<std::int32_t> huge(n, 0);
  huge[5] = f::entropy::kMaxMagnitude;  // one huge value, and the largest negative
  huge[17] = -f::entropy::kMaxMagnitude;
  check_round_trip(h, huge);
  std::vector<std::int32_t> alphabet(n);
  for (std::size_t i = 0; i < n; ++i) alphabet[i] = static_cast<std::int32_t>((i % 2 ? 1 : -1) * ((1u << (i % 25)) - 1u));
  check_round_trip(h, alphabet);  // every bit-length class
}

TEST_CASE("format: quantized containers are version 2, and fp16 ones stay version 1") {
  CHECK(small_container()[8] == 1);
  const f::ContainerHeader h = quantized_header();
  const Bytes file = f::write_quantized_container(h, laplace_symbols(42, 2.0, 3));
  // A version-1 file cannot carry a quantized payload (an older reader would misread it).
  Bytes v1 = file;
  v1[8] = 1;
  const std::uint32_t crc = f::crc32c(std::span(v1.data(), v1.size() - 4));
  for (int b = 0; b < 4; ++b) v1[v1.size() - 4 + b] = static_cast<std::uint8_t>(crc >> (8 * b));
  std::string message;
  CHECK(error_of([&] { f::read_container(v1); }, &message) == Code::kCorrupt);
  CHECK(message.find("version 2") != std::string::npos);
}

TEST_CASE("format: quantized header rules are enforced on write and on read") {
  const std::vector<std::int32_t> symbols = laplace_symbols(42, 2.0, 4);
  auto write_code = [&](const std::function<void(f::ContainerHeader&)>& edit) {
    f::ContainerHeader h = quantized_header();
    edit(h);
    return error_of([&] { f::write_quantized_container(h, symbols); });
  };
  CHECK(write_code([](auto& h) { h.group_sizes = {4, 2}; h.quant_steps = {0.1f, 0.1f}; }) == Code::kInvalidArgument);
  CHECK(write_code([](auto& h) { h.quant_steps = {0.1f, 0.1f}; }) == Code::kInvalidArgument);
  CHECK(write_code([](auto& h) { h.quant_steps[1] = 0.0f; }) == Code::kInvalidArgument);
  CHECK(write_code([](auto& h) { h.quant_steps[1] = -1.0f; }) == Code::kInvalidArgument);
  CHECK(write_code([](auto& h) { h.quant_steps[1] = std::numeric_limits<float>::infinity(); }) == Code::kInvalidArgument);
  CHECK(write_code([](auto& h) { h.quant_steps[1] = 2.0f * f::kMaxQuantStep; }) == Code::kInvalidArgument);
  CHECK(write_code([](auto& h) { h.group_sizes.clear(); h.quant_steps.clear(); }) == Code::kInvalidArgument);
  CHECK(error_of([&] { f::write_quantized_container(quantized_header(), std::vector<std::int32_t>(41, 0)); }) ==
        Code::kInvalidArgument);
  // The same rules on read, with the checksums fixed up (so only the rule can refuse it).
  const Bytes file = f::write_quantized_container(quantized_header(), symbols);
  auto read_code = [&](const std::function<void(pb::ContainerHeader&)>& edit) {
    return error_of([&] { f::read_container(edit_container(file, edit)); });
  };
  CHECK(read_code([](auto& p) { p.set_group_sizes(0, 5); }) == Code::kCorrupt);
  CHECK(read_code([](auto& p) { p.set_quant_steps(2, -0.5f); }) == Code::kCorrupt);
  CHECK(read_code([](auto& p) { p.add_quant_steps(1.0f); }) == Code::kCorrupt);
  CHECK(read_code([](auto& p) { p.set_payload_raw_size(p.payload_raw_size() + 1); }) == Code::kCorrupt);
  CHECK(read_code([](auto& p) { p.set_precision(pb::PRECISION_FP16); }) == Code::kCorrupt);
  CHECK(read_code([](auto& p) {
          for (int i = 0; i < 300; ++i) p.add_group_sizes(0);
        }) == Code::kCorrupt);
}

TEST_CASE("format: every truncation and every bit flip of a quantized container is refused") {
  const Bytes file = f::write_quantized_container(quantized_header(), laplace_symbols(42, 5.0, 5));
  for (std::size_t n = 0; n < file.size(); ++n) {
    CAPTURE(n);
    CHECK(error_of([&] { f::read_container(Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(n))); }).has_value());
  }
  for (std::size_t bit = 0; bit < file.size() * 8; ++bit) {
    Bytes flipped = file;
    flipped[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    CAPTURE(bit);
    CHECK(error_of([&] { f::read_container(flipped); }).has_value());
  }
}

TEST_CASE("format: the quantized example in docs/format.md is byte exact, and header wire-type rules") {
  const Bytes expected{
      0x89, 0x4d, 0x53, 0x49, 0x4e, 0x52, 0x0d, 0x0a, 0x02, 0x00, 0x50, 0x00, 0x00, 0x00, 0x08, 0x01,
      0x10, 0x01, 0x18, 0x03, 0x20, 0x10, 0x2a, 0x20, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
      0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
      0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x30, 0x0e, 0x38, 0x02, 0x40, 0x64, 0x48, 0x01,
      0x50, 0x03, 0x58, 0x05, 0x60, 0x05, 0x6d, 0x7d, 0x19, 0xbe, 0x51, 0x72, 0x03, 0x02, 0x00, 0x01,
      0x7a, 0x0c, 0x00, 0x00, 0x80, 0x3e, 0x00, 0x00, 0x80, 0x3f, 0x00, 0x00, 0x00, 0x3f, 0xae, 0x1f,
      0xff, 0xff, 0x00, 0x11, 0xa8, 0xb6, 0x76};
  f::ContainerHeader h;
  h.width = h.height = 1;
  h.tile_size = 16;
  h.tile_count = 1;
  h.values_per_tile = 3;
  h.level = 14;
  h.steps = 100;
  for (std::size_t i = 0; i < h.model_id.size(); ++i) h.model_id[i] = static_cast<std::uint8_t>(i);
  h.precision = f::Precision::kQuantized;
  h.group_sizes = {2, 0, 1};
  h.quant_steps = {0.25f, 1.0f, 0.5f};
  const std::vector<std::int32_t> symbols{3, -1, 0};
  const f::Container c = f::read_container(expected);
  CHECK(c.symbols == symbols);
  CHECK(c.values == std::vector<float>{0.75f, -0.25f, 0.0f});  // offsets: the codec adds the init
  CHECK(c.header.payload_crc == 0x51BE197Du);
  h.payload_raw_size = h.payload_compressed_size = 5;
  h.payload_crc = 0x51BE197Du;
  CHECK(c.header == h);
  CHECK(f::write_quantized_container(h, symbols) == expected);

  // docs/format.md, "Parsing the protobuf headers": a known field number with an unexpected wire type
  // is skipped; repeated scalars may come unpacked; a varint keeps its low 32 bits in a 32-bit field.
  const Parts parts = split(expected);
  auto reframe = [&](const Bytes& header) { return frame_file(f::kContainerMagic, 2, header, parts.frame); };
  Bytes header = parts.header;
  header.insert(header.end(), {0x0d, 0x09, 0x00, 0x00, 0x00});  // field 1 (width) as fixed32: skipped
  header.insert(header.end(), {0x22, 0x01, 0x07});               // field 4 (tile_size) as bytes: skipped
  CHECK(f::read_container(reframe(header)).header == h);
  header = parts.header;
  const Bytes packed{0x72, 0x03, 0x02, 0x00, 0x01}, unpacked{0x70, 0x02, 0x70, 0x00, 0x70, 0x01};
  auto at = std::search(header.begin(), header.end(), packed.begin(), packed.end());
  REQUIRE(at != header.end());
  header.erase(at, at + static_cast<std::ptrdiff_t>(packed.size()));
  header.insert(header.end(), unpacked.begin(), unpacked.end());
  CHECK(f::read_container(reframe(header)).header == h);
  header = parts.header;
  header.insert(header.end(), {0x08, 0x81, 0x80, 0x80, 0x80, 0x10});  // width 2^32 + 1: reads as 1
  CHECK(f::read_container(reframe(header)).header == h);
  header.insert(header.end(), {0x0f, 0x00});  // wire type 7: not a protobuf message
  CHECK(error_of([&] { f::read_container(reframe(header)); }) == Code::kCorrupt);
}
