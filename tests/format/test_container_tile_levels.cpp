// Per-tile levels (container version 3): each tile's level is coded before its values, and the
// header carries each allowed level's group sizes. Exact round trips, the version rules, and refusal
// of headers and streams that break them.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "format/container.hpp"
#include "testkit.hpp"

using namespace fmt_test;
namespace pb = msinr::format::pb;
using Code = f::FormatErrorCode;

namespace {

// 6 tiles; levels 2 (7 values: 4 + 0 + 3) and 5 (4 values: 2 + 0 + 2), steps per group.
f::ContainerHeader tile_levels_header() {
  f::ContainerHeader h = small_header();
  h.precision = f::Precision::kQuantized;
  h.level = 2;
  h.quant_steps = {0.01f, 0.5f, 0.002f};
  h.tile_level_set = {2, 5};
  h.level_group_sizes = {4, 0, 3, 2, 0, 2};
  h.values_per_tile = 7;
  return h;
}

const std::vector<std::uint32_t> kTileLevels = {2, 5, 5, 2, 5, 2};

std::vector<std::int32_t> symbols_for(const std::vector<std::uint32_t>& levels, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> d(-40, 40);
  std::vector<std::int32_t> s;
  for (std::uint32_t l : levels)
    for (int k = 0; k < (l == 2 ? 7 : 4); ++k) s.push_back(d(rng));
  return s;
}

}  // namespace

TEST_CASE("format: a per-tile-levels container round-trips each tile's level and values exactly") {
  const f::ContainerHeader h = tile_levels_header();
  const auto symbols = symbols_for(kTileLevels, 3);
  const Bytes file = f::write_quantized_container(h, symbols, kTileLevels);
  CHECK(file[8] == 3);  // version 3 only when tiles have levels of their own
  const f::Container c = f::read_container(file);
  CHECK(c.header.tile_level_set == h.tile_level_set);
  CHECK(c.header.level_group_sizes == h.level_group_sizes);
  CHECK(c.tile_levels == kTileLevels);
  REQUIRE(c.symbols == symbols);
  REQUIRE(c.values.size() == symbols.size());
  std::size_t i = 0;
  for (std::uint32_t l : kTileLevels) {
    const auto groups = h.groups_of(l == 2 ? 0 : 1);
    for (std::size_t g = 0; g < groups.size(); ++g)
      for (std::uint32_t k = 0; k < groups[g]; ++k, ++i) CHECK(c.values[i] == static_cast<float>(symbols[i]) * h.quant_steps[g]);
  }
  CHECK(f::peek_header(file) == c.header);
  CHECK(f::write_quantized_container(c.header, c.symbols, c.tile_levels) == file);  // deterministic

  // The tile reader says each tile's level and count as it goes.
  f::TileReader reader(file);
  std::vector<float> values(7);
  for (std::uint32_t l : kTileLevels) {
    CHECK(reader.next_tile(values) == (l == 2 ? 7u : 4u));
    CHECK(reader.tile_level() == l);
  }
}

TEST_CASE("format: the writer refuses tile levels that do not match the header") {
  const f::ContainerHeader h = tile_levels_header();
  const auto symbols = symbols_for(kTileLevels, 4);
  auto code = [&](const f::ContainerHeader& hh, const std::vector<std::int32_t>& s, const std::vector<std::uint32_t>& l) {
    return error_of([&] { f::write_quantized_container(hh, s, l); });
  };
  CHECK(code(h, symbols, {}) == Code::kInvalidArgument);                   // no levels for a set
  CHECK(code(h, symbols, {2, 5, 5, 2, 5}) == Code::kInvalidArgument);      // one short
  std::vector<std::uint32_t> other = kTileLevels;
  other[0] = 3;
  CHECK(code(h, symbols, other) == Code::kInvalidArgument);                // not in the set
  CHECK(code(h, std::vector<std::int32_t>(symbols.begin(), symbols.end() - 1), kTileLevels) == Code::kInvalidArgument);
  f::ContainerHeader plain = h;
  plain.tile_level_set.clear();
  plain.level_group_sizes.clear();
  plain.group_sizes = {4, 0, 3};
  CHECK(code(plain, symbols_for({2, 2, 2, 2, 2, 2}, 5), kTileLevels) == Code::kInvalidArgument);  // levels without a set
  f::ContainerHeader unsorted = h;
  unsorted.tile_level_set = {5, 2};
  unsorted.level_group_sizes = {2, 0, 2, 4, 0, 3};
  CHECK(code(unsorted, symbols, kTileLevels) == Code::kInvalidArgument);
  f::ContainerHeader wrong_max = h;
  wrong_max.values_per_tile = 8;
  CHECK(code(wrong_max, symbols, kTileLevels) == Code::kInvalidArgument);
  f::ContainerHeader short_sizes = h;
  short_sizes.level_group_sizes.pop_back();
  CHECK(code(short_sizes, symbols, kTileLevels) == Code::kInvalidArgument);
}

TEST_CASE("format: a reader refuses damaged per-tile-levels headers and streams") {
  const f::ContainerHeader h = tile_levels_header();
  const Bytes file = f::write_quantized_container(h, symbols_for(kTileLevels, 6), kTileLevels);
  auto edited = [&](const std::function<void(pb::ContainerHeader&)>& edit) {
    return error_of([&] { f::read_container(edit_container(file, edit)); });
  };
  CHECK(edited([](pb::ContainerHeader& p) { p.add_group_sizes(7); }) == Code::kCorrupt);
  CHECK(edited([](pb::ContainerHeader& p) { p.set_tile_level_set(1, 2); }) == Code::kCorrupt);       // not ascending
  CHECK(edited([](pb::ContainerHeader& p) { p.add_level_group_sizes(1); }) == Code::kCorrupt);
  CHECK(edited([](pb::ContainerHeader& p) { p.set_values_per_tile(4); }) == Code::kCorrupt);
  CHECK(edited([](pb::ContainerHeader& p) { p.set_tile_level_set(1, 100); }) == Code::kLimit);       // over max_level
  CHECK(edited([](pb::ContainerHeader& p) {
          for (int i = 0; i < 70; ++i) p.add_tile_level_set(static_cast<std::uint32_t>(6 + i));
        }) == Code::kCorrupt);
  // Version 2 cannot say it (a file relabelled as version 2, with its checksum made right).
  const Parts parts = split(file);
  const Bytes v2 = frame_file(std::span(file.data(), 8), 2, parts.header, parts.frame);
  std::string message;
  CHECK(error_of([&] { f::read_container(v2); }, &message) == Code::kCorrupt);
  CHECK(message.find("version 3 feature") != std::string::npos);
  // Every truncation and every single-bit flip is refused, never a crash or a wrong read.
  for (std::size_t cut = 0; cut < file.size(); ++cut)
    CHECK(error_of([&] { f::read_container(Bytes(file.begin(), file.begin() + static_cast<std::ptrdiff_t>(cut))); }).has_value());
  for (std::size_t i = 0; i < file.size(); ++i) {
    Bytes flipped = file;
    flipped[i] ^= 0x10;
    CHECK(error_of([&] { f::read_container(flipped); }).has_value());
  }
}
