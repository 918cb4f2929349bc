// A CPU emulation of the small part of the CUDA runtime and cuBLAS that
// libmsinr/src/cuda/cuda_backend.cu uses, so that file's host logic and kernels run, unchanged, on
// machines without a GPU (every CI run): test_cuda_emulated compiles the .cu as C++ against this.
//   - kernels run block after block; a block's threads are ucontext fibers, so __syncthreads has
//     real barrier semantics and __shared__ arrays (static here) are shared by the block only;
//   - cublasSgemm follows cuBLAS's documented column-major definition, with its argument checks;
//   - cudaMalloc fills memory with 0xFF bytes (NaN floats), so reading what no one wrote shows up;
//   - a launch with an invalid configuration sets the error cudaGetLastError reports.
// What it cannot show: races between threads, real sincosf accuracy, cuBLAS's own algorithms.
#pragma once
#include <ucontext.h>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <vector>
#include <stdexcept>
#include <string>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
using uint3 = dim3;
inline dim3 threadIdx, blockIdx, blockDim, gridDim;

enum cudaError_t { cudaSuccess = 0, cudaErrorMemoryAllocation = 2, cudaErrorInvalidValue = 1 };
using cudaStream_t = void*;
enum cudaMemcpyKind { cudaMemcpyHostToDevice, cudaMemcpyDeviceToHost, cudaMemcpyDeviceToDevice };
constexpr unsigned cudaStreamNonBlocking = 1;
struct cudaDeviceProp { char name[256]; int major, minor; std::size_t totalGlobalMem; };
inline const char* cudaGetErrorName(cudaError_t) { return "cudaErrorEmu"; }
inline const char* cudaGetErrorString(cudaError_t) { return "emulated error"; }
inline cudaError_t emu_last_error = cudaSuccess;
inline cudaError_t cudaGetLastError() { auto e = emu_last_error; emu_last_error = cudaSuccess; return e; }
inline cudaError_t cudaMalloc(void** p, std::size_t n) {
  *p = std::malloc(n);
  if (!*p) return cudaErrorMemoryAllocation;
  for (std::size_t i = 0; i < n; ++i) static_cast<unsigned char*>(*p)[i] = 0xFF;
  return cudaSuccess;
}
inline cudaError_t cudaFree(void* p) { std::free(p); return cudaSuccess; }
inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned) { *s = reinterpret_cast<void*>(1); return cudaSuccess; }
inline cudaError_t cudaStreamDestroy(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaMemcpyAsync(void* d, const void* s, std::size_t n, cudaMemcpyKind, cudaStream_t) { std::memmove(d, s, n); return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* d, int v, std::size_t n, cudaStream_t) { std::memset(d, v, n); return cudaSuccess; }
inline cudaError_t cudaGetDeviceCount(int* n) { *n = 1; return cudaSuccess; }
inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int) {
  std::strcpy(p->name, "Emulated GPU"); p->major = 9; p->minor = 0; p->totalGlobalMem = std::size_t(1) << 34; return cudaSuccess;
}
inline cudaError_t cudaMemGetInfo(std::size_t* f, std::size_t* t) { *f = std::size_t(1) << 31; *t = std::size_t(1) << 34; return cudaSuccess; }

