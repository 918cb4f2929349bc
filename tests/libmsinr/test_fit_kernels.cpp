// The fit's fused kernels for narrow dense layers (cpu/kernels.hpp: dense_forward,
// dense_weight_grad, dense_input_grad, reduce_lanes), at the kernel level against a double-precision
// reference and against the kernels they replace, then through the evaluator against the OpenBLAS
// path, the reference backend and finite differences.
//
// What is exact and what is not: dense_forward and dense_input_grad sum in ascending order of the
// inner index, one multiply-add at a time from zero, as csr_rows does, so with the same weights
// (zeros included, or left out: a multiply-add of a zero weight leaves the sum as it was) they equal
// csr_rows + bias_sincos and csr_rows + sine_backward bit for bit within an instruction set. The
// weight gradient sums per lane over the pass instead of per block, so it matches sddmm and OpenBLAS
// within rounding only. Tolerances are stated where they are used, with the measured worst cases.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/kernels.hpp"
#include "msinr/backend.hpp"
#include "msinr/siren.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {

std::vector<const cpu::KernelTable*> tables() {
  std::vector<const cpu::KernelTable*> t{&cpu::generic_kernels()};
  if (cpu::cpu_supports_avx2_fma()) t.push_back(&cpu::avx2_kernels());
  if (cpu::cpu_supports_avx512()) t.push_back(&cpu::avx512_kernels());
  return t;
}

std::vector<float> uniform(std::size_t n, double lo, double hi, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(lo + (hi - lo) * rng.uniform01());
  return v;
}

// out x in weights at SIREN scale (hidden layers, w0 30), a fraction `density` kept, the rest zero.
std::vector<float> weights(int out, int in, double density, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> w(static_cast<std::size_t>(out) * in);
  const double scale = std::sqrt(6.0 / in) / 30.0 * 3.0;
  for (float& x : w) {
    const double u = rng.uniform01() * 2.0 - 1.0;
    x = rng.uniform01() < density ? static_cast<float>(u * scale) : 0.0f;
  }
  return w;
}

// CSR of the weights that are not zero (skip_zeros) or of all of them.
struct Csr {
  std::vector<int> row_ptr{0}, col;
  std::vector<float> val;
};
Csr to_csr(const std::vector<float>& w, int rows, int cols, bool transpose, bool skip_zeros) {
  Csr m;
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      const float x = transpose ? w[static_cast<std::size_t>(c) * rows + r] : w[static_cast<std::size_t>(r) * cols + c];
      if (skip_zeros && x == 0.0f) continue;
      m.col.push_back(c), m.val.push_back(x);
    }
    m.row_ptr.push_back(static_cast<int>(m.col.size()));
  }
  return m;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

// Shapes: the codec's layers (2 -> 48, 48 -> 48, 48 -> 3), widths that are not multiples of the
// 4-row tile or of 8, and the widest fused width. Pixel counts (ld, always a multiple of 8): fewer
// vectors than a tile, tiles with a remainder of 1 and 2 vectors, the encoder's 256-pixel block;
// for the AVX-512 variant's 16-float vectors also a last 8 pixels (8, 24, 40, 56) and 104.
struct Shape {
  int out, in;
};
const Shape kShapes[] = {{48, 2}, {48, 48}, {3, 48}, {13, 17}, {5, 64}, {1, 1}, {7, 3}};
const int kLds[] = {8, 16, 24, 40, 56, 104, 256};

}  // namespace

