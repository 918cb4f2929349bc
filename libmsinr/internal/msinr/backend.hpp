#pragma once
// One interface, several engines: the reference backend (scalar, the oracle for tests), the
// optimized CPU backend (OpenBLAS + AVX2 kernels) and, when built with CUDA, the GPU backend.
// make_backend() is the one factory, and what differs between engines (batched fitting above all)
// is a virtual here, so no caller asks which engine it holds.
//
// A Backend makes an Evaluator for one problem shape (architecture, mask, pixel grid). The
// Evaluator owns every buffer the problem needs, allocated once, so a fit of N steps allocates
// nothing per step and a GPU evaluator can keep its buffers on the device.
#include <cstddef>
#include <memory>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "msinr/architecture.hpp"
#include "msinr/encode_options.hpp"  // Device
#include "msinr/mask.hpp"
#include "msinr/siren.hpp"

namespace msinr {

class Evaluator {
 public:
  virtual ~Evaluator() = default;
  // Restricts the loss, gradient and H v to these grid pixels (row-major indices, each < pixels);
  // the loss is then the mean over them. The target is still indexed by the whole grid, and
  // forward() still renders the whole grid. An empty list means every pixel (the default).
  // Meta-training samples pixels this way to make large tiles affordable.
  void set_pixel_subset(std::vector<std::uint32_t> pixels);
  const std::vector<std::uint32_t>& pixel_subset() const { return subset_; }
  const Grid& grid() const { return grid_; }

  // Network output on the grid: pixels x out_features, interleaved (pixel-major, row by row).
  virtual void forward(const float* params, float* out) = 0;
  // Mean squared error over all pixels and channels against `target` (same layout as forward's
  // output), and its gradient with respect to every parameter (param_count floats, overwritten).
  // Gradients of masked-out weights are exactly zero. Returns the loss.
  virtual double loss_and_gradient(const float* params, const float* target, float* grad) = 0;
  // The loss alone (no gradient).
  virtual double loss(const float* params, const float* target) = 0;
  // Gradient and the Hessian-vector product H v at `params` in one pass (exact: Pearlmutter's
  // R-operator, no finite differences, no Hessian in memory). Masked entries of v are ignored and
  // those of hv are zero. Returns the loss. Second-order MAML needs two of these per task.
  virtual double gradient_and_hvp(const float* params, const float* v, const float* target, float* grad,
                                  float* hv) = 0;

 protected:
  explicit Evaluator(const Grid& grid) : grid_(grid) {}
  Grid grid_;
  std::vector<std::uint32_t> subset_;
};

struct BatchFitOptions;  // msinr/batch_fit.hpp
struct FitResult;        // msinr/fitter.hpp

// Tuning of the optimized CPU backend; the defaults are what `msinr bench fit` measured best.
struct CpuBackendOptions {
  int threads = 0;                     // 0: OpenMP's default (all cores)
  int block_pixels = 256;              // pixels per cache block (rounded up to a multiple of 8)
  double sparse_below_density = 0.30;  // a layer whose kept-weight density is below this runs sparse
  // kAuto: best the CPU runs. kAvx512 differs from kAvx2 in the fit's dense kernels only.
  enum class Kernels { kAuto, kGeneric, kAvx2, kAvx512 } kernels = Kernels::kAuto;
  // forward() through the fused rendering kernels (product, bias and sine in one pass per layer).
  // false: through the training path's products, as before they existed (tests compare the two).
  bool fused_forward = true;
  // The fit's products for narrow dense layers (width <= 64: the codec's networks) through the
  // fused kernels (product with bias and sine, or with the sine's backward, in registers; no BLAS
  // call). false: every dense layer through OpenBLAS sgemm, as before they existed (tests and
  // `msinr bench fit --compare` compare the two). The environment variable MSINR_CPU_FIT=blas sets
  // it to false in any process, for measuring the old path in a whole encode (and
  // MSINR_CPU_KERNELS=generic|avx2|avx512 sets `kernels`).
  bool fused_fit = true;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // kCpu, kCuda or kReference (never kAuto).
  virtual Device device() const = 0;
  // Human-readable: which engine and which device or instruction set it uses.
  virtual std::string description() const = 0;
  // Throws kInvalidArgument if the mask does not fit the architecture or the grid is empty.
  virtual std::unique_ptr<Evaluator> make_evaluator(const Architecture& arch, const Mask& mask,
                                                    const Grid& grid) = 0;
  // Many fits of one shape at once; call it through msinr::fit_batch (msinr/batch_fit.hpp), which
  // checks the arguments first. This default runs the fits in lockstep on one evaluator, each step
  // exactly fit()'s step; the CUDA backend overrides it with strided-batched GEMMs.
  virtual std::vector<FitResult> fit_batch(const Architecture& arch, const Mask& mask, const Grid& grid,
                                           std::span<std::vector<float>> params,
                                           std::span<const float* const> targets, const BatchFitOptions& options);
  // True when many tiles are best fitted together through fit_batch (a GPU: one launch for all),
  // false when several independent fits on CPU threads win (small tiles spread badly over cores).
  virtual bool prefers_batched_fits() const { return false; }
};

// The CUDA backend: cuBLAS SGEMMs and fused element-wise kernels, one CUDA stream per evaluator.
struct CudaBackendOptions {
  int device = 0;           // CUDA device ordinal
  // Lets cuBLAS round GEMM inputs to TF32 on tensor cores. Off: no GPU run has yet shown that the
  // lost mantissa bits are harmless with w0 = 200 amplifying every sine argument's error.
  bool allow_tf32 = false;
};

struct BackendOptions {
  Device device = Device::kAuto;
  CpuBackendOptions cpu;    // used when the device is the CPU
  CudaBackendOptions cuda;  // used when it is the GPU
};

// The one factory: every tool and the codec make their engine here. kAuto becomes resolve_device's
// choice. Throws Error(kDevice) for kCuda when this build has no CUDA backend or no usable GPU.
std::unique_ptr<Backend> make_backend(const BackendOptions& options = {});
// kAuto -> kCuda when a GPU is usable (checked only where a GPU device node exists, so a CPU-only
// machine never loads the CUDA plugin), else kCpu; kCuda without one throws Error(kDevice) with the
// reason; the others are returned as they are. Callers that plan work per device (threads, batching)
// resolve once and then build backends for the resolved device.
Device resolve_device(Device requested);

// The engines themselves; make_backend picks among them.
std::unique_ptr<Backend> make_reference_backend();
std::unique_ptr<Backend> make_cpu_backend(const CpuBackendOptions& options = {});
// Throws Error(kDevice) when this build has no CUDA backend or no usable GPU is present.
std::unique_ptr<Backend> make_cuda_backend(const CudaBackendOptions& options = {});
// True when this build has the CUDA backend and at least one CUDA device answers; never throws.
// The first call of either loads the backend's plugin (libmsinr_cuda.so), and with it the CUDA
// runtime; nothing else does, so CPU-only work never maps CUDA.
bool cuda_backend_available();
// "loaded", or why the CUDA plugin is not (for error messages and tests).
std::string cuda_plugin_status();
// True when the machine shows an NVIDIA GPU's device node (/dev/nvidiactl, /dev/nvidia0, WSL's
// /dev/dxg): without one, kAuto does not try CUDA.
bool gpu_device_nodes_present();

// "auto", "cpu", "cuda", "reference": the spelling of the command line, the JSON and Python.
const char* device_name(Device device);
// The inverse; throws Error(kInvalidArgument) naming the choices.
Device parse_device(std::string_view name);

}  // namespace msinr