// ---- cuBLAS (column-major, straight from the documented definition) ----
using cublasHandle_t = void*;
enum cublasStatus_t { CUBLAS_STATUS_SUCCESS = 0, CUBLAS_STATUS_INVALID_VALUE = 7 };
enum cublasOperation_t { CUBLAS_OP_N, CUBLAS_OP_T };
enum cublasPointerMode_t { CUBLAS_POINTER_MODE_HOST };
enum cublasAtomicsMode_t { CUBLAS_ATOMICS_NOT_ALLOWED };
enum cublasMath_t { CUBLAS_DEFAULT_MATH, CUBLAS_TF32_TENSOR_OP_MATH };
inline const char* cublasGetStatusName(cublasStatus_t) { return "CUBLAS_STATUS_EMU"; }
inline const char* cublasGetStatusString(cublasStatus_t) { return "emulated cuBLAS error"; }
inline cublasStatus_t cublasCreate(cublasHandle_t* h) { *h = reinterpret_cast<void*>(1); return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasDestroy(cublasHandle_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetStream(cublasHandle_t, cudaStream_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetPointerMode(cublasHandle_t, cublasPointerMode_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetAtomicsMode(cublasHandle_t, cublasAtomicsMode_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasSetMathMode(cublasHandle_t, cublasMath_t) { return CUBLAS_STATUS_SUCCESS; }
inline cublasStatus_t cublasGetVersion(cublasHandle_t, int* v) { *v = 130000; return CUBLAS_STATUS_SUCCESS; }
inline long emu_gemm_calls = 0;
inline cublasStatus_t cublasSgemm(cublasHandle_t, cublasOperation_t ta, cublasOperation_t tb, int m, int n, int k,
                                  const float* alpha, const float* A, int lda, const float* B, int ldb,
                                  const float* beta, float* C, int ldc) {
  ++emu_gemm_calls;
  // Argument checks cuBLAS documents (CUBLAS_STATUS_INVALID_VALUE).
  if (m < 0 || n < 0 || k < 0) return CUBLAS_STATUS_INVALID_VALUE;
  if (lda < std::max(1, ta == CUBLAS_OP_N ? m : k)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldb < std::max(1, tb == CUBLAS_OP_N ? k : n)) return CUBLAS_STATUS_INVALID_VALUE;
  if (ldc < std::max(1, m)) return CUBLAS_STATUS_INVALID_VALUE;
  for (int j = 0; j < n; ++j)
    for (int i = 0; i < m; ++i) {
      double acc = 0;
      for (int l = 0; l < k; ++l) {
        const float a = ta == CUBLAS_OP_N ? A[i + std::size_t(l) * lda] : A[l + std::size_t(i) * lda];
        const float b = tb == CUBLAS_OP_N ? B[l + std::size_t(j) * ldb] : B[j + std::size_t(l) * ldb];
        acc += double(a) * b;
      }
      float& c = C[i + std::size_t(j) * ldc];
      c = *beta == 0.0f ? float(*alpha * acc) : float(*alpha * acc + double(*beta) * c);
    }
  return CUBLAS_STATUS_SUCCESS;
}
inline cublasStatus_t cublasSgemmStridedBatched(cublasHandle_t h, cublasOperation_t ta, cublasOperation_t tb, int m,
                                                int n, int k, const float* alpha, const float* A, int lda,
                                                long long sa, const float* B, int ldb, long long sb,
                                                const float* beta, float* C, int ldc, long long sc, int batch) {
  for (int b = 0; b < batch; ++b) {
    auto s = cublasSgemm(h, ta, tb, m, n, k, alpha, A + b * sa, lda, B + b * sb, ldb, beta, C + b * sc, ldc);
    if (s != CUBLAS_STATUS_SUCCESS) return s;
  }
  return CUBLAS_STATUS_SUCCESS;
}

// ---- kernel launches: blocks in order, each block's threads as cooperative fibers ----
namespace emu {
struct Cfg { dim3 grid, block; };
inline Cfg cfg(dim3 g, dim3 b) { return {g, b}; }

// Kernels that call __syncthreads, by name: their blocks run as fibers. Every other kernel runs its
// threads one after another; a __syncthreads there stops the test with a message naming the list.
inline bool uses_barrier(const char* name) {
  return std::strcmp(name, "loss_kernel") == 0 || std::strcmp(name, "row_sum_kernel") == 0;
}

// Fiber switching. x86-64: a minimal switch of the callee-saved registers (glibc's swapcontext makes
// two system calls per switch, too slow for the hundreds of thousands of fibers a test launches).
#if defined(__x86_64__)
extern "C" void msinr_emu_switch(void** save_sp, void* load_sp);
asm(R"(
.text
.globl msinr_emu_switch
.type msinr_emu_switch,@function
msinr_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
.size msinr_emu_switch, .-msinr_emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");
#endif

constexpr std::size_t kStack = 64 * 1024;
inline std::vector<char> stacks;
inline std::vector<int> state;  // 0 runnable, 1 at a barrier, 2 done
inline int current = -1;
inline bool in_fiber_mode = false;
inline const char* current_kernel = "";
inline std::function<void()> body;
#if defined(__x86_64__)
inline void* sched_sp = nullptr;
inline std::vector<void*> fiber_sp;
inline void to_scheduler(int me) { msinr_emu_switch(&fiber_sp[me], sched_sp); }
inline void to_fiber(int t) { msinr_emu_switch(&sched_sp, fiber_sp[t]); }
[[noreturn]] inline void fiber_entry() {
  body();
  state[current] = 2;
  to_scheduler(current);
  std::abort();  // never resumed
}
inline void start_fiber(int t) {
  // A fresh stack whose saved context "returns" into fiber_entry with the ABI's alignment.
  char* top = stacks.data() + (std::size_t(t) + 1) * kStack;
  top = reinterpret_cast<char*>(reinterpret_cast<std::uintptr_t>(top) & ~std::uintptr_t(15));
  void** sp = reinterpret_cast<void**>(top);
  *--sp = nullptr;                                   // padding: rsp % 16 == 8 at fiber_entry
  *--sp = reinterpret_cast<void*>(&fiber_entry);     // return address
  for (int r = 0; r < 6; ++r) *--sp = nullptr;       // rbp rbx r12 r13 r14 r15
  fiber_sp[t] = sp;
}
inline void prepare(int nt) { fiber_sp.assign(nt, nullptr); }
#else
inline ucontext_t sched_ctx;
inline std::vector<ucontext_t> fibers;
inline void to_scheduler(int me) { swapcontext(&fibers[me], &sched_ctx); }
inline void to_fiber(int t) { swapcontext(&sched_ctx, &fibers[t]); }
inline void fiber_entry_uc() {
  body();
  state[current] = 2;
  to_scheduler(current);
}
inline void start_fiber(int t) {
  getcontext(&fibers[t]);
  fibers[t].uc_stack.ss_sp = stacks.data() + std::size_t(t) * kStack;
  fibers[t].uc_stack.ss_size = kStack;
  fibers[t].uc_link = nullptr;
  makecontext(&fibers[t], fiber_entry_uc, 0);
}
inline void prepare(int nt) { fibers.resize(nt); }
#endif

inline dim3 thread_index(int t, dim3 b) { return dim3(t % b.x, (t / b.x) % b.y, t / (b.x * b.y)); }

template <class K, class... A>
void launch(const char* name, K kernel, Cfg c, A... args) {
  const unsigned long long threads = 1ull * c.block.x * c.block.y * c.block.z;
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || threads == 0 || threads > 1024 || c.block.z > 64 ||
      c.grid.y > 65535 || c.grid.z > 65535) {
    emu_last_error = cudaErrorInvalidValue;  // cudaErrorInvalidConfiguration on a real device
    return;
  }
  gridDim = c.grid;
  blockDim = c.block;
  current_kernel = name;
  const int nt = int(threads);
  const bool fibers_needed = uses_barrier(name);
  if (fibers_needed) {
    stacks.resize(std::size_t(nt) * kStack);
    prepare(nt);
  }
  for (unsigned bz = 0; bz < c.grid.z; ++bz)
    for (unsigned by = 0; by < c.grid.y; ++by)
      for (unsigned bx = 0; bx < c.grid.x; ++bx) {
        blockIdx = dim3(bx, by, bz);
        if (!fibers_needed) {
          in_fiber_mode = false;
          for (int t = 0; t < nt; ++t) {
            threadIdx = thread_index(t, c.block);
            kernel(args...);
          }
          continue;
        }
        in_fiber_mode = true;
        body = [&] { kernel(args...); };
        state.assign(nt, 0);
        for (int t = 0; t < nt; ++t) start_fiber(t);
        for (;;) {
          bool all_done = true;
          for (int t = 0; t < nt; ++t) {
            if (state[t] == 2) continue;
            all_done = false;
            state[t] = 0;
            current = t;
            threadIdx = thread_index(t, c.block);
            blockIdx = dim3(bx, by, bz);
            to_fiber(t);
          }
          if (all_done) break;
          // A barrier round: every live fiber is at the barrier or done; CUDA forbids mixing both.
          int at_barrier = 0, done = 0;
          for (int t = 0; t < nt; ++t) at_barrier += state[t] == 1, done += state[t] == 2;
          if (at_barrier > 0 && done > 0) throw std::runtime_error("emu: __syncthreads after some threads exited");
        }
        in_fiber_mode = false;
      }
}

// MSINR_LAUNCH(kernel, grid, block, stream)(args...) as the .cu writes its launches.
template <class K>
struct Launcher {
  const char* name;
  K kernel;
  Cfg c;
  template <class... A>
  void operator()(A... args) const { launch(name, kernel, c, args...); }
};
template <class K>
Launcher<K> launcher(const char* name, K kernel, dim3 grid, dim3 block) { return {name, kernel, cfg(grid, block)}; }
}  // namespace emu
#define MSINR_LAUNCH(kernel, grid, block, stream) ::emu::launcher(#kernel, kernel, (grid), (block))

inline void __syncthreads() {
  if (!emu::in_fiber_mode)
    throw std::logic_error(std::string("emu: kernel ") + emu::current_kernel +
                           " calls __syncthreads: add it to emu::uses_barrier in tests/cuda_emulation/cuda_emu.hpp");
  const int me = emu::current;
  emu::state[me] = 1;
  emu::to_scheduler(me);
}