TEST_CASE("fit kernels: dense_forward equals csr_rows + bias_sincos bit for bit, and a double reference within 1e-5") {
  for (const cpu::KernelTable* k : tables()) {
    for (const Shape& s : kShapes) {
      for (int ld : kLds) {
        for (double density : {1.0, 0.8}) {
          const auto W = weights(s.out, s.in, density, static_cast<std::uint64_t>(s.out * 100 + s.in));
          const auto A = uniform(static_cast<std::size_t>(s.in) * ld, -1.0, 1.0, static_cast<std::uint64_t>(ld));
          const auto bias = uniform(static_cast<std::size_t>(s.out), -0.5, 0.5, 3);
          const float w0 = 30.0f;
          for (bool sine : {true, false}) {
            CAPTURE(std::string(k->name));
            CAPTURE(s.out);
            CAPTURE(s.in);
            CAPTURE(ld);
            CAPTURE(density);
            CAPTURE(sine);
            const std::size_t n = static_cast<std::size_t>(s.out) * ld;
            std::vector<float> S(n, -7.0f), C(n, -7.0f);
            k->dense_forward(s.out, s.in, W.data(), bias.data(), w0, sine, A.data(), S.data(), sine ? C.data() : nullptr, ld);
            // The kernels it replaces, on every weight (zeros included) and on the kept ones alone.
            for (bool skip_zeros : {false, true}) {
              const Csr m = to_csr(W, s.out, s.in, false, skip_zeros);
              std::vector<float> Z(n), Cz(n);
              k->csr_rows(s.out, m.row_ptr.data(), m.col.data(), m.val.data(), A.data(), Z.data(), ld, false);
              if (sine) {
                k->bias_sincos(s.out, bias.data(), w0, Z.data(), Z.data(), Cz.data(), ld);
                CHECK(same_bits(C, Cz));
              } else {
                for (int o = 0; o < s.out; ++o)
                  for (int p = 0; p < ld; ++p) Z[static_cast<std::size_t>(o) * ld + p] += bias[static_cast<std::size_t>(o)];
              }
              CHECK(same_bits(S, Z));
            }
            // Double reference. Sine outputs: the float sum's rounding (~1e-7 relative) times w0, and
            // the sincos polynomials' 3e-7: measured worst 2.3e-6 (sin) and 3.1e-6 (cos), both
            // variants; linear outputs 8.9e-8 relative.
            double err = 0.0, cerr = 0.0;
            for (int o = 0; o < s.out; ++o)
              for (int p = 0; p < ld; ++p) {
                double t = bias[static_cast<std::size_t>(o)];
                for (int i = 0; i < s.in; ++i)
                  t += static_cast<double>(W[static_cast<std::size_t>(o) * s.in + i]) * A[static_cast<std::size_t>(i) * ld + p];
                const std::size_t at = static_cast<std::size_t>(o) * ld + p;
                if (sine) {
                  err = std::max(err, std::fabs(S[at] - std::sin(w0 * t)));
                  cerr = std::max(cerr, std::fabs(C[at] - std::cos(w0 * t)));
                } else {
                  err = std::max(err, std::fabs(S[at] - t) / std::max(1.0, std::fabs(t)));
                }
              }
            CHECK(err < 1e-5);
            CHECK(cerr < 1e-5);
          }
        }
      }
    }
  }
}

TEST_CASE("fit kernels: dense_forward of a masked layer equals the rendering kernel bit for bit") {
  // The encoder's fit and the decoder's rendering compute a layer's outputs the same way: the fit's
  // dense sum over zeros at masked weights gives the rendering's sum over the kept ones.
  for (const cpu::KernelTable* k : tables()) {
    for (int ld : {24, 64, 136}) {
      const int out = 48, in = 48;
      const auto W = weights(out, in, 0.8, 9);
      const auto A = uniform(static_cast<std::size_t>(in) * ld, -1.0, 1.0, 10);
      const auto bias = uniform(static_cast<std::size_t>(out), -0.5, 0.5, 11);
      const Csr m = to_csr(W, out, in, false, true);
      std::vector<float> S(static_cast<std::size_t>(out) * ld), R(S.size());
      k->dense_forward(out, in, W.data(), bias.data(), 30.0f, true, A.data(), S.data(), nullptr, ld);
      k->csr_bias_sine(out, m.row_ptr.data(), m.col.data(), m.val.data(), bias.data(), 30.0f, true, A.data(), R.data(), ld);
      CAPTURE(std::string(k->name));
      CAPTURE(ld);
      CHECK(same_bits(S, R));
    }
  }
}

