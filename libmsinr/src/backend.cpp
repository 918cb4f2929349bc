#include "msinr/backend.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#if defined(MSINR_HAVE_CUDA) && !defined(MSINR_CUDA_PLUGIN_LINKED)
#include <dlfcn.h>
#endif

#include "msinr/batch_fit.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"

namespace msinr {

// The CUDA backend is a plugin, libmsinr_cuda.so (the entry points at the end of cuda_backend.cu),
// loaded on first use: linked in, the CUDA runtime and cuBLAS cost every process about 150 MB of
// memory at startup (docs/performance.md), CPU-only runs included.
extern "C" {
const char* msinr_cuda_plugin_version();
int msinr_cuda_plugin_available();
Backend* msinr_cuda_plugin_make_backend(const CudaBackendOptions* options);
}

namespace {

struct CudaPlugin {
  decltype(&msinr_cuda_plugin_available) available = nullptr;
  decltype(&msinr_cuda_plugin_make_backend) make = nullptr;
  std::string error;  // why there is none
};

#if defined(MSINR_CUDA_PLUGIN_LINKED)
// The plugin's code compiled into this binary (the emulated-CUDA test): no loading.
CudaPlugin load_cuda_plugin() { return {&msinr_cuda_plugin_available, &msinr_cuda_plugin_make_backend, {}}; }
#elif defined(MSINR_HAVE_CUDA)
const char* cuda_plugin_override() {
  const char* env = std::getenv("MSINR_CUDA_PLUGIN");
  return env != nullptr && *env != '\0' ? env : nullptr;
}

std::string directory_of_this_library() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&directory_of_this_library), &info) == 0 || info.dli_fname == nullptr) return {};
  const std::string path = info.dli_fname;
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// Where the plugin may be: $MSINR_CUDA_PLUGIN alone when set (an explicit choice is not second-guessed);
// else beside the binary or library holding this code (the build tree's msinr, an installed
// libmsinr.so), the build tree's output and the install's library folder.
std::vector<std::string> cuda_plugin_candidates() {
  if (const char* env = cuda_plugin_override()) return {env};
  std::vector<std::string> paths;
  if (const std::string dir = directory_of_this_library(); !dir.empty()) paths.push_back(dir + "/" MSINR_CUDA_PLUGIN_NAME);
  for (const char* p : {MSINR_CUDA_PLUGIN_BUILD_PATH, MSINR_CUDA_PLUGIN_INSTALL_PATH})
    if (std::find(paths.begin(), paths.end(), p) == paths.end()) paths.push_back(p);
  return paths;
}

CudaPlugin load_cuda_plugin() {
  CudaPlugin plugin;
  std::string tried;
  for (const std::string& path : cuda_plugin_candidates()) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec)) {
      tried += (tried.empty() ? "" : ", ") + path + " (missing)";
      continue;
    }
    // Never closed: its backends and evaluators live until exit.
    void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      tried += (tried.empty() ? "" : ", ") + path + " (" + (why ? why : "dlopen failed") + ")";
      continue;
    }
    auto version = reinterpret_cast<decltype(&msinr_cuda_plugin_version)>(dlsym(handle, "msinr_cuda_plugin_version"));
    plugin.available = reinterpret_cast<decltype(plugin.available)>(dlsym(handle, "msinr_cuda_plugin_available"));
    plugin.make = reinterpret_cast<decltype(plugin.make)>(dlsym(handle, "msinr_cuda_plugin_make_backend"));
    // The plugin shares this build's classes: one from another build would misread them.
    if (version == nullptr || plugin.available == nullptr || plugin.make == nullptr ||
        std::string(version()) != MSINR_CUDA_PLUGIN_ABI) {
      tried += (tried.empty() ? "" : ", ") + path + " (" + (version ? std::string("built as ") + version() : "not an msinr CUDA plugin") +
               ", this msinr is " MSINR_CUDA_PLUGIN_ABI ")";
      plugin.available = nullptr;
      plugin.make = nullptr;
      continue;
    }
    return plugin;
  }
  plugin.error = cuda_plugin_override()
                     ? "the CUDA backend plugin named by MSINR_CUDA_PLUGIN could not be loaded: " + tried
                     : "the CUDA backend plugin " MSINR_CUDA_PLUGIN_NAME " could not be loaded (tried " + tried +
                           "); set MSINR_CUDA_PLUGIN to its path";
  return plugin;
}
#else
CudaPlugin load_cuda_plugin() {
  CudaPlugin plugin;
  plugin.error = "this msinr was built without the CUDA backend (configure with nvcc present)";
  return plugin;
}
#endif

const CudaPlugin& cuda_plugin() {
  static const CudaPlugin plugin = load_cuda_plugin();  // loaded once, thread-safely
  return plugin;
}

}  // namespace

std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options) {
  const CudaPlugin& plugin = cuda_plugin();
  if (plugin.make == nullptr) throw Error(ErrorCode::kDevice, plugin.error);
  return std::unique_ptr<Backend>(plugin.make(&options));  // throws Error(kDevice) from the plugin without a GPU
}

bool cuda_backend_available() {
  const CudaPlugin& plugin = cuda_plugin();
  return plugin.available != nullptr && plugin.available() != 0;
}

std::string cuda_plugin_status() {
  const CudaPlugin& plugin = cuda_plugin();
  return plugin.make != nullptr ? "loaded" : plugin.error;
}

bool gpu_device_nodes_present() {
  std::error_code ec;
  // The NVIDIA driver's control node (Linux, containers with a GPU passed through) or WSL2's GPU node.
  for (const char* node : {"/dev/nvidiactl", "/dev/nvidia0", "/dev/dxg"})
    if (std::filesystem::exists(node, ec)) return true;
  return false;
}

Device resolve_device(Device requested) {
  switch (requested) {
    // Without a GPU's device node nothing is loaded: kAuto on a CPU-only machine costs no CUDA runtime.
    case Device::kAuto: return gpu_device_nodes_present() && cuda_backend_available() ? Device::kCuda : Device::kCpu;
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
  PixelSubsets subsets(*evaluator, options.sampling);
  for (int step = 1; step <= options.steps && !cancelled; ++step) {
    subsets.next();
    double mean = 0.0;
    for (std::size_t i = 0; i < params.size(); ++i) {
      const double loss = evaluator->loss_and_gradient(params[i].data(), targets[i], grad.data());
      if (!std::isfinite(loss))
        throw Error(ErrorCode::kInternal, "fit diverged: loss is not finite at step " + std::to_string(step) +
                                              " of fit " + std::to_string(i) + " (try a smaller learning rate)");
      zero_frozen(options.frozen, grad);
      adams[i].set_lr(scheduled_lr(options.adam, step, options.steps));
      adams[i].step(params[i].data(), grad.data(), mask);
      mean += loss;
    }
    steps_taken = step;
    if (options.on_step && !options.on_step(step, mean / static_cast<double>(params.size()))) cancelled = true;
  }
  subsets.clear();
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
