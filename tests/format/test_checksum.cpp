#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "format/checksum.hpp"

namespace f = msinr::format;

namespace {
std::vector<std::uint8_t> bytes_of(const std::string& s) { return {s.begin(), s.end()}; }
}  // namespace

TEST_CASE("format: crc32c matches the published check values") {
  // The CRC catalogue's check value for CRC-32C (iSCSI).
  CHECK(f::crc32c(bytes_of("123456789")) == 0xE3069283u);
  CHECK(f::crc32c({}) == 0u);
  // RFC 3720, appendix B.4.
  CHECK(f::crc32c(std::vector<std::uint8_t>(32, 0x00)) == 0x8A9136AAu);
  CHECK(f::crc32c(std::vector<std::uint8_t>(32, 0xFF)) == 0x62A8AB43u);
  std::vector<std::uint8_t> inc(32), dec(32);
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<std::uint8_t>(i);
    dec[i] = static_cast<std::uint8_t>(31 - i);
  }
  CHECK(f::crc32c(inc) == 0x46DD794Eu);
  CHECK(f::crc32c(dec) == 0x113FDB5Cu);
}

TEST_CASE("format: crc32c can be computed in pieces") {
  std::vector<std::uint8_t> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i * 131 + 7);
  const std::uint32_t whole = f::crc32c(data);
  for (std::size_t cut = 0; cut <= data.size(); cut += 37) {
    const std::span<const std::uint8_t> all(data);
    CHECK(f::crc32c(all.subspan(cut), f::crc32c(all.first(cut))) == whole);
  }
  // Every single-bit change is detected.
  for (std::size_t bit = 0; bit < 64 * 8; ++bit) {
    std::vector<std::uint8_t> d(data.begin(), data.begin() + 64);
    const std::uint32_t before = f::crc32c(d);
    d[bit / 8] = static_cast<std::uint8_t>(d[bit / 8] ^ (1u << (bit % 8)));
    CHECK(f::crc32c(d) != before);
  }
}

TEST_CASE("format: sha256 matches the FIPS 180-2 test vectors") {
  CHECK(f::to_hex(f::sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(f::to_hex(f::sha256(bytes_of("abc"))) ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(f::to_hex(f::sha256(bytes_of("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))) ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  CHECK(f::to_hex(f::sha256(std::vector<std::uint8_t>(1000000, 'a'))) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("format: sha256 gives the same digest however the input is split") {
  std::vector<std::uint8_t> data(300);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i ^ 0x5A);
  // Lengths around the 55/56/64-byte padding boundaries.
  for (std::size_t len : {0u, 1u, 55u, 56u, 57u, 63u, 64u, 65u, 119u, 120u, 128u, 300u}) {
    const std::span<const std::uint8_t> msg(data.data(), len);
    const f::Sha256Digest whole = f::sha256(msg);
    for (std::size_t cut = 0; cut <= len; cut += 7) {
      f::Sha256 h;
      h.update(msg.first(cut));
      h.update({});
      h.update(msg.subspan(cut));
      CHECK(h.finish() == whole);
    }
  }
}
