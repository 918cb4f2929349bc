#include "tools/rd/bjontegaard.hpp"

#include <algorithm>
#include <cmath>
#include <set>

namespace msinr::tools {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// ---- Least-squares cubic --------------------------------------------------------------------------

// y ~ c0 + c1 u + c2 u^2 + c3 u^3 with u = (x - center) / scale in [-1, 1] (for conditioning).
struct Cubic {
  double c[4] = {0, 0, 0, 0};
  double center = 0.0, scale = 1.0;
  // Integral of the fit over x in [a, b].
  double integral(double a, double b) const {
    auto prim = [&](double u) { return u * (c[0] + u * (c[1] / 2 + u * (c[2] / 3 + u * c[3] / 4))); };
    return scale * (prim((b - center) / scale) - prim((a - center) / scale));
  }
};

// Householder QR of the n x 4 Vandermonde matrix: least squares, exact through 4 points.
bool fit_cubic(const std::vector<double>& x, const std::vector<double>& y, Cubic& out, std::string& reason) {
  const std::size_t n = x.size();
  std::set<double> distinct(x.begin(), x.end());
  if (distinct.size() < 4) {
    reason = "fewer than 4 distinct values to fit a cubic";
    return false;
  }
  const auto [lo, hi] = std::minmax_element(x.begin(), x.end());
  out.center = (*lo + *hi) / 2;
  out.scale = (*hi - *lo) / 2;
  std::vector<double> a(n * 4), b(y);
  for (std::size_t i = 0; i < n; ++i) {
    const double u = (x[i] - out.center) / out.scale;
    double p = 1.0;
    for (int j = 0; j < 4; ++j, p *= u) a[i * 4 + j] = p;
  }
  double r_max = 0.0;
  for (std::size_t k = 0; k < 4; ++k) {
    double norm = 0.0;
    for (std::size_t i = k; i < n; ++i) norm += a[i * 4 + k] * a[i * 4 + k];
    norm = std::sqrt(norm);
    const double alpha = a[k * 4 + k] > 0 ? -norm : norm;
    std::vector<double> v(n, 0.0);
    for (std::size_t i = k; i < n; ++i) v[i] = a[i * 4 + k];
    v[k] -= alpha;
    double vv = 0.0;
    for (std::size_t i = k; i < n; ++i) vv += v[i] * v[i];
    if (vv > 0.0) {
      for (std::size_t j = k; j < 4; ++j) {
        double d = 0.0;
        for (std::size_t i = k; i < n; ++i) d += v[i] * a[i * 4 + j];
        for (std::size_t i = k; i < n; ++i) a[i * 4 + j] -= 2.0 * d / vv * v[i];
      }
      double d = 0.0;
      for (std::size_t i = k; i < n; ++i) d += v[i] * b[i];
      for (std::size_t i = k; i < n; ++i) b[i] -= 2.0 * d / vv * v[i];
    }
    r_max = std::max(r_max, std::fabs(a[k * 4 + k]));
  }
  for (std::size_t k = 0; k < 4; ++k)
    if (!(std::fabs(a[k * 4 + k]) > 1e-12 * r_max)) {
      reason = "the points do not determine a cubic";
      return false;
    }
  for (int k = 3; k >= 0; --k) {
    double s = b[static_cast<std::size_t>(k)];
    for (int j = k + 1; j < 4; ++j) s -= a[static_cast<std::size_t>(k) * 4 + j] * out.c[j];
    out.c[k] = s / a[static_cast<std::size_t>(k) * 4 + k];
  }
  return true;
}

// Checks a curve and returns its (log10 rate, psnr) pairs; false with a reason when unusable.
bool curve_of(const std::vector<RdPoint>& pts, const char* which, std::vector<double>& log_rate,
              std::vector<double>& psnr, std::string& reason) {
  if (pts.size() < 4) {
    reason = std::string(which) + " curve has " + std::to_string(pts.size()) + " points; Bjontegaard needs at least 4";
    return false;
  }
  for (const RdPoint& p : pts) {
    if (!(p.rate > 0.0) || !std::isfinite(p.rate) || !std::isfinite(p.psnr)) {
      reason = std::string(which) + " curve has a non-positive or non-finite rate, or a non-finite PSNR";
      return false;
    }
    log_rate.push_back(std::log10(p.rate));
    psnr.push_back(p.psnr);
  }
  return true;
}

// The shared shape of both deltas: fit y(x) per curve, average the difference over the overlap.
// `rate_axis`: x is log-rate (BD-PSNR) rather than PSNR (BD-rate). Returns the mean difference.
BdResult bd_average(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test, bool rate_axis,
                    BdInterval interval) {
  BdResult r;
  std::vector<double> la, pa, lt, pt;
  if (!curve_of(anchor, "anchor", la, pa, r.reason) || !curve_of(test, "test", lt, pt, r.reason)) return r;
  const auto& xa = rate_axis ? la : pa;
  const auto& ya = rate_axis ? pa : la;
  const auto& xt = rate_axis ? lt : pt;
  const auto& yt = rate_axis ? pt : lt;
  double lo = std::max(*std::min_element(xa.begin(), xa.end()), *std::min_element(xt.begin(), xt.end()));
  double hi = std::min(*std::max_element(xa.begin(), xa.end()), *std::max_element(xt.begin(), xt.end()));
  if (!(hi > lo)) {
    r.reason = rate_axis ? "the curves' rate ranges do not overlap" : "the curves' PSNR ranges do not overlap";
    return r;
  }
  if (interval == BdInterval::kUnion) {
    lo = std::min(*std::min_element(xa.begin(), xa.end()), *std::min_element(xt.begin(), xt.end()));
    hi = std::max(*std::max_element(xa.begin(), xa.end()), *std::max_element(xt.begin(), xt.end()));
  }
  r.lo = rate_axis ? std::pow(10.0, lo) : lo;
  r.hi = rate_axis ? std::pow(10.0, hi) : hi;
  Cubic fa, ft;
  std::string why;
  if (!fit_cubic(xa, ya, fa, why)) {
    r.reason = "anchor: " + why;
    return r;
  }
  if (!fit_cubic(xt, yt, ft, why)) {
    r.reason = "test: " + why;
    return r;
  }
  r.value = (ft.integral(lo, hi) - fa.integral(lo, hi)) / (hi - lo);
  return r;
}

}  // namespace

BdResult bd_rate(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test, BdInterval interval) {
  BdResult r = bd_average(anchor, test, /*rate_axis=*/false, interval);
  if (r.ok()) r.value = (std::pow(10.0, r.value) - 1.0) * 100.0;
  return r;
}

BdResult bd_psnr(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test, BdInterval interval) {
  return bd_average(anchor, test, /*rate_axis=*/true, interval);
}

}  // namespace msinr::tools
