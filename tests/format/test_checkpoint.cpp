// The training checkpoint's bytes (format/checkpoint.hpp): version 1 exactly as the trainer has
// always written it (little-endian fields, one zstd frame, CRC-32C), and reading that refuses
// damage and decompression bombs before allocating.
#include <doctest/doctest.h>

#include <zstd.h>

#include <cstdint>
#include <string>
#include <vector>

#include "format/checkpoint.hpp"
#include "format/checksum.hpp"

namespace f = msinr::format;

namespace {

void le32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
void le64(std::vector<std::uint8_t>& out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

f::Checkpoint small() {
  f::Checkpoint c;
  c.fingerprint = "recipe A";
  c.round = 2;
  c.step = 7;
  c.params = {1.0f, -2.0f};
  c.mask = {1, 0};
  c.adam_steps = 9;
  c.adam_m = {0.5f, 0.0f};
  c.adam_v = {0.25f, 0.0f};
  c.rng_state = 0x1122334455667788ull;
  c.train_seconds = 12.5;
  c.levels.push_back({0, {1, 1}, {0.5f, -0.5f}});
  return c;
}

// File = magic, u32 version, the frame, CRC-32C of all before it.
std::vector<std::uint8_t> file_of(const std::vector<std::uint8_t>& frame, std::uint32_t version = 1) {
  std::vector<std::uint8_t> file(f::kCheckpointMagic.begin(), f::kCheckpointMagic.end());
  le32(file, version);
  file.insert(file.end(), frame.begin(), frame.end());
  le32(file, f::crc32c(file));
  return file;
}

}  // namespace

TEST_CASE("format: a version-1 checkpoint is little-endian fields in one zstd frame, as the trainer always wrote") {
  // The content, spelled out byte by byte (IEEE 754 bit patterns for the floats and the double).
  std::vector<std::uint8_t> raw;
  le64(raw, 8);
  for (char ch : std::string("recipe A")) raw.push_back(static_cast<std::uint8_t>(ch));
  le32(raw, 2);
  le32(raw, 7);
  le64(raw, 2);
  le32(raw, 0x3F800000u);  // 1.0f
  le32(raw, 0xC0000000u);  // -2.0f
  le64(raw, 2);
  raw.push_back(1);
  raw.push_back(0);
  le32(raw, 9);
  le64(raw, 2);
  le32(raw, 0x3F000000u);  // 0.5f
  le32(raw, 0);
  le64(raw, 2);
  le32(raw, 0x3E800000u);  // 0.25f
  le32(raw, 0);
  le64(raw, 0x1122334455667788ull);
  le64(raw, 0x4029000000000000ull);  // 12.5
  le32(raw, 1);
  le32(raw, 0);
  le64(raw, 2);
  raw.push_back(1);
  raw.push_back(1);
  le64(raw, 2);
  le32(raw, 0x3F000000u);   // 0.5f
  le32(raw, 0xBF000000u);   // -0.5f
  std::vector<std::uint8_t> frame(ZSTD_compressBound(raw.size()));
  frame.resize(ZSTD_compress(frame.data(), frame.size(), raw.data(), raw.size(), 3));
  const std::vector<std::uint8_t> expected = file_of(frame);

  CHECK(f::write_checkpoint(small()) == expected);
  const f::Checkpoint c = f::read_checkpoint(expected);
  CHECK(c.fingerprint == "recipe A");
  CHECK(c.round == 2);
  CHECK(c.step == 7);
  CHECK(c.params == std::vector<float>{1.0f, -2.0f});
  CHECK(c.mask == std::vector<std::uint8_t>{1, 0});
  CHECK(c.adam_steps == 9);
  CHECK(c.adam_m == std::vector<float>{0.5f, 0.0f});
  CHECK(c.adam_v == std::vector<float>{0.25f, 0.0f});
  CHECK(c.rng_state == 0x1122334455667788ull);
  CHECK(c.train_seconds == 12.5);
  REQUIRE(c.levels.size() == 1);
  CHECK(c.levels[0].mask == std::vector<std::uint8_t>{1, 1});
  CHECK(c.levels[0].init == std::vector<float>{0.5f, -0.5f});
}

TEST_CASE("format: checkpoint reading refuses damage, other versions and decompression bombs") {
  const std::vector<std::uint8_t> good = f::write_checkpoint(small());
  auto code_of = [](const std::vector<std::uint8_t>& bytes) {
    try {
      f::read_checkpoint(bytes);
    } catch (const f::FormatError& e) {
      return e.code();
    }
    FAIL("no error");
    return f::FormatErrorCode::kIo;
  };
  CHECK(code_of({}) == f::FormatErrorCode::kCorrupt);
  CHECK(code_of(std::vector<std::uint8_t>(good.begin(), good.end() - 1)) == f::FormatErrorCode::kChecksum);
  auto flipped = good;
  flipped[good.size() / 2] ^= 0x10;
  CHECK(code_of(flipped) == f::FormatErrorCode::kChecksum);
  const std::vector<std::uint8_t> frame(good.begin() + 12, good.end() - 4);
  CHECK(code_of(file_of(frame, 2)) == f::FormatErrorCode::kUnsupported);

  // A 14-byte frame header that declares 1 GiB of content: more than 32768 times its size.
  std::vector<std::uint8_t> bomb = {0x28, 0xB5, 0x2F, 0xFD, 0xE0};  // magic; single segment, 8-byte size
  le64(bomb, std::uint64_t{1} << 30);
  bomb.push_back(0x01);  // the start of a block: never reached
  CHECK(code_of(file_of(bomb)) == f::FormatErrorCode::kLimit);
  // ... and one past the absolute bound whatever the frame's size.
  std::vector<std::uint8_t> huge = {0x28, 0xB5, 0x2F, 0xFD, 0xE0};
  le64(huge, std::uint64_t{1} << 40);
  CHECK(code_of(file_of(huge)) == f::FormatErrorCode::kLimit);

  // As msinr::Error, a format error is corrupt data (the one error family).
  try {
    f::read_checkpoint(flipped);
    FAIL("no error");
  } catch (const msinr::Error& e) {
    CHECK(e.code() == msinr::ErrorCode::kCorrupt);
  }
}
