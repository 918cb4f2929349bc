// libFuzzer target for the .msm reader; the body is format/fuzz/harness.hpp, which the ctest
// replay of the seed corpus runs too.
#include <cstdint>

#include "format/fuzz/harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  msinr::format::fuzz::model_one({data, size});
  return 0;
}
