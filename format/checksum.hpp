#pragma once
// Checksums and hashes implemented here (no third-party dependency), each tested against its
// published check values.
//
// CRC-32C (Castagnoli), as in iSCSI (RFC 3720), ext4 and SSE4.2's CRC32 instruction:
//   width 32, polynomial 0x1EDC6F41 (reflected 0x82F63B78), init 0xFFFFFFFF, input and output
//   reflected, final XOR 0xFFFFFFFF. check("123456789") = 0xE3069283.
// SHA-256 as specified in FIPS 180-4.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace msinr::format {

// CRC-32C of `data`. To checksum in pieces, pass the previous result as `crc`:
// crc32c(b, crc32c(a)) == crc32c(a followed by b).
std::uint32_t crc32c(std::span<const std::uint8_t> data, std::uint32_t crc = 0) noexcept;

using Sha256Digest = std::array<std::uint8_t, 32>;

class Sha256 {
 public:
  Sha256() noexcept;
  void update(std::span<const std::uint8_t> data) noexcept;
  // Finishes the hash; the object must not be updated afterwards.
  Sha256Digest finish() noexcept;

 private:
  void compress(const std::uint8_t* block) noexcept;
  std::array<std::uint32_t, 8> state_;
  std::array<std::uint8_t, 64> buffer_{};
  std::size_t buffered_ = 0;
  std::uint64_t total_bytes_ = 0;
};

Sha256Digest sha256(std::span<const std::uint8_t> data) noexcept;

// Lower-case hexadecimal of any byte string.
std::string to_hex(std::span<const std::uint8_t> bytes);

}  // namespace msinr::format
