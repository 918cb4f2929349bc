// Included once per instruction set with MSINR_KERNEL_NS set to that variant's namespace.
// GCC vector extensions give 8-float vectors that lower to one AVX register with -mavx2 and to two
// SSE registers otherwise, so one source serves both variants.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <utility>

#include "cpu/kernels.hpp"

namespace msinr::cpu::MSINR_KERNEL_NS {
namespace {

typedef float v8f __attribute__((vector_size(32)));
typedef std::int32_t v8i __attribute__((vector_size(32)));

inline v8f load(const float* p) {
  v8f v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float* p, v8f v) { std::memcpy(p, &v, sizeof v); }
inline v8f splat(float x) { return v8f{x, x, x, x, x, x, x, x}; }
inline float hsum(v8f v) { return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7])); }

// sin and cos together (Cephes single-precision polynomials on [-pi/4, pi/4]). The argument is
// reduced by the nearest multiple of pi/2 with a three-part Cody-Waite constant whose leading
// parts have few bits, so q * part is exact and the reduction stays accurate to |x| ~ 1e4 with
// or without FMA. SIREN arguments with w0 = 200 reach a few hundred radians.
inline void sincos8(v8f x, v8f& s, v8f& c) {
  const v8f magic = splat(12582912.0f);  // 1.5 * 2^23: adding it rounds to the nearest integer
  v8f q = (x * splat(0.636619772367581343f) + magic) - magic;
  v8i qi = __builtin_convertvector(q, v8i);
  v8f r = x - q * splat(1.5703125f);
  r = r - q * splat(4.837512969970703125e-4f);
  r = r - q * splat(7.54978995489188216e-8f);
  const v8f r2 = r * r;
  const v8f ps = r + r * r2 * (splat(-1.6666654611e-1f) + r2 * (splat(8.3321608736e-3f) + r2 * splat(-1.9515295891e-4f)));
  const v8f pc = splat(1.0f) - splat(0.5f) * r2 +
                 r2 * r2 * (splat(4.166664568298827e-2f) + r2 * (splat(-1.388731625493765e-3f) + r2 * splat(2.443315711809948e-5f)));
  v8i swap = (qi & 1) != 0;  // all-ones where the quadrant is odd
  v8i ips, ipc;
  std::memcpy(&ips, &ps, sizeof ips);
  std::memcpy(&ipc, &pc, sizeof ipc);
  v8i is = (swap & ipc) | (~swap & ips);
  v8i ic = (swap & ips) | (~swap & ipc);
  is ^= (qi & 2) << 30;
  ic ^= ((qi + 1) & 2) << 30;
  std::memcpy(&s, &is, sizeof s);
  std::memcpy(&c, &ic, sizeof c);
}

// sincos8's sine alone: the same expressions (the cosine's are dead and dropped), so a layer
// rendered by csr_bias_sine matches bias_sincos's output bit for bit.
inline v8f sin8(v8f x) {
  v8f s, c;
  sincos8(x, s, c);
  return s;
}

// The activation of one vector of a layer's output row, stored to s.
inline void bias_act_store(float* s, v8f z, v8f b, v8f w, bool sine) { store(s, sine ? sin8(w * (z + b)) : z + b); }

// Output row o of a layer for 64 pixels at p: the product in CSR order with eight accumulators in
// registers (named, not an array: GCC keeps an array of vectors on the stack and clears it with
// rep stos on every call), then bias and activation, stored straight to s.
inline void csr_bias_sine_row64(int k0, int k1, const int* col, const float* val, v8f b, v8f w, bool sine,
                                const float* A, float* s, int ld) {
  v8f a0 = splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
  for (int k = k0; k < k1; ++k) {
    const v8f v = splat(val[k]);
    const float* x = A + static_cast<std::size_t>(col[k]) * ld;
    a0 += v * load(x);
    a1 += v * load(x + 8);
    a2 += v * load(x + 16);
    a3 += v * load(x + 24);
    a4 += v * load(x + 32);
    a5 += v * load(x + 40);
    a6 += v * load(x + 48);
    a7 += v * load(x + 56);
  }
  bias_act_store(s, a0, b, w, sine);
  bias_act_store(s + 8, a1, b, w, sine);
  bias_act_store(s + 16, a2, b, w, sine);
  bias_act_store(s + 24, a3, b, w, sine);
  bias_act_store(s + 32, a4, b, w, sine);
  bias_act_store(s + 40, a5, b, w, sine);
  bias_act_store(s + 48, a6, b, w, sine);
  bias_act_store(s + 56, a7, b, w, sine);
}