TEST_CASE("fit kernels: dense_input_grad equals csr_rows on W^T + sine_backward bit for bit, and a double reference") {
  for (const cpu::KernelTable* k : tables()) {
    for (const Shape& s : kShapes) {
      for (int ld : kLds) {
        const auto W = weights(s.out, s.in, 0.8, static_cast<std::uint64_t>(s.out * 7 + s.in));
        const auto dZ = uniform(static_cast<std::size_t>(s.out) * ld, -1.0, 1.0, 5);
        const auto C = uniform(static_cast<std::size_t>(s.in) * ld, -1.0, 1.0, 6);
        const float w0 = 30.0f;
        for (bool through_sine : {true, false}) {
          CAPTURE(std::string(k->name));
          CAPTURE(s.out);
          CAPTURE(s.in);
          CAPTURE(ld);
          CAPTURE(through_sine);
          const std::size_t n = static_cast<std::size_t>(s.in) * ld;
          std::vector<float> dA(n, -7.0f), db(static_cast<std::size_t>(s.in), 0.25f);
          k->dense_input_grad(s.out, s.in, W.data(), dZ.data(), w0, through_sine ? C.data() : nullptr, dA.data(), db.data(),
                              ld);
          const Csr t = to_csr(W, s.in, s.out, true, false);
          std::vector<float> expect(n), edb(db.size(), 0.25f);
          k->csr_rows(s.in, t.row_ptr.data(), t.col.data(), t.val.data(), dZ.data(), expect.data(), ld, false);
          if (through_sine) k->sine_backward(s.in, w0, expect.data(), C.data(), expect.data(), edb.data(), ld);
          CHECK(same_bits(dA, expect));
          CHECK(same_bits(db, edb));  // untouched without the sine
          // Double reference: float sums of up to 48 terms, measured worst 2.8e-7 of the largest value.
          std::vector<float> ref(n);
          for (int i = 0; i < s.in; ++i)
            for (int p = 0; p < ld; ++p) {
              double t2 = 0.0;
              for (int o = 0; o < s.out; ++o)
                t2 += static_cast<double>(W[static_cast<std::size_t>(o) * s.in + i]) * dZ[static_cast<std::size_t>(o) * ld + p];
              if (through_sine) t2 *= static_cast<double>(w0) * C[static_cast<std::size_t>(i) * ld + p];
              ref[static_cast<std::size_t>(i) * ld + p] = static_cast<float>(t2);
            }
          CHECK(test::rel_max_err(dA, ref) < 1e-5);
        }
      }
    }
  }
}

