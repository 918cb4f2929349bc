// The CUDA backend: cuBLAS SGEMMs for every layer product and fused element-wise kernels built
// from the shared __host__ __device__ math in kernels/elementwise.hpp (which the CPU tests check
// on every run).
//
// One engine serves both entry points: an Evaluator is the engine with a batch of one, and the
// batched fitter (CudaBackend::fit_batch, the override of Backend::fit_batch) runs B independent fits of the same architecture, mask
// and grid through strided-batched GEMMs and one masked Adam kernel.
//
// Layouts. Parameters are the flat vector of ParamLayout, one copy per fit, fits P floats apart.
// A layer's W is row-major (out x in), which cuBLAS (column-major) sees as W^T: an (in x out)
// matrix with leading dimension `in`. Activations are pixel-major: for each fit, an (features x n)
// column-major matrix with leading dimension `features` (feature fastest), so the network output
// is already the interleaved pixels x out_features layout of the Evaluator interface. Each fit's
// activation slot is sized for the whole grid (`cap` pixels) so the strides never change.
//   forward      Z  (out x n) = W A           -> gemm(T, N, out, n, in, W^T(in x out), A(in x n))
//   input grad   dA (in x n)  = W^T dZ         -> gemm(N, N, in, n, out, W^T, dZ(out x n))
//   weight grad  dW (out x in, row-major) = dZ A^T, i.e. dW^T (in x out) = A dZ^T
//                                              -> gemm(N, T, in, out, n, A(in x n), dZ(out x n))
//
// Determinism: no float atomics. Sums over pixels (loss, bias gradients) are two-stage reductions
// with a fixed assignment of pixels to threads and fixed-order combination, so results repeat bit
// for bit from run to run on the same GPU. cuBLAS in its default (atomics-free) mode is
// deterministic on one stream.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "msinr/batch_fit.hpp"
#include "kernels/elementwise.hpp"

#if defined(MSINR_CUDA_PLUGIN_LINKED)
#define MSINR_CUDA_PLUGIN_EXPORT
#else
#define MSINR_CUDA_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif
#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "msinr/fitter.hpp"

namespace msinr {
namespace cuda_detail {

// ---------------------------------------------------------------------------------------------
// Errors: every CUDA and cuBLAS failure becomes Error(kDevice) naming the call.

[[noreturn]] void throw_cuda(const char* call, cudaError_t e) {
  throw Error(ErrorCode::kDevice, std::string("CUDA: ") + call + " failed: " + cudaGetErrorName(e) + ": " +
                                      cudaGetErrorString(e));
}

[[noreturn]] void throw_cublas(const char* call, cublasStatus_t s) {
  throw Error(ErrorCode::kDevice, std::string("cuBLAS: ") + call + " failed: " + cublasGetStatusName(s) + ": " +
                                      cublasGetStatusString(s));
}

#define MSINR_CUDA_CHECK(call)                                     \
  do {                                                             \
    const cudaError_t msinr_e_ = (call);                           \
    if (msinr_e_ != cudaSuccess) ::msinr::cuda_detail::throw_cuda(#call, msinr_e_); \
  } while (0)

#define MSINR_CUBLAS_CHECK(call)                                       \
  do {                                                                 \
    const cublasStatus_t msinr_s_ = (call);                            \
    if (msinr_s_ != CUBLAS_STATUS_SUCCESS) ::msinr::cuda_detail::throw_cublas(#call, msinr_s_); \
  } while (0)

// After every kernel launch: a bad configuration shows up here, not at some later call.
void check_launch(const char* kernel) {
  const cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) throw_cuda(kernel, e);
}

// ---------------------------------------------------------------------------------------------
// Owned device resources (freed without throwing; a failure while freeing is ignored).

template <class T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  DeviceBuffer(DeviceBuffer&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& o) noexcept {
    if (this != &o) {
      release();
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~DeviceBuffer() { release(); }
  void allocate(std::size_t n) {
    release();
    if (n == 0) return;
    const cudaError_t e = cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T));
    if (e != cudaSuccess) {
      p_ = nullptr;
      throw Error(ErrorCode::kDevice, "CUDA: cudaMalloc of " + std::to_string(n * sizeof(T)) +
                                          " bytes failed: " + cudaGetErrorName(e) + ": " + cudaGetErrorString(e));
    }
    n_ = n;
  }
  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }

