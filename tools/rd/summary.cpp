#include "tools/rd/summary.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "tools/rd/detail/text.hpp"

namespace msinr::tools {
using detail::is_jpeg_curve;
using detail::is_msinr_curve;
namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

std::vector<RdSummaryRow> summarize_rd(const std::vector<RdRow>& rows) {
  struct Acc {
    std::size_t n = 0, n_ssim = 0, n_ms_ssim = 0;
    double bpp = 0, psnr = 0, mse = 0, ssim = 0, ms_ssim = 0, enc = 0, dec = 0;
  };
  std::map<std::pair<std::string, std::string>, Acc> acc;
  for (const RdRow& r : rows) {
    Acc& a = acc[{r.codec, r.setting}];
    ++a.n;
    a.bpp += r.bpp;
    a.psnr += r.psnr;
    a.mse += std::isinf(r.psnr) && r.psnr > 0 ? 0.0 : 255.0 * 255.0 * std::pow(10.0, -r.psnr / 10.0);
    if (std::isfinite(r.ssim)) {
      ++a.n_ssim;
      a.ssim += r.ssim;
    }
    if (std::isfinite(r.ms_ssim)) {
      ++a.n_ms_ssim;
      a.ms_ssim += r.ms_ssim;
    }
    a.enc += r.encode_seconds;
    a.dec += r.decode_seconds;
  }
  std::vector<RdSummaryRow> out;
  for (const auto& [key, a] : acc) {
    RdSummaryRow s;
    s.codec = key.first;
    s.setting = key.second;
    s.count = a.n;
    const double n = static_cast<double>(a.n);
    s.bpp = a.bpp / n;
    s.psnr_mean = a.psnr / n;
    const double mse = a.mse / n;
    s.psnr_of_mean_mse = mse > 0 ? 10.0 * std::log10(255.0 * 255.0 / mse) : kInf;
    s.ssim = a.n_ssim ? a.ssim / static_cast<double>(a.n_ssim) : kNaN;
    s.ms_ssim = a.n_ms_ssim ? a.ms_ssim / static_cast<double>(a.n_ms_ssim) : kNaN;
    s.encode_seconds = a.enc / n;
    s.decode_seconds = a.dec / n;
    out.push_back(std::move(s));
  }
  std::stable_sort(out.begin(), out.end(), [](const RdSummaryRow& a, const RdSummaryRow& b) {
    const int ca = is_msinr_curve(a.codec) ? 0 : 1, cb = is_msinr_curve(b.codec) ? 0 : 1;
    if (ca != cb) return ca < cb;
    if (a.codec != b.codec) return a.codec < b.codec;
    return a.bpp < b.bpp;
  });
  return out;
}

std::vector<BdComparison> compare_curves(const std::vector<RdSummaryRow>& summary) {
  std::vector<std::string> tests, anchors;
  for (const auto& s : summary) {
    auto& list = is_msinr_curve(s.codec) ? tests : anchors;
    if (is_msinr_curve(s.codec) || is_jpeg_curve(s.codec))
      if (std::find(list.begin(), list.end(), s.codec) == list.end()) list.push_back(s.codec);
  }
  std::vector<BdComparison> out;
  for (const auto& t : tests)
    for (const auto& a : anchors)
      for (const bool pooled : {false, true}) {
        std::vector<RdPoint> pa, pt;
        for (const auto& s : summary) {
          const RdPoint p{s.bpp, pooled ? s.psnr_of_mean_mse : s.psnr_mean};
          if (s.codec == a) pa.push_back(p);
          if (s.codec == t) pt.push_back(p);
        }
        BdComparison c;
        c.anchor = a;
        c.test = t;
        c.convention = pooled ? "psnr_of_mean_mse" : "psnr_mean";
        c.anchor_points = pa.size();
        c.test_points = pt.size();
        c.rate = bd_rate(pa, pt);
        c.psnr = bd_psnr(pa, pt);
        out.push_back(std::move(c));
      }
  return out;
}

}  // namespace msinr::tools
