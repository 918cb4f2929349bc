#include <doctest/doctest.h>

#include <cmath>

#include "msinr/error.hpp"
#include "msinr/mask.hpp"
#include "msinr/siren.hpp"
#include "test_util.hpp"

using namespace msinr;

TEST_CASE("global magnitude pruning keeps the largest weights across all layers") {
  Architecture arch{2, 4, 2, 3, 30.0f};
  ParamLayout layout(arch);
  std::vector<float> p(layout.param_count());
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = static_cast<float>((i * 37) % 101) - 50.0f;  // signed, with ties
  const Mask dense = dense_mask(layout);
  const std::size_t keep = layout.weight_count() / 2;
  const Mask m = global_magnitude_mask(layout, p, dense, keep);
  CHECK(kept_weights(layout, m) == keep);
  float smallest_kept = 1e9f, largest_pruned = -1.0f;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (!layout.weight_flags()[i]) {
      CHECK(m[i] == 1);  // biases are never pruned
      continue;
    }
    if (m[i]) smallest_kept = std::min(smallest_kept, std::fabs(p[i]));
    else largest_pruned = std::max(largest_pruned, std::fabs(p[i]));
  }
  CHECK(smallest_kept >= largest_pruned);
  // Pruning again from the result never brings a weight back.
  const Mask m2 = global_magnitude_mask(layout, p, m, keep / 2);
  for (std::size_t i = 0; i < p.size(); ++i)
    if (!m[i]) CHECK(m2[i] == 0);
  CHECK(global_magnitude_mask(layout, p, dense, keep) == m);  // deterministic, ties included
  CHECK_THROWS_AS(global_magnitude_mask(layout, p, m, keep + 1), Error);
}

TEST_CASE("mask checks") {
  ParamLayout layout{Architecture{2, 4, 1, 3, 30.0f}};
  Mask m = dense_mask(layout);
  CHECK_NOTHROW(check_mask(layout, m));
  CHECK(weight_density(layout, m) == 1.0);
  m[layout.layers()[0].bias_offset] = 0;
  CHECK_THROWS_AS(check_mask(layout, m), Error);
  CHECK_THROWS_AS(check_mask(layout, Mask(3, 1)), Error);
}