 private:
  void release() noexcept {
    if (p_) cudaFree(p_);
    p_ = nullptr;
    n_ = 0;
  }
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

// A stream and a cuBLAS handle bound to it, on one device.
class Context {
 public:
  Context(int device, bool allow_tf32) {
    MSINR_CUDA_CHECK(cudaSetDevice(device));
    MSINR_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    const cublasStatus_t s = cublasCreate(&handle_);
    if (s != CUBLAS_STATUS_SUCCESS) {
      cudaStreamDestroy(stream_);
      throw_cublas("cublasCreate", s);
    }
    try {
      MSINR_CUBLAS_CHECK(cublasSetStream(handle_, stream_));
      MSINR_CUBLAS_CHECK(cublasSetPointerMode(handle_, CUBLAS_POINTER_MODE_HOST));
      MSINR_CUBLAS_CHECK(cublasSetAtomicsMode(handle_, CUBLAS_ATOMICS_NOT_ALLOWED));
      MSINR_CUBLAS_CHECK(cublasSetMathMode(handle_, allow_tf32 ? CUBLAS_TF32_TENSOR_OP_MATH : CUBLAS_DEFAULT_MATH));
    } catch (...) {
      cublasDestroy(handle_);
      cudaStreamDestroy(stream_);
      throw;
    }
  }
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;
  ~Context() {
    cublasDestroy(handle_);
    cudaStreamDestroy(stream_);
  }
  cudaStream_t stream() const { return stream_; }
  cublasHandle_t blas() const { return handle_; }
  void sync() const { MSINR_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

 private:
  cudaStream_t stream_ = nullptr;
  cublasHandle_t handle_ = nullptr;
};

// ---------------------------------------------------------------------------------------------
// Kernels. All element-wise kernels are grid-stride loops over size_t indices, so any element
// count works with any grid; launches are sized by blocks_for().

constexpr int kThreads = 256;
constexpr int kReduceChunks = 64;  // pixel chunks per fit in the two-stage reductions

unsigned blocks_for(std::size_t n) {
  const std::size_t b = (n + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::clamp<std::size_t>(b, 1, 1u << 20));
}

// Kernel launches: MSINR_LAUNCH(kernel, grid, block, stream)(args...). The CPU emulation of this
// file (tests/cuda_emulation, run by every CI build) defines it before including this file.
#ifndef MSINR_LAUNCH
#define MSINR_LAUNCH(kernel, grid, block, stream) kernel<<<(grid), (block), 0, (stream)>>>
#endif

#define MSINR_GRID_STRIDE(i, n)                                                                      \
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)

// Per-fit element loops for the hot kernels: blockIdx.y is the fit, x strides over its `per_fit`
// elements; e mod rows is taken in 32 bits whenever e fits (64-bit division is slow on GPUs).
#define MSINR_FIT_STRIDE(e, per_fit)                                                                   \
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; e < (per_fit); \
       e += static_cast<std::size_t>(gridDim.x) * blockDim.x)

__device__ __forceinline__ int row_of(std::size_t e, int rows) {
  return (e >> 32) == 0 ? static_cast<int>(static_cast<unsigned>(e) % static_cast<unsigned>(rows))
                        : static_cast<int>(e % static_cast<std::size_t>(rows));
}

dim3 fit_grid(std::size_t per_fit, int fits) { return dim3(blocks_for(per_fit), static_cast<unsigned>(fits)); }

// dst = src with masked entries zero, for each fit's P-vector (grid y: the fit; in place allowed).
__global__ void mask_kernel(const float* src, const std::uint8_t* mask, float* dst, std::size_t P) {
  const std::size_t base = blockIdx.y * P;
  MSINR_FIT_STRIDE(i, P) dst[base + i] = mask[i] ? src[base + i] : 0.0f;
}

// Coordinates of the n active pixels (grid indices `pixels`, or 0..n-1 when null), for each fit:
// X[f * x_stride + q * 2 + {0, 1}] = (row, col).
__global__ void coords_kernel(const std::uint32_t* pixels, std::size_t n, int cols, const float* row_coord,
                              const float* col_coord, float* X, std::size_t x_stride, int fits) {
  MSINR_GRID_STRIDE(i, n * static_cast<std::size_t>(fits)) {
    const std::size_t f = i / n, q = i % n;
    const std::size_t p = pixels ? pixels[q] : q;
    float* x = X + f * x_stride + q * 2;
    x[0] = row_coord[p / static_cast<std::size_t>(cols)];
    x[1] = col_coord[p % static_cast<std::size_t>(cols)];
  }
}

// An FFN's input for the n active pixels of each fit: the Fourier encoding of the coordinate,
// X[f * x_stride + q * 2m + k] = sin(pi t_k) and X[... + m + k] = cos(pi t_k), with t_k the phase of
// B's row k (B: m x 2, row-major) reduced in double as the CPU backend does.
__global__ void fourier_kernel(const std::uint32_t* pixels, std::size_t n, int cols, const float* row_coord,
                               const float* col_coord, const float* B, int m, float* X, std::size_t x_stride,
                               int fits) {
  const std::size_t per_fit = n * static_cast<std::size_t>(m);
  MSINR_GRID_STRIDE(i, per_fit * static_cast<std::size_t>(fits)) {
    const std::size_t f = i / per_fit, q = (i % per_fit) / static_cast<std::size_t>(m);
    const int k = static_cast<int>(i % static_cast<std::size_t>(m));
    const std::size_t p = pixels ? pixels[q] : q;
    const float t = kernels::fourier_phase(B[2 * k], B[2 * k + 1], row_coord[p / static_cast<std::size_t>(cols)],
                                           col_coord[p % static_cast<std::size_t>(cols)]);
    float sn, cs;
    sincosf(3.14159265358979f * t, &sn, &cs);
    float* x = X + f * x_stride + q * 2 * static_cast<std::size_t>(m);
    x[k] = sn;
    x[m + k] = cs;
  }
}

// ReLU layer after its product: Z (W a) becomes max(0, z + b); with RZ (V a + W R{a}) the
// R-operator pass also turns RZ into R{a} = 1[a > 0] (rz + v_b).
__global__ void relu_forward_kernel(float* Z, float* RZ, const float* params, const float* v,
                                    std::size_t bias_offset, std::size_t P, int rows, std::size_t n,
                                    std::size_t stride) {
  const std::size_t per_fit = static_cast<std::size_t>(rows) * n;
  const std::size_t f = blockIdx.y;
  MSINR_FIT_STRIDE(e, per_fit) {
    const int o = row_of(e, rows);
    const std::size_t at = f * stride + e;
    Z[at] = kernels::relu_forward(Z[at], params[f * P + bias_offset + o]);
    if (RZ) RZ[at] = kernels::r_relu_forward(Z[at], RZ[at], v[f * P + bias_offset + o]);
  }
}

// ReLU layer backward, in place on D (and RD in the R-operator pass): passes where A > 0.
__global__ void relu_backward_kernel(float* D, float* RD, const float* A, int rows, std::size_t n,
                                     std::size_t d_stride, std::size_t a_stride) {
  const std::size_t per_fit = static_cast<std::size_t>(rows) * n;
  const std::size_t f = blockIdx.y;
  MSINR_FIT_STRIDE(e, per_fit) {
    const std::size_t d = f * d_stride + e, a = f * a_stride + e;
    D[d] = kernels::relu_backward(D[d], A[a]);
    if (RD) RD[d] = kernels::relu_backward(RD[d], A[a]);
  }
}

// Sine layer after its product: Z holds W a (rows x n per fit, stride `stride`), becomes
// sin(w0 (z + b)); C (may be null) gets the cosine. With RZ (R-operator pass) holding V a + W R{a}:
// RS gets R{s} = w0 (rz + v_b) and RZ becomes R{a} = cos(s) R{s}.
__global__ void sine_forward_kernel(float* Z, float* C, float* RZ, float* RS, const float* params,
                                    const float* v, std::size_t bias_offset, std::size_t P, int rows, std::size_t n,
                                    std::size_t stride, float w0) {
  const std::size_t per_fit = static_cast<std::size_t>(rows) * n;
  const std::size_t f = blockIdx.y;
  MSINR_FIT_STRIDE(e, per_fit) {
    const int o = row_of(e, rows);
    const std::size_t at = f * stride + e;
    const float arg = kernels::sine_argument(Z[at], params[f * P + bias_offset + o], w0);
    float s, c;
    sincosf(arg, &s, &c);
    Z[at] = s;
    if (C) C[at] = c;
    if (RZ) {
      float rs, ra;
      kernels::r_sine_forward(RZ[at], v[f * P + bias_offset + o], c, w0, rs, ra);
      RS[at] = rs;
      RZ[at] = ra;
    }
  }
}

// The final linear layer: Z += b, and RZ += v_b in the R-operator pass.
__global__ void linear_forward_kernel(float* Z, float* RZ, const float* params, const float* v,
                                      std::size_t bias_offset, std::size_t P, int rows, std::size_t n,
                                      std::size_t stride) {
  const std::size_t per_fit = static_cast<std::size_t>(rows) * n;
  const std::size_t f = blockIdx.y;
  MSINR_FIT_STRIDE(e, per_fit) {
    const int o = row_of(e, rows);
    const std::size_t at = f * stride + e;
    Z[at] += params[f * P + bias_offset + o];
    if (RZ) RZ[at] += v[f * P + bias_offset + o];
  }
}

// Loss, stage 1. Grid (kReduceChunks, fits). Each thread walks a fixed set of the fit's n * n_out
// output elements, accumulates the squared error in double and, when D is set, writes
// d(loss)/d(output) into D (and R{} of it into RD). The block's sum goes to partial[fit][chunk].
__global__ void loss_kernel(const float* Y, const float* RY, std::size_t y_stride, const float* target,
                            std::size_t target_stride, const std::uint32_t* pixels, std::size_t n, int n_out,
                            float inv_count, float* D, float* RD, std::size_t d_stride, double* partial) {
  __shared__ double sums[kThreads];
  const int f = blockIdx.y;
  const std::size_t total = n * static_cast<std::size_t>(n_out);
  double sse = 0.0;
  for (std::size_t e = static_cast<std::size_t>(blockIdx.x) * kThreads + threadIdx.x; e < total;
       e += static_cast<std::size_t>(gridDim.x) * kThreads) {
    const std::size_t q = e / static_cast<std::size_t>(n_out);
    const int o = static_cast<int>(e % static_cast<std::size_t>(n_out));
    const std::size_t p = pixels ? pixels[q] : q;
    const float y = Y[f * y_stride + e];
    const float t = target[f * target_stride + p * static_cast<std::size_t>(n_out) + o];
    const float diff = y - t;
    sse += static_cast<double>(diff) * diff;
    if (D) D[f * d_stride + e] = kernels::mse_gradient(y, t, inv_count);
    if (RD) RD[f * d_stride + e] = kernels::r_mse_gradient(RY[f * y_stride + e], inv_count);
  }
  sums[threadIdx.x] = sse;
  __syncthreads();
  for (int half = kThreads / 2; half > 0; half /= 2) {
    if (static_cast<int>(threadIdx.x) < half) sums[threadIdx.x] += sums[threadIdx.x + half];
    __syncthreads();
  }
  if (threadIdx.x == 0) partial[static_cast<std::size_t>(f) * gridDim.x + blockIdx.x] = sums[0];
}

// Loss, stage 2: one thread per fit adds its chunks in order into out[fit].
__global__ void loss_finish_kernel(const double* partial, int chunks, int fits, double* out) {
  const int f = blockIdx.x * blockDim.x + threadIdx.x;
  if (f >= fits) return;
  double s = 0.0;
  for (int c = 0; c < chunks; ++c) s += partial[static_cast<std::size_t>(f) * chunks + c];
  out[f] = s;
}

// Sine layer backward, in place on D (rows x n per fit): dL/dz = dL/dy w0 cos(s). With RD (the
// R-operator pass) also R{dL/dz} = R{dL/dy} w0 cos(s) - dL/dy w0 sin(s) R{s}.
__global__ void sine_backward_kernel(float* D, float* RD, const float* S, const float* C, const float* RS,
                                     int rows, std::size_t n, std::size_t d_stride, std::size_t a_stride, float w0) {
  const std::size_t per_fit = static_cast<std::size_t>(rows) * n;
  const std::size_t f = blockIdx.y;
  MSINR_FIT_STRIDE(e, per_fit) {
    const std::size_t d = f * d_stride + e, a = f * a_stride + e;
    if (RD) {
      float dz, rdz;
      kernels::r_sine_backward(D[d], RD[d], S[a], C[a], RS[a], w0, dz, rdz);
      D[d] = dz;
      RD[d] = rdz;
    } else {
      D[d] = kernels::sine_backward(D[d], C[a], w0);
    }
  }
}

// Bias gradient, stage 1: sums over pixels of a (rows x n) pixel-major matrix per fit. Grid
// (ceil(rows / 32), kReduceChunks, fits), block (32, 8): lane x owns a row (coalesced reads of 32
// consecutive rows of one pixel), lane y a fixed set of pixels; the 8 lanes are added in order.
__global__ void row_sum_kernel(const float* D, int rows, std::size_t n, std::size_t d_stride, float* partial) {
  __shared__ float sums[8][33];
  const int o = blockIdx.x * 32 + threadIdx.x;
  const int chunk = blockIdx.y, chunks = gridDim.y, f = blockIdx.z;
  float s = 0.0f;
  if (o < rows)
    for (std::size_t q = static_cast<std::size_t>(chunk) * 8 + threadIdx.y; q < n;
         q += static_cast<std::size_t>(chunks) * 8)
      s += D[f * d_stride + q * static_cast<std::size_t>(rows) + o];
  sums[threadIdx.y][threadIdx.x] = s;
  __syncthreads();
  if (threadIdx.y == 0 && o < rows) {
    float t = 0.0f;
    for (int y = 0; y < 8; ++y) t += sums[y][threadIdx.x];
    partial[(static_cast<std::size_t>(f) * chunks + chunk) * rows + o] = t;
  }
}

// Bias gradient, stage 2: out[fit * out_stride + o] = sum over chunks in order.
__global__ void row_sum_finish_kernel(const float* partial, int rows, int chunks, float* out, std::size_t out_stride,
                                      int fits) {
  const std::size_t total = static_cast<std::size_t>(rows) * fits;
  MSINR_GRID_STRIDE(i, total) {
    const std::size_t f = i / static_cast<std::size_t>(rows);
    const int o = static_cast<int>(i % static_cast<std::size_t>(rows));
    float t = 0.0f;
    for (int c = 0; c < chunks; ++c) t += partial[(f * chunks + c) * rows + o];
    out[f * out_stride + o] = t;
  }
}

// One masked Adam step on each fit's P parameters (grid y: the fit; torch.optim.Adam semantics,
// the same function the CPU Adam calls).
__global__ void adam_kernel(float* params, float* m, float* v, const float* grad, const std::uint8_t* mask,
                            std::size_t P, float beta1, float beta2, float eps, kernels::AdamStepScalars s) {
  const std::size_t base = blockIdx.y * P;
  MSINR_FIT_STRIDE(i, P) {
    const std::size_t k = base + i;
    kernels::adam_update(params[k], m[k], v[k], grad[k], mask[i] != 0, beta1, beta2, eps, s);
  }
}

// ---------------------------------------------------------------------------------------------
// The engine: all device buffers for `fits` fits of one architecture, mask and grid, allocated
// once at construction (the R-operator buffers on the first Hessian-vector product).

class Engine {
 public:
  Engine(const CudaBackendOptions& options, const Architecture& arch, const Mask& mask, const Grid& grid, int fits)
      : ctx_(options.device, options.allow_tf32), layout_(arch), grid_(grid), fits_(fits) {
    check_mask(layout_, mask);
    if (grid.rows < 1 || grid.cols < 1) throw Error(ErrorCode::kInvalidArgument, "empty pixel grid");
    if (arch.in_features != 2)
      throw Error(ErrorCode::kInvalidArgument, "the CUDA backend maps (row, col) coordinates: in_features must be 2");
    if (fits < 1 || fits > 65535)  // fits index gridDim.y / gridDim.z of the reductions
      throw Error(ErrorCode::kInvalidArgument, "CUDA engine: between 1 and 65535 fits per batch");
    cap_ = grid.pixels();
    if (cap_ > static_cast<std::size_t>(INT_MAX))
      throw Error(ErrorCode::kLimit, "CUDA backend: more than 2^31 - 1 pixels in one grid");
    P_ = layout_.param_count();
    max_width_ = arch.input_width();
    for (const LayerView& v : layout_.layers()) max_width_ = std::max({max_width_, v.in, v.out});
    const std::size_t F = static_cast<std::size_t>(fits);
    mask_.allocate(P_);
    upload(mask_.get(), mask.data(), P_);
    std::vector<float> rc(static_cast<std::size_t>(grid.rows)), cc(static_cast<std::size_t>(grid.cols));
    for (int r = 0; r < grid.rows; ++r) rc[static_cast<std::size_t>(r)] = grid.row_coord(r);
    for (int c = 0; c < grid.cols; ++c) cc[static_cast<std::size_t>(c)] = grid.col_coord(c);
    row_coord_.allocate(rc.size());
    col_coord_.allocate(cc.size());
    upload(row_coord_.get(), rc.data(), rc.size());
    upload(col_coord_.get(), cc.data(), cc.size());
    pixels_.allocate(cap_);
    x_.allocate(slot(arch.input_width()) * F);
    if (arch.network == Network::kFourier) {
      const std::vector<float> b = fourier_matrix(arch);
      fourier_b_.allocate(b.size());
      upload(fourier_b_.get(), b.data(), b.size());
    }
    for (const LayerView& v : layout_.layers()) {
      act_.emplace_back().allocate(slot(v.out) * F);
      cos_.emplace_back();
      if (v.is_sine()) cos_.back().allocate(slot(v.out) * F);
    }
    d0_.allocate(slot(max_width_) * F);
    d1_.allocate(slot(max_width_) * F);
    partial_.allocate(F * kReduceChunks * static_cast<std::size_t>(max_width_));
    loss_partial_.allocate(F * kReduceChunks);
    sse_.allocate(F);
    params_.allocate(P_ * F);
    grad_.allocate(P_ * F);
    ctx_.sync();
  }