void csr_bias_sine(int rows, const int* row_ptr, const int* col, const float* val, const float* bias, float w0,
                   bool sine, const float* A, float* S, int ld) {
  // Pixels outermost: a 64-pixel slice of A (in x 256 bytes) stays in L1 while every output row
  // reads it.
  const v8f w = splat(w0);
  int p = 0;
  for (; p + 64 <= ld; p += 64)
    for (int o = 0; o < rows; ++o)
      csr_bias_sine_row64(row_ptr[o], row_ptr[o + 1], col, val, splat(bias[o]), w, sine, A + p,
                          S + static_cast<std::size_t>(o) * ld + p, ld);
  for (; p < ld; p += 8)
    for (int o = 0; o < rows; ++o) {
      v8f a = splat(0);
      for (int k = row_ptr[o]; k < row_ptr[o + 1]; ++k)
        a += splat(val[k]) * load(A + static_cast<std::size_t>(col[k]) * ld + p);
      bias_act_store(S + static_cast<std::size_t>(o) * ld + p, a, splat(bias[o]), w, sine);
    }
}

// Output rows 2j and 2j + 1 for 32 pixels at p, over the union of their columns (val2 holds both
// rows' weights per column, zero where a row has none: a multiply-add of zero leaves the sum as it
// was, so each row's value is the one csr_bias_sine computes). Each A load feeds two rows, so the
// loop is bound by the multiply-adds rather than the loads.
inline void pair_bias_sine_row32(int k0, int k1, const int* col, const float* val2, v8f b0, v8f b1, v8f w, bool sine,
                                 const float* A, float* s0, float* s1, int ld) {
  v8f a0 = splat(0), a1 = a0, a2 = a0, a3 = a0, c0 = a0, c1 = a0, c2 = a0, c3 = a0;
  for (int k = k0; k < k1; ++k) {
    const v8f u = splat(val2[2 * k]), v = splat(val2[2 * k + 1]);
    const float* x = A + static_cast<std::size_t>(col[k]) * ld;
    const v8f x0 = load(x), x1 = load(x + 8), x2 = load(x + 16), x3 = load(x + 24);
    a0 += u * x0;
    a1 += u * x1;
    a2 += u * x2;
    a3 += u * x3;
    c0 += v * x0;
    c1 += v * x1;
    c2 += v * x2;
    c3 += v * x3;
  }
  bias_act_store(s0, a0, b0, w, sine);
  bias_act_store(s0 + 8, a1, b0, w, sine);
  bias_act_store(s0 + 16, a2, b0, w, sine);
  bias_act_store(s0 + 24, a3, b0, w, sine);
  bias_act_store(s1, c0, b1, w, sine);
  bias_act_store(s1 + 8, c1, b1, w, sine);
  bias_act_store(s1 + 16, c2, b1, w, sine);
  bias_act_store(s1 + 24, c3, b1, w, sine);
}

void pair_bias_sine(int pairs, const int* pair_ptr, const int* col, const float* val2, const float* bias, float w0,
                    bool sine, const float* A, float* S, int ld) {
  const v8f w = splat(w0);
  int p = 0;
  for (; p + 32 <= ld; p += 32)
    for (int j = 0; j < pairs; ++j) {
      float* s0 = S + static_cast<std::size_t>(2 * j) * ld + p;
      pair_bias_sine_row32(pair_ptr[j], pair_ptr[j + 1], col, val2, splat(bias[2 * j]), splat(bias[2 * j + 1]), w, sine,
                           A + p, s0, s0 + ld, ld);
    }
  for (; p < ld; p += 8)
    for (int j = 0; j < pairs; ++j) {
      v8f a = splat(0), c = a;
      for (int k = pair_ptr[j]; k < pair_ptr[j + 1]; ++k) {
        const v8f x = load(A + static_cast<std::size_t>(col[k]) * ld + p);
        a += splat(val2[2 * k]) * x;
        c += splat(val2[2 * k + 1]) * x;
      }
      float* s0 = S + static_cast<std::size_t>(2 * j) * ld + p;
      bias_act_store(s0, a, splat(bias[2 * j]), w, sine);
      bias_act_store(s0 + ld, c, splat(bias[2 * j + 1]), w, sine);
    }
}

