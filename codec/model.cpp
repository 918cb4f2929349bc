#include "codec/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "format/file_io.hpp"
#include "msinr/error.hpp"
#include "msinr/mask.hpp"

namespace msinr::codec {

const MetaLevel& Model::level(int index) const {
  std::string have;
  for (const auto& l : levels) {
    if (l.index == index) return l;
    have += (have.empty() ? "" : ", ") + std::to_string(l.index);
  }
  throw Error(ErrorCode::kInvalidArgument,
              "the model has no level " + std::to_string(index) + " (levels: " + have + ")");
}

int Model::default_level() const {
  for (const auto& [key, value] : provenance.notes)
    if (key == "default_level") {
      const int l = std::atoi(value.c_str());
      for (const auto& lv : levels)
        if (lv.index == l) return l;
    }
  if (levels.empty()) throw Error(ErrorCode::kInvalidArgument, "the model has no levels");
  return levels.back().index;
}

int Model::level_for_quality(int quality) const {
  if (levels.empty()) throw Error(ErrorCode::kInvalidArgument, "the model has no levels");
  if (quality < 0 || quality > 100) throw Error(ErrorCode::kInvalidArgument, "quality must be 0..100");
  ParamLayout layout(arch);
  struct Choice {
    std::size_t weights;
    float psnr;
    int index;
  };
  std::vector<Choice> by_size;  // densest first
  bool measured = val_psnr.size() == levels.size();
  for (std::size_t i = 0; i < levels.size(); ++i) {
    const float p = measured ? val_psnr[i] : 0.0f;
    measured = measured && p > 0.0f && std::isfinite(p);
    by_size.push_back({kept_weights(layout, levels[i].mask), p, levels[i].index});
  }
  std::sort(by_size.begin(), by_size.end(), [](const Choice& a, const Choice& b) { return a.weights > b.weights; });
  const double q = quality / 100.0;
  if (measured && by_size.front().psnr > by_size.back().psnr) {
    const double want = by_size.back().psnr + q * (by_size.front().psnr - by_size.back().psnr);
    const Choice* best = &by_size.front();
    for (const Choice& c : by_size)
      if (std::abs(c.psnr - want) < std::abs(best->psnr - want)) best = &c;
    return best->index;
  }
  const double pos = (1.0 - q) * static_cast<double>(by_size.size() - 1);
  return by_size[static_cast<std::size_t>(std::lround(pos))].index;
}

float fallback_fit_lr(double density, Network network, float w0) {
  // Low-frequency SIRENs (the codec's networks, w0 ~30) are far less sharp: the model search
  // measured 3e-3 best at every width from 12 to 48 (docs/model-search/).
  if (network == Network::kSiren && w0 < 100.0f) return 3e-3f;
  const float scale = network == Network::kFourier ? 10.0f : 1.0f;
  return scale * (density >= 0.25 ? 1e-4f : 1e-3f);
}

std::string format_fit_lrs(const std::vector<std::pair<int, float>>& lrs) {
  std::string out;
  for (const auto& [level, lr] : lrs) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%s%d:%g", out.empty() ? "" : ",", level, static_cast<double>(lr));
    out += buf;
  }
  return out;
}

float Model::fit_lr(int level_index) const {
  const MetaLevel& l = level(level_index);
  for (const auto& [key, value] : provenance.notes) {
    if (key != "fit_lr") continue;
    // A malformed note (the model file's provenance is not trusted input for control flow) falls
    // through to the density rule rather than failing the encode.
    std::size_t pos = 0;
    while (pos < value.size()) {
      const std::size_t end = std::min(value.find(',', pos), value.size());
      const std::string item = value.substr(pos, end - pos);
      const std::size_t colon = item.find(':');
      if (colon != std::string::npos && std::atoi(item.substr(0, colon).c_str()) == level_index) {
        const float lr = std::strtof(item.c_str() + colon + 1, nullptr);
        if (lr > 0.0f && lr < 1.0f) return lr;
      }
      pos = end + 1;
    }
  }
  const double density = static_cast<double>(kept_weights(ParamLayout(arch), l.mask)) /
                         static_cast<double>(ParamLayout(arch).weight_count());
  return fallback_fit_lr(density, arch.network, arch.w0);
}

std::vector<std::uint32_t> stored_indices(const Model& model, const MetaLevel& level) {
  const ParamLayout layout(model.arch);
  const auto& is_weight = layout.weight_flags();
  std::vector<std::uint32_t> idx;
  for (std::size_t i = 0; i < level.mask.size(); ++i)
    if (is_weight[i] && level.mask[i]) idx.push_back(static_cast<std::uint32_t>(i));
  if (!model.frozen_biases)
    for (std::size_t i = 0; i < level.mask.size(); ++i)
      if (!is_weight[i]) idx.push_back(static_cast<std::uint32_t>(i));
  return idx;
}

