#include "codec/rd.hpp"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "codec/image.hpp"
#include "codec/image_io.hpp"
#include "codec/metrics.hpp"
#include "msinr/backend.hpp"
#include "msinr/error.hpp"

namespace msinr::codec {
namespace fs = std::filesystem;
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

// ---- Text helpers ---------------------------------------------------------------------------------

std::string num(double v, int digits = 10) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

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

// Splits CSV text into records (RFC 4180 quoting). `complete` is the byte count up to and
// including the last record terminator; a trailing record without one is left out.
std::vector<std::vector<std::string>> parse_csv(const std::string& text, std::size_t& complete,
                                                std::vector<std::size_t>& line_of_record) {
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> rec;
  std::string field;
  bool quoted = false, field_started = false;
  std::size_t line = 1, record_line = 1;
  complete = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        field += c;
      }
      continue;
    }
    if (c == '"' && !field_started) {
      quoted = field_started = true;
    } else if (c == ',') {
      rec.push_back(std::move(field));
      field.clear();
      field_started = false;
    } else if (c == '\n') {
      if (!field.empty() && field.back() == '\r') field.pop_back();
      rec.push_back(std::move(field));
      field.clear();
      field_started = false;
      records.push_back(std::move(rec));
      rec.clear();
      line_of_record.push_back(record_line);
      record_line = ++line;
      complete = i + 1;
    } else {
      field += c;
      field_started = true;
    }
  }
  return records;
}

double parse_double(const std::string& s, bool& ok) {
  if (s.empty()) {
    ok = false;
    return 0.0;
  }
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size()) ok = false;
  return v;
}

long long parse_ll(const std::string& s, bool& ok) {
  if (s.empty()) {
    ok = false;
    return 0;
  }
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (end != s.c_str() + s.size()) ok = false;
  return v;
}

std::string read_text(const std::string& path) {
  const auto bytes = read_file(path, std::size_t{1} << 30);
  return std::string(bytes.begin(), bytes.end());
}

void write_text_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

bool is_image_name(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext == ".png" || ext == ".jpg" || ext == ".jpeg";
}

bool is_msinr_curve(const std::string& codec) { return codec.rfind("msinr", 0) == 0; }
bool is_jpeg_curve(const std::string& codec) { return codec.rfind("jpeg", 0) == 0; }

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

// ---- The run --------------------------------------------------------------------------------------

struct Setting {
  std::string codec, setting;
  bool msinr = false;
  int level = 0;            // msinr
  int quality = 0;          // JPEG
  bool subsample_420 = false;
  int bits = 16;            // msinr payload: 0 quantized, 16 fp16
};

std::string key_of(const std::string& image, const std::string& codec, const std::string& setting) {
  return image + '\x1f' + codec + '\x1f' + setting;
}

// rd-config.txt: what rows depend on. Lines "key=value"; '#' lines are comments.
std::map<std::string, std::string> parse_config(const std::string& text) {
  std::map<std::string, std::string> kv;
  std::size_t pos = 0;
  while (pos < text.size()) {
    std::size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    const auto eq = line.find('=');
    if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
  }
  return kv;
}

void paste_panel(Image& canvas, const Image& panel, int x0, int y0) {
  for (int y = 0; y < panel.height; ++y)
    std::copy_n(&panel.pixels[static_cast<std::size_t>(y) * panel.width * 3], static_cast<std::size_t>(panel.width) * 3,
                &canvas.pixels[(static_cast<std::size_t>(y0 + y) * canvas.width + x0) * 3]);
}

}  // namespace

// ---- Public: Bjontegaard --------------------------------------------------------------------------

BdResult bd_rate(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test, BdInterval interval) {
  BdResult r = bd_average(anchor, test, /*rate_axis=*/false, interval);
  if (r.ok()) r.value = (std::pow(10.0, r.value) - 1.0) * 100.0;
  return r;
}

BdResult bd_psnr(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test, BdInterval interval) {
  return bd_average(anchor, test, /*rate_axis=*/true, interval);
}

// ---- Public: lists, CSV ---------------------------------------------------------------------------

