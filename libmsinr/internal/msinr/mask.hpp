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

}  // namespace msinr