  // Bytes one fit needs on the device (without the R-operator buffers), for batch sizing.
  static std::size_t bytes_per_fit(const Architecture& arch, const Grid& grid) {
    const ParamLayout layout(arch);
    std::size_t floats = static_cast<std::size_t>(arch.input_width()) * grid.pixels() + 8 * layout.param_count();
    int max_width = arch.input_width();
    for (const LayerView& v : layout.layers()) {
      floats += grid.pixels() * static_cast<std::size_t>(v.out) * (v.is_sine() ? 2 : 1);
      max_width = std::max({max_width, v.in, v.out});
    }
    floats += 2 * grid.pixels() * static_cast<std::size_t>(max_width);
    floats += 2 * grid.pixels() * static_cast<std::size_t>(arch.out_features);  // the batched fitter's targets
    return floats * sizeof(float);
  }

  const Context& ctx() const { return ctx_; }
  const ParamLayout& layout() const { return layout_; }
  std::size_t P() const { return P_; }
  int fits() const { return fits_; }
  const std::uint8_t* mask() const { return mask_.get(); }
  float* params() { return params_.get(); }  // fits * P, the parameters the passes read
  float* grad() { return grad_.get(); }      // fits * P, written by the passes
  float* v() { return v_.get(); }            // fits * P, the HVP direction (after enable_hvp)
  float* hv() { return hv_.get(); }
  float* output() { return act_.back().get(); }  // fits x (pixels x out_features), stride slot(out)
  std::size_t output_stride() const { return slot(layout_.arch().out_features); }
  const double* sse() const { return sse_.get(); }