std::vector<std::string> parse_name_list(const std::string& text, const std::string& what) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  if (text.empty()) throw Error(ErrorCode::kInvalidArgument, what + ": empty list");
  while (true) {
    const std::size_t comma = text.find(',', pos);
    std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.front()))) item.erase(item.begin());
    while (!item.empty() && std::isspace(static_cast<unsigned char>(item.back()))) item.pop_back();
    if (item.empty()) throw Error(ErrorCode::kInvalidArgument, what + ": empty item in '" + text + "'");
    out.push_back(item);
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return out;
}

std::vector<int> parse_int_list(const std::string& text, const std::string& what) {
  std::vector<int> out;
  for (const std::string& item : parse_name_list(text, what)) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(item.c_str(), &end, 10);
    if (end != item.c_str() + item.size() || errno != 0 || v < -1000000 || v > 1000000)
      throw Error(ErrorCode::kInvalidArgument, what + ": '" + item + "' is not an integer");
    out.push_back(static_cast<int>(v));
  }
  return out;
}

std::string format_rd_row(const RdRow& r) {
  std::string s = csv_field(r.image) + ',' + csv_field(r.codec) + ',' + csv_field(r.setting) + ',';
  s += std::to_string(r.width) + ',' + std::to_string(r.height) + ',' + std::to_string(r.bytes) + ',';
  s += num(r.bpp) + ',' + num(r.psnr) + ',' + num(r.ssim) + ',' + num(r.encode_seconds, 6) + ',' + num(r.decode_seconds, 6);
  return s;
}

namespace {
std::vector<RdRow> rows_of_csv(const std::string& text, const std::string& name, std::size_t& complete) {
  std::vector<std::size_t> lines;
  const auto records = parse_csv(text, complete, lines);
  std::vector<RdRow> rows;
  if (records.empty()) return rows;
  std::string header;
  for (std::size_t i = 0; i < records[0].size(); ++i) header += (i ? "," : "") + records[0][i];
  if (header != kRdCsvHeader)
    throw Error(ErrorCode::kCorrupt, name + ": line 1 is not the rd.csv header (" + std::string(kRdCsvHeader) + ")");
  for (std::size_t k = 1; k < records.size(); ++k) {
    const auto& f = records[k];
    const std::string where = name + ": line " + std::to_string(lines[k]);
    if (f.size() == 1 && f[0].empty()) continue;  // a blank line
    if (f.size() != 11) throw Error(ErrorCode::kCorrupt, where + ": " + std::to_string(f.size()) + " fields, expected 11");
    RdRow r;
    bool ok = true;
    r.image = f[0];
    r.codec = f[1];
    r.setting = f[2];
    r.width = static_cast<int>(parse_ll(f[3], ok));
    r.height = static_cast<int>(parse_ll(f[4], ok));
    const long long bytes = parse_ll(f[5], ok);
    r.bytes = bytes > 0 ? static_cast<std::size_t>(bytes) : 0;
    r.bpp = parse_double(f[6], ok);
    r.psnr = parse_double(f[7], ok);
    r.ssim = parse_double(f[8], ok);
    r.encode_seconds = parse_double(f[9], ok);
    r.decode_seconds = parse_double(f[10], ok);
    if (!ok || r.image.empty() || r.codec.empty() || r.setting.empty() || r.width < 1 || r.height < 1 || bytes < 0)
      throw Error(ErrorCode::kCorrupt, where + ": malformed row");
    rows.push_back(std::move(r));
  }
  return rows;
}
}  // namespace

std::vector<RdRow> read_rd_csv(const std::string& path, bool* partial_tail) {
  const std::string text = read_text(path);
  std::size_t complete = 0;
  auto rows = rows_of_csv(text, path, complete);
  if (partial_tail) *partial_tail = complete < text.size();
  return rows;
}

// ---- Public: summary, BD, SVG ---------------------------------------------------------------------

