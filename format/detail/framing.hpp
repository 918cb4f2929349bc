#pragma once
// Internal: the framing both msinr formats share, and the zstd wrapper. Not installed, not API.
//
//   offset 0   8 bytes   magic
//   offset 8   u16 LE    format version
//   offset 10  u32 LE    header length L
//   offset 14  L bytes   protobuf header
//   14 + L     C bytes   one zstd frame (C is in the header)
//   14 + L + C u32 LE    CRC-32C of every byte before it
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/error.hpp"

namespace msinr::format::detail {

// Fuzz builds (MSINR_FUZZ=ON defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, the libFuzzer/OSS-Fuzz
// convention) still compute every checksum and hash but do not refuse a mismatch, so mutated inputs
// reach the parsing behind them. Such a build must never read real files.
#if defined(FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION)
inline constexpr bool kEnforceChecksums = false;
#else
inline constexpr bool kEnforceChecksums = true;
#endif

inline constexpr std::size_t kPreambleSize = 14;
inline constexpr std::size_t kTrailerSize = 4;
// Every zstd block of at most 128 KiB of output costs at least 4 bytes (3-byte block header and one
// RLE byte), so no valid frame decompresses to more than 32768 bytes per compressed byte. Sizes
// beyond that are refused before anything is allocated.
inline constexpr std::uint64_t kMaxZstdRatio = 32768;

using Magic = std::array<std::uint8_t, 8>;

struct FileKindInfo {
  const char* noun;      // "container", "model file": used in messages
  const Magic* magic;
  std::uint16_t version;  // the newest version this build reads
  std::uint32_t max_header_bytes;
};

inline void put_le16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v));
  out.push_back(static_cast<std::uint8_t>(v >> 8));
}
inline void put_le32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}
inline std::uint16_t get_le16(const std::uint8_t* p) {
  return static_cast<std::uint16_t>(p[0] | (p[1] << 8));
}
inline std::uint32_t get_le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}

[[noreturn]] void fail(FormatErrorCode code, const std::string& message);

// Checks magic, version and header length (bounds and availability); returns the header bytes.
std::span<const std::uint8_t> read_preamble(std::span<const std::uint8_t> bytes, const FileKindInfo& kind);

// Given the header's compressed size: checks that the file is exactly preamble + header + frame +
// trailer (truncation and trailing bytes are refused), then the CRC-32C trailer. Returns the frame.
std::span<const std::uint8_t> check_body(std::span<const std::uint8_t> bytes, std::size_t header_size,
                                         std::uint64_t compressed_size, const FileKindInfo& kind);

// Magic, version, header length, header, frame, CRC trailer.
std::vector<std::uint8_t> assemble(const Magic& magic, std::uint16_t version,
                                   std::span<const std::uint8_t> header,
                                   std::span<const std::uint8_t> frame);

std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> raw, int level);

// Checks that `frame` is exactly one complete zstd frame that declares `expected_size` bytes of
// content; decompresses nothing.
void zstd_check_frame(std::span<const std::uint8_t> frame, std::uint64_t expected_size, const FileKindInfo& kind);

// Checks that `frame` is exactly one zstd frame that declares `expected_size` bytes of content
// (refusing unknown sizes and any mismatch before allocating), then decompresses it into exactly
// expected_size bytes.
std::vector<std::uint8_t> zstd_decompress_exact(std::span<const std::uint8_t> frame,
                                                std::uint64_t expected_size, const FileKindInfo& kind);

// Describes what a foreign file looks like ("a PNG image", "an msinr model file"), or "".
std::string sniff_foreign(std::span<const std::uint8_t> bytes);

// "0x1234abcd"
std::string hex32(std::uint32_t v);

bool is_valid_utf8(std::span<const std::uint8_t> bytes) noexcept;

}  // namespace msinr::format::detail