void csr_rows(int rows, const int* row_ptr, const int* col, const float* val, const float* A, float* Z, int ld,
              bool accumulate) {
  for (int o = 0; o < rows; ++o) {
    const int k0 = row_ptr[o], k1 = row_ptr[o + 1];
    float* z = Z + static_cast<std::size_t>(o) * ld;
    int p = 0;
    // 64 pixels at a time: eight accumulators stay in registers while the row's inputs stream by.
    for (; p + 64 <= ld; p += 64) {
      v8f a0 = splat(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
      if (accumulate) {
        a0 = load(z + p), a1 = load(z + p + 8), a2 = load(z + p + 16), a3 = load(z + p + 24);
        a4 = load(z + p + 32), a5 = load(z + p + 40), a6 = load(z + p + 48), a7 = load(z + p + 56);
      }
      for (int k = k0; k < k1; ++k) {
        const v8f w = splat(val[k]);
        const float* x = A + static_cast<std::size_t>(col[k]) * ld + p;
        a0 += w * load(x);
        a1 += w * load(x + 8);
        a2 += w * load(x + 16);
        a3 += w * load(x + 24);
        a4 += w * load(x + 32);
        a5 += w * load(x + 40);
        a6 += w * load(x + 48);
        a7 += w * load(x + 56);
      }
      store(z + p, a0), store(z + p + 8, a1), store(z + p + 16, a2), store(z + p + 24, a3);
      store(z + p + 32, a4), store(z + p + 40, a5), store(z + p + 48, a6), store(z + p + 56, a7);
    }
    for (; p < ld; p += 8) {
      v8f a = accumulate ? load(z + p) : splat(0);
      for (int k = k0; k < k1; ++k) a += splat(val[k]) * load(A + static_cast<std::size_t>(col[k]) * ld + p);
      store(z + p, a);
    }
  }
}

void sddmm(int rows, const int* row_ptr, const int* col, const int* dst, const float* dZ, const float* A, int ld,
           float* grad) {
  for (int o = 0; o < rows; ++o) {
    const float* dz = dZ + static_cast<std::size_t>(o) * ld;
    for (int k = row_ptr[o]; k < row_ptr[o + 1]; ++k) {
      const float* x = A + static_cast<std::size_t>(col[k]) * ld;
      v8f a0 = splat(0), a1 = a0, a2 = a0, a3 = a0;
      int p = 0;
      for (; p + 32 <= ld; p += 32) {
        a0 += load(dz + p) * load(x + p);
        a1 += load(dz + p + 8) * load(x + p + 8);
        a2 += load(dz + p + 16) * load(x + p + 16);
        a3 += load(dz + p + 24) * load(x + p + 24);
      }
      for (; p < ld; p += 8) a0 += load(dz + p) * load(x + p);
      grad[dst[k]] += hsum((a0 + a1) + (a2 + a3));
    }
  }
}

void bias_sincos(int rows, const float* bias, float w0, const float* Z, float* S, float* C, int ld) {
  for (int o = 0; o < rows; ++o) {
    const v8f b = splat(bias[o]), w = splat(w0);
    const std::size_t base = static_cast<std::size_t>(o) * ld;
    for (int p = 0; p < ld; p += 8) {
      v8f s, c;
      sincos8(w * (load(Z + base + p) + b), s, c);
      store(S + base + p, s);
      if (C) store(C + base + p, c);
    }
  }
}

void sine_backward(int rows, float w0, const float* dH, const float* C, float* dZ, float* db, int ld) {
  const v8f w = splat(w0);
  for (int o = 0; o < rows; ++o) {
    const std::size_t base = static_cast<std::size_t>(o) * ld;
    v8f acc = splat(0);
    for (int p = 0; p < ld; p += 8) {
      const v8f d = load(dH + base + p) * w * load(C + base + p);
      store(dZ + base + p, d);
      acc += d;
    }
    db[o] += hsum(acc);
  }
}

void r_sine_forward(int rows, const float* vbias, float w0, float* RZ, const float* C, float* RA, int ld) {
  const v8f w = splat(w0);
  for (int o = 0; o < rows; ++o) {
    const v8f vb = splat(vbias[o]);
    const std::size_t base = static_cast<std::size_t>(o) * ld;
    for (int p = 0; p < ld; p += 8) {
      const v8f rs = w * (load(RZ + base + p) + vb);
      store(RZ + base + p, rs);
      store(RA + base + p, load(C + base + p) * rs);
    }
  }
}

void r_sine_backward(int rows, float w0, float* dH, float* rdH, const float* S, const float* C, const float* RS,
                     float* db, float* rdb, int ld) {
  const v8f w = splat(w0);
  for (int o = 0; o < rows; ++o) {
    const std::size_t base = static_cast<std::size_t>(o) * ld;
    v8f acc = splat(0), racc = splat(0);
    for (int p = 0; p < ld; p += 8) {
      const v8f dh = load(dH + base + p), c = load(C + base + p);
      const v8f dz = dh * w * c;
      const v8f rdz = load(rdH + base + p) * w * c - dh * w * load(S + base + p) * load(RS + base + p);
      store(dH + base + p, dz);
      store(rdH + base + p, rdz);
      acc += dz;
      racc += rdz;
    }
    db[o] += hsum(acc);
    rdb[o] += hsum(racc);
  }
}

// ---- Dense kernels for narrow layers of the fit (forward, weight gradient, input gradient) ----
//
// A narrow layer's products are small (48 x 48 weights against a block of a few hundred pixels),
// where a BLAS call spends a quarter of its time zeroing its output and packing its operands. These
// kernels keep a tile of outputs in registers (kTileRows matrix rows x kTileVecs vectors of
// pixels) while the inner dimension streams by, and apply what follows the product (bias and
// sine, or the sine's backward) to the tile before it is stored. Sums run in ascending order of
// the inner index, one multiply-add after another from zero (AVX2: fused, generic: rounded twice).
//
// The matrix M of a product is read through strides: M(r, k) = m[r * rs + k * cs], so one tile
// serves both W (rs = in, cs = 1) and W^T (rs = 1, cs = in) without a transposed copy.
//
// The tiles are templates over the vector type: 8 floats (v8f) everywhere, and 16 (v16f) in the
// AVX-512 variant (MSINR_KERNEL_WIDE), whose FMA units do twice the work per instruction on CPUs
// with full-width AVX-512 (AMD Zen 5); there a block's last 8 pixels, when its width is not a
// multiple of 16, go through the 8-float tiles. Every operation is per lane, so a pixel's value
// does not depend on the vector width.
#if defined(MSINR_KERNEL_WIDE)
constexpr int kTileRows = 6, kTileVecs = 4;  // 24 accumulators of AVX-512's 32 registers
#else
constexpr int kTileRows = 4, kTileVecs = 3;  // 12 of AVX2's 16
#endif

template <class V>
inline V loadv(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class V>
inline void storev(float* p, V v) {
  std::memcpy(p, &v, sizeof v);
}
// Broadcasts written out element by element (a loop builds them on the stack, and reading them
// back as a vector stalls on store forwarding in the hottest loop).
template <class V>
inline V splatv(float x);
template <>
inline v8f splatv<v8f>(float x) {
  return splat(x);
}
template <class V>
constexpr int lanes() {
  return static_cast<int>(sizeof(V) / sizeof(float));
}

inline void sincosv(v8f x, v8f& s, v8f& c) { sincos8(x, s, c); }

// The 8-lane halves of a vector, in pixel order (for v8f: the vector itself).
inline void add_halves_in_order(v8f& acc, v8f x) { acc += x; }
inline v8f fold(v8f x) { return x; }

#if defined(MSINR_KERNEL_WIDE)
typedef float v16f __attribute__((vector_size(64)));
template <>
inline v16f splatv<v16f>(float x) {
  return v16f{x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
}

// (Shuffles, not memcpy: taking a vector's address keeps a whole tile of accumulators on the stack.)
inline v8f low_half(v16f x) { return __builtin_shufflevector(x, x, 0, 1, 2, 3, 4, 5, 6, 7); }
inline v8f high_half(v16f x) { return __builtin_shufflevector(x, x, 8, 9, 10, 11, 12, 13, 14, 15); }
inline void add_halves_in_order(v8f& acc, v16f x) {
  acc += low_half(x);
  acc += high_half(x);
}
inline v8f fold(v16f x) { return low_half(x) + high_half(x); }

// sincos8's arithmetic on 16 lanes, operation for operation.
inline void sincos16(v16f x, v16f& s, v16f& c) {
  typedef std::int32_t v16i __attribute__((vector_size(64)));
  const v16f magic = splatv<v16f>(12582912.0f);
  v16f q = (x * splatv<v16f>(0.636619772367581343f) + magic) - magic;
  v16i qi = __builtin_convertvector(q, v16i);
  v16f r = x - q * splatv<v16f>(1.5703125f);
  r = r - q * splatv<v16f>(4.837512969970703125e-4f);
  r = r - q * splatv<v16f>(7.54978995489188216e-8f);
  const v16f r2 = r * r;
  const v16f ps = r + r * r2 * (splatv<v16f>(-1.6666654611e-1f) +
                                r2 * (splatv<v16f>(8.3321608736e-3f) + r2 * splatv<v16f>(-1.9515295891e-4f)));
  const v16f pc = splatv<v16f>(1.0f) - splatv<v16f>(0.5f) * r2 +
                  r2 * r2 *
                      (splatv<v16f>(4.166664568298827e-2f) +
                       r2 * (splatv<v16f>(-1.388731625493765e-3f) + r2 * splatv<v16f>(2.443315711809948e-5f)));
  v16i swap = (qi & 1) != 0;
  v16i ips, ipc;
  std::memcpy(&ips, &ps, sizeof ips);
  std::memcpy(&ipc, &pc, sizeof ipc);
  v16i is = (swap & ipc) | (~swap & ips);
  v16i ic = (swap & ips) | (~swap & ipc);
  is ^= (qi & 2) << 30;
  ic ^= ((qi + 1) & 2) << 30;
  std::memcpy(&s, &is, sizeof s);
  std::memcpy(&c, &ic, sizeof c);
}

// In place: s[i], c[i] = sin, cos of s[i], n a multiple of 8. Out of line on purpose: inlined into
// the AVX-512 build of the product tile, the same source gave a few sines that differed in the
// last place from the AVX2 variant's bias_sincos (the cause was not pinned down; a standalone
// AVX-512 build of sincos8 matched the AVX2 one on 2^20 arguments). On its own the bits are the
// AVX2 variant's (tested: the fused forward of both tables compared bit for bit).
__attribute__((noinline)) void sincos_rows_wide(float* s, float* c, std::size_t n) {
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    v16f sv, cv;
    sincos16(loadv<v16f>(s + i), sv, cv);
    storev(s + i, sv);
    storev(c + i, cv);
  }
  for (; i < n; i += 8) {
    v8f sv, cv;
    sincos8(load(s + i), sv, cv);
    store(s + i, sv);
    store(c + i, cv);
  }
}

#endif

template <class V, int R, int NV>
struct Tile {
  V a[R][NV];
};

// acc[r][v] = sum over k < K of M(r, k) * X[k][v] (X rows of ld floats, starting at this tile's pixels).
template <class V, int R, int NV>
inline void product_tile(int K, const float* m, std::size_t rs, std::size_t cs, const float* X, int ld,
                         Tile<V, R, NV>& t) {
  constexpr int L = lanes<V>();
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) t.a[r][v] = splatv<V>(0);
  for (int k = 0; k < K; ++k) {
    const float* x = X + static_cast<std::size_t>(k) * ld;
    const float* mk = m + static_cast<std::size_t>(k) * cs;
    V xv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) xv[v] = loadv<V>(x + L * v);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V w = splatv<V>(mk[r * rs]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) t.a[r][v] += w * xv[v];
    }
  }
}

