#pragma once
// A real (tiny) model from the project's own trainer, made in a second from crops of the Kodak
// sample: what codec tests encode and decode with, independent of the built-in model.
#include <string>
#include <utility>
#include <vector>

#include "codec/image.hpp"
#include "imageio/image_io.hpp"
#include "codec/model.hpp"
#include "msinr/meta_trainer.hpp"

namespace codec_test {

struct TinyModelSpec {
  int width, layers, tile, dense_steps, rounds, round_steps, crops;
  float w0;
  msinr::Network network = msinr::Network::kSiren;  // kFourier: width/2 frequencies at sigma 3 (a 24-pixel
                                                   // tile's counterpart of the paper's 20 at 178 pixels)
  bool freeze_biases = false;                      // tiles fit and send weights only (model format v3)
};

inline msinr::codec::Model train_tiny_model(const TinyModelSpec& spec) {
  using namespace msinr;
  using namespace msinr::codec;
  MetaTrainingConfig c;
  c.arch = Architecture{2, spec.width, spec.layers, 3, spec.w0};
  if (spec.network == Network::kFourier) {
    c.arch.network = Network::kFourier;
    c.arch.fourier_features = spec.width / 2;
    c.arch.fourier_sigma = 3.0f;
  }
  c.tile_size = spec.tile;
  c.outer.lr = 1e-4f;
  c.dense_steps = spec.dense_steps;
  c.rounds = spec.rounds;
  c.round_steps = spec.round_steps;
  c.freeze_biases = spec.freeze_biases;
  const Image sample = read_image(std::string(MSINR_SOURCE_DIR) + "/samples/kodim23.png");
  std::vector<std::vector<float>> tiles;
  const int t = spec.tile;
  for (int k = 0; k < spec.crops; ++k) {
    Image crop = make_image(t, t, 3);
    for (int y = 0; y < t; ++y)
      for (int x = 0; x < t; ++x)
        for (int ch = 0; ch < 3; ++ch)
          crop.pixels[(y * t + x) * 3 + ch] = sample.pixels[((100 + 30 * k + y) * sample.width + 200 + 20 * k + x) * 3 + ch];
    tiles.push_back(to_float_rgb(crop));
  }
  auto backend = make_cpu_backend();
  MetaTrainer trainer(c, *backend, tiles);
  MetaTrainingState s = trainer.initial_state();
  trainer.run(s, {});
  Model m;
  m.arch = c.arch;
  m.tile_size = c.tile_size;
  m.frozen_biases = spec.freeze_biases;
  m.levels = s.levels;
  m.provenance.data = "kodim23 crops";
  // Narrow nets fit best at 1e-3 at every density (what these tests were calibrated with); the
  // density rule for models without a measured rate is tuned for the 256-wide SIREN.
  std::vector<std::pair<int, float>> lrs;
  for (const auto& l : m.levels) lrs.emplace_back(l.index, 1e-3f);
  m.provenance.notes.push_back({"fit_lr", format_fit_lrs(lrs)});
  const auto bytes = format::write_model_file(to_model_file(m));
  return load_model_from_memory(bytes.data(), bytes.size(), "tiny model");
}

// A w x h crop of the Kodak sample (from pixel (300, 150)): what the codec tests encode.
inline msinr::codec::Image kodim23_crop(int w, int h) {
  using namespace msinr::codec;
  const Image sample = read_image(std::string(MSINR_SOURCE_DIR) + "/samples/kodim23.png");
  Image im = make_image(w, h, 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c) im.pixels[(y * w + x) * 3 + c] = sample.pixels[((150 + y) * sample.width + 300 + x) * 3 + c];
  return im;
}

}  // namespace codec_test