  void enable_hvp() {
    if (!v_.empty()) return;
    const std::size_t F = static_cast<std::size_t>(fits_);
    for (const LayerView& lv : layout_.layers()) {
      ract_.emplace_back().allocate(slot(lv.out) * F);
      rs_.emplace_back();
      if (lv.is_sine()) rs_.back().allocate(slot(lv.out) * F);
    }
    r0_.allocate(slot(max_width_) * F);
    r1_.allocate(slot(max_width_) * F);
    v_.allocate(P_ * F);
    hv_.allocate(P_ * F);
  }

  template <class T>
  void upload(T* dst, const T* src, std::size_t n) {
    MSINR_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyHostToDevice, ctx_.stream()));
  }
  template <class T>
  void download(T* dst, const T* src, std::size_t n) {
    MSINR_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(T), cudaMemcpyDeviceToHost, ctx_.stream()));
  }

  // In place: masked entries of all fits' copies of a P-vector become exactly zero.
  void apply_mask(float* x) {
    MSINR_LAUNCH(mask_kernel, fit_grid(P_, fits_), kThreads, ctx_.stream())(x, mask_.get(), x, P_);
    check_launch("mask_kernel");
  }

  // Selects the pixels of the next pass: `pixels` (host, grid indices) or, when empty, the grid.
  void set_pixels(const std::vector<std::uint32_t>& pixels) {
    if (pixels.size() > cap_)  // buffers hold one grid's worth of pixels; a subset may repeat pixels
      throw Error(ErrorCode::kInvalidArgument, "CUDA evaluator: a pixel subset of " + std::to_string(pixels.size()) +
                                                   " entries is larger than the grid (" + std::to_string(cap_) + ")");
    use_pixels_ = !pixels.empty();
    n_ = use_pixels_ ? pixels.size() : cap_;
    if (use_pixels_) upload(pixels_.get(), pixels.data(), n_);
    if (!fourier_b_.empty()) {
      const int m = layout_.arch().fourier_features;
      MSINR_LAUNCH(fourier_kernel, blocks_for(n_ * static_cast<std::size_t>(m) * static_cast<std::size_t>(fits_)),
                   kThreads, ctx_.stream())(use_pixels_ ? pixels_.get() : nullptr, n_, grid_.cols, row_coord_.get(),
                                            col_coord_.get(), fourier_b_.get(), m, x_.get(), slot(2 * m), fits_);
      check_launch("fourier_kernel");
      return;
    }
    MSINR_LAUNCH(coords_kernel, blocks_for(n_ * static_cast<std::size_t>(fits_)), kThreads, ctx_.stream())(
        use_pixels_ ? pixels_.get() : nullptr, n_, grid_.cols, row_coord_.get(), col_coord_.get(), x_.get(), 2 * cap_,
        fits_);
    check_launch("coords_kernel");
  }

  // Forward through every layer at params() (masked: the caller keeps masked entries zero), and
  // with `r` the R-operator companions at direction v(). `keep_cos`: store cosines for backward.
  void forward(bool keep_cos, bool r) {
    const auto& layers = layout_.layers();
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const LayerView& lv = layers[l];
      const float* A = l == 0 ? x_.get() : act_[l - 1].get();
      const std::size_t a_stride = slot(lv.in);
      float* Z = act_[l].get();
      gemm(CUBLAS_OP_T, CUBLAS_OP_N, lv.out, lv.in, params_.get() + lv.weight_offset, lv.in, A, a_stride, 0.0f, Z,
           lv.out, slot(lv.out), n_);
      float* RZ = nullptr;
      if (r) {  // R{z} = V a + W R{a}; the coordinates' R{} is zero
        RZ = ract_[l].get();
        gemm(CUBLAS_OP_T, CUBLAS_OP_N, lv.out, lv.in, v_.get() + lv.weight_offset, lv.in, A, a_stride, 0.0f, RZ,
             lv.out, slot(lv.out), n_);
        if (l > 0)
          gemm(CUBLAS_OP_T, CUBLAS_OP_N, lv.out, lv.in, params_.get() + lv.weight_offset, lv.in, ract_[l - 1].get(),
               slot(lv.in), 1.0f, RZ, lv.out, slot(lv.out), n_);
      }
      const dim3 grid = fit_grid(static_cast<std::size_t>(lv.out) * n_, fits_);
      if (lv.is_sine()) {
        MSINR_LAUNCH(sine_forward_kernel, grid, kThreads, ctx_.stream())(
            Z, keep_cos || r ? cos_[l].get() : nullptr, RZ, r ? rs_[l].get() : nullptr, params_.get(),
            r ? v_.get() : nullptr, lv.bias_offset, P_, lv.out, n_, slot(lv.out), lv.w0);
        check_launch("sine_forward_kernel");
      } else if (lv.is_relu()) {
        MSINR_LAUNCH(relu_forward_kernel, grid, kThreads, ctx_.stream())(
            Z, RZ, params_.get(), r ? v_.get() : nullptr, lv.bias_offset, P_, lv.out, n_, slot(lv.out));
        check_launch("relu_forward_kernel");
      } else {
        MSINR_LAUNCH(linear_forward_kernel, grid, kThreads, ctx_.stream())(
            Z, RZ, params_.get(), r ? v_.get() : nullptr, lv.bias_offset, P_, lv.out, n_, slot(lv.out));
        check_launch("linear_forward_kernel");
      }
    }
  }

  // After forward(): per-fit squared error into sse() against `target` (device, fits x grid x
  // n_out, `target_stride` apart), and with `want_grad` the gradient into grad() (and with `r`,
  // H v into hv()). Masked entries of grad and hv are zeroed.
  void loss_backward(const float* target, std::size_t target_stride, bool want_grad, bool r) {
    const auto& layers = layout_.layers();
    const std::size_t L = layers.size();
    const int n_out = layout_.arch().out_features;
    const float inv_count = static_cast<float>(1.0 / (static_cast<double>(n_) * n_out));
    float* dcur = d0_.get();
    float* dnext = d1_.get();
    float* rcur = r ? r0_.get() : nullptr;
    float* rnext = r ? r1_.get() : nullptr;
    const std::size_t d_stride = slot(max_width_);
    MSINR_LAUNCH(loss_kernel, dim3(kReduceChunks, static_cast<unsigned>(fits_)), kThreads, ctx_.stream())(
        act_[L - 1].get(), r ? ract_[L - 1].get() : nullptr, slot(n_out), target, target_stride,
        use_pixels_ ? pixels_.get() : nullptr, n_, n_out, inv_count, want_grad ? dcur : nullptr, rcur, d_stride,
        loss_partial_.get());
    check_launch("loss_kernel");
    MSINR_LAUNCH(loss_finish_kernel, (fits_ + 63) / 64, 64, ctx_.stream())(loss_partial_.get(), kReduceChunks, fits_,
                                                                     sse_.get());
    check_launch("loss_finish_kernel");
    if (!want_grad) return;

    for (std::size_t l = L; l-- > 0;) {
      const LayerView& lv = layers[l];
      if (lv.is_sine()) {
        const dim3 grid = fit_grid(static_cast<std::size_t>(lv.out) * n_, fits_);
        MSINR_LAUNCH(sine_backward_kernel, grid, kThreads, ctx_.stream())(
            dcur, rcur, act_[l].get(), cos_[l].get(), r ? rs_[l].get() : nullptr, lv.out, n_, d_stride, slot(lv.out),
            lv.w0);
        check_launch("sine_backward_kernel");
      } else if (lv.is_relu()) {
        const dim3 grid = fit_grid(static_cast<std::size_t>(lv.out) * n_, fits_);
        MSINR_LAUNCH(relu_backward_kernel, grid, kThreads, ctx_.stream())(dcur, rcur, act_[l].get(), lv.out, n_,
                                                                           d_stride, slot(lv.out));
        check_launch("relu_backward_kernel");
      }
      row_sums(dcur, lv.out, d_stride, grad_.get() + lv.bias_offset);
      if (r) row_sums(rcur, lv.out, d_stride, hv_.get() + lv.bias_offset);
      const float* A = l == 0 ? x_.get() : act_[l - 1].get();
      const std::size_t a_stride = slot(lv.in);
      // dW^T (in x out) = A dZ^T
      weight_gemm(A, a_stride, lv, dcur, d_stride, 0.0f, grad_.get());
      if (r) {  // R{dW} = R{dz} a^T + dz R{a}^T
        weight_gemm(A, a_stride, lv, rcur, d_stride, 0.0f, hv_.get());
        if (l > 0) weight_gemm(ract_[l - 1].get(), slot(lv.in), lv, dcur, d_stride, 1.0f, hv_.get());
      }
      if (l == 0) break;
      // dA (in x n) = W^T dZ; R{dA} = V^T dZ + W^T R{dZ}
      input_gemm(params_.get(), lv, dcur, d_stride, 0.0f, dnext);
      if (r) {
        input_gemm(v_.get(), lv, dcur, d_stride, 0.0f, rnext);
        input_gemm(params_.get(), lv, rcur, d_stride, 1.0f, rnext);
        std::swap(rcur, rnext);
      }
      std::swap(dcur, dnext);
    }
    apply_mask(grad_.get());  // the dense products also produce values at masked positions
    if (r) apply_mask(hv_.get());
  }

 private:
  // Floats of one fit's slot for a `features`-wide activation over the whole grid.
  std::size_t slot(int features) const { return static_cast<std::size_t>(features) * cap_; }

  // C (m x n per fit) = alpha op(A) op(B) + beta C with the weights as A (P floats between fits).
  // Shapes: m = out rows of the result; `k` the inner dimension; n = active pixels.
  void gemm(cublasOperation_t op_a, cublasOperation_t op_b, int m, int k, const float* A, int lda, const float* B,
            std::size_t b_stride, float beta, float* C, int ldc, std::size_t c_stride, std::size_t n) {
    gemm_raw(op_a, op_b, m, static_cast<int>(n), k, A, lda, P_, B, k, b_stride, beta, C, ldc, c_stride);
  }

  // grad[layer weights]^T (in x out, ld in) = alpha A (in x n) dZ^T (n x out) + beta (...)
  void weight_gemm(const float* A, std::size_t a_stride, const LayerView& lv, const float* dZ, std::size_t d_stride,
                   float beta, float* out_params) {
    gemm_raw(CUBLAS_OP_N, CUBLAS_OP_T, lv.in, lv.out, static_cast<int>(n_), A, lv.in, a_stride, dZ, lv.out, d_stride,
             beta, out_params + lv.weight_offset, lv.in, P_);
  }

  // dst (in x n) = W^T (in x out, the row-major W seen column-major) dZ (out x n) + beta dst
  void input_gemm(const float* weights, const LayerView& lv, const float* dZ, std::size_t d_stride, float beta,
                  float* dst) {
    gemm_raw(CUBLAS_OP_N, CUBLAS_OP_N, lv.in, static_cast<int>(n_), lv.out, weights + lv.weight_offset, lv.in, P_, dZ,
             lv.out, d_stride, beta, dst, lv.in, slot(max_width_));
  }

  void gemm_raw(cublasOperation_t op_a, cublasOperation_t op_b, int m, int n, int k, const float* A, int lda,
                std::size_t a_stride, const float* B, int ldb, std::size_t b_stride, float beta, float* C, int ldc,
                std::size_t c_stride) {
    const float alpha = 1.0f;
    if (fits_ == 1) {
      MSINR_CUBLAS_CHECK(cublasSgemm(ctx_.blas(), op_a, op_b, m, n, k, &alpha, A, lda, B, ldb, &beta, C, ldc));
    } else {
      MSINR_CUBLAS_CHECK(cublasSgemmStridedBatched(
          ctx_.blas(), op_a, op_b, m, n, k, &alpha, A, lda, static_cast<long long>(a_stride), B, ldb,
          static_cast<long long>(b_stride), &beta, C, ldc, static_cast<long long>(c_stride), fits_));
    }
  }

  // out[fit * P + o] = sum over the active pixels of D[fit][pixel][o], for o < rows.
  void row_sums(const float* D, int rows, std::size_t d_stride, float* out) {
    const dim3 grid((rows + 31) / 32, kReduceChunks, static_cast<unsigned>(fits_));
    MSINR_LAUNCH(row_sum_kernel, grid, dim3(32, 8), ctx_.stream())(D, rows, n_, d_stride, partial_.get());
    check_launch("row_sum_kernel");
    const std::size_t total = static_cast<std::size_t>(rows) * static_cast<std::size_t>(fits_);
    MSINR_LAUNCH(row_sum_finish_kernel, blocks_for(total), kThreads, ctx_.stream())(
        partial_.get(), rows, kReduceChunks, out, P_, fits_);
    check_launch("row_sum_finish_kernel");
  }

  Context ctx_;
  ParamLayout layout_;
  Grid grid_;
  int fits_ = 1;
  std::size_t cap_ = 0, P_ = 0, n_ = 0;
  int max_width_ = 0;
  bool use_pixels_ = false;
  DeviceBuffer<std::uint8_t> mask_;
  DeviceBuffer<std::uint32_t> pixels_;
  DeviceBuffer<float> fourier_b_;  // FFN: the encoding matrix B; empty for a SIREN
  DeviceBuffer<float> row_coord_, col_coord_, x_, d0_, d1_, r0_, r1_, partial_, params_, grad_, v_, hv_;
  std::vector<DeviceBuffer<float>> act_, cos_, ract_, rs_;
  DeviceBuffer<double> loss_partial_, sse_;
};

