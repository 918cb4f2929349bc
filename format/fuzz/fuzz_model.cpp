// libFuzzer target for the .msm reader. Any input must either parse or throw FormatError (any other
// exception or a crash is a finding); a model that parses must be writable and survive a write/read
// round trip with the same content hash.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "format/model_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace f = msinr::format;
  const std::span<const std::uint8_t> bytes(data, size);
  try {
    (void)f::peek_model_file(bytes);
  } catch (const f::FormatError&) {
  }
  f::ModelFile m;
  try {
    m = f::read_model_file(bytes);
  } catch (const f::FormatError&) {
    return 0;
  }
  // Past this point nothing may throw: what the reader accepts the writer must accept.
  const f::ModelFile again = f::read_model_file(f::write_model_file(m, 1));
  // (Fuzz builds accept a wrong stored id, so compare against the recomputed one.)
  if (again.model_id != f::compute_model_id(m) || !(again.provenance == m.provenance)) {
    std::abort();
  }
  return 0;
}
