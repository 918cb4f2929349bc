#include "msinr/architecture.hpp"

#include <cmath>
#include <string>

#include "msinr/error.hpp"

namespace msinr {

void Architecture::validate() const {
  auto in_range = [](int v) { return v >= 1 && v <= 4096; };
  if (!in_range(in_features) || !in_range(hidden_width) || !in_range(out_features) || hidden_layers < 1 ||
      hidden_layers > 64 || !(w0 > 0.0f) || !std::isfinite(w0)) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid architecture: in=" + std::to_string(in_features) + " width=" + std::to_string(hidden_width) +
                    " layers=" + std::to_string(hidden_layers) + " out=" + std::to_string(out_features) +
                    " w0=" + std::to_string(w0));
  }
}

ParamLayout::ParamLayout(const Architecture& arch) : arch_(arch) {
  arch.validate();
  std::size_t offset = 0;
  for (int l = 0; l < arch.layer_count(); ++l) {
    LayerView v;
    v.in = l == 0 ? arch.in_features : arch.hidden_width;
    v.out = l == arch.hidden_layers ? arch.out_features : arch.hidden_width;
    v.sine = l < arch.hidden_layers;
    v.weight_offset = offset;
    offset += v.weight_count();
    v.bias_offset = offset;
    offset += static_cast<std::size_t>(v.out);
    weight_count_ += v.weight_count();
    layers_.push_back(v);
  }
  param_count_ = offset;
  is_weight_.assign(param_count_, 0);
  for (const auto& v : layers_)
    for (std::size_t i = 0; i < v.weight_count(); ++i) is_weight_[v.weight_offset + i] = 1;
}

}  // namespace msinr
