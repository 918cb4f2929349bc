#define MSINR_KERNEL_NS generic
#include "cpu/kernels_impl.hpp"

namespace msinr::cpu {
const KernelTable& generic_kernels() {
  static const KernelTable table{"generic", generic::csr_rows, generic::sddmm, generic::bias_sincos,
                                 generic::sine_backward, generic::r_sine_forward, generic::r_sine_backward,
                                 generic::csr_bias_sine, generic::pair_bias_sine, generic::dense_forward, generic::dense_weight_grad,
                                 generic::dense_input_grad, generic::reduce_lanes, generic::sincos};
  return table;
}
}  // namespace msinr::cpu