std::size_t values_per_tile(const Model& model, const MetaLevel& level) {
  const ParamLayout layout(model.arch);
  return kept_weights(layout, level.mask) + (model.frozen_biases ? 0 : layout.param_count() - layout.weight_count());
}

Frozen frozen_params(const Model& model) { return model.frozen_biases ? bias_flags(ParamLayout(model.arch)) : Frozen{}; }

format::ModelFile to_model_file(const Model& model) {
  format::ModelFile f;
  f.arch = model.arch.network == Network::kFourier ? "ffn" : "siren";
  if (model.arch.network == Network::kFourier) {
    f.fourier_features = static_cast<std::uint32_t>(model.arch.fourier_features);
    f.fourier_sigma = model.arch.fourier_sigma;
  }
  f.in_features = static_cast<std::uint32_t>(model.arch.in_features);
  f.hidden_width = static_cast<std::uint32_t>(model.arch.hidden_width);
  f.hidden_layers = static_cast<std::uint32_t>(model.arch.hidden_layers);
  f.out_features = static_cast<std::uint32_t>(model.arch.out_features);
  f.w0 = model.arch.w0;
  // Stored only when it differs, so a model whose layers share one w0 is written (and identified)
  // exactly as before the field existed.
  f.w0_hidden = model.arch.hidden_w0() != model.arch.w0 ? model.arch.hidden_w0() : 0.0f;
  f.tile_size = static_cast<std::uint32_t>(model.tile_size);
  f.frozen_biases = model.frozen_biases;
  for (std::size_t i = 0; i < model.levels.size(); ++i) {
    format::ModelLevel l;
    l.index = static_cast<std::uint32_t>(model.levels[i].index);
    l.mask = model.levels[i].mask;
    l.init = model.levels[i].init;
    l.val_psnr = i < model.val_psnr.size() ? model.val_psnr[i] : 0.0f;
    f.levels.push_back(std::move(l));
  }
  f.provenance = model.provenance;
  return f;
}

Model from_model_file(const format::ModelFile& f) {
  if (f.arch != "siren" && f.arch != "ffn")
    throw Error(ErrorCode::kUnsupported, "model architecture '" + f.arch + "' is not supported");
  // The format allows any feature counts; the image codec's buffers are (x, y) in and RGB out, so any
  // other count would make the backends read or write past them.
  if (f.in_features != 2 || f.out_features != 3)
    throw Error(ErrorCode::kUnsupported, "the model maps " + std::to_string(f.in_features) + " inputs to " +
                                             std::to_string(f.out_features) +
                                             " outputs; an image model maps 2 (x, y) to 3 (RGB)");
  Model m;
  m.arch = Architecture{static_cast<int>(f.in_features), static_cast<int>(f.hidden_width),
                        static_cast<int>(f.hidden_layers), static_cast<int>(f.out_features), f.w0};
  m.arch.w0_hidden = f.w0_hidden;
  if (f.arch == "ffn") {
    m.arch.network = Network::kFourier;
    m.arch.fourier_features = static_cast<int>(f.fourier_features);
    m.arch.fourier_sigma = f.fourier_sigma;
  }
  ParamLayout layout(m.arch);  // validates the architecture
  if (layout.param_count() != f.param_count && f.param_count != 0)
    throw Error(ErrorCode::kCorrupt, "model parameter count does not match its architecture");
  m.tile_size = static_cast<int>(f.tile_size);
  m.frozen_biases = f.frozen_biases;
  for (const auto& l : f.levels) {
    if (l.mask.size() != layout.param_count() || l.init.size() != layout.param_count())
      throw Error(ErrorCode::kCorrupt, "model level " + std::to_string(l.index) + " does not match the architecture");
    MetaLevel lv{static_cast<int>(l.index), l.mask, l.init};
    check_mask(layout, lv.mask);  // biases must be kept
    m.levels.push_back(std::move(lv));
    m.val_psnr.push_back(l.val_psnr);
  }
  m.provenance = f.provenance;
  m.id = f.model_id;
  return m;
}

Model load_model_from_memory(const std::uint8_t* data, std::size_t size, const std::string& name) {
  try {
    return from_model_file(format::read_model_file(std::span<const std::uint8_t>(data, size)));
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, name);
  } catch (const Error& e) {
    throw Error(e.code(), name + ": " + e.what());
  }
}

Model load_model(const std::string& path) {
  const std::vector<std::uint8_t> bytes = format::read_msinr_file(path);  // reads what the header declares, never more
  return load_model_from_memory(bytes.data(), bytes.size(), path);
}

Model save_model(const Model& model, const std::string& path) {
  try {
    const auto bytes = format::write_model_file(to_model_file(model));
    format::write_file_atomic(path, bytes);
    return load_model_from_memory(bytes.data(), bytes.size(), path);
  } catch (const format::FormatError& e) {
    rethrow_format_error(e, path);
  }
}

}  // namespace msinr::codec