TEST_CASE("fit kernels: dense_weight_grad accumulates dZ A^T over blocks, per lane, within 1e-5 of a double reference") {
  for (const cpu::KernelTable* k : tables()) {
    for (const Shape& s : kShapes) {
      for (int ld : kLds) {
        // Two blocks into the same lanes, then one reduction onto a gradient that already holds values.
        const auto dZ1 = uniform(static_cast<std::size_t>(s.out) * ld, -1.0, 1.0, 21);
        const auto A1 = uniform(static_cast<std::size_t>(s.in) * ld, -1.0, 1.0, 22);
        const auto dZ2 = uniform(static_cast<std::size_t>(s.out) * ld, -1.0, 1.0, 23);
        const auto A2 = uniform(static_cast<std::size_t>(s.in) * ld, -1.0, 1.0, 24);
        const std::size_t nw = static_cast<std::size_t>(s.out) * s.in;
        std::vector<float> G8(nw * 8, 0.0f), g(nw, 0.5f);
        k->dense_weight_grad(s.out, s.in, dZ1.data(), A1.data(), ld, G8.data());
        k->dense_weight_grad(s.out, s.in, dZ2.data(), A2.data(), ld, G8.data());
        k->reduce_lanes(G8.data(), g.data(), nw);
        std::vector<double> ref(nw), mag(nw);  // the sum, and the sum of its terms' magnitudes
        std::vector<float> via_sddmm(nw, 0.5f);
        for (int o = 0; o < s.out; ++o)
          for (int i = 0; i < s.in; ++i) {
            double t = 0.5, m = 0.5;
            for (int p = 0; p < ld; ++p) {
              const double t1 = static_cast<double>(dZ1[static_cast<std::size_t>(o) * ld + p]) * A1[static_cast<std::size_t>(i) * ld + p];
              const double t2 = static_cast<double>(dZ2[static_cast<std::size_t>(o) * ld + p]) * A2[static_cast<std::size_t>(i) * ld + p];
              t += t1 + t2;
              m += std::fabs(t1) + std::fabs(t2);
            }
            ref[static_cast<std::size_t>(o) * s.in + i] = t;
            mag[static_cast<std::size_t>(o) * s.in + i] = m;
          }
        // The sampled product it replaces for sparse layers, on every position.
        const std::vector<float> ones(nw, 1.0f);
        const Csr all = to_csr(ones, s.out, s.in, false, false);
        std::vector<int> dst(all.col.size());
        for (std::size_t j = 0; j < dst.size(); ++j) dst[j] = static_cast<int>(j);
        k->sddmm(s.out, all.row_ptr.data(), all.col.data(), dst.data(), dZ1.data(), A1.data(), ld, via_sddmm.data());
        k->sddmm(s.out, all.row_ptr.data(), all.col.data(), dst.data(), dZ2.data(), A2.data(), ld, via_sddmm.data());
        CAPTURE(std::string(k->name));
        CAPTURE(s.out);
        CAPTURE(s.in);
        CAPTURE(ld);
        // Float sums of up to 514 terms, 64 per lane: error relative to the sum of the terms'
        // magnitudes (the sums cancel, so relative to the sum itself it is unbounded), measured
        // worst 9.4e-8 against the double sums and 1.2e-7 against sddmm's; bound 2e-6.
        double err = 0.0, err_sddmm = 0.0;
        for (std::size_t j = 0; j < nw; ++j) {
          err = std::max(err, std::fabs(g[j] - ref[j]) / mag[j]);
          err_sddmm = std::max(err_sddmm, std::fabs(g[j] - via_sddmm[j]) / mag[j]);
        }
        CHECK(err < 2e-6);
        CHECK(err_sddmm < 2e-6);
      }
    }
  }
}

