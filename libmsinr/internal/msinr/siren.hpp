#pragma once
// Initialization and coordinates: the parts of the numerics contract (DESIGN.md) that are not
// a backend's business.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

#include "msinr/architecture.hpp"

namespace msinr {

// SIREN initialization: first layer W, b ~ U(-1/fan_in, 1/fan_in); every later layer W, b ~
// U(-sqrt(6/fan_in)/w0, +sqrt(6/fan_in)/w0). For an FFN every layer W, b ~ U(-1/sqrt(fan_in),
// 1/sqrt(fan_in)) (PyTorch's nn.Linear default, which Tancik et al. use). Deterministic for a seed on every platform (own
// generator, not std::uniform_real_distribution, whose output differs between standard libraries).
std::vector<float> siren_init(const Architecture& arch, std::uint64_t seed);

// The pixel grid a network is evaluated on. Each axis is linspace(lo, hi, n) with both ends
// included, so with the default [-1, 1] the corner pixels sit at +-1 whatever the resolution.
// A one-pixel axis sits at the midpoint (numpy would put it at lo; the midpoint keeps a
// one-pixel-high render the average of the picture rather than its top edge).
struct Grid {
  int rows = 0;
  int cols = 0;
  float row_lo = -1.0f, row_hi = 1.0f;
  float col_lo = -1.0f, col_hi = 1.0f;

  std::size_t pixels() const { return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols); }
  float row_coord(int r) const { return axis_coord(row_lo, row_hi, rows, r); }
  float col_coord(int c) const { return axis_coord(col_lo, col_hi, cols, c); }
  static float axis_coord(float lo, float hi, int n, int i) {
    if (n <= 1) return static_cast<float>(0.5 * (static_cast<double>(lo) + hi));
    return static_cast<float>(lo + (static_cast<double>(hi) - lo) * i / (n - 1));
  }
};

// A small deterministic generator (splitmix64) shared by init, pruning and data sampling so that
// every random choice in msinr is reproducible from one seed.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next_u64() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1) with 24 random bits (exactly representable in float).
  float uniform01() { return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f); }
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform01(); }
  // The whole generator state: Rng(state()) continues the same sequence (checkpoints use this).
  std::uint64_t state() const { return state_; }
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) { return n == 0 ? 0 : next_u64() % n; }

 private:
  std::uint64_t state_;
};

// Partial Fisher-Yates: afterwards the first `keep` of `items` are a uniform random subset of all of
// them (pruning masks, pixel subsets).
template <class T>
void partial_shuffle(std::vector<T>& items, std::size_t keep, Rng& rng) {
  for (std::size_t k = 0; k < keep && k < items.size(); ++k) std::swap(items[k], items[k + rng.below(items.size() - k)]);
}

// A uniform random `keep` of the pixels 0..n-1, in ascending (memory) order, so neighbouring pixels
// still share cache lines. `scratch` is reused between calls. Meta-training and subset fits use it.
inline std::vector<std::uint32_t> random_pixel_subset(std::size_t n, std::size_t keep, Rng& rng,
                                                      std::vector<std::uint32_t>& scratch) {
  scratch.resize(n);
  std::iota(scratch.begin(), scratch.end(), 0u);
  partial_shuffle(scratch, keep, rng);
  std::vector<std::uint32_t> subset(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(std::min(keep, n)));
  std::sort(subset.begin(), subset.end());
  return subset;
}

}  // namespace msinr
