#pragma once
// The CPU backend's inner loops, in one table per instruction set (libwebp style): a portable
// variant and an AVX2+FMA variant built from the same source, chosen at run time.
//
// Activation blocks are feature-major: feature f of a block of `ld` pixels sits at [f * ld, f * ld + ld),
// with ld a multiple of 8 so every row is whole vectors.
#include <cstddef>

namespace msinr::cpu {

struct KernelTable {
  const char* name;
  // Z[o] (+)= sum over k in [row_ptr[o], row_ptr[o+1]) of val[k] * A[col[k]]   (rows of ld floats);
  // accumulate: add to Z instead of overwriting it.
  void (*csr_rows)(int rows, const int* row_ptr, const int* col, const float* val, const float* A, float* Z, int ld,
                   bool accumulate);
  // grad[dst[k]] += dot(dZ[o], A[col[k]]) for every k in row o: the weight gradient sampled at
  // the mask's positions (sampled dense-dense product).
  void (*sddmm)(int rows, const int* row_ptr, const int* col, const int* dst, const float* dZ, const float* A,
                int ld, float* grad);
  // S[o] = sin(w0 (Z[o] + bias[o])), C[o] = cos(same); C may be null (forward only).
  void (*bias_sincos)(int rows, const float* bias, float w0, const float* Z, float* S, float* C, int ld);
  // dZ[o] = dH[o] * w0 * C[o]; db[o] += sum of dZ[o].
  void (*sine_backward)(int rows, float w0, const float* dH, const float* C, float* dZ, float* db, int ld);
  // R-operator of a sine layer, forward: RS = w0 (RZ + vbias[o]) (in place in RZ), RA = C * RS.
  void (*r_sine_forward)(int rows, const float* vbias, float w0, float* RZ, const float* C, float* RA, int ld);
  // R-operator of a sine layer, backward, in place: with dH, rdH upstream and S, C, RS from the forward,
  //   dZ = dH w0 C,  rdZ = rdH w0 C - dH w0 S RS;  db[o] += sum dZ, rdb[o] += sum rdZ.
  void (*r_sine_backward)(int rows, float w0, float* dH, float* rdH, const float* S, const float* C, const float* RS,
                          float* db, float* rdb, int ld);
  // A layer's forward for rendering, in one pass: S[o] = act(Z[o] + bias[o]) with Z[o] as csr_rows
  // computes it (kept weights in ascending column order, each a multiply-add onto the running sum
  // from zero) and act(t) = sin(w0 t) when `sine`, t otherwise. S must not alias A.
  void (*csr_bias_sine)(int rows, const int* row_ptr, const int* col, const float* val, const float* bias, float w0,
                        bool sine, const float* A, float* S, int ld);
  // csr_bias_sine for rows 2j and 2j + 1 together, j < pairs: the columns either row keeps, in
  // ascending order, are col[pair_ptr[j] .. pair_ptr[j+1]), and val2[2k], val2[2k + 1] the two rows'
  // weights at col[k] (0 where a row does not keep it). Same values as csr_bias_sine on each row.
  void (*pair_bias_sine)(int pairs, const int* pair_ptr, const int* col, const float* val2, const float* bias,
                         float w0, bool sine, const float* A, float* S, int ld);
  // Dense products of the fit for narrow layers (the backend uses them up to kFusedFitMaxWidth),
  // each with what follows it fused in; W is the layer's out x in weights, row-major, masked
  // weights zero. Sums run over the inner index in ascending order from zero.
  // Forward: S[o] = sin(w0 t), C[o] = cos(w0 t) (C may be null) with t = (W A)[o] + bias[o] when
  // `sine`, else S[o] = t (C unused). S must not alias A.
  void (*dense_forward)(int out, int in, const float* W, const float* bias, float w0, bool sine, const float* A,
                        float* S, float* C, int ld);
  // Weight gradient, per lane: G8[(o * in + i) * 8 + j] += sum over the block's pixels p = j mod 8
  // of dZ[o][p] A[i][p]. The eight lanes are summed once per pass (reduce_lanes), not per block.
  void (*dense_weight_grad)(int out, int in, const float* dZ, const float* A, int ld, float* G8);
  // Input gradient: dA[i] = (W^T dZ)[i]; with C (the previous sine layer's cosines) it continues
  // through that sine as sine_backward does: dA[i] = (W^T dZ)[i] * w0 * C[i], db[i] += its sum.
  // dA must not alias dZ.
  void (*dense_input_grad)(int out, int in, const float* W, const float* dZ, float w0, const float* C, float* dA,
                           float* db, int ld);
  // g[k] += G8[8k] + ... + G8[8k + 7] for k < n.
  void (*reduce_lanes)(const float* G8, float* g, std::size_t n);
  // Elementwise sin and cos of n floats (n a multiple of 8); exposed for accuracy tests.
  void (*sincos)(const float* x, float* s, float* c, std::size_t n);
};

const KernelTable& generic_kernels();
const KernelTable& avx2_kernels();
// The AVX2 table with the fit's dense kernels on 16-float vectors (AVX-512F + VL).
const KernelTable& avx512_kernels();
bool cpu_supports_avx2_fma();
bool cpu_supports_avx512();

}  // namespace msinr::cpu
