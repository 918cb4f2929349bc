#pragma once
// The network msinr fits: a SIREN (Sitzmann et al. 2020) mapping a pixel's (row, col) coordinate
// to its colour, and the flat parameter vector every backend, optimizer and file format shares.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace msinr {

struct Architecture {
  int in_features = 2;     // (row, col) coordinate
  int hidden_width = 256;  // neurons per sine layer
  int hidden_layers = 4;   // sine layers y = sin(w0 * (W x + b)); a linear layer follows
  int out_features = 3;    // RGB
  float w0 = 200.0f;       // frequency factor of every sine layer (Tancik et al. 2021 use 200)

  // Throws msinr::Error(kInvalidArgument) for sizes outside [1, 4096] or a non-positive w0.
  void validate() const;
  int layer_count() const { return hidden_layers + 1; }
  bool operator==(const Architecture&) const = default;
};

// Where one layer's weights (out x in, row-major, as in PyTorch's nn.Linear) and bias live
// inside the flat parameter vector. Layers are stored in order as [W0, b0, W1, b1, ...].
struct LayerView {
  int in = 0;
  int out = 0;
  std::size_t weight_offset = 0;
  std::size_t bias_offset = 0;
  bool sine = true;  // false for the final linear layer
  std::size_t weight_count() const { return static_cast<std::size_t>(in) * out; }
};

class ParamLayout {
 public:
  explicit ParamLayout(const Architecture& arch);
  const Architecture& arch() const { return arch_; }
  const std::vector<LayerView>& layers() const { return layers_; }
  std::size_t param_count() const { return param_count_; }
  // Weights only (biases excluded): 197,888 for the default network.
  std::size_t weight_count() const { return weight_count_; }
  // Per parameter: true for a weight (prunable), false for a bias (never pruned).
  const std::vector<std::uint8_t>& weight_flags() const { return is_weight_; }

 private:
  Architecture arch_;
  std::vector<LayerView> layers_;
  std::size_t param_count_ = 0;
  std::size_t weight_count_ = 0;
  std::vector<std::uint8_t> is_weight_;
};

}  // namespace msinr
