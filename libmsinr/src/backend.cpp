#include "msinr/backend.hpp"

#include <string>

#include "msinr/error.hpp"

namespace msinr {

#if !defined(MSINR_HAVE_CUDA)
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions&) {
  throw Error(ErrorCode::kDevice, "this msinr was built without the CUDA backend (configure with nvcc present)");
}
bool cuda_backend_available() { return false; }
#endif

void Evaluator::set_pixel_subset(std::vector<std::uint32_t> pixels) {
  for (std::uint32_t p : pixels)
    if (p >= grid_.pixels())
      throw Error(ErrorCode::kInvalidArgument, "pixel subset index " + std::to_string(p) + " is outside the grid");
  subset_ = std::move(pixels);
}

const char* backend_kind_name(BackendKind kind) {
  switch (kind) {
    case BackendKind::kReference: return "reference";
    case BackendKind::kCpu: return "cpu";
    case BackendKind::kCuda: return "cuda";
  }
  return "unknown";
}

}  // namespace msinr