// ---------------------------------------------------------------------------------------------
// The Evaluator: a batch of one, with host copies in and out per call.

class CudaEvaluator final : public Evaluator {
 public:
  CudaEvaluator(const CudaBackendOptions& options, const Architecture& arch, const Mask& mask, const Grid& grid)
      : Evaluator(grid), engine_(options, arch, mask, grid, 1), n_out_(arch.out_features) {
    target_.allocate(grid.pixels() * static_cast<std::size_t>(n_out_));
  }

  void forward(const float* params, float* out) override {
    load_params(params);
    engine_.set_pixels({});
    engine_.forward(false, false);
    engine_.download(out, engine_.output(), grid_.pixels() * static_cast<std::size_t>(n_out_));
    engine_.ctx().sync();
  }
  double loss_and_gradient(const float* params, const float* target, float* grad) override {
    return run(params, nullptr, target, grad, nullptr);
  }
  double loss(const float* params, const float* target) override {
    return run(params, nullptr, target, nullptr, nullptr);
  }
  double gradient_and_hvp(const float* params, const float* v, const float* target, float* grad, float* hv) override {
    return run(params, v, target, grad, hv);
  }

 private:
  void load_params(const float* params) {
    engine_.upload(engine_.params(), params, engine_.P());
    engine_.apply_mask(engine_.params());
  }

