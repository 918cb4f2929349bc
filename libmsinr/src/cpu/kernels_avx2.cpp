// Compiled with -mavx2 -mfma (see libmsinr/CMakeLists.txt); entered only after cpu_supports_avx2_fma().
#define MSINR_KERNEL_NS avx2
#include "cpu/kernels_impl.hpp"

namespace msinr::cpu {
const KernelTable& avx2_kernels() {
  static const KernelTable table{"avx2+fma", avx2::csr_rows, avx2::sddmm, avx2::bias_sincos, avx2::sine_backward,
                                 avx2::r_sine_forward, avx2::r_sine_backward, avx2::csr_bias_sine, avx2::pair_bias_sine, avx2::dense_forward, avx2::dense_weight_grad,
                                 avx2::dense_input_grad, avx2::reduce_lanes, avx2::sincos};
  return table;
}
}  // namespace msinr::cpu
