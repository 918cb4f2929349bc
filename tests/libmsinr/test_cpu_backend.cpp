// The optimized CPU backend against the reference backend over a grid of widths, pixel counts,
// densities and kernel variants, with both the dense (sgemm) and the sparse (CSR) layer paths.
//
// Tolerances: the reference computes in double, the CPU backend in float with w0 = 200
// amplifying rounding in every sine argument. Measured worst cases over this grid: 5.8e-6
// (outputs) and 1.8e-6 (gradients) relative to the largest reference value; the bounds below leave
// 30x headroom or more while still catching any indexing or masking mistake (those give O(1) errors).
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "cpu/kernels.hpp"
#include "msinr/backend.hpp"
#include "msinr/error.hpp"
#include "test_util.hpp"

using namespace msinr;

namespace {

constexpr double kOutputTolerance = 2e-4;
constexpr double kGradientTolerance = 5e-4;

std::vector<CpuBackendOptions::Kernels> kernel_variants() {
  std::vector<CpuBackendOptions::Kernels> v{CpuBackendOptions::Kernels::kGeneric};
  if (cpu::cpu_supports_avx2_fma()) v.push_back(CpuBackendOptions::Kernels::kAvx2);
  return v;
}

}  // namespace

TEST_CASE("CPU backend matches the reference: forward, loss and gradient") {
  auto reference = make_reference_backend();
  for (int width : {16, 40}) {
    for (int side : {5, 13}) {  // 25 and 169 pixels: partial blocks and padded lanes
      for (double density : {1.0, 0.5, 0.1, 0.02}) {
        Architecture arch{2, width, 3, 3, 200.0f};
        ParamLayout layout(arch);
        const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 5 + width);
        auto params = siren_init(arch, 21);
        const Grid grid{side, side + 2};
        auto target = test::synthetic_target(grid.rows, grid.cols);
        auto ref = reference->make_evaluator(arch, mask, grid);
        std::vector<float> ref_out(grid.pixels() * 3), ref_grad(layout.param_count());
        ref->forward(params.data(), ref_out.data());
        const double ref_loss = ref->loss_and_gradient(params.data(), target.data(), ref_grad.data());
        for (auto kernels : kernel_variants()) {
          for (double sparse_below : {0.0, 1.01}) {  // every layer dense, then every layer sparse
            for (int block : {8, 64}) {
              CpuBackendOptions opt;
              opt.kernels = kernels;
              opt.sparse_below_density = sparse_below;
              opt.block_pixels = block;
              auto cpu = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
              std::vector<float> out(ref_out.size()), grad(ref_grad.size(), 123.0f);
              cpu->forward(params.data(), out.data());
              const double loss = cpu->loss_and_gradient(params.data(), target.data(), grad.data());
              CAPTURE(width);
              CAPTURE(side);
              CAPTURE(density);
              CAPTURE(static_cast<int>(kernels));
              CAPTURE(sparse_below);
              CAPTURE(block);
              CHECK(test::rel_max_err(out, ref_out) < kOutputTolerance);
              CHECK(std::fabs(loss - ref_loss) <= kOutputTolerance * ref_loss);
              CHECK(test::rel_max_err(grad, ref_grad) < kGradientTolerance);
              CHECK(cpu->loss(params.data(), target.data()) == doctest::Approx(loss).epsilon(1e-6));
              for (std::size_t i = 0; i < mask.size(); ++i)
                if (!mask[i]) REQUIRE(grad[i] == 0.0f);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("CPU backend ignores whatever masked parameters hold") {
  Architecture arch{2, 16, 2, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.3, 9);
  auto params = siren_init(arch, 4);
  apply_mask(mask, params);
  auto dirty = params;
  for (std::size_t i = 0; i < mask.size(); ++i)
    if (!mask[i]) dirty[i] = 0.5f;
  const Grid grid{6, 6};
  auto target = test::synthetic_target(6, 6);
  for (double sparse_below : {0.0, 1.01}) {
    CpuBackendOptions opt;
    opt.sparse_below_density = sparse_below;
    auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
    std::vector<float> g1(mask.size()), g2(mask.size());
    CHECK(ev->loss_and_gradient(params.data(), target.data(), g1.data()) ==
          ev->loss_and_gradient(dirty.data(), target.data(), g2.data()));
    CHECK(g1 == g2);
  }
}

TEST_CASE("vectorised sincos is accurate over the SIREN argument range") {
  // w0 = 200 puts first-layer arguments at up to a few hundred radians; test well past that.
  std::vector<float> x;
  for (int i = 0; i < 200000; ++i) x.push_back(-3000.0f + 6000.0f * static_cast<float>(i) / 200000.0f);
  for (float v : {0.0f, 1e-30f, -1e-7f, 0.785398f, 1.5707964f, 3.1415927f, 100.0f, -250.5f})
    for (int k = 0; k < 8; ++k) x.push_back(v);
  while (x.size() % 8) x.push_back(0.0f);
  std::vector<const cpu::KernelTable*> tables{&cpu::generic_kernels()};
  if (cpu::cpu_supports_avx2_fma()) tables.push_back(&cpu::avx2_kernels());
  for (const auto* k : tables) {
    std::vector<float> s(x.size()), c(x.size());
    k->sincos(x.data(), s.data(), c.data(), x.size());
    double worst = 0.0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      const double xd = x[i];
      worst = std::max({worst, std::fabs(s[i] - std::sin(xd)), std::fabs(c[i] - std::cos(xd))});
    }
    CAPTURE(k->name);
    // float's own spacing near 1 is 6e-8; the polynomials are within a few of those.
    CHECK(worst < 3e-7);
  }
}

TEST_CASE("CPU Hessian-vector product matches the reference, dense and sparse paths") {
  auto reference = make_reference_backend();
  for (double density : {1.0, 0.5, 0.1, 0.02}) {
    Architecture arch{2, 24, 3, 3, 200.0f};
    ParamLayout layout(arch);
    const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 31);
    auto params = siren_init(arch, 8);
    std::vector<float> v(params.size());
    Rng rng(4);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = rng.uniform(-1.0f, 1.0f) * (std::fabs(params[i]) + 1e-3f);
    const Grid grid{9, 7};
    auto target = test::synthetic_target(grid.rows, grid.cols);
    std::vector<float> rg(params.size()), rh(params.size());
    const double rloss = reference->make_evaluator(arch, mask, grid)
                             ->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
    for (auto kernels : kernel_variants()) {
      for (double sparse_below : {0.0, 1.01}) {
        CpuBackendOptions opt;
        opt.kernels = kernels;
        opt.sparse_below_density = sparse_below;
        opt.block_pixels = 16;
        auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
        std::vector<float> g(params.size()), h(params.size(), 7.0f);
        const double loss = ev->gradient_and_hvp(params.data(), v.data(), target.data(), g.data(), h.data());
        CAPTURE(density);
        CAPTURE(sparse_below);
        CHECK(std::fabs(loss - rloss) <= kOutputTolerance * rloss);
        CHECK(test::rel_max_err(g, rg) < kGradientTolerance);
        CHECK(test::rel_max_err(h, rh) < kGradientTolerance);
        for (std::size_t i = 0; i < mask.size(); ++i)
          if (!mask[i]) REQUIRE(h[i] == 0.0f);
      }
    }
  }
}

TEST_CASE("pixel subsets: loss over the chosen pixels, CPU and reference agree") {
  Architecture arch{2, 16, 2, 3, 200.0f};
  ParamLayout layout(arch);
  const Mask mask = test::random_mask(layout, 0.3, 2);
  auto params = siren_init(arch, 6);
  const Grid grid{11, 13};
  auto target = test::synthetic_target(grid.rows, grid.cols);
  std::vector<std::uint32_t> subset;
  for (std::uint32_t p = 0; p < grid.pixels(); p += 3) subset.push_back(p);
  std::vector<float> v(params.size(), 0.01f);
  auto ref = make_reference_backend()->make_evaluator(arch, mask, grid);
  CpuBackendOptions opt;
  opt.block_pixels = 16;
  auto cpu = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
  // The subset loss is the mean squared error of the rendered image over exactly those pixels.
  std::vector<float> out(grid.pixels() * 3);
  cpu->forward(params.data(), out.data());
  double sse = 0.0;
  for (std::uint32_t p : subset)
    for (int c = 0; c < 3; ++c) sse += std::pow(out[p * 3 + c] - target[p * 3 + c], 2);
  ref->set_pixel_subset(subset);
  cpu->set_pixel_subset(subset);
  std::vector<float> rg(params.size()), rh(params.size()), g(params.size()), h(params.size());
  const double rloss = ref->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
  const double loss = cpu->gradient_and_hvp(params.data(), v.data(), target.data(), g.data(), h.data());
  CHECK(loss == doctest::Approx(sse / (subset.size() * 3.0)).epsilon(1e-5));
  CHECK(rloss == doctest::Approx(loss).epsilon(1e-5));
  CHECK(test::rel_max_err(g, rg) < kGradientTolerance);
  CHECK(test::rel_max_err(h, rh) < kGradientTolerance);
  // Forward still renders the whole grid with a subset set.
  std::vector<float> out2(out.size());
  cpu->forward(params.data(), out2.data());
  CHECK(out2 == out);
  // Every pixel as the subset is the same as none.
  std::vector<std::uint32_t> all(grid.pixels());
  for (std::uint32_t p = 0; p < all.size(); ++p) all[p] = p;
  cpu->set_pixel_subset(all);
  const double l_all = cpu->loss(params.data(), target.data());
  cpu->set_pixel_subset({});
  CHECK(l_all == doctest::Approx(cpu->loss(params.data(), target.data())).epsilon(1e-6));
  CHECK_THROWS_AS(cpu->set_pixel_subset({static_cast<std::uint32_t>(grid.pixels())}), Error);
}

TEST_CASE("CPU backend matches the reference on a Fourier-feature network: output, gradient, HVP") {
  // Same tolerances as the SIREN: the encoding's phase reaches a few hundred radians at sigma 20,
  // which the backend reduces in double before its float sincos (see fourier_encode).
  auto reference = make_reference_backend();
  for (double density : {1.0, 0.5, 0.1, 0.02}) {
    const Architecture arch = test::ffn(24, 4, 12);
    ParamLayout layout(arch);
    CHECK(layout.layers().size() == 4u);  // 3 ReLU layers and the output; the encoding has no parameters
    CHECK(layout.layers().front().in == 24);
    const Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 41);
    auto params = siren_init(arch, 9);
    std::vector<float> v(params.size());
    Rng rng(6);
    for (std::size_t i = 0; i < v.size(); ++i) v[i] = rng.uniform(-1.0f, 1.0f) * (std::fabs(params[i]) + 1e-3f);
    const Grid grid{11, 9};
    auto target = test::synthetic_target(grid.rows, grid.cols);
    auto ref = reference->make_evaluator(arch, mask, grid);
    std::vector<float> ref_out(grid.pixels() * 3), rg(params.size()), rh(params.size());
    ref->forward(params.data(), ref_out.data());
    const double rloss = ref->gradient_and_hvp(params.data(), v.data(), target.data(), rg.data(), rh.data());
    for (auto kernels : kernel_variants()) {
      for (double sparse_below : {0.0, 1.01}) {
        CpuBackendOptions opt;
        opt.kernels = kernels;
        opt.sparse_below_density = sparse_below;
        opt.block_pixels = 16;
        auto ev = make_cpu_backend(opt)->make_evaluator(arch, mask, grid);
        std::vector<float> out(ref_out.size()), g(params.size(), 5.0f), g2(params.size()), h(params.size(), 7.0f);
        ev->forward(params.data(), out.data());
        const double loss = ev->gradient_and_hvp(params.data(), v.data(), target.data(), g.data(), h.data());
        CAPTURE(density);
        CAPTURE(static_cast<int>(kernels));
        CAPTURE(sparse_below);
        CHECK(test::rel_max_err(out, ref_out) < kOutputTolerance);
        CHECK(std::fabs(loss - rloss) <= kOutputTolerance * rloss);
        CHECK(test::rel_max_err(g, rg) < kGradientTolerance);
        CHECK(test::rel_max_err(h, rh) < kGradientTolerance);
        CHECK(ev->loss_and_gradient(params.data(), target.data(), g2.data()) == doctest::Approx(loss).epsilon(1e-6));
        CHECK(test::rel_max_err(g2, g) < 1e-6);
        for (std::size_t i = 0; i < mask.size(); ++i)
          if (!mask[i]) REQUIRE((g[i] == 0.0f && h[i] == 0.0f));
      }
    }
  }
}

namespace {

// A random out x in CSR matrix keeping about `density` of the entries, with row `empty_row` (if
// in range) keeping none, values scaled like a SIREN hidden layer's.
struct Csr {
  std::vector<int> row_ptr{0}, col;
  std::vector<float> val;
  std::vector<float> dense;  // out x in, zeros where not kept
};
Csr random_csr(int out, int in, double density, int empty_row, std::uint64_t seed) {
  Csr m;
  Rng rng(seed);
  m.dense.assign(static_cast<std::size_t>(out) * in, 0.0f);
  for (int o = 0; o < out; ++o) {
    for (int i = 0; i < in; ++i) {
      if (o == empty_row || rng.uniform01() >= density) continue;
      const float w = static_cast<float>((rng.uniform01() * 2.0 - 1.0) * std::sqrt(6.0 / in) / 30.0 * 3.0);
      m.col.push_back(i), m.val.push_back(w), m.dense[static_cast<std::size_t>(o) * in + i] = w;
    }
    m.row_ptr.push_back(static_cast<int>(m.col.size()));
  }
  return m;
}

// Rows (0, 1), (2, 3), ... of m over the union of their columns, zeros where a row keeps none.
void pair_up(const Csr& m, int in, int pairs, std::vector<int>& ptr, std::vector<int>& col, std::vector<float>& val2) {
  ptr.assign(1, 0);
  for (int j = 0; j < pairs; ++j) {
    for (int i = 0; i < in; ++i) {
      const float a = m.dense[static_cast<std::size_t>(2 * j) * in + i], b = m.dense[static_cast<std::size_t>(2 * j + 1) * in + i];
      if (a == 0.0f && b == 0.0f) continue;
      col.push_back(i), val2.push_back(a), val2.push_back(b);
    }
    ptr.push_back(static_cast<int>(col.size()));
  }
}

std::vector<const cpu::KernelTable*> kernel_tables() {
  std::vector<const cpu::KernelTable*> t{&cpu::generic_kernels()};
  if (cpu::cpu_supports_avx2_fma()) t.push_back(&cpu::avx2_kernels());
  return t;
}

}  // namespace

// Rendering must give the training path's forward values exactly (the encoder measures what the
// decoder will show through either), so the fused kernels are compared bit for bit with csr_rows
// followed by bias_sincos (or + bias), within each instruction set.
TEST_CASE("rendering kernels: csr_bias_sine and pair_bias_sine equal csr_rows + bias_sincos bit for bit") {
  for (const cpu::KernelTable* k : kernel_tables()) {
    for (int in : {2, 17, 48}) {
      for (double density : {1.0, 0.8, 0.3}) {
        for (int ld : {8, 40, 64, 136}) {  // tails only, 64-pixel slices only, and both
          const int out = 11;                // odd: five pairs and a single row
          const Csr m = random_csr(out, in, density, 4, static_cast<std::uint64_t>(in * 1000 + ld));
          Rng rng(7);
          std::vector<float> A(static_cast<std::size_t>(in) * ld), bias(static_cast<std::size_t>(out));
          for (float& a : A) a = static_cast<float>(rng.uniform01() * 2.0 - 1.0);
          for (float& b : bias) b = static_cast<float>(rng.uniform01() - 0.5);
          std::vector<int> pptr, pcol;
          std::vector<float> pval;
          pair_up(m, in, out / 2, pptr, pcol, pval);
          for (bool sine : {true, false}) {
            const float w0 = 30.0f;
            std::vector<float> expect(static_cast<std::size_t>(out) * ld);
            k->csr_rows(out, m.row_ptr.data(), m.col.data(), m.val.data(), A.data(), expect.data(), ld, false);
            if (sine) {
              k->bias_sincos(out, bias.data(), w0, expect.data(), expect.data(), nullptr, ld);
            } else {
              for (int o = 0; o < out; ++o)
                for (int p = 0; p < ld; ++p) expect[static_cast<std::size_t>(o) * ld + p] += bias[static_cast<std::size_t>(o)];
            }
            std::vector<float> fused(expect.size(), -7.0f), paired(expect.size(), -7.0f);
            k->csr_bias_sine(out, m.row_ptr.data(), m.col.data(), m.val.data(), bias.data(), w0, sine, A.data(), fused.data(),
                             ld);
            k->pair_bias_sine(out / 2, pptr.data(), pcol.data(), pval.data(), bias.data(), w0, sine, A.data(), paired.data(),
                              ld);
            const std::size_t last = static_cast<std::size_t>(out - 1) * ld;  // the unpaired row, through csr_bias_sine
            k->csr_bias_sine(1, m.row_ptr.data() + out - 1, m.col.data(), m.val.data(), bias.data() + out - 1, w0, sine,
                             A.data(), paired.data() + last, ld);
            CAPTURE(k->name);
            CAPTURE(in);
            CAPTURE(density);
            CAPTURE(ld);
            CAPTURE(sine);
            CHECK(std::memcmp(fused.data(), expect.data(), expect.size() * sizeof(float)) == 0);
            CHECK(std::memcmp(paired.data(), expect.data(), expect.size() * sizeof(float)) == 0);
          }
        }
      }
    }
  }
}

// The AVX2 variant fuses each multiply-add (one rounding), the generic one rounds twice, so they
// differ by rounding only: measured worst case 1.9e-6 (sine outputs, w0 30, 48 inputs) and 8.5e-8
// relative (linear); the bounds leave 15x and more, far below what a wrong index or weight gives.
TEST_CASE("rendering kernels: the AVX2 variant matches the generic one within rounding") {
  if (!cpu::cpu_supports_avx2_fma()) return;
  const cpu::KernelTable& g = cpu::generic_kernels();
  const cpu::KernelTable& v = cpu::avx2_kernels();
  const int out = 48, in = 48, ld = 136;
  const Csr m = random_csr(out, in, 0.8, 5, 11);
  Rng rng(3);
  std::vector<float> A(static_cast<std::size_t>(in) * ld), bias(static_cast<std::size_t>(out));
  for (float& a : A) a = static_cast<float>(std::sin(rng.uniform01() * 6.0));
  for (float& b : bias) b = static_cast<float>(rng.uniform01() - 0.5);
  for (bool sine : {true, false}) {
    std::vector<float> sg(static_cast<std::size_t>(out) * ld), sv(sg.size());
    g.csr_bias_sine(out, m.row_ptr.data(), m.col.data(), m.val.data(), bias.data(), 30.0f, sine, A.data(), sg.data(), ld);
    v.csr_bias_sine(out, m.row_ptr.data(), m.col.data(), m.val.data(), bias.data(), 30.0f, sine, A.data(), sv.data(), ld);
    CAPTURE(sine);
    CHECK(test::rel_max_err(sv, sg) < (sine ? 3e-5 : 2e-6));
    CHECK(test::rel_max_err(sv, sg) > 0.0);  // the variants really differ in rounding: the comparison is not vacuous
  }
}

TEST_CASE("CPU forward (fused rendering) equals the training path's sparse products bit for bit and the reference within tolerance") {
  auto reference = make_reference_backend();
  for (auto kernels : kernel_variants()) {
    for (int width : {16, 48}) {
      for (double density : {1.0, 0.8, 0.3}) {
        Architecture arch{2, width, 3, 3, 30.0f};
        ParamLayout layout(arch);
        Mask mask = density == 1.0 ? dense_mask(layout) : test::random_mask(layout, density, 17 + width);
        // One hidden row with no weights at all, as pruning leaves some: it must render as sin(w0 b).
        const LayerView& h = layout.layers()[1];
        for (int i = 0; i < h.in; ++i) mask[h.weight_offset + static_cast<std::size_t>(3) * h.in + i] = 0;
        auto params = siren_init(arch, 5);
        const Grid grid{13, 15};  // 195 pixels: three full 64-pixel blocks and a 3-pixel tail
        std::vector<float> fused(grid.pixels() * 3), csr(fused.size()), dense(fused.size()), ref(fused.size());
        CpuBackendOptions opt;
        opt.kernels = kernels;
        make_cpu_backend(opt)->make_evaluator(arch, mask, grid)->forward(params.data(), fused.data());
        opt.fused_forward = false;
        opt.sparse_below_density = 1.01;  // every layer through csr_rows + bias_sincos
        make_cpu_backend(opt)->make_evaluator(arch, mask, grid)->forward(params.data(), csr.data());
        opt.sparse_below_density = 0.0;  // every layer through sgemm, whose summation order is OpenBLAS's own
        make_cpu_backend(opt)->make_evaluator(arch, mask, grid)->forward(params.data(), dense.data());
        reference->make_evaluator(arch, mask, grid)->forward(params.data(), ref.data());
        CAPTURE(static_cast<int>(kernels));
        CAPTURE(width);
        CAPTURE(density);
        CHECK(std::memcmp(fused.data(), csr.data(), fused.size() * sizeof(float)) == 0);
        CHECK(test::rel_max_err(fused, dense) < kOutputTolerance);
        CHECK(test::rel_max_err(fused, ref) < kOutputTolerance);
      }
    }
  }
}