// The AVX2 variant fuses each multiply-add, the generic one rounds twice; they differ by rounding
// (measured worst: 1.9e-6 on sines and cosines at w0 30, 2.2e-7 on the gradients) and nothing else.
TEST_CASE("fit kernels: the AVX2 variant matches the generic one within rounding") {
  if (!cpu::cpu_supports_avx2_fma()) return;
  const cpu::KernelTable& g = cpu::generic_kernels();
  const cpu::KernelTable& v = cpu::avx2_kernels();
  const int out = 48, in = 48, ld = 136;
  const auto W = weights(out, in, 0.8, 31);
  const auto A = uniform(static_cast<std::size_t>(in) * ld, -1.0, 1.0, 32);
  const auto dZ = uniform(static_cast<std::size_t>(out) * ld, -1.0, 1.0, 33);
  const auto bias = uniform(static_cast<std::size_t>(out), -0.5, 0.5, 34);
  const std::size_t n = static_cast<std::size_t>(out) * ld;
  std::vector<float> sg(n), cg(n), sv(n), cv(n);
  g.dense_forward(out, in, W.data(), bias.data(), 30.0f, true, A.data(), sg.data(), cg.data(), ld);
  v.dense_forward(out, in, W.data(), bias.data(), 30.0f, true, A.data(), sv.data(), cv.data(), ld);
  CHECK(test::rel_max_err(sv, sg) < 3e-5);
  CHECK(test::rel_max_err(cv, cg) < 3e-5);
  CHECK(test::rel_max_err(sv, sg) > 0.0);  // the variants really differ: the comparison is not vacuous
  std::vector<float> dg(n), dv(n), dbg(static_cast<std::size_t>(in)), dbv(dbg.size());
  g.dense_input_grad(out, in, W.data(), dZ.data(), 30.0f, A.data(), dg.data(), dbg.data(), ld);
  v.dense_input_grad(out, in, W.data(), dZ.data(), 30.0f, A.data(), dv.data(), dbv.data(), ld);
  CHECK(test::rel_max_err(dv, dg) < 1e-5);
  CHECK(test::rel_max_err(dbv, dbg) < 1e-5);
  std::vector<float> G8g(static_cast<std::size_t>(out) * in * 8), G8v(G8g.size()), gg(G8g.size() / 8), gv(gg.size());
  g.dense_weight_grad(out, in, dZ.data(), A.data(), ld, G8g.data());
  v.dense_weight_grad(out, in, dZ.data(), A.data(), ld, G8v.data());
  g.reduce_lanes(G8g.data(), gg.data(), gg.size());
  v.reduce_lanes(G8v.data(), gv.data(), gv.size());
  CHECK(test::rel_max_err(gv, gg) < 1e-5);
}

// The AVX-512 variant runs the same per-lane arithmetic on 16-float vectors: its forward and input
// gradient equal the AVX2 variant's bit for bit (so a fit's result does not depend on which of the
// two a CPU gets, beyond the weight gradient's order of summation, within 1e-6 here).
TEST_CASE("fit kernels: the AVX-512 variant equals the AVX2 one bit for bit (forward, input gradient)") {
  if (!cpu::cpu_supports_avx512()) return;
  const cpu::KernelTable& a = cpu::avx2_kernels();
  const cpu::KernelTable& z = cpu::avx512_kernels();
  for (int ld : {8, 24, 136, 256}) {
    const int out = 48, in = 48;
    const auto W = weights(out, in, 0.8, 41);
    const auto A = uniform(static_cast<std::size_t>(in) * ld, -1.0, 1.0, 42);
    const auto dZ = uniform(static_cast<std::size_t>(out) * ld, -1.0, 1.0, 43);
    const auto bias = uniform(static_cast<std::size_t>(out), -0.5, 0.5, 44);
    const std::size_t n = static_cast<std::size_t>(out) * ld;
    std::vector<float> sa(n), ca(n), sz(n), cz(n);
    a.dense_forward(out, in, W.data(), bias.data(), 30.0f, true, A.data(), sa.data(), ca.data(), ld);
    z.dense_forward(out, in, W.data(), bias.data(), 30.0f, true, A.data(), sz.data(), cz.data(), ld);
    CAPTURE(ld);
    CHECK(same_bits(sa, sz));
    CHECK(same_bits(ca, cz));
    std::vector<float> da(n), dz(n), dba(static_cast<std::size_t>(in), 1.0f), dbz(dba);
    a.dense_input_grad(out, in, W.data(), dZ.data(), 30.0f, A.data(), da.data(), dba.data(), ld);
    z.dense_input_grad(out, in, W.data(), dZ.data(), 30.0f, A.data(), dz.data(), dbz.data(), ld);
    CHECK(same_bits(da, dz));
    CHECK(same_bits(dba, dbz));
    std::vector<float> G8a(static_cast<std::size_t>(out) * in * 8), G8z(G8a.size()), ga(G8a.size() / 8), gz(ga.size());
    a.dense_weight_grad(out, in, dZ.data(), A.data(), ld, G8a.data());
    z.dense_weight_grad(out, in, dZ.data(), A.data(), ld, G8z.data());
    a.reduce_lanes(G8a.data(), ga.data(), ga.size());
    z.reduce_lanes(G8z.data(), gz.data(), gz.size());
    CHECK(test::rel_max_err(gz, ga) < 1e-6);
  }
}

