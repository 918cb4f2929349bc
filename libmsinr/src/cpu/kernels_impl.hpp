// Included once per instruction set with MSINR_KERNEL_NS set to that variant's namespace.
// GCC vector extensions give 8-float vectors that lower to one AVX register with -mavx2 and to two
// SSE registers otherwise, so one source serves both variants.
#include <cstdint>
#include <cstring>

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
