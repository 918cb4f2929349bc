#pragma once
// Weight masks: one byte per entry of the flat parameter vector, 1 = kept. Biases are always kept,
// so a mask applies elementwise to parameters, gradients and optimizer state alike.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "msinr/architecture.hpp"

namespace msinr {

using Mask = std::vector<std::uint8_t>;

Mask dense_mask(const ParamLayout& layout);
// Kept weights (biases not counted).
std::size_t kept_weights(const ParamLayout& layout, const Mask& mask);
double weight_density(const ParamLayout& layout, const Mask& mask);
// Throws kInvalidArgument unless the mask has one entry per parameter, only 0/1, and keeps every bias.
void check_mask(const ParamLayout& layout, const Mask& mask);
// Global magnitude pruning: keeps the `keep` largest-|value| weights among those `current` keeps,
// over all layers together; biases stay. Ties go to the lower parameter index, so the result is
// deterministic.
Mask global_magnitude_mask(const ParamLayout& layout, std::span<const float> params, const Mask& current,
                           std::size_t keep);
// Zeroes every masked-out parameter in place.
void apply_mask(const Mask& mask, std::span<float> params);

// Parameters a fit leaves at their starting value: one byte per parameter, 1 = frozen; empty when
// nothing is. Freezing zeroes the parameter's gradient, so Adam (whose moments start at zero)
// never moves it, and MAML's inner steps leave it at the shared init while the outer loop still
// learns it. A model with frozen biases (format v3) trains and encodes this way and its tiles
// transmit no bias.
using Frozen = std::vector<std::uint8_t>;
// 1 at every bias of `layout`.
Frozen bias_flags(const ParamLayout& layout);
// Zeroes `values` wherever `frozen` is 1 (nothing when frozen is empty). Throws kInvalidArgument
// on a size mismatch.
void zero_frozen(const Frozen& frozen, std::span<float> values);

}  // namespace msinr