namespace {

std::vector<CpuBackendOptions::Kernels> variants() {
  std::vector<CpuBackendOptions::Kernels> v{CpuBackendOptions::Kernels::kGeneric};
  if (cpu::cpu_supports_avx2_fma()) v.push_back(CpuBackendOptions::Kernels::kAvx2);
  if (cpu::cpu_supports_avx512()) v.push_back(CpuBackendOptions::Kernels::kAvx512);
  return v;
}

struct Pass {
  std::vector<float> grad;
  double loss = 0.0;
};
Pass gradient(const Architecture& arch, const Mask& mask, const Grid& grid, const std::vector<float>& params,
              const std::vector<float>& target, CpuBackendOptions opt) {
  auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
  Pass p;
  p.grad.assign(params.size(), 123.0f);
  p.loss = ev->loss_and_gradient(params.data(), target.data(), p.grad.data());
  return p;
}

}  // namespace

// Through the evaluator: the codec's network shape (and narrower ones, with widths that are not
// multiples of 8), sparse masks with a dead row, pixel counts that leave partial blocks and padded
// lanes, several block sizes: the fused path against the OpenBLAS path and the double-precision
// reference. The two float paths differ by summation order only: measured worst 3.4e-7 relative
// to the largest gradient (w0 30; 6.3e-7 against the reference, 6e-9 relative on the loss); the
// bounds are 5e-5, and the backend test's 5e-4 against the reference.
TEST_CASE("fused fit path: gradients and loss match the OpenBLAS path and the reference, masked weights get zero") {
  auto reference = make_reference_backend();
  for (auto kernels : variants()) {
    for (int width : {48, 20}) {
      for (double density : {1.0, 0.8, 0.35}) {
        Architecture arch{2, width, 3, 3, 30.0f};
        ParamLayout layout(arch);
        Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 40 + width);
        const LayerView& h = layout.layers()[2];
        for (int i = 0; i < h.in; ++i) mask[h.weight_offset + static_cast<std::size_t>(5) * h.in + i] = 0;
        auto params = siren_init(arch, 8);
        for (int side : {7, 15}) {  // 63 and 255 pixels: odd counts, partial blocks, padded lanes
          const Grid grid{side, side + 2};
          const auto target = test::synthetic_target(grid.rows, grid.cols);
          std::vector<float> ref_grad(params.size());
          const double ref_loss = reference->make_evaluator(arch, mask, grid)->loss_and_gradient(params.data(), target.data(),
                                                                                                  ref_grad.data());
          for (int block : {8, 40, 256}) {
            CpuBackendOptions opt;
            opt.kernels = kernels;
            opt.block_pixels = block;
            opt.sparse_below_density = 0.0;  // every layer dense: the fused kernels take them all
            const Pass fused = gradient(arch, mask, grid, params, target, opt);
            opt.fused_fit = false;
            const Pass blas = gradient(arch, mask, grid, params, target, opt);
            CAPTURE(static_cast<int>(kernels));
            CAPTURE(width);
            CAPTURE(density);
            CAPTURE(side);
            CAPTURE(block);
            CHECK(test::rel_max_err(fused.grad, blas.grad) < 5e-5);
            CHECK(fused.loss == doctest::Approx(blas.loss).epsilon(1e-5));
            CHECK(test::rel_max_err(fused.grad, ref_grad) < 5e-4);
            CHECK(std::fabs(fused.loss - ref_loss) <= 2e-4 * ref_loss);
            for (std::size_t i = 0; i < mask.size(); ++i)
              if (!mask[i]) REQUIRE(fused.grad[i] == 0.0f);
          }
        }
      }
    }
  }
}