std::vector<RdSummaryRow> summarize_rd(const std::vector<RdRow>& rows) {
  struct Acc {
    std::size_t n = 0, n_ssim = 0;
    double bpp = 0, psnr = 0, mse = 0, ssim = 0, enc = 0, dec = 0;
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

// ---- Public: the run ------------------------------------------------------------------------------

RdReport run_rd(const Model& model, const RdConfig& cfg) {
  using Clock = std::chrono::steady_clock;
  auto seconds_since = [](Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); };

  // Arguments.
  if (cfg.crop < 0 || cfg.count < 0) throw Error(ErrorCode::kInvalidArgument, "crop and count must be >= 0");
  if (cfg.steps < 0 || !(cfg.lr >= 0.0f)) throw Error(ErrorCode::kInvalidArgument, "steps must be >= 0 and lr >= 0");
  if (cfg.threads < 0 || cfg.jobs < 0) throw Error(ErrorCode::kInvalidArgument, "threads and jobs must be >= 0");
  if (cfg.out.empty()) throw Error(ErrorCode::kInvalidArgument, "no output folder");
  std::vector<int> levels;
  if (cfg.levels.empty()) {
    for (const auto& l : model.levels) levels.push_back(l.index);
    std::sort(levels.begin(), levels.end());
  }
  for (int l : cfg.levels) {
    model.level(l);  // kInvalidArgument listing the levels that exist
    if (std::find(levels.begin(), levels.end(), l) == levels.end()) levels.push_back(l);
  }
  std::vector<int> qualities;
  for (int q : cfg.jpeg_qualities) {
    if (q < 1 || q > 100)
      throw Error(ErrorCode::kInvalidArgument, "JPEG quality " + std::to_string(q) + " is outside 1..100");
    if (std::find(qualities.begin(), qualities.end(), q) == qualities.end()) qualities.push_back(q);
  }
  if (levels.empty() && qualities.empty()) throw Error(ErrorCode::kInvalidArgument, "nothing to measure: no levels and no JPEG qualities");

  std::vector<Setting> settings;
  for (int bits : cfg.payload_bits) {
    if (bits != 0 && bits != 16) throw Error(ErrorCode::kInvalidArgument, "payload bits must be 0 (quantized) or 16 (fp16)");
    for (int l : levels)
      settings.push_back({bits == 16 ? "msinr-fp16" : "msinr", "level" + std::to_string(l), true, l, 0, false, bits});
  }
  for (int q : qualities) settings.push_back({"jpeg-420", "q" + std::to_string(q), false, 0, q, true});
  for (int q : qualities) settings.push_back({"jpeg-444", "q" + std::to_string(q), false, 0, q, false});

  // Images: the same rule as load_dataset (sorted by name, first `count`).
  std::error_code ec;
  if (!fs::is_directory(cfg.images, ec)) throw Error(ErrorCode::kIo, cfg.images + ": not a folder");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(cfg.images, ec))
    if (e.is_regular_file() && is_image_name(e.path())) files.push_back(e.path());
  if (ec) throw Error(ErrorCode::kIo, cfg.images + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  if (cfg.count > 0 && files.size() > static_cast<std::size_t>(cfg.count)) files.resize(static_cast<std::size_t>(cfg.count));
  if (files.empty()) throw Error(ErrorCode::kIo, cfg.images + ": no .png, .jpg or .jpeg images");

  std::vector<bool> compare(files.size(), false);
  for (const std::string& name : cfg.compare) {
    bool found = false;
    for (std::size_t i = 0; i < files.size(); ++i)
      if (files[i].filename().string() == name || files[i].stem().string() == name) compare[i] = found = true;
    if (!found)
      throw Error(ErrorCode::kInvalidArgument, "--compare: no image '" + name + "' among the " + std::to_string(files.size()) +
                                                   " selected from " + cfg.images);
  }

  const RdSharing& sh = cfg.sharing;
  const bool sharded = sh.shards > 1;
  if (sharded && (sh.shard < 0 || sh.shard >= sh.shards || !sh.broadcast || !sh.gather))
    throw Error(ErrorCode::kInvalidArgument, "bad rd sharing");
  if (sharded && !cfg.compare.empty())
    throw Error(ErrorCode::kUnsupported, "--compare needs a single process (its pictures are drawn where the image is measured)");
  const bool root = sh.shard == 0;
  // Output folder, run configuration, existing rows (rank 0's; the others learn the rows from it).
  RdReport report;
  std::vector<RdRow> existing;
  const std::string csv_path = (fs::path(cfg.out) / "rd.csv").string();
  const std::string config_path = (fs::path(cfg.out) / "rd-config.txt").string();
  if (!root) {
    std::size_t complete = 0;
    existing = rows_of_csv(sh.broadcast(""), csv_path + " (from rank 0)", complete);
  } else {
  fs::create_directories(cfg.out, ec);
  if (!fs::is_directory(cfg.out)) throw Error(ErrorCode::kIo, cfg.out + ": cannot create the output folder");
  std::map<std::string, std::string> config = {
      {"images", fs::weakly_canonical(fs::absolute(cfg.images), ec).string()},
      {"crop", std::to_string(cfg.crop)},
      {"model", model.id_hex()},
      {"steps", std::to_string(cfg.steps)},
      {"lr", num(static_cast<double>(cfg.lr), 7)},
  };
  const bool have_csv = fs::exists(csv_path);
  if (have_csv) {
    const std::string text = read_text(csv_path);
    std::size_t complete = 0;
    existing = rows_of_csv(text, csv_path, complete);
    if (complete < text.size()) {  // a half-written last line: a run was killed mid-row
      fs::resize_file(csv_path, complete, ec);
      if (ec) throw Error(ErrorCode::kIo, csv_path + ": cannot drop the half-written last line: " + ec.message());
      report.dropped_partial_row = true;
    }
    if (!existing.empty() && fs::exists(config_path)) {
      const auto old = parse_config(read_text(config_path));
      for (const auto& [k, v] : config) {
        const auto it = old.find(k);
        if (it != old.end() && it->second != v)
          throw Error(ErrorCode::kInvalidArgument,
                      csv_path + " holds rows measured with " + k + "=" + it->second + ", this run asks for " + k + "=" + v +
                          ": use another --out folder, or delete rd.csv there to start over");
      }
    }
  }
  {
    std::string text = "# msinr rd: what the rows of rd.csv depend on. A run that resumes into this folder must match.\n";
    for (const auto& [k, v] : config) text += k + "=" + v + "\n";
    write_text_atomic(config_path, text);
  }
  if (sharded) sh.broadcast(have_csv ? read_text(csv_path) : std::string());
  }
  std::map<std::string, RdRow> done;
  for (const RdRow& r : existing) done[key_of(r.image, r.codec, r.setting)] = r;

  const bool need_header = root && (!fs::exists(csv_path) || fs::file_size(csv_path, ec) == 0);
  FILE* csv = root ? std::fopen(csv_path.c_str(), "ab") : nullptr;
  if (root && !csv) throw Error(ErrorCode::kIo, csv_path + ": cannot open for appending");
  std::string shard_rows;  // the rows a process other than rank 0 measured, for rank 0
  struct CloseFile {
    FILE* f;
    ~CloseFile() {
      if (f) std::fclose(f);
    }
  } closer{csv};
  if (need_header) {
    std::fprintf(csv, "%s\n", kRdCsvHeader);
    std::fflush(csv);
  }

  // Threads: `jobs` images at once, each encode and decode on threads / jobs threads.
  const int threads = cfg.threads > 0 ? cfg.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  const bool cuda = cfg.device == Device::kCuda || (cfg.device == Device::kAuto && cuda_backend_available());
  // This process's images: all of them, or every shards-th.
  std::vector<std::size_t> mine;
  for (std::size_t i = 0; i < files.size(); ++i)
    if (!sharded || static_cast<int>(i % static_cast<std::size_t>(sh.shards)) == sh.shard) mine.push_back(i);
  int jobs = cfg.jobs > 0 ? cfg.jobs : (cuda ? 1 : threads);
  jobs = std::max(1, std::min<int>(jobs, static_cast<int>(std::max<std::size_t>(mine.size(), 1))));
  const int per_job = std::max(1, threads / jobs);
  report.jobs = jobs;
  report.threads_per_job = per_job;

  std::mutex mu;  // guards the CSV, the report and progress
  RdProgress progress;
  progress.rows_total = mine.size() * settings.size();
  progress.images_total = mine.size();
  std::atomic<std::size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr first_error;
  std::set<std::string> measured_images;

  auto tick = [&](const std::string& image, bool computed, std::size_t n = 1) {
    // Called with `mu` held.
    (computed ? progress.rows_done : progress.rows_skipped) += n;
    progress.image = image;
    if (cfg.progress) cfg.progress(progress);
  };

  auto process = [&](std::size_t i) {
    const std::string name = files[i].filename().string();
    const std::string compare_file = "compare-" + files[i].stem().string() + ".png";
    const std::string compare_path = (fs::path(cfg.out) / compare_file).string();
    std::size_t missing = 0;
    bool missing_msinr = false;
    for (const Setting& s : settings)
      if (!done.count(key_of(name, s.codec, s.setting))) ++missing, missing_msinr |= s.msinr;
    const bool want_compare = compare[i] && (missing_msinr || !fs::exists(compare_path));
    if (missing == 0 && !want_compare) {
      std::lock_guard<std::mutex> lock(mu);
      measured_images.insert(name);
      ++progress.images_done;
      tick(name, false, settings.size());
      return;
    }
    Image img = to_rgb(read_image(files[i].string()));
    if (cfg.crop > 0) {
      if (img.width < cfg.crop || img.height < cfg.crop) {
        std::lock_guard<std::mutex> lock(mu);
        ++report.skipped_small;
        progress.rows_total -= settings.size();
        ++progress.images_done;
        tick(name, false, 0);
        return;
      }
      img = center_crop(img, cfg.crop);
    }
    const double pixels = static_cast<double>(img.width) * img.height;
    const bool can_ssim = std::min(img.width, img.height) >= kSsimWindow;
    struct Panel {
      const Setting* setting;
      RdRow row;
      Image decoded;
    };
    std::vector<Panel> msinr_panels;
    std::vector<RdRow> jpeg_rows;
    for (const Setting& s : settings) {
      if (stop) return;
      const auto it = done.find(key_of(name, s.codec, s.setting));
      const bool have = it != done.end();
      if (have && !(want_compare && s.msinr)) {
        if (!s.msinr) jpeg_rows.push_back(it->second);
        std::lock_guard<std::mutex> lock(mu);
        tick(name, false);
        continue;
      }
      RdRow row;
      row.image = name;
      row.codec = s.codec;
      row.setting = s.setting;
      row.width = img.width;
      row.height = img.height;
      Image back;
      if (s.msinr) {
        EncodeOptions eo;
        eo.level = s.level;
        eo.bits = s.bits;
        eo.steps = cfg.steps;
        eo.lr = cfg.lr;
        eo.device = cfg.device;
        eo.threads = per_job;
        eo.progress = [&](std::size_t, std::size_t) { return !stop.load(); };
        const auto t0 = Clock::now();
        const EncodeResult r = encode_image(img, model, eo);
        row.encode_seconds = seconds_since(t0);
        DecodeOptions dopt;
        dopt.threads = per_job;
        const auto t1 = Clock::now();
        back = decode_image(r.bytes, name, model, dopt);
        row.decode_seconds = seconds_since(t1);
        row.bytes = r.bytes.size();
      } else {
        const auto t0 = Clock::now();
        const std::vector<std::uint8_t> bytes = encode_jpeg(img, s.quality, s.subsample_420);
        row.encode_seconds = seconds_since(t0);
        const auto t1 = Clock::now();
        back = decode_jpeg(bytes, name);
        row.decode_seconds = seconds_since(t1);
        row.bytes = bytes.size();
      }
      row.bpp = static_cast<double>(row.bytes) * 8.0 / pixels;
      row.psnr = psnr_8bit(back, img);
      row.ssim = can_ssim ? ssim(back, img) : kNaN;
      // What is written is what is read back: later steps see the row as the CSV holds it.
      const std::string line = format_rd_row(row);
      std::size_t complete = 0;
      const auto reparsed = rows_of_csv(std::string(kRdCsvHeader) + "\n" + line + "\n", "row", complete);
      if (!have) {
        std::lock_guard<std::mutex> lock(mu);
        if (!csv)
          shard_rows += "R" + line + "\n";
        else if (std::fprintf(csv, "%s\n", line.c_str()) < 0 || std::fflush(csv) != 0)
          throw Error(ErrorCode::kIo, csv_path + ": write failed");
        tick(name, true);
      } else {
        std::lock_guard<std::mutex> lock(mu);
        tick(name, false);
      }
      const RdRow& kept = have ? it->second : reparsed.at(0);
      if (s.msinr) {
        if (compare[i]) msinr_panels.push_back({&s, kept, std::move(back)});
      } else {
        jpeg_rows.push_back(kept);
      }
    }
    if (compare[i] && want_compare && !msinr_panels.empty()) {
      // Rows: original | msinr at a level | JPEG at the bpp closest to it. With compare_crop every
      // panel is the same centred square (the whole pictures of a large image make a huge PNG).
      const int side = cfg.compare_crop > 0 ? std::min({cfg.compare_crop, img.width, img.height}) : 0;
      auto view = [side](const Image& full) { return side > 0 ? center_crop(full, side) : full; };
      const Image original = view(img);
      constexpr int gap = 4;
      const int cols = jpeg_rows.empty() ? 2 : 3;
      const int n = static_cast<int>(msinr_panels.size());
      Image canvas = make_image(cols * original.width + (cols - 1) * gap, n * original.height + (n - 1) * gap, 3);
      std::fill(canvas.pixels.begin(), canvas.pixels.end(), std::uint8_t{255});
      CompareImage ci;
      ci.image = name;
      ci.file = compare_file;
      for (int r = 0; r < n; ++r) {
        const Panel& p = msinr_panels[static_cast<std::size_t>(r)];
        const int y0 = r * (original.height + gap);
        paste_panel(canvas, original, 0, y0);
        paste_panel(canvas, view(p.decoded), original.width + gap, y0);
        CompareRow cr;
        cr.msinr_codec = p.row.codec;
        cr.msinr_setting = p.row.setting;
        cr.msinr_bpp = p.row.bpp;
        cr.msinr_psnr = p.row.psnr;
        if (!jpeg_rows.empty()) {
          const RdRow* best = &jpeg_rows[0];
          for (const RdRow& j : jpeg_rows)
            if (std::fabs(j.bpp - p.row.bpp) < std::fabs(best->bpp - p.row.bpp)) best = &j;
          const Setting* js = nullptr;
          for (const Setting& s : settings)
            if (!s.msinr && s.codec == best->codec && s.setting == best->setting) js = &s;
          const Image jb = decode_jpeg(encode_jpeg(img, js->quality, js->subsample_420), name);
          paste_panel(canvas, view(jb), 2 * (original.width + gap), y0);
          cr.jpeg_codec = best->codec;
          cr.jpeg_setting = best->setting;
          cr.jpeg_bpp = best->bpp;
          cr.jpeg_psnr = best->psnr;
        }
        ci.rows.push_back(cr);
      }
      write_png(canvas, compare_path);
      std::lock_guard<std::mutex> lock(mu);
      report.compares.push_back(std::move(ci));
    }
    std::lock_guard<std::mutex> lock(mu);
    measured_images.insert(name);
    ++progress.images_done;
    if (cfg.progress) cfg.progress(progress);
  };

  auto worker = [&] {
    for (std::size_t k; !stop && (k = next++) < mine.size();) {
      try {
        process(mine[k]);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mu);
        if (!first_error) first_error = std::current_exception();
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (int j = 1; j < jobs; ++j) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
  report.rows_total = progress.rows_total;
  report.rows_written = progress.rows_done;
  report.rows_skipped = progress.rows_skipped;
  if (sharded) {
    // Rank 0 appends the others' rows (lines "R<csv row>", "I<image measured>", "S<skipped>").
    std::string mine_text = root ? std::string() : shard_rows;
    if (!root) {
      for (const auto& name : measured_images) mine_text += "I" + name + "\n";
      mine_text += "S" + std::to_string(report.skipped_small) + "\n";
    }
    const std::vector<std::string> all = sh.gather(mine_text);
    if (!root) {
      report.images = measured_images.size();
      return report;  // rank 0 writes and reports the whole run
    }
    for (std::size_t r = 1; r < all.size(); ++r) {
      std::size_t at = 0;
      while (at < all[r].size()) {
        std::size_t end = all[r].find('\n', at);
        if (end == std::string::npos) end = all[r].size();
        const std::string item = all[r].substr(at + 1, end - at - 1);
        const char kind = all[r][at];
        at = end + 1;
        if (kind == 'R') {
          if (std::fprintf(csv, "%s\n", item.c_str()) < 0) throw Error(ErrorCode::kIo, csv_path + ": write failed");
          ++report.rows_written;
        } else if (kind == 'I') {
          measured_images.insert(item);
        } else if (kind == 'S') {
          report.skipped_small += static_cast<std::size_t>(std::stoull(item));
        }
      }
    }
  }
  if (std::fflush(csv) != 0 || ::fsync(fileno(csv)) != 0) throw Error(ErrorCode::kIo, csv_path + ": write failed");
  report.images = measured_images.size();
  if (sharded) {  // the others' skipped rows are not sent: the request's rows minus those measured now
    report.rows_total = measured_images.size() * settings.size();
    report.rows_skipped = report.rows_total - std::min(report.rows_total, report.rows_written);
  }

  // Summary, deltas and plot from the rows of this request, as rd.csv holds them.
  std::set<std::string> wanted_settings;
  for (const Setting& s : settings) wanted_settings.insert(s.codec + '\x1f' + s.setting);
  std::vector<RdRow> rows;
  for (RdRow& r : read_rd_csv(csv_path))
    if (measured_images.count(r.image) && wanted_settings.count(r.codec + '\x1f' + r.setting)) rows.push_back(std::move(r));
  report.summary = summarize_rd(rows);
  report.bd = compare_curves(report.summary);

  std::string summary_csv = "codec,setting,count,bpp,psnr_mean,psnr_of_mean_mse,ssim,encode_seconds,decode_seconds\n";
  for (const auto& s : report.summary)
    summary_csv += csv_field(s.codec) + ',' + csv_field(s.setting) + ',' + std::to_string(s.count) + ',' + num(s.bpp) + ',' +
                   num(s.psnr_mean) + ',' + num(s.psnr_of_mean_mse) + ',' + num(s.ssim) + ',' + num(s.encode_seconds, 6) +
                   ',' + num(s.decode_seconds, 6) + '\n';
  std::string bd_csv = "anchor,test,convention,anchor_points,test_points,bd_rate_percent,bd_psnr_db,note\n";
  for (const auto& b : report.bd) {
    std::string note = b.rate.reason;
    if (!b.psnr.reason.empty() && b.psnr.reason != note) note += (note.empty() ? "" : "; ") + b.psnr.reason;
    bd_csv += csv_field(b.anchor) + ',' + csv_field(b.test) + ',' + b.convention + ',' + std::to_string(b.anchor_points) + ',' +
              std::to_string(b.test_points) + ',' + num(b.rate.value, 6) + ',' + num(b.psnr.value, 6) + ',' + csv_field(note) + '\n';
  }
  SvgOptions so;
  so.log_rate = cfg.log_rate;
  so.title = cfg.title;
  if (so.title.empty()) {
    fs::path dir = fs::path(cfg.images).lexically_normal();
    if (dir.filename().empty()) dir = dir.parent_path();  // "a/b/" -> "a/b"
    std::string folder = dir.filename().string();
    if ((folder == "val" || folder == "test" || folder == "train") && !dir.parent_path().filename().empty())
      folder = dir.parent_path().filename().string() + "/" + folder;  // "celeba178/val" says more than "val"
    so.title = "msinr vs JPEG: " + folder + ", " + std::to_string(report.images) + " image" + (report.images == 1 ? "" : "s") +
               (cfg.crop > 0 ? ", center " + std::to_string(cfg.crop) + "x" + std::to_string(cfg.crop) : std::string());
  }
  write_text_atomic((fs::path(cfg.out) / "summary.csv").string(), summary_csv);
  write_text_atomic((fs::path(cfg.out) / "bd.csv").string(), bd_csv);
  write_text_atomic((fs::path(cfg.out) / "rd.svg").string(), render_rd_svg(report.summary, so));
  report.files = {"rd.csv", "rd-config.txt", "summary.csv", "bd.csv", "rd.svg"};
  std::sort(report.compares.begin(), report.compares.end(), [](const auto& a, const auto& b) { return a.image < b.image; });
  for (const auto& c : report.compares) report.files.push_back(c.file);
  return report;
}

}  // namespace msinr::codec
