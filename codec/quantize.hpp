#pragma once
// The quantized payload's encoder side: which step each tensor gets, and the integers it sends.
//
// Each tile transmits its values as offsets from the model's init (the meta-learned init is shared
// by every tile and already in the decoder's hands, so only the fitted change costs bits):
//   q = round((w - init) / step_g),  w' = init + q * step_g,
// with one step per group g (a layer's kept weights, a layer's biases: payload order, see
// quant_groups). Steps follow a Lagrangian allocation: a group whose values move the picture more
// gets a finer step, step_g = scale * sqrt(n_g / H_g), where H_g is the summed output sensitivity
// (mean squared output change per unit squared change, measured by a noise probe) of the group's n_g
// values. At high rate that equalises the distortion bought per bit across groups; `scale` is the
// one knob, searched so the decoded 8-bit PSNR meets a target.
#include <cstdint>
#include <functional>
#include <vector>

#include "msinr/architecture.hpp"
#include "msinr/mask.hpp"

namespace msinr::codec {

// Values per tile in each group, in payload order: every layer's kept weights, then every layer's
// biases (so the groups are contiguous runs of stored_indices()).
std::vector<std::uint32_t> quant_groups(const ParamLayout& layout, const Mask& mask, bool with_biases);

// Renders tile values (tile after tile, absolute: init + offset) into the image's float RGB.
using RenderFn = std::function<void(const std::vector<float>& values, std::vector<float>& rgb)>;
// 8-bit PSNR of a float RGB rendering against the original image.
using PsnrFn = std::function<double(const std::vector<float>& rgb)>;

struct QuantizedPayload {
  std::vector<std::uint32_t> group_sizes;
  std::vector<float> steps;
  std::vector<std::int32_t> symbols;  // tile after tile, as the container stores them
  std::vector<float> values;          // what the decoder reconstructs: init + q * step
  double psnr = 0.0;                  // 8-bit PSNR of `values` rendered
  double scale = 0.0;                 // the allocation's global step scale
};

// Quantizes with steps = scale * allocation; `init` is the level's stored init values (one tile).
QuantizedPayload quantize_with_scale(const std::vector<float>& values, const std::vector<float>& init,
                                     const std::vector<std::uint32_t>& groups, const std::vector<double>& allocation,
                                     double scale);

// The per-group allocation sqrt(n_g / H_g) (relative step sizes), from one noise probe per group
// on the rendered image: H_g = 12 * dMSE / delta^2 with uniform noise of width delta on that group.
std::vector<double> step_allocation(const std::vector<float>& values, const std::vector<std::uint32_t>& groups,
                                    std::size_t tiles, const std::vector<float>& clean_rgb, const RenderFn& render);

// The coarsest scale whose decoded PSNR is at least target_psnr (bisection on log scale, `probes`
// renders at most); returns the best payload found. Falls back to the finest scale tried.
QuantizedPayload quantize_for_psnr(const std::vector<float>& values, const std::vector<float>& init,
                                   const std::vector<std::uint32_t>& groups, const std::vector<double>& allocation,
                                   double target_psnr, const RenderFn& render, const PsnrFn& psnr, int probes = 12);

}  // namespace msinr::codec
