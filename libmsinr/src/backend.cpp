#include "msinr/backend.hpp"

#include <chrono>
#include <cmath>
#include <string>

#include "msinr/batch_fit.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"

namespace msinr {

#if !defined(MSINR_HAVE_CUDA)
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions&) {
  throw Error(ErrorCode::kDevice, "this msinr was built without the CUDA backend (configure with nvcc present)");
}
bool cuda_backend_available() { return false; }
#endif

Device resolve_device(Device requested) {
  switch (requested) {
    case Device::kAuto: return cuda_backend_available() ? Device::kCuda : Device::kCpu;
    case Device::kCuda:
      if (!cuda_backend_available()) (void)make_cuda_backend();  // throws kDevice with the reason
      return Device::kCuda;
    case Device::kCpu:
    case Device::kReference: return requested;
  }
  throw Error(ErrorCode::kInvalidArgument, "unknown device " + std::to_string(static_cast<int>(requested)));
}

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  switch (resolve_device(options.device)) {
    case Device::kReference: return make_reference_backend();
    case Device::kCuda: return make_cuda_backend(options.cuda);
    case Device::kCpu:
    case Device::kAuto: break;  // resolve_device never returns kAuto
  }
  return make_cpu_backend(options.cpu);
}

const char* device_name(Device device) {
  switch (device) {
    case Device::kAuto: return "auto";
    case Device::kCpu: return "cpu";
    case Device::kCuda: return "cuda";
    case Device::kReference: return "reference";
  }
  return "unknown";
}

Device parse_device(std::string_view name) {
  for (Device d : {Device::kAuto, Device::kCpu, Device::kCuda, Device::kReference})
    if (name == device_name(d)) return d;
  throw Error(ErrorCode::kInvalidArgument, "unknown device '" + std::string(name) + "' (auto, cpu, cuda, reference)");
}

void Evaluator::set_pixel_subset(std::vector<std::uint32_t> pixels) {
  for (std::uint32_t p : pixels)
    if (p >= grid_.pixels())
      throw Error(ErrorCode::kInvalidArgument, "pixel subset index " + std::to_string(p) + " is outside the grid");
  subset_ = std::move(pixels);
}

std::vector<FitResult> Backend::fit_batch(const Architecture& arch, const Mask& mask, const Grid& grid,
                                          std::span<std::vector<float>> params, std::span<const float* const> targets,
                                          const BatchFitOptions& options) {
  const ParamLayout layout(arch);
  const auto start = std::chrono::steady_clock::now();
  std::vector<FitResult> results(params.size());
  if (params.empty()) return results;
  auto evaluator = make_evaluator(arch, mask, grid);
  std::vector<Adam> adams(params.size(), Adam(layout.param_count(), options.adam));
  for (auto& p : params) apply_mask(mask, p);
  std::vector<float> grad(layout.param_count());
  int steps_taken = 0;
  bool cancelled = false;
  for (int step = 1; step <= options.steps && !cancelled; ++step) {
    double mean = 0.0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const double loss = evaluator->loss_and_gradient(params[i].data(), targets[i], grad.data());
      if (!std::isfinite(loss))
        throw Error(ErrorCode::kInternal, "fit diverged: loss is not finite at step " + std::to_string(step) +
                                              " of fit " + std::to_string(i) + " (try a smaller learning rate)");
      adams[i].set_lr(scheduled_lr(options.adam, step, options.steps));
      adams[i].step(params[i].data(), grad.data(), mask);
      mean += loss;
    }
    steps_taken = step;
    if (options.on_step && !options.on_step(step, mean / static_cast<double>(params.size()))) cancelled = true;
  }
  for (std::size_t i = 0; i < params.size(); ++i) {
    FitResult& r = results[i];
    r.steps_taken = steps_taken;
    r.cancelled = cancelled;
    r.final_loss = evaluator->loss(params[i].data(), targets[i]);
    r.final_psnr = psnr_from_mse(r.final_loss);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (FitResult& r : results) r.seconds = seconds;
  return results;
}

}  // namespace msinr