template <class V, int R, int NV>
void forward_tile(int in, const float* W, const float* bias, float w0, bool sine, const float* A, float* S, float* C,
                  int ld) {
  constexpr int L = lanes<V>();
  Tile<V, R, NV> t;
  product_tile<V, R, NV>(in, W, static_cast<std::size_t>(in), 1, A, ld, t);
  const V w = splatv<V>(w0);
  // The sums leave the registers first (as the sine's argument), then the sines run over the
  // tile in a loop of its own: twelve sincos8 unrolled after the product spill their constants
  // and temporaries, which cost more than the sines themselves.
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const V b = splatv<V>(bias[r]);
    float* s = S + static_cast<std::size_t>(r) * ld;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) storev(s + L * v, sine ? w * (t.a[r][v] + b) : t.a[r][v] + b);
  }
  if (!sine) return;
#if defined(MSINR_KERNEL_WIDE)
  alignas(64) float scratch[L * NV];
  for (int r = 0; r < R; ++r) {
    float* s = S + static_cast<std::size_t>(r) * ld;
    sincos_rows_wide(s, C ? C + static_cast<std::size_t>(r) * ld : scratch, static_cast<std::size_t>(L * NV));
  }
#else
#pragma GCC unroll 1
  for (int r = 0; r < R; ++r) {
    float* s = S + static_cast<std::size_t>(r) * ld;
    float* c = C ? C + static_cast<std::size_t>(r) * ld : nullptr;
#pragma GCC unroll 1
    for (int v = 0; v < NV; ++v) {
      V sv, cv;
      sincosv(loadv<V>(s + L * v), sv, cv);
      storev(s + L * v, sv);
      if (c) storev(c + L * v, cv);
    }
  }