  double run(const float* params, const float* v, const float* target, float* grad, float* hv) {
    load_params(params);
    if (v) {
      engine_.enable_hvp();
      engine_.upload(engine_.v(), v, engine_.P());
      engine_.apply_mask(engine_.v());
    }
    engine_.upload(target_.get(), target, target_.size());
    engine_.set_pixels(subset_);
    const bool want_grad = grad != nullptr || v != nullptr;
    engine_.forward(want_grad, v != nullptr);
    engine_.loss_backward(target_.get(), 0, want_grad, v != nullptr);
    double sse = 0.0;
    engine_.download(&sse, engine_.sse(), 1);
    if (grad) engine_.download(grad, engine_.grad(), engine_.P());
    if (hv) engine_.download(hv, engine_.hv(), engine_.P());
    engine_.ctx().sync();
    const std::size_t n = subset_.empty() ? grid_.pixels() : subset_.size();
    return sse / (static_cast<double>(n) * n_out_);
  }

  Engine engine_;
  int n_out_;
  DeviceBuffer<float> target_;
};

std::string describe_device(int device, bool tf32) {
  cudaDeviceProp prop{};
  MSINR_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  int version = 0;
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) == CUBLAS_STATUS_SUCCESS) {
    cublasGetVersion(h, &version);
    cublasDestroy(h);
  }
  std::string s = "cuda (";
  s.append(prop.name);
  s.append(", sm_").append(std::to_string(prop.major)).append(std::to_string(prop.minor));
  s.append(", ").append(std::to_string(prop.totalGlobalMem >> 30)).append(" GiB, cuBLAS");
  if (version > 0) {
    s.append(" ").append(std::to_string(version / 10000)).append(".").append(std::to_string(version / 100 % 100));
    s.append(".").append(std::to_string(version % 100));
  }
  s.append(tf32 ? ", TF32 GEMMs)" : ", FP32)");
  return s;
}

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const CudaBackendOptions& options) : options_(options) {
    int count = 0;
    MSINR_CUDA_CHECK(cudaGetDeviceCount(&count));
    if (options.device < 0 || options.device >= count)
      throw Error(ErrorCode::kDevice, "CUDA device " + std::to_string(options.device) + " does not exist (" +
                                          std::to_string(count) + " present)");
    MSINR_CUDA_CHECK(cudaSetDevice(options.device));
    description_ = describe_device(options.device, options.allow_tf32);
  }
  Device device() const override { return Device::kCuda; }
  std::string description() const override { return description_; }
  std::unique_ptr<Evaluator> make_evaluator(const Architecture& arch, const Mask& mask, const Grid& grid) override {
    return std::make_unique<CudaEvaluator>(options_, arch, mask, grid);
  }
  // B fits in strided-batched cuBLAS calls and one masked Adam kernel per step, split into device
  // batches of options.max_batch (0: what fits in 70% of the free memory).
  std::vector<FitResult> fit_batch(const Architecture& arch, const Mask& mask, const Grid& grid,
                                   std::span<std::vector<float>> params, std::span<const float* const> targets,
                                   const BatchFitOptions& options) override;
  bool prefers_batched_fits() const override { return true; }
  const CudaBackendOptions& options() const { return options_; }

 private:
  CudaBackendOptions options_;
  std::string description_;
};

}  // namespace cuda_detail

