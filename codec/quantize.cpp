#include "codec/quantize.hpp"

#include <algorithm>
#include <cmath>

#include "format/container.hpp"
#include "format/entropy/symbol_coder.hpp"
#include "msinr/error.hpp"
#include "msinr/siren.hpp"

namespace msinr::codec {

std::vector<std::uint32_t> quant_groups(const ParamLayout& layout, const Mask& mask, bool with_biases) {
  std::vector<std::uint32_t> groups;
  for (const LayerView& v : layout.layers()) {
    std::uint32_t kept = 0;
    for (std::size_t i = 0; i < v.weight_count(); ++i) kept += mask[v.weight_offset + i] ? 1u : 0u;
    groups.push_back(kept);
  }
  if (with_biases)
    for (const LayerView& v : layout.layers()) groups.push_back(static_cast<std::uint32_t>(v.out));
  return groups;
}

namespace {

std::size_t per_tile(const std::vector<std::uint32_t>& groups) {
  std::size_t n = 0;
  for (auto g : groups) n += g;
  return n;
}

}  // namespace

QuantizedPayload quantize_with_scale(const std::vector<float>& values, const std::vector<float>& init,
                                     const std::vector<std::uint32_t>& groups, const std::vector<double>& allocation,
                                     double scale) {
  const std::size_t n = per_tile(groups);
  if (n == 0 || init.size() != n || values.size() % n != 0 || allocation.size() != groups.size())
    throw Error(ErrorCode::kInvalidArgument, "quantize: values, init and groups do not agree");
  QuantizedPayload out;
  out.group_sizes = groups;
  out.scale = scale;
  for (double a : allocation) {
    const double step = std::clamp(scale * a, 1e-12, static_cast<double>(format::kMaxQuantStep));
    out.steps.push_back(static_cast<float>(step));
  }
  out.symbols.resize(values.size());
  out.values.resize(values.size());
  const double max_q = format::entropy::kMaxMagnitude;
  for (std::size_t base = 0; base < values.size(); base += n) {
    std::size_t k = 0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
      const float step = out.steps[g];
      for (std::uint32_t j = 0; j < groups[g]; ++j, ++k) {
        const double q = std::clamp(std::nearbyint((static_cast<double>(values[base + k]) - init[k]) / step), -max_q, max_q);
        out.symbols[base + k] = static_cast<std::int32_t>(q);
        // Exactly the decoder's arithmetic: float(q) * step rounded to float, then added to init.
        const float offset = static_cast<float>(out.symbols[base + k]) * step;
        out.values[base + k] = init[k] + offset;
      }
    }
  }
  return out;
}

std::vector<double> step_allocation(const std::vector<float>& values, const std::vector<std::uint32_t>& groups,
                                    std::size_t tiles, const std::vector<float>& clean_rgb, const RenderFn& render) {
  const std::size_t n = per_tile(groups);
  std::vector<double> allocation(groups.size(), 1.0);
  std::vector<float> noisy_rgb;
  Rng rng(0x5155414e54ull);  // "QUANT": fixed, so an encode is reproducible
  std::size_t offset = 0;
  std::vector<double> sensitivity(groups.size(), 0.0);
  for (std::size_t g = 0; g < groups.size(); offset += groups[g], ++g) {
    if (groups[g] == 0) continue;
    // Probe at a quarter of the group's typical magnitude: small enough to stay near-linear.
    double sum2 = 0.0;
    for (std::size_t t = 0; t < tiles; ++t)
      for (std::uint32_t j = 0; j < groups[g]; ++j) sum2 += static_cast<double>(values[t * n + offset + j]) * values[t * n + offset + j];
    const double rms = std::sqrt(sum2 / (static_cast<double>(tiles) * groups[g]));
    const double delta = std::max(1e-4, 0.05 * rms);
    std::vector<float> noisy = values;
    for (std::size_t t = 0; t < tiles; ++t)
      for (std::uint32_t j = 0; j < groups[g]; ++j)
        noisy[t * n + offset + j] += static_cast<float>(delta * (rng.uniform01() - 0.5));
    render(noisy, noisy_rgb);
    double se = 0.0;
    for (std::size_t i = 0; i < clean_rgb.size(); ++i) {
      const double d = static_cast<double>(noisy_rgb[i]) - clean_rgb[i];
      se += d * d;
    }
    const double dmse = se / static_cast<double>(clean_rgb.size());
    // Per-value sensitivity: dMSE = sum_i h_i delta^2 / 12 over the group's values in every tile.
    sensitivity[g] = 12.0 * dmse / (delta * delta) / (static_cast<double>(tiles) * groups[g]);
  }
  double max_s = 0.0;
  for (double s : sensitivity) max_s = std::max(max_s, s);
  for (std::size_t g = 0; g < groups.size(); ++g) {
    // A group that barely moves the picture still gets a finite step (1000x the most sensitive's).
    const double s = std::max(sensitivity[g], max_s * 1e-6);
    allocation[g] = s > 0.0 ? 1.0 / std::sqrt(s) : 1.0;
  }
  return allocation;
}

QuantizedPayload quantize_for_psnr(const std::vector<float>& values, const std::vector<float>& init,
                                   const std::vector<std::uint32_t>& groups, const std::vector<double>& allocation,
                                   double target_psnr, const RenderFn& render, const PsnrFn& psnr, int probes) {
  // With steps scale * allocation_g, the predicted added MSE is scale^2 * N / 12 (N values per image);
  // start the bisection there and refine on the real decoded PSNR.
  const double n_values = static_cast<double>(values.size());
  const double allowed = std::max(1e-12, std::pow(10.0, -target_psnr / 10.0) * 0.25);
  double guess = std::sqrt(12.0 * allowed / n_values);
  std::vector<float> rgb;
  auto measure = [&](double scale) {
    QuantizedPayload p = quantize_with_scale(values, init, groups, allocation, scale);
    render(p.values, rgb);
    p.psnr = psnr(rgb);
    return p;
  };
  // Bracket: lo meets the target, hi does not.
  double lo = guess, hi = guess;
  QuantizedPayload best = measure(guess);
  int used = 1;
  if (best.psnr >= target_psnr) {
    while (used < probes) {
      hi = lo * 2.0;
      QuantizedPayload p = measure(hi);
      ++used;
      if (p.psnr < target_psnr) break;
      best = std::move(p);
      lo = hi;
    }
  } else {
    QuantizedPayload finest = best;
    while (used < probes) {
      lo = hi / 2.0;
      QuantizedPayload p = measure(lo);
      ++used;
      if (p.psnr >= target_psnr) {
        best = std::move(p);
        break;
      }
      finest = std::move(p);
      hi = lo;
    }
    if (best.psnr < target_psnr) return finest;  // out of probes: the finest tried
  }
  while (used < probes && hi / lo > 1.06) {
    const double mid = std::sqrt(lo * hi);
    QuantizedPayload p = measure(mid);
    ++used;
    if (p.psnr >= target_psnr) {
      best = std::move(p);
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return best;
}

}  // namespace msinr::codec
