#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "msinr/architecture.hpp"
#include "msinr/error.hpp"
#include "msinr/siren.hpp"

using namespace msinr;

TEST_CASE("default SIREN has the paper's parameter counts") {
  ParamLayout layout{Architecture{}};
  CHECK(layout.weight_count() == 197888u);  // 2*256 + 3*256*256 + 256*3
  CHECK(layout.param_count() == 197888u + 4 * 256 + 3);
  REQUIRE(layout.layers().size() == 5);
  CHECK(layout.layers()[0].in == 2);
  CHECK(layout.layers()[4].out == 3);
  CHECK_FALSE(layout.layers()[4].is_sine());
  // Layers are packed [W0, b0, W1, b1, ...] with no gaps.
  std::size_t expected = 0;
  for (const auto& v : layout.layers()) {
    CHECK(v.weight_offset == expected);
    CHECK(v.bias_offset == expected + v.weight_count());
    expected = v.bias_offset + static_cast<std::size_t>(v.out);
  }
  CHECK(expected == layout.param_count());
}

TEST_CASE("invalid architectures are refused") {
  Architecture a;
  a.hidden_width = 0;
  CHECK_THROWS_AS(ParamLayout{a}, Error);
  a = {};
  a.w0 = -1.0f;
  CHECK_THROWS_AS(ParamLayout{a}, Error);
}

TEST_CASE("SIREN init respects the contract's bounds and uses them") {
  Architecture arch;
  ParamLayout layout(arch);
  auto p = siren_init(arch, 7);
  REQUIRE(p.size() == layout.param_count());
  for (std::size_t l = 0; l < layout.layers().size(); ++l) {
    const auto& v = layout.layers()[l];
    const double bound = l == 0 ? 1.0 / v.in : std::sqrt(6.0 / v.in) / arch.w0;
    double max_abs = 0.0, sum = 0.0;
    const std::size_t n = v.weight_count() + static_cast<std::size_t>(v.out);
    for (std::size_t i = v.weight_offset; i < v.weight_offset + n; ++i) {
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(p[i])));
      sum += p[i];
    }
    CAPTURE(l);
    CHECK(max_abs <= bound);
    CHECK(max_abs >= 0.95 * bound);                  // the range is actually filled
    CHECK(std::fabs(sum / n) <= 0.1 * bound);       // and centred
  }
  CHECK(siren_init(arch, 7) == p);   // deterministic
  CHECK(siren_init(arch, 8) != p);   // seed matters
}

TEST_CASE("coordinate grid is linspace(-1, 1, n) per axis with both ends included") {
  Grid g{5, 3};
  CHECK(g.row_coord(0) == -1.0f);
  CHECK(g.row_coord(4) == 1.0f);
  CHECK(g.row_coord(2) == 0.0f);
  CHECK(g.row_coord(1) == doctest::Approx(-0.5));
  CHECK(g.col_coord(0) == -1.0f);
  CHECK(g.col_coord(1) == 0.0f);
  CHECK(g.col_coord(2) == 1.0f);
  Grid big{178, 178};
  CHECK(big.row_coord(177) == 1.0f);
  CHECK(big.col_coord(89) == doctest::Approx(-1.0 + 2.0 * 89 / 177));
  Grid one{1, 1};
  CHECK(one.row_coord(0) == 0.0f);  // documented: a one-pixel axis sits at the midpoint
  Grid sub{3, 3, 0.0f, 1.0f, -1.0f, 0.0f};
  CHECK(sub.row_coord(1) == 0.5f);
  CHECK(sub.col_coord(2) == 0.0f);
}

TEST_CASE("Rng is uniform and reproducible") {
  Rng a(1), b(1);
  double sum = 0;
  for (int i = 0; i < 10000; ++i) {
    const float u = a.uniform01();
    CHECK(u == b.uniform01());
    REQUIRE(u >= 0.0f);
    REQUIRE(u < 1.0f);
    sum += u;
  }
  CHECK(sum / 10000 == doctest::Approx(0.5).epsilon(0.02));
}

