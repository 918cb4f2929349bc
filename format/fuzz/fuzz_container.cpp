// libFuzzer target for the .msinr reader. Any input must either parse or throw FormatError (any other
// exception or a crash is a finding); a container that parses must be writable and survive a
// write/read round trip unchanged.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "format/container.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace f = msinr::format;
  const std::span<const std::uint8_t> bytes(data, size);
  try {
    (void)f::peek_header(bytes);
  } catch (const f::FormatError&) {
  }
  f::Container c;
  try {
    c = f::read_container(bytes);
  } catch (const f::FormatError&) {
    return 0;
  }
  // Past this point nothing may throw: what the reader accepts the writer must accept.
  const f::Container again = f::read_container(f::write_container(c.header, c.values, 1));
  f::ContainerHeader a = c.header, b = again.header;
  a.payload_compressed_size = b.payload_compressed_size = 0;  // the zstd level may differ
  a.payload_crc = b.payload_crc = 0;  // fuzz builds accept a wrong stored CRC
  if (!(a == b) || c.values != again.values) std::abort();
  return 0;
}
