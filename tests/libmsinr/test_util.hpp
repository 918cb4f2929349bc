#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include "msinr/architecture.hpp"
#include "msinr/mask.hpp"
#include "msinr/siren.hpp"

namespace msinr::test {

// A random mask keeping about `density` of the weights (biases always), reproducible by seed.
inline Mask random_mask(const ParamLayout& layout, double density, std::uint64_t seed) {
  Mask m = dense_mask(layout);
  Rng rng(seed);
  const auto& w = layout.weight_flags();
  for (std::size_t i = 0; i < m.size(); ++i)
    if (w[i]) m[i] = rng.uniform01() < density ? 1 : 0;
  return m;
}

// A smooth synthetic RGB target in [0, 1] for a rows x cols grid, pixel-major.
inline std::vector<float> synthetic_target(int rows, int cols, int channels = 3) {
  std::vector<float> t(static_cast<std::size_t>(rows) * cols * channels);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c)
      for (int k = 0; k < channels; ++k)
        t[(static_cast<std::size_t>(r) * cols + c) * channels + k] =
            0.5f + 0.4f * std::sin(0.3f * r + 0.2f * c * (k + 1) + k);
  return t;
}

// max |a - b| / max |b|: an error relative to the scale of the reference values.
inline double rel_max_err(const std::vector<float>& a, const std::vector<float>& b) {
  double num = 0.0, den = 1e-30;
  for (std::size_t i = 0; i < a.size(); ++i) {
    num = std::max(num, std::fabs(static_cast<double>(a[i]) - b[i]));
    den = std::max(den, std::fabs(static_cast<double>(b[i])));
  }
  return num / den;
}

// A Fourier-feature network (the paper's appendix B) of the given size: `features` Gaussian
// frequencies at sigma 20, then layers - 1 ReLU layers of `width` and a linear layer.
inline Architecture ffn(int width, int layers, int features) {
  Architecture a{2, width, layers, 3, 30.0f};
  a.network = Network::kFourier;
  a.fourier_features = features;
  a.fourier_sigma = 20.0f;
  return a;
}

}  // namespace msinr::test
