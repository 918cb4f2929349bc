// libFuzzer target: see harness.hpp (codec_one / png_one / jpeg_one) for what it checks.
#include "codec/fuzz/harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  msinr::codec::fuzz::jpeg_one(data, size);
  return 0;
}
