// Compiled with -mavx512f -mavx512vl -mavx2 -mfma (see libmsinr/CMakeLists.txt); entered only after
// cpu_supports_avx512(). Only the fit's dense kernels differ from the AVX2 table (16-float vectors:
// twice the multiply-adds per instruction on CPUs with full-width AVX-512 FMA units); every other
// entry, rendering included, is the AVX2 variant's own function, so decoded pixels do not depend on
// which of the two tables a CPU gets.
#define MSINR_KERNEL_NS avx512
#define MSINR_KERNEL_WIDE 1
#pragma GCC diagnostic ignored "-Wunused-function"  // only the dense_* kernels are this variant's own
#include "cpu/kernels_impl.hpp"

namespace msinr::cpu {
const KernelTable& avx512_kernels() {
  static const KernelTable table = [] {
    KernelTable t = avx2_kernels();
    t.name = "avx512 (fit) + avx2";
    t.dense_forward = avx512::dense_forward;
    t.dense_weight_grad = avx512::dense_weight_grad;
    t.dense_input_grad = avx512::dense_input_grad;
    return t;
  }();
  return table;
}
}  // namespace msinr::cpu