#endif
}

// dA's tile: (W^T dZ) for rows i of this tile; with C, times w0 C (the backward through the
// previous layer's sine, as sine_backward computes it), the pixels' sum added into dbv[r] 8 lanes
// at a time in pixel order (sine_backward's order).
template <class V, int R, int NV>
void input_grad_tile(int out, int in, const float* W, const float* dZ, float w0, const float* C, float* dA, v8f* dbv,
                     int ld) {
  constexpr int L = lanes<V>();
  Tile<V, R, NV> t;
  product_tile<V, R, NV>(out, W, 1, static_cast<std::size_t>(in), dZ, ld, t);
  const V w = splatv<V>(w0);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    float* d = dA + static_cast<std::size_t>(r) * ld;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      if (!C) {
        storev(d + L * v, t.a[r][v]);
        continue;
      }
      const V dz = t.a[r][v] * w * loadv<V>(C + static_cast<std::size_t>(r) * ld + L * v);
      storev(d + L * v, dz);
      add_halves_in_order(dbv[r], dz);
    }
  }
}

// G8[(r * in + q) * 8 + lane] += the lane's share of sum over pixels of dZ[r] A[q], for R rows of
// dZ and Q rows of A, over nv vectors of V from the tile's first pixel (16-float sums are folded
// to 8 lanes at the end).
template <class V, int R, int Q>
void weight_grad_tile(int in, const float* dZ, const float* A, int ld, int nv, float* G8) {
  constexpr int L = lanes<V>();
  V acc[R][Q];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) acc[r][q] = splatv<V>(0);
  for (int p = 0; p < nv; ++p) {
    V a[Q];
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) a[q] = loadv<V>(A + static_cast<std::size_t>(q) * ld + L * p);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const V d = loadv<V>(dZ + static_cast<std::size_t>(r) * ld + L * p);
#pragma GCC unroll 8
      for (int q = 0; q < Q; ++q) acc[r][q] += d * a[q];
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < Q; ++q) {
      float* g = G8 + (static_cast<std::size_t>(r) * in + q) * 8;
      store(g, load(g) + fold(acc[r][q]));
    }
}

