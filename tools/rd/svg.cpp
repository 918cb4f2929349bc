#include "tools/rd/svg.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <utility>

#include "tools/rd/detail/text.hpp"

namespace msinr::tools {
using detail::is_msinr_curve;
using detail::num;
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t' || c == '\n') out += c;  // XML 1.0 forbids the rest
    }
  }
  return out;
}

// An id-safe token: letters, digits, '-', '_'; everything else becomes '_'.
std::string id_token(const std::string& s) {
  std::string out;
  for (unsigned char c : s) out += std::isalnum(c) || c == '-' || c == '_' ? static_cast<char>(c) : '_';
  return out;
}

// ---- Plot helpers ---------------------------------------------------------------------------------

// About `target` round ticks (1, 2 or 5 times a power of ten) covering [lo, hi].
std::vector<double> nice_ticks(double lo, double hi, int target, double& step) {
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  step = (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
  std::vector<double> t;
  for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return t;
}

std::string tick_label(double v, double step) {
  const int decimals = std::max(0, static_cast<int>(-std::floor(std::log10(step) + 1e-9)));
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string curve_colour(const std::string& codec, std::size_t index) {
  if (is_msinr_curve(codec)) return index == 0 ? "#d62728" : "#9467bd";
  if (codec == "jpeg-420") return "#1f77b4";
  if (codec == "jpeg-444") return "#2ca02c";
  static const char* palette[] = {"#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
  return palette[index % 6];
}

std::string curve_label(const std::string& codec) {
  if (codec == "jpeg-420") return "JPEG 4:2:0";
  if (codec == "jpeg-444") return "JPEG 4:4:4";
  if (is_msinr_curve(codec)) return "msinr " + (codec.size() > 6 ? codec.substr(6) : std::string());
  return codec;
}

}  // namespace

std::string render_rd_svg(const std::vector<RdSummaryRow>& summary, const SvgOptions& o) {
  const double W = o.width, H = o.height;
  const double px0 = 70, px1 = W - 200, py0 = 50, py1 = H - 60;  // plot area; the legend sits right of it
  // Curves in summary order, points by bpp; only finite, plottable points.
  std::vector<std::string> codecs;
  for (const auto& s : summary)
    if (std::find(codecs.begin(), codecs.end(), s.codec) == codecs.end()) codecs.push_back(s.codec);
  auto plottable = [&](const RdSummaryRow& s) {
    return std::isfinite(s.bpp) && std::isfinite(s.psnr_mean) && (!o.log_rate || s.bpp > 0);
  };
  auto xval = [&](double bpp) { return o.log_rate ? std::log10(bpp) : bpp; };
  double xlo = kInf, xhi = -kInf, ylo = kInf, yhi = -kInf;
  for (const auto& s : summary)
    if (plottable(s)) {
      xlo = std::min(xlo, xval(s.bpp));
      xhi = std::max(xhi, xval(s.bpp));
      ylo = std::min(ylo, s.psnr_mean);
      yhi = std::max(yhi, s.psnr_mean);
    }
  if (!(xhi >= xlo)) xlo = o.log_rate ? -1 : 0, xhi = o.log_rate ? 1 : 1;
  if (!(yhi >= ylo)) ylo = 20, yhi = 40;
  auto pad = [](double& lo, double& hi, double min_span) {
    if (hi - lo < min_span) {
      const double mid = (lo + hi) / 2;
      lo = mid - min_span / 2;
      hi = mid + min_span / 2;
    }
    const double m = (hi - lo) * 0.06;
    lo -= m;
    hi += m;
  };
  pad(xlo, xhi, o.log_rate ? 0.3 : std::max(0.1, std::fabs(xhi) * 0.2));
  pad(ylo, yhi, 2.0);
  if (!o.log_rate && xlo < 0) xlo = 0;  // bpp is never negative
  auto X = [&](double v) { return px0 + (v - xlo) / (xhi - xlo) * (px1 - px0); };
  auto Y = [&](double v) { return py1 - (v - ylo) / (yhi - ylo) * (py1 - py0); };
  auto f1 = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return std::string(buf);
  };

  std::string svg;
  svg += "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  svg += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + f1(W) + "\" height=\"" + f1(H) + "\" viewBox=\"0 0 " +
         f1(W) + " " + f1(H) + "\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\">\n";
  svg += "<title>" + xml_escape(o.title) + "</title>\n";
  svg += "<rect x=\"0\" y=\"0\" width=\"" + f1(W) + "\" height=\"" + f1(H) + "\" fill=\"white\"/>\n";
  svg += "<text class=\"title\" x=\"" + f1((px0 + px1) / 2) + "\" y=\"28\" text-anchor=\"middle\" font-size=\"15\">" +
         xml_escape(o.title) + "</text>\n";

  // Ticks and grid.
  std::vector<std::pair<double, std::string>> xt, yt;  // (axis value, label)
  double step = 1;
  if (o.log_rate) {
    const double span = xhi - xlo;
    std::vector<int> mults = span > 2.5 ? std::vector<int>{1} : span > 1.2 ? std::vector<int>{1, 2, 5} : std::vector<int>{1, 2, 3, 4, 5, 6, 7, 8, 9};
    for (int k = static_cast<int>(std::floor(xlo)) - 1; k <= static_cast<int>(std::ceil(xhi)); ++k)
      for (int m : mults) {
        const double v = m * std::pow(10.0, k), lv = std::log10(v);
        if (lv >= xlo && lv <= xhi) xt.push_back({lv, num(v, 3)});
      }
    if (xt.size() < 2) {  // less than a factor of ~2 in range: round linear values, placed on the log axis
      xt.clear();
      for (double v : nice_ticks(std::pow(10.0, xlo), std::pow(10.0, xhi), 4, step))
        if (v > 0) xt.push_back({std::log10(v), tick_label(v, step)});
    }
  } else {
    for (double v : nice_ticks(xlo, xhi, 6, step)) xt.push_back({v, tick_label(v, step)});
  }
  for (double v : nice_ticks(ylo, yhi, 6, step)) yt.push_back({v, tick_label(v, step)});

  svg += "<g class=\"grid\" stroke=\"#dddddd\" stroke-width=\"1\">\n";
  for (const auto& [v, label] : xt)
    svg += "<line x1=\"" + f1(X(v)) + "\" y1=\"" + f1(py0) + "\" x2=\"" + f1(X(v)) + "\" y2=\"" + f1(py1) + "\"/>\n";
  for (const auto& [v, label] : yt)
    svg += "<line x1=\"" + f1(px0) + "\" y1=\"" + f1(Y(v)) + "\" x2=\"" + f1(px1) + "\" y2=\"" + f1(Y(v)) + "\"/>\n";
  svg += "</g>\n";

  svg += "<g class=\"axes\" stroke=\"black\" stroke-width=\"1\">\n";
  svg += "<rect x=\"" + f1(px0) + "\" y=\"" + f1(py0) + "\" width=\"" + f1(px1 - px0) + "\" height=\"" + f1(py1 - py0) + "\" fill=\"none\"/>\n";
  for (const auto& [v, label] : xt)
    svg += "<line x1=\"" + f1(X(v)) + "\" y1=\"" + f1(py1) + "\" x2=\"" + f1(X(v)) + "\" y2=\"" + f1(py1 + 5) + "\"/>\n";
  for (const auto& [v, label] : yt)
    svg += "<line x1=\"" + f1(px0 - 5) + "\" y1=\"" + f1(Y(v)) + "\" x2=\"" + f1(px0) + "\" y2=\"" + f1(Y(v)) + "\"/>\n";
  svg += "</g>\n";
  svg += "<g class=\"tick-labels\" fill=\"black\">\n";
  for (const auto& [v, label] : xt)
    svg += "<text x=\"" + f1(X(v)) + "\" y=\"" + f1(py1 + 19) + "\" text-anchor=\"middle\">" + xml_escape(label) + "</text>\n";
  for (const auto& [v, label] : yt)
    svg += "<text x=\"" + f1(px0 - 8) + "\" y=\"" + f1(Y(v) + 4) + "\" text-anchor=\"end\">" + xml_escape(label) + "</text>\n";
  svg += "</g>\n";
  svg += "<text class=\"xlabel\" x=\"" + f1((px0 + px1) / 2) + "\" y=\"" + f1(H - 18) + "\" text-anchor=\"middle\">" +
         std::string(o.log_rate ? "bits per pixel (mean over images, log scale)" : "bits per pixel (mean over images)") + "</text>\n";
  svg += "<text class=\"ylabel\" transform=\"translate(20," + f1((py0 + py1) / 2) +
         ") rotate(-90)\" text-anchor=\"middle\">PSNR, dB (8-bit RGB, mean over images)</text>\n";

  // Curves.
  std::size_t msinr_index = 0, other_index = 0;
  std::vector<std::pair<std::string, std::string>> legend;  // (codec, colour)
  for (const auto& codec : codecs) {
    const std::string colour = curve_colour(codec, is_msinr_curve(codec) ? msinr_index++ : other_index++);
    legend.push_back({codec, colour});
    std::vector<const RdSummaryRow*> pts;
    for (const auto& s : summary)
      if (s.codec == codec && plottable(s)) pts.push_back(&s);
    std::sort(pts.begin(), pts.end(), [](auto* a, auto* b) { return a->bpp < b->bpp; });
    const std::string id = id_token(codec);
    svg += "<g class=\"curve " + id + "\" id=\"" + id + "\">\n";
    std::string points;
    for (const auto* p : pts) points += (points.empty() ? "" : " ") + f1(X(xval(p->bpp))) + "," + f1(Y(p->psnr_mean));
    svg += "<polyline id=\"curve-" + id + "\" class=\"curve " + id + "\" fill=\"none\" stroke=\"" + colour +
           "\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
    for (const auto* p : pts)
      svg += "<circle cx=\"" + f1(X(xval(p->bpp))) + "\" cy=\"" + f1(Y(p->psnr_mean)) + "\" r=\"3.5\" fill=\"" + colour +
             "\"><title>" + xml_escape(codec + " " + p->setting + ": " + num(p->bpp, 4) + " bpp, " + num(p->psnr_mean, 4) +
                                       " dB, " + std::to_string(p->count) + " images") +
             "</title></circle>\n";
    svg += "</g>\n";
  }
  if (codecs.empty())
    svg += "<text x=\"" + f1((px0 + px1) / 2) + "\" y=\"" + f1((py0 + py1) / 2) + "\" text-anchor=\"middle\">no data</text>\n";

  // Legend, right of the plot.
  const double lx = px1 + 15, ly = py0 + 10;
  svg += "<g class=\"legend\">\n";
  svg += "<rect x=\"" + f1(lx - 6) + "\" y=\"" + f1(ly - 14) + "\" width=\"" + f1(W - lx - 4) + "\" height=\"" +
         f1(22.0 * static_cast<double>(legend.size()) + 8) + "\" fill=\"white\" stroke=\"#999999\"/>\n";
  for (std::size_t i = 0; i < legend.size(); ++i) {
    const double y = ly + 22.0 * static_cast<double>(i);
    svg += "<line x1=\"" + f1(lx) + "\" y1=\"" + f1(y) + "\" x2=\"" + f1(lx + 24) + "\" y2=\"" + f1(y) + "\" stroke=\"" +
           legend[i].second + "\" stroke-width=\"2\"/>\n";
    svg += "<circle cx=\"" + f1(lx + 12) + "\" cy=\"" + f1(y) + "\" r=\"3.5\" fill=\"" + legend[i].second + "\"/>\n";
    svg += "<text x=\"" + f1(lx + 30) + "\" y=\"" + f1(y + 4) + "\">" + xml_escape(curve_label(legend[i].first)) + "</text>\n";
  }
  svg += "</g>\n</svg>\n";
  return svg;
}

}  // namespace msinr::tools