TEST_CASE("the paper's FFN (appendix B): layout, fixed Gaussian encoding, init") {
  Architecture arch;
  arch.network = Network::kFourier;
  arch.fourier_features = 128;
  arch.fourier_sigma = 20.0f;
  ParamLayout layout(arch);
  // The encoding (first hidden layer) has no parameters; 3 ReLU layers of 256 and the output follow.
  REQUIRE(layout.layers().size() == 4);
  CHECK(layout.weight_count() == 197376u);  // 3*256*256 + 256*3
  CHECK(layout.param_count() == 197376u + 3 * 256 + 3);
  CHECK(layout.layers()[0].in == 256);
  CHECK(layout.layers()[0].is_relu());
  CHECK_FALSE(layout.layers()[0].is_sine());
  CHECK_FALSE(layout.layers()[3].is_relu());
  CHECK(arch.describe() == "FFN 2-256x4-3, 128 Fourier features, sigma 20");
  CHECK(Architecture{}.describe() == "SIREN 2-256x4-3, w0 200");

  // B: deterministic, N(0, sigma^2) entries. With 4096 samples the sample mean is within 4 standard
  // errors (4 * 20 / 64 = 1.25) of 0 and the sample deviation within 5% of sigma.
  arch.fourier_features = 2048;
  const auto b = fourier_matrix(arch);
  REQUIRE(b.size() == 4096u);
  CHECK(fourier_matrix(arch) == b);
  double sum = 0.0, sq = 0.0;
  for (float x : b) sum += x, sq += static_cast<double>(x) * x;
  const double mean = sum / b.size(), sd = std::sqrt(sq / b.size() - mean * mean);
  CHECK(std::fabs(mean) < 1.25);
  CHECK(sd == doctest::Approx(20.0).epsilon(0.05));
  CHECK(fourier_matrix(Architecture{}).empty());

  // Init: nn.Linear's U(-1/sqrt(fan_in), 1/sqrt(fan_in)) per layer, reaching near its bound.
  arch.fourier_features = 128;
  const auto p = siren_init(arch, 3);
  for (const auto& v : layout.layers()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(v.in));
    double max_abs = 0.0;
    for (std::size_t i = v.weight_offset; i < v.bias_offset + static_cast<std::size_t>(v.out); ++i)
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(p[i])));
    CHECK(max_abs <= bound);
    CHECK(max_abs > 0.9 * bound);
  }

  // Invalid FFNs: one hidden layer (only the encoding), no features, sigma <= 0.
  Architecture bad = arch;
  bad.hidden_layers = 1;
  CHECK_THROWS_AS(ParamLayout{bad}, Error);
  bad = arch;
  bad.fourier_features = 0;
  CHECK_THROWS_AS(ParamLayout{bad}, Error);
  bad = arch;
  bad.fourier_sigma = 0.0f;
  CHECK_THROWS_AS(ParamLayout{bad}, Error);
}

TEST_CASE("first and hidden w0: each sine layer carries its own, the init follows the hidden one") {
  Architecture arch{2, 16, 3, 3, 30.0f};
  arch.w0_hidden = 12.0f;
  const ParamLayout layout(arch);
  REQUIRE(layout.layers().size() == 4);
  CHECK(layout.layers()[0].w0 == 30.0f);
  CHECK(layout.layers()[1].w0 == 12.0f);
  CHECK(layout.layers()[2].w0 == 12.0f);
  CHECK(layout.layers()[3].activation == Activation::kLinear);
  CHECK(arch.describe() == "SIREN 2-16x3-3, w0 30 (hidden 12)");
  // Unset (0) means the same as w0: every model written before the split.
  Architecture same{2, 16, 3, 3, 30.0f};
  CHECK(same.hidden_w0() == 30.0f);
  CHECK(ParamLayout(same).layers()[2].w0 == 30.0f);
  const auto p = siren_init(arch, 1);
  const auto& hidden = layout.layers()[1];
  double max_abs = 0.0;
  for (std::size_t i = 0; i < hidden.weight_count(); ++i)
    max_abs = std::max(max_abs, std::fabs(static_cast<double>(p[hidden.weight_offset + i])));
  CHECK(max_abs <= std::sqrt(6.0 / 16) / 12.0);
  CHECK(max_abs >= 0.9 * std::sqrt(6.0 / 16) / 12.0);
  arch.w0_hidden = -1.0f;
  CHECK_THROWS_AS(ParamLayout{arch}, Error);
}