// Tile functions by shape, [R - 1][NV - 1], so the drivers below pick one per edge.
template <template <class, int, int> class F, class V, std::size_t... I>
constexpr auto tile_table(std::index_sequence<I...>) {
  return std::array<decltype(&F<V, 1, 1>::run), sizeof...(I)>{
      &F<V, static_cast<int>(I) / kTileVecs + 1, static_cast<int>(I) % kTileVecs + 1>::run...};
}
template <class V, int R, int NV>
struct ForwardF {
  static void run(int in, const float* W, const float* bias, float w0, bool sine, const float* A, float* S, float* C,
                  int ld) {
    forward_tile<V, R, NV>(in, W, bias, w0, sine, A, S, C, ld);
  }
};
template <class V, int R, int NV>
struct InputGradF {
  static void run(int out, int in, const float* W, const float* dZ, float w0, const float* C, float* dA, v8f* dbv,
                  int ld) {
    input_grad_tile<V, R, NV>(out, in, W, dZ, w0, C, dA, dbv, ld);
  }
};
template <class V, int R, int Q>
struct WeightGradF {
  static void run(int in, const float* dZ, const float* A, int ld, int nv, float* G8) {
    weight_grad_tile<V, R, Q>(in, dZ, A, ld, nv, G8);
  }
};

#if defined(MSINR_KERNEL_WIDE)
typedef v16f vfit;
#else
typedef v8f vfit;
#endif

