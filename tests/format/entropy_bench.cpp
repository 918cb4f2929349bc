// Size and speed of the entropy coder (format/entropy) against the order-0 empirical entropy and
// against zstd -19 of the same symbols as little-endian int16: the table in docs/entropy-coding.md.
//
//   msinr_format_entropy_bench                              synthetic Laplacian streams only
//   msinr_format_entropy_bench IMAGE.msinr MODEL.msm        also the container's own weights, one group
//                                                           per tensor, quantized at a few step sizes,
//                                                           as values and as differences from the
//                                                           model's initial values
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "format/container.hpp"
#include "format/entropy/symbol_coder.hpp"
#include "format/model_file.hpp"
#include "testkit.hpp"

namespace f = msinr::format;
namespace e = msinr::format::entropy;

namespace {

struct Stream {
  std::vector<std::int32_t> symbols;
  std::vector<std::uint16_t> groups;
  int group_count = 1;
};

// round(+-Exp(1/scale)); per tile, each group's share in turn (the order tiles interleave tensors).
Stream laplace(double scale, int group_count, int per_group, std::uint64_t seed, int tiles = 10) {
  std::mt19937_64 rng(seed);
  std::exponential_distribution<double> ex(1.0 / scale);
  std::bernoulli_distribution coin(0.5);
  Stream s;
  s.group_count = group_count;
  for (int t = 0; t < tiles; ++t) {
    for (int g = 0; g < group_count; ++g) {
      const int n = per_group / tiles + (t < per_group % tiles ? 1 : 0);
      for (int i = 0; i < n; ++i) {
        const double v = ex(rng);
        s.symbols.push_back(static_cast<std::int32_t>(std::lround(coin(rng) ? v : -v)));
        s.groups.push_back(static_cast<std::uint16_t>(g));
      }
    }
  }
  return s;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void report(const std::string& name, const Stream& s) {
  const double h = e::empirical_entropy_bits(s.symbols, s.groups, s.group_count);
  const double cost = e::model_cost_bits(s.symbols, s.groups, s.group_count);
  // Speeds: the best of 7 runs (the machine may be shared).
  std::vector<std::uint8_t> coded;
  std::vector<std::int32_t> back;
  double enc_s = 1e30, dec_s = 1e30;
  for (int run = 0; run < 7; ++run) {
    auto t0 = std::chrono::steady_clock::now();
    coded = e::encode_symbols(s.symbols, s.groups, s.group_count);
    enc_s = std::min(enc_s, seconds_since(t0));
    t0 = std::chrono::steady_clock::now();
    back = e::decode_symbols(coded, s.groups, s.group_count);
    dec_s = std::min(dec_s, seconds_since(t0));
  }
  if (back != s.symbols) {
    std::printf("ROUND TRIP FAILED: %s\n", name.c_str());
    std::exit(1);
  }
  fmt_test::Bytes raw;
  bool fits16 = true;
  for (const std::int32_t v : s.symbols) {
    if (v < -32768 || v > 32767) fits16 = false;
    fmt_test::put_le16(raw, static_cast<std::uint16_t>(static_cast<std::int16_t>(v)));
  }
  const std::size_t zstd = fits16 ? fmt_test::zstd_compress(raw, 19).size() : 0;
  const double n = static_cast<double>(s.symbols.size());
  std::printf("| %-28s | %7zu | %6.3f | %8.1f | %8zu | %+6.2f%% | %+5.1f | %8zu | %5.2fx | %5.1f / %5.1f |\n", name.c_str(),
              s.symbols.size(), h / n, h / 8, coded.size(), 100.0 * (8.0 * coded.size() / h - 1.0),
              coded.size() - cost / 8, zstd, h > 0 ? zstd / (h / 8) : 0.0, n / enc_s / 1e6, n / dec_s / 1e6);
}

std::vector<std::uint8_t> slurp(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(std::string("cannot read ") + path);
  return {std::istreambuf_iterator<char>(in), {}};
}

// The container's values split per tensor (docs/format.md, "From payload to pixels"): per tile, the
// surviving weights in mask order then all biases; group 2l = layer l's weights, 2l + 1 its biases.
// With minus_init, each value less the model level's initial value of that parameter.
std::vector<std::vector<float>> tensors_of(const f::Container& c, const f::ModelFile& m, bool minus_init) {
  const f::ModelLevel* level = nullptr;
  for (const auto& l : m.levels) {
    if (l.index == c.header.level) level = &l;
  }
  if (level == nullptr) throw std::runtime_error("the model has no level " + std::to_string(c.header.level));
  const bool ffn = m.arch == "ffn";
  const int layers = ffn ? static_cast<int>(m.hidden_layers) : static_cast<int>(m.hidden_layers) + 1;
  std::vector<int> weight_group, bias_group;
  std::vector<float> weight_init, bias_init;
  std::size_t index = 0;
  for (int l = 0; l < layers; ++l) {
    const int in = l == 0 ? (ffn ? 2 * static_cast<int>(m.fourier_features) : static_cast<int>(m.in_features))
                          : static_cast<int>(m.hidden_width);
    const int out = l == layers - 1 ? static_cast<int>(m.out_features) : static_cast<int>(m.hidden_width);
    for (int k = 0; k < in * out; ++k, ++index) {
      if (level->mask.at(index) != 0) {
        weight_group.push_back(2 * l);
        weight_init.push_back(level->init[index]);
      }
    }
    for (int k = 0; k < out; ++k, ++index) {
      bias_group.push_back(2 * l + 1);
      bias_init.push_back(level->init.at(index));
    }
  }
  if (weight_group.size() + bias_group.size() != c.header.values_per_tile) {
    throw std::runtime_error("the container does not match the model's level");
  }
  std::vector<std::vector<float>> tensors(static_cast<std::size_t>(2 * layers));
  const std::size_t per_tile = c.header.values_per_tile;
  for (std::size_t t = 0; t < c.header.tile_count; ++t) {
    const float* v = c.values.data() + t * per_tile;
    for (std::size_t k = 0; k < weight_group.size(); ++k) {
      tensors[weight_group[k]].push_back(v[k] - (minus_init ? weight_init[k] : 0.0f));
    }
    for (std::size_t k = 0; k < bias_group.size(); ++k) {
      tensors[bias_group[k]].push_back(v[weight_group.size() + k] - (minus_init ? bias_init[k] : 0.0f));
    }
  }
  return tensors;
}

// Each tensor quantized with step = fraction * the standard deviation of its values (not of the
// differences, so both forms have the same step and distortion); symbols in container order (tile by
// tile, tensor by tensor).
Stream quantize(const f::Container& c, const f::ModelFile& m, double fraction, bool minus_init) {
  const auto values = tensors_of(c, m, false);
  const auto tensors = tensors_of(c, m, minus_init);
  std::vector<std::vector<std::int32_t>> q(tensors.size());
  for (std::size_t g = 0; g < tensors.size(); ++g) {
    double mean = 0, var = 0;
    for (const float x : values[g]) mean += x;
    mean /= static_cast<double>(values[g].size());
    for (const float x : values[g]) var += (x - mean) * (x - mean);
    const double step = fraction * std::sqrt(var / static_cast<double>(values[g].size()));
    for (const float x : tensors[g]) q[g].push_back(static_cast<std::int32_t>(std::lround(x / step)));
  }
  Stream s;
  s.group_count = static_cast<int>(tensors.size());
  const std::size_t tiles = c.header.tile_count;
  for (std::size_t t = 0; t < tiles; ++t) {
    for (std::size_t g = 0; g < q.size(); ++g) {
      const std::size_t per_tile = q[g].size() / tiles;
      for (std::size_t i = 0; i < per_tile; ++i) {
        s.symbols.push_back(q[g][t * per_tile + i]);
        s.groups.push_back(static_cast<std::uint16_t>(g));
      }
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  std::printf("| stream                       | symbols | H b/sym | H bytes | coded B | vs H    | -model | zstd-19 B | zstd/H | Msym/s enc / dec |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const int per_group : {300, 2000, 20000}) {
    for (const double scale : {0.5, 1.0, 3.0, 10.0, 30.0}) {
      char name[64];
      std::snprintf(name, sizeof name, "Laplace b=%g, 3 x %d", scale, per_group);
      report(name, laplace(scale, 3, per_group, 1000 + per_group));
    }
  }
  report("Laplace b=0.5..30, 10 x 5000", [] {
    Stream s;  // ten groups of different scales, interleaved per tile
    s.group_count = 10;
    const double scales[] = {0.5, 1, 2, 3, 5, 8, 12, 16, 22, 30};
    std::vector<Stream> parts;
    for (int g = 0; g < 10; ++g) parts.push_back(laplace(scales[g], 1, 5000, 50 + g));
    for (int t = 0; t < 10; ++t) {
      for (int g = 0; g < 10; ++g) {
        for (int i = 0; i < 500; ++i) {
          s.symbols.push_back(parts[g].symbols[t * 500 + i]);
          s.groups.push_back(static_cast<std::uint16_t>(g));
        }
      }
    }
    return s;
  }());
  if (argc == 3) {
    const f::Container c = f::read_container(slurp(argv[1]));
    const f::ModelFile m = f::read_model_file(slurp(argv[2]));
    std::string base = argv[1];
    base = base.substr(base.find_last_of('/') + 1);
    base = base.substr(0, base.find('.'));
    for (const bool minus_init : {false, true}) {
      for (const double fraction : {0.05, 0.15, 0.5}) {
        char name[96];
        std::snprintf(name, sizeof name, "%s %s, step %.2f sd", base.c_str(), minus_init ? "w-init" : "w", fraction);
        report(name, quantize(c, m, fraction, minus_init));
      }
    }
  }
  return 0;
}