// ---------------------------------------------------------------------------------------------

// The plugin's entry points (libmsinr_cuda.so; libmsinr/src/backend.cpp loads it on first use).
// Only these three are exported: everything else in the plugin, its own copy of the engine included,
// is hidden, so it cannot clash with the host's.

namespace {
bool any_cuda_device() {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();  // reset the runtime's last-error state so no later check trips over it
    return false;
  }
  return count > 0;
}
}  // namespace

extern "C" {

// The host refuses a plugin whose string differs from its own: they share classes' layouts.
MSINR_CUDA_PLUGIN_EXPORT const char* msinr_cuda_plugin_version() { return MSINR_CUDA_PLUGIN_ABI; }

MSINR_CUDA_PLUGIN_EXPORT int msinr_cuda_plugin_available() { return any_cuda_device() ? 1 : 0; }

// Throws Error(kDevice) without a usable device (the host catches it as its own msinr::Error).
MSINR_CUDA_PLUGIN_EXPORT Backend* msinr_cuda_plugin_make_backend(const CudaBackendOptions* options) {
  if (!any_cuda_device())
    throw Error(ErrorCode::kDevice, "no usable CUDA device (is an NVIDIA GPU and its driver present?)");
  return new cuda_detail::CudaBackend(options ? *options : CudaBackendOptions{});
}

}  // extern "C"