// The pixel tiles of a block of ld floats (a multiple of 8): vectors of vfit, up to kTileVecs at a
// time, then (wide variant) a last 8 floats as one v8f vector. f(table_of_V, first pixel, vectors).
template <template <class, int, int> class F, class Fn>
inline void for_pixel_tiles(int ld, Fn&& f) {
  static constexpr auto wide = tile_table<F, vfit>(std::make_index_sequence<kTileRows * kTileVecs>{});
  constexpr int L = lanes<vfit>();
  const int nv = ld / L;
  for (int pv = 0; pv < nv; pv += kTileVecs) f(wide, L * pv, std::min(kTileVecs, nv - pv));
  if constexpr (L != 8) {
    static constexpr auto narrow = tile_table<F, v8f>(std::make_index_sequence<kTileRows * kTileVecs>{});
    if (ld % L != 0) f(narrow, ld - 8, 1);
  }
}

void dense_forward(int out, int in, const float* W, const float* bias, float w0, bool sine, const float* A, float* S,
                   float* C, int ld) {
  // Pixels outermost: a tile's columns of A (in x kTileVecs vectors) stay in L1 for every row tile.
  for_pixel_tiles<ForwardF>(ld, [&](const auto& table, int p, int V) {
    for (int o = 0; o < out; o += kTileRows) {
      const int R = std::min(kTileRows, out - o);
      const std::size_t off = static_cast<std::size_t>(o) * ld + static_cast<std::size_t>(p);
      table[static_cast<std::size_t>((R - 1) * kTileVecs + (V - 1))](in, W + static_cast<std::size_t>(o) * in, bias + o,
                                                                      w0, sine, A + p, S + off, C ? C + off : nullptr, ld);
    }
  });
}

void dense_input_grad(int out, int in, const float* W, const float* dZ, float w0, const float* C, float* dA, float* db,
                      int ld) {
  constexpr int kChunk = 64;  // rows whose bias-gradient partial sums stay on the stack
  v8f dbv[kChunk];
  for (int i0 = 0; i0 < in; i0 += kChunk) {
    const int rows = std::min(kChunk, in - i0);
    for (int r = 0; r < rows; ++r) dbv[r] = splat(0);
    for_pixel_tiles<InputGradF>(ld, [&](const auto& table, int p, int V) {
      for (int i = i0; i < i0 + rows; i += kTileRows) {
        const int R = std::min(kTileRows, i0 + rows - i);
        const std::size_t off = static_cast<std::size_t>(i) * ld + static_cast<std::size_t>(p);
        table[static_cast<std::size_t>((R - 1) * kTileVecs + (V - 1))](out, in, W + i, dZ + p, w0, C ? C + off : nullptr,
                                                                        dA + off, dbv + (i - i0), ld);
      }
    });
    if (C)
      for (int r = 0; r < rows; ++r) db[i0 + r] += hsum(dbv[r]);
  }
}

void dense_weight_grad(int out, int in, const float* dZ, const float* A, int ld, float* G8) {
  static constexpr auto wide = tile_table<WeightGradF, vfit>(std::make_index_sequence<kTileRows * kTileVecs>{});
  constexpr int L = lanes<vfit>();
  const int nv = ld / L;
  for (int o = 0; o < out; o += kTileRows) {
    const int R = std::min(kTileRows, out - o);
    for (int i = 0; i < in; i += kTileVecs) {
      const int Q = std::min(kTileVecs, in - i);
      const std::size_t t = static_cast<std::size_t>((R - 1) * kTileVecs + (Q - 1));
      const float* dz = dZ + static_cast<std::size_t>(o) * ld;
      const float* a = A + static_cast<std::size_t>(i) * ld;
      float* g = G8 + (static_cast<std::size_t>(o) * in + i) * 8;
      if (nv > 0) wide[t](in, dz, a, ld, nv, g);
      if constexpr (L != 8) {
        static constexpr auto narrow = tile_table<WeightGradF, v8f>(std::make_index_sequence<kTileRows * kTileVecs>{});
        if (ld % L != 0) narrow[t](in, dz + (ld - 8), a + (ld - 8), ld, 1, g);
      }
    }
  }
}

void reduce_lanes(const float* G8, float* g, std::size_t n) {
  for (std::size_t k = 0; k < n; ++k) g[k] += hsum(load(G8 + 8 * k));
}

void sincos(const float* x, float* s, float* c, std::size_t n) {
  for (std::size_t i = 0; i + 8 <= n; i += 8) {
    v8f vs, vc;
    sincos8(load(x + i), vs, vc);
    store(s + i, vs);
    store(c + i, vc);
  }
}

}  // namespace
}  // namespace msinr::cpu::MSINR_KERNEL_NS
