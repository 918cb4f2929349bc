#pragma once
// Bjontegaard deltas between two rate-distortion curves (the math of `msinr rd`, docs/rd.md).
#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace msinr::tools {

// ---- Bjontegaard deltas (G. Bjontegaard, "Calculation of average PSNR differences between
// RD-curves", VCEG-M33, 2001) ----------------------------------------------------------------------
// Each curve is fitted by a least-squares cubic polynomial (exact through 4 points):
//  - BD-rate: log10(rate) as a cubic in PSNR; both fits are integrated over the PSNR interval where
//    the curves overlap; avg = (integral_test - integral_anchor) / interval length; the result is
//    (10^avg - 1) * 100, in percent.
//  - BD-PSNR: PSNR as a cubic in log10(rate), integrated over the overlapping log-rate interval;
//    the result is the average PSNR difference test - anchor, in dB.
// Signs: a NEGATIVE BD-rate means the test codec needs FEWER bits than the anchor for the same
// PSNR (better); a POSITIVE BD-PSNR means the test codec has HIGHER PSNR at the same rate (better).
// The rate unit does not matter (it cancels), so bpp, bytes or kbit/s all give the same answer.
// Not a number, with the reason, when a curve has fewer than 4 points (or fewer than 4 distinct
// abscissae), a value is not finite or a rate is not positive, or the ranges do not overlap.
//
// `interval`: kOverlap (VCEG-M33, the default and what `msinr rd` reports) integrates only where both
// curves have data. kUnion integrates over the union of the two ranges, extrapolating each cubic
// beyond its own points; it exists to reproduce published numbers made that way (see test_rd.cpp's
// worked example) and should not be used to report results.
enum class BdInterval { kOverlap, kUnion };

struct RdPoint {
  double rate = 0.0;  // > 0
  double psnr = 0.0;  // dB
};

struct BdResult {
  double value = std::numeric_limits<double>::quiet_NaN();  // percent (BD-rate) or dB (BD-PSNR)
  std::string reason;  // empty when value is a number; else why not
  // The interval the fits were integrated over (nan until the ranges are known to overlap): PSNR in
  // dB for BD-rate; rate, in the points' unit, for BD-PSNR. With kOverlap, the overlap of the two
  // curves: a BD figure says nothing about the rates or qualities outside it.
  double lo = std::numeric_limits<double>::quiet_NaN(), hi = std::numeric_limits<double>::quiet_NaN();
  bool ok() const { return std::isfinite(value); }
};

BdResult bd_rate(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test,
                 BdInterval interval = BdInterval::kOverlap);
BdResult bd_psnr(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test,
                 BdInterval interval = BdInterval::kOverlap);

}  // namespace msinr::tools
