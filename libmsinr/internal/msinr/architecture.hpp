#pragma once
// The network msinr fits: a SIREN (Sitzmann et al. 2020) mapping a pixel's (row, col) coordinate
// to its colour, or the Fourier-feature network of the paper's appendix B (Tancik et al. 2020), and
// the flat parameter vector every backend, optimizer and file format shares.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace msinr {

enum class Network {
  kSiren,    // hidden_layers sine layers y = sin(w0 (W x + b)), then a linear layer
  kFourier,  // "ffn": a fixed Gaussian Fourier encoding [sin, cos](pi B (x + 1)) of the coordinate
             // (B: fourier_features x 2, entries N(0, sigma^2), never trained, not in the parameter
             // vector), counted as the first hidden layer, then hidden_layers - 1 ReLU layers and a
             // linear layer. Only the layers after the encoding are trained and pruned.
};

struct Architecture {
  int in_features = 2;     // (row, col) coordinate
  int hidden_width = 256;  // neurons per sine layer
  int hidden_layers = 4;   // sine layers y = sin(w0 * (W x + b)); a linear layer follows
  int out_features = 3;    // RGB
  float w0 = 200.0f;       // frequency factor of the first sine layer (Tancik et al. 2021 use 200)
  // Frequency factor of the sine layers after the first; 0 means "the same as w0" (every model
  // written before the two were separate). Hidden weights are initialised at sqrt(6/in)/w0_hidden,
  // so this sets how far an optimizer step moves a hidden layer's phase relative to the first's.
  float w0_hidden = 0.0f;
  Network network = Network::kSiren;
  int fourier_features = 0;    // kFourier: rows of B (the encoding has twice as many values)
  float fourier_sigma = 0.0f;  // kFourier: standard deviation of B's entries (the paper: 20)

  float hidden_w0() const { return w0_hidden > 0.0f ? w0_hidden : w0; }
  // Throws msinr::Error(kInvalidArgument) for sizes outside [1, 4096], a non-positive w0, or (ffn)
  // fewer than 2 hidden layers or a non-positive sigma.
  void validate() const;
  // Layers with parameters: every hidden layer and the output layer; an FFN's encoding has none.
  int layer_count() const { return network == Network::kFourier ? hidden_layers : hidden_layers + 1; }
  // Values each pixel's coordinate becomes before the first layer with parameters.
  int input_width() const { return network == Network::kFourier ? 2 * fourier_features : in_features; }
  // "SIREN 2-256x4-3, w0 200" or "FFN 2-256x4-3, 128 Fourier features, sigma 20".
  std::string describe() const;
  bool operator==(const Architecture&) const = default;
};

// What a layer does to W x + b. The table of what each network's layers are is ParamLayout's
// constructor; backends switch on this and nothing else.
enum class Activation : std::uint8_t {
  kSine,    // sin(w0 (W x + b)), w0 = LayerView::w0
  kRelu,    // max(0, W x + b)
  kLinear,  // W x + b: the output layer
};
const char* activation_name(Activation a);

// Where one layer's weights (out x in, row-major, as in PyTorch's nn.Linear) and bias live
// inside the flat parameter vector. Layers are stored in order as [W0, b0, W1, b1, ...].
struct LayerView {
  int in = 0;
  int out = 0;
  std::size_t weight_offset = 0;
  std::size_t bias_offset = 0;
  Activation activation = Activation::kSine;
  float w0 = 0.0f;  // kSine only: this layer's frequency factor
  bool is_sine() const { return activation == Activation::kSine; }
  bool is_relu() const { return activation == Activation::kRelu; }
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

// The FFN's fixed encoding matrix B (fourier_features x 2, row-major): drawn from msinr's own
// generator with a fixed seed (Box-Muller), so every machine and every model with the same
// architecture has the same B and a model file need not store it. Empty for a SIREN.
std::vector<float> fourier_matrix(const Architecture& arch);

}  // namespace msinr