namespace cuda_detail {

std::vector<FitResult> CudaBackend::fit_batch(const Architecture& arch, const Mask& mask, const Grid& grid,
                                              std::span<std::vector<float>> params,
                                              std::span<const float* const> targets, const BatchFitOptions& options) {
  // Subset fits and fits with frozen parameters run as the lockstep loop on a CUDA evaluator (which
  // takes pixel subsets and zeroes frozen gradients on the host); the strided-batched engine below
  // renders whole grids and its Adam kernel knows only the mask.
  if (options.sampling.fraction < 1.0 || !options.frozen.empty())
    return Backend::fit_batch(arch, mask, grid, params, targets, options);
  const CudaBackend* cb = this;
  const auto start = std::chrono::steady_clock::now();
  const std::size_t total = params.size();
  std::vector<FitResult> results(total);
  if (total == 0) return results;
  MSINR_CUDA_CHECK(cudaSetDevice(cb->options().device));
  std::size_t batch = options.max_batch > 0 ? static_cast<std::size_t>(options.max_batch) : 0;
  if (batch == 0) {
    std::size_t free_bytes = 0, total_bytes = 0;
    MSINR_CUDA_CHECK(cudaMemGetInfo(&free_bytes, &total_bytes));
    batch = std::max<std::size_t>(1, static_cast<std::size_t>(0.7 * static_cast<double>(free_bytes)) /
                                         Engine::bytes_per_fit(arch, grid));
  }
  batch = std::min<std::size_t>({batch, total, 65535});
  const int n_out = arch.out_features;
  const std::size_t target_size = grid.pixels() * static_cast<std::size_t>(n_out);
  const double count = static_cast<double>(grid.pixels()) * n_out;
  const AdamConfig& adam = options.adam;
  for (std::size_t first = 0; first < total; first += batch) {
    const int fits = static_cast<int>(std::min(batch, total - first));
    const std::size_t F = static_cast<std::size_t>(fits);
    Engine engine(cb->options(), arch, mask, grid, fits);
    const std::size_t P = engine.P();
    DeviceBuffer<float> target, m, v;
    DeviceBuffer<double> losses;
    target.allocate(target_size * F);
    m.allocate(P * F);
    v.allocate(P * F);
    losses.allocate(static_cast<std::size_t>(std::max(options.steps, 1)) * F);
    for (std::size_t f = 0; f < F; ++f) {
      engine.upload(engine.params() + f * P, params[first + f].data(), P);
      engine.upload(target.get() + f * target_size, targets[first + f], target_size);
    }
    engine.apply_mask(engine.params());  // as fit() does: masked entries start at exactly zero
    MSINR_CUDA_CHECK(cudaMemsetAsync(m.get(), 0, P * F * sizeof(float), engine.ctx().stream()));
    MSINR_CUDA_CHECK(cudaMemsetAsync(v.get(), 0, P * F * sizeof(float), engine.ctx().stream()));
    engine.set_pixels({});
    int steps_taken = 0;
    bool cancelled = false;
    std::vector<double> sse(F);
    for (int step = 1; step <= options.steps; ++step) {
      engine.forward(true, false);
      engine.loss_backward(target.get(), target_size, true, false);
      MSINR_CUDA_CHECK(cudaMemcpyAsync(losses.get() + static_cast<std::size_t>(step - 1) * F, engine.sse(),
                                       F * sizeof(double), cudaMemcpyDeviceToDevice, engine.ctx().stream()));
      const auto s = kernels::adam_step_scalars(scheduled_lr(adam, step, options.steps), adam.beta1, adam.beta2, step);
      MSINR_LAUNCH(adam_kernel, fit_grid(P, fits), kThreads, engine.ctx().stream())(
          engine.params(), m.get(), v.get(), engine.grad(), engine.mask(), P, adam.beta1, adam.beta2, adam.eps, s);
      check_launch("adam_kernel");
      steps_taken = step;
      if (options.on_step) {
        engine.download(sse.data(), engine.sse(), F);
        engine.ctx().sync();
        double mean = 0.0;
        for (double e : sse) mean += e / count;
        if (!options.on_step(step, mean / static_cast<double>(F))) {
          cancelled = true;
          break;
        }
      }
    }
    // fit() stops at the first non-finite loss; here the losses are checked once, after the steps.
    std::vector<double> all(static_cast<std::size_t>(steps_taken) * F);
    if (!all.empty()) engine.download(all.data(), losses.get(), all.size());
    engine.forward(false, false);
    engine.loss_backward(target.get(), target_size, false, false);
    engine.download(sse.data(), engine.sse(), F);
    for (std::size_t f = 0; f < F; ++f) engine.download(params[first + f].data(), engine.params() + f * P, P);
    engine.ctx().sync();
    for (int step = 1; step <= steps_taken; ++step)
      for (std::size_t f = 0; f < F; ++f)
        if (!std::isfinite(all[static_cast<std::size_t>(step - 1) * F + f]))
          throw Error(ErrorCode::kInternal, "fit diverged: loss is not finite at step " + std::to_string(step) +
                                                " of fit " + std::to_string(first + f) +
                                                " (try a smaller learning rate)");
    for (std::size_t f = 0; f < F; ++f) {
      FitResult& r = results[first + f];
      r.steps_taken = steps_taken;
      r.cancelled = cancelled;
      r.final_loss = sse[f] / count;
      r.final_psnr = psnr_from_mse(r.final_loss);
    }
    if (cancelled) {
      for (std::size_t rest = first + F; rest < total; ++rest) results[rest].cancelled = true;
      break;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (FitResult& r : results) r.seconds = seconds;
  return results;
}

}  // namespace cuda_detail
}  // namespace msinr
