#include "msinr/architecture.hpp"

#include <cmath>
#include <cstdio>
#include <string>

#include "msinr/error.hpp"
#include "msinr/siren.hpp"

namespace msinr {

void Architecture::validate() const {
  auto in_range = [](int v) { return v >= 1 && v <= 4096; };
  if (!in_range(in_features) || !in_range(hidden_width) || !in_range(out_features) || hidden_layers < 1 ||
      hidden_layers > 64 || !(w0 > 0.0f) || !std::isfinite(w0) || !(w0_hidden >= 0.0f) ||
      !std::isfinite(w0_hidden)) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid architecture: in=" + std::to_string(in_features) + " width=" + std::to_string(hidden_width) +
                    " layers=" + std::to_string(hidden_layers) + " out=" + std::to_string(out_features) +
                    " w0=" + std::to_string(w0) + " w0_hidden=" + std::to_string(w0_hidden));
  }
  if (network == Network::kFourier &&
      (hidden_layers < 2 || !in_range(fourier_features) || !(fourier_sigma > 0.0f) || !std::isfinite(fourier_sigma) ||
       in_features != 2)) {
    throw Error(ErrorCode::kInvalidArgument,
                "invalid Fourier-feature network: it needs 2 inputs, >= 2 hidden layers (the encoding is the first), "
                "1..4096 features and sigma > 0 (layers=" + std::to_string(hidden_layers) + " features=" +
                    std::to_string(fourier_features) + " sigma=" + std::to_string(fourier_sigma) + ")");
  }
}

std::string Architecture::describe() const {
  char buf[160];
  if (network == Network::kFourier)
    std::snprintf(buf, sizeof buf, "FFN %d-%dx%d-%d, %d Fourier features, sigma %g", in_features, hidden_width,
                  hidden_layers, out_features, fourier_features, static_cast<double>(fourier_sigma));
  else if (hidden_w0() != w0)
    std::snprintf(buf, sizeof buf, "SIREN %d-%dx%d-%d, w0 %g (hidden %g)", in_features, hidden_width, hidden_layers,
                  out_features, static_cast<double>(w0), static_cast<double>(hidden_w0()));
  else
    std::snprintf(buf, sizeof buf, "SIREN %d-%dx%d-%d, w0 %g", in_features, hidden_width, hidden_layers, out_features,
                  static_cast<double>(w0));
  return buf;
}

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::kSine: return "sine";
    case Activation::kRelu: return "relu";
    case Activation::kLinear: return "linear";
  }
  return "?";
}

std::vector<float> fourier_matrix(const Architecture& arch) {
  if (arch.network != Network::kFourier) return {};
  arch.validate();
  std::vector<float> b(static_cast<std::size_t>(arch.fourier_features) * 2);
  Rng rng(0x46464e2d42ull);  // "FFN-B": fixed, so B is part of the architecture, not of a model
  constexpr double kTwoPi = 6.283185307179586;
  for (std::size_t i = 0; i < b.size(); i += 2) {
    // Box-Muller; 1 - u keeps the logarithm's argument in (0, 1].
    const double u1 = 1.0 - rng.uniform01(), u2 = rng.uniform01();
    const double r = std::sqrt(-2.0 * std::log(u1));
    b[i] = static_cast<float>(arch.fourier_sigma * r * std::cos(kTwoPi * u2));
    b[i + 1] = static_cast<float>(arch.fourier_sigma * r * std::sin(kTwoPi * u2));
  }
  return b;
}

ParamLayout::ParamLayout(const Architecture& arch) : arch_(arch) {
  arch.validate();
  std::size_t offset = 0;
  const bool ffn = arch.network == Network::kFourier;
  for (int l = 0; l < arch.layer_count(); ++l) {
    LayerView v;
    const bool last = l == arch.layer_count() - 1;
    v.in = l == 0 ? arch.input_width() : arch.hidden_width;
    v.out = last ? arch.out_features : arch.hidden_width;
    v.activation = last ? Activation::kLinear : ffn ? Activation::kRelu : Activation::kSine;
    if (v.is_sine()) v.w0 = l == 0 ? arch.w0 : arch.hidden_w0();
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
