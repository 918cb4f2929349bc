#include <cmath>

#include "msinr/siren.hpp"

namespace msinr {

std::vector<float> siren_init(const Architecture& arch, std::uint64_t seed) {
  ParamLayout layout(arch);
  std::vector<float> params(layout.param_count());
  Rng rng(seed);
  for (std::size_t l = 0; l < layout.layers().size(); ++l) {
    const LayerView& v = layout.layers()[l];
    // FFN layers: PyTorch's nn.Linear default, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as Tancik et al.
    const float bound = arch.network == Network::kFourier ? static_cast<float>(1.0 / std::sqrt(v.in))
                        : l == 0 ? 1.0f / static_cast<float>(v.in)
                                 : static_cast<float>(std::sqrt(6.0 / v.in) / arch.hidden_w0());
    for (std::size_t i = 0; i < v.weight_count(); ++i) params[v.weight_offset + i] = rng.uniform(-bound, bound);
    for (int i = 0; i < v.out; ++i) params[v.bias_offset + i] = rng.uniform(-bound, bound);
  }
  return params;
}

}  // namespace msinr