TEST_CASE("fused fit path: layers wider than 64 stay on OpenBLAS, mixed plans agree") {
  const Grid grid{9, 11};
  const auto target = test::synthetic_target(grid.rows, grid.cols);
  for (int width : {64, 65}) {
    Architecture arch{2, width, 2, 3, 30.0f};
    ParamLayout layout(arch);
    const Mask mask = test::random_mask(layout, 0.7, 3);
    auto params = siren_init(arch, 2);
    CpuBackendOptions opt;
    opt.sparse_below_density = 0.0;
    const Pass fused = gradient(arch, mask, grid, params, target, opt);
    opt.fused_fit = false;
    const Pass blas = gradient(arch, mask, grid, params, target, opt);
    CAPTURE(width);
    if (width > 64) CHECK(same_bits(fused.grad, blas.grad));  // the same path: the same bits
    else CHECK(test::rel_max_err(fused.grad, blas.grad) < 5e-5);
  }
  // Some layers sparse (CSR kernels), the others fused, in one network: the hand-over between a
  // fused input gradient (already through the sine) and a sparse layer's own sine backward.
  Architecture arch{2, 24, 3, 3, 30.0f};
  ParamLayout layout(arch);
  Mask mask = dense_mask(layout);
  const LayerView& mid = layout.layers()[2];
  Rng rng(6);
  for (std::size_t i = 0; i < mid.weight_count(); ++i) mask[mid.weight_offset + i] = rng.uniform01() < 0.2 ? 1 : 0;
  auto params = siren_init(arch, 3);
  CpuBackendOptions opt;
  opt.sparse_below_density = 0.5;  // the middle layer (density 0.2) sparse, the rest dense
  const Pass mixed = gradient(arch, mask, grid, params, target, opt);
  std::vector<float> ref_grad(params.size());
  make_reference_backend()->make_evaluator(arch, mask, grid)->loss_and_gradient(params.data(), target.data(), ref_grad.data());
  CHECK(test::rel_max_err(mixed.grad, ref_grad) < 5e-4);
}

// Central differences of the float evaluator's loss for a small network. The loss is a double sum
// of float outputs (relative noise ~1e-7) and the truncation error is ~h^2 w0^2 / 6 of a gradient,
// so h = 1e-3 with w0 = 10 leaves both well under 1e-4 of the largest gradient (measured worst
// 1.2e-5); the bound is 2e-3 (a wrong index or a missing sine backward is off by O(1)).
TEST_CASE("fused fit path: gradient matches finite differences of the loss, every kept parameter") {
  Architecture arch{2, 12, 2, 3, 10.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.75, 12);
  auto params = siren_init(arch, 13);
  apply_mask(mask, params);
  const Grid grid{6, 7};
  const auto target = test::synthetic_target(grid.rows, grid.cols);
  for (auto kernels : variants()) {
    CpuBackendOptions opt;
    opt.kernels = kernels;
    opt.block_pixels = 16;  // 42 pixels: three blocks, the last one partial
    auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
    std::vector<float> grad(params.size());
    ev->loss_and_gradient(params.data(), target.data(), grad.data());
    double gmax = 0.0;
    for (float g : grad) gmax = std::max(gmax, static_cast<double>(std::fabs(g)));
    double worst = 0.0;
    int checked = 0;
    const float h = 1e-3f;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (!mask[i]) {
        CHECK(grad[i] == 0.0f);
        continue;
      }
      auto p = params;
      const float x_up = params[i] + h, x_down = params[i] - h;
      p[i] = x_up;
      const double up = ev->loss(p.data(), target.data());
      p[i] = x_down;
      const double down = ev->loss(p.data(), target.data());
      const double fd = (up - down) / (static_cast<double>(x_up) - x_down);  // the step as stored
      worst = std::max(worst, std::fabs(fd - grad[i]) / gmax);
      ++checked;
    }
    CAPTURE(static_cast<int>(kernels));
    CAPTURE(worst);
    CHECK(checked > 100);
    CHECK(worst < 2e-3);
  }
}
