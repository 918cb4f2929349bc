#include "msinr/mask.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "msinr/error.hpp"

namespace msinr {

Mask dense_mask(const ParamLayout& layout) { return Mask(layout.param_count(), 1); }

std::size_t kept_weights(const ParamLayout& layout, const Mask& mask) {
  std::size_t n = 0;
  const auto& w = layout.weight_flags();
  for (std::size_t i = 0; i < mask.size() && i < w.size(); ++i) n += (w[i] && mask[i]) ? 1 : 0;
  return n;
}

double weight_density(const ParamLayout& layout, const Mask& mask) {
  return static_cast<double>(kept_weights(layout, mask)) / static_cast<double>(layout.weight_count());
}

void check_mask(const ParamLayout& layout, const Mask& mask) {
  if (mask.size() != layout.param_count())
    throw Error(ErrorCode::kInvalidArgument, "mask has " + std::to_string(mask.size()) + " entries, the network has " +
                                                 std::to_string(layout.param_count()) + " parameters");
  const auto& w = layout.weight_flags();
  for (std::size_t i = 0; i < mask.size(); ++i) {
    if (mask[i] > 1) throw Error(ErrorCode::kInvalidArgument, "mask entries must be 0 or 1");
    if (!w[i] && mask[i] != 1) throw Error(ErrorCode::kInvalidArgument, "a mask may not prune a bias");
  }
}

Mask global_magnitude_mask(const ParamLayout& layout, std::span<const float> params, const Mask& current,
                           std::size_t keep) {
  check_mask(layout, current);
  if (params.size() != layout.param_count())
    throw Error(ErrorCode::kInvalidArgument, "parameter vector does not match the architecture");
  const auto& w = layout.weight_flags();
  std::vector<std::uint32_t> candidates;
  for (std::size_t i = 0; i < params.size(); ++i)
    if (w[i] && current[i]) candidates.push_back(static_cast<std::uint32_t>(i));
  if (keep > candidates.size())
    throw Error(ErrorCode::kInvalidArgument, "cannot keep " + std::to_string(keep) + " weights: only " +
                                                 std::to_string(candidates.size()) + " survive");
  // Largest magnitude first; equal magnitudes: lower index first (deterministic ties).
  auto before = [&](std::uint32_t a, std::uint32_t b) {
    const float ma = std::fabs(params[a]), mb = std::fabs(params[b]);
    return ma != mb ? ma > mb : a < b;
  };
  std::nth_element(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep), candidates.end(),
                   before);
  Mask next(layout.param_count(), 0);
  for (std::size_t i = 0; i < next.size(); ++i) next[i] = w[i] ? 0 : 1;
  for (std::size_t k = 0; k < keep; ++k) next[candidates[k]] = 1;
  return next;
}

void apply_mask(const Mask& mask, std::span<float> params) {
  const std::size_t n = std::min(mask.size(), params.size());
  for (std::size_t i = 0; i < n; ++i)
    if (!mask[i]) params[i] = 0.0f;
}

}  // namespace msinr

namespace msinr {

Frozen bias_flags(const ParamLayout& layout) {
  Frozen f(layout.param_count());
  for (std::size_t i = 0; i < f.size(); ++i) f[i] = layout.weight_flags()[i] ? 0 : 1;
  return f;
}

void zero_frozen(const Frozen& frozen, std::span<float> values) {
  if (frozen.empty()) return;
  if (frozen.size() != values.size())
    throw Error(ErrorCode::kInvalidArgument, "frozen set has " + std::to_string(frozen.size()) + " entries for " +
                                                 std::to_string(values.size()) + " parameters");
  for (std::size_t i = 0; i < values.size(); ++i)
    if (frozen[i]) values[i] = 0.0f;
}

}  // namespace msinr
