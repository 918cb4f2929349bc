#include "tools/rd/csv.hpp"

#include <cstdlib>

#include "msinr/error.hpp"
#include "tools/rd/detail/text.hpp"

namespace msinr::tools {
using detail::num;
namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
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

}  // namespace

std::string format_rd_row(const RdRow& r) {
  std::string s = csv_field(r.image) + ',' + csv_field(r.codec) + ',' + csv_field(r.setting) + ',';
  s += std::to_string(r.width) + ',' + std::to_string(r.height) + ',' + std::to_string(r.bytes) + ',';
  s += num(r.bpp) + ',' + num(r.psnr) + ',' + num(r.ssim) + ',' + num(r.ms_ssim) + ',' + num(r.encode_seconds, 6) + ',' +
       num(r.decode_seconds, 6);
  return s;
}

std::vector<RdRow> parse_rd_csv(const std::string& text, const std::string& name, std::size_t& complete,
                                bool* without_ms_ssim) {
  std::vector<std::size_t> lines;
  const auto records = parse_csv(text, complete, lines);
  std::vector<RdRow> rows;
  if (records.empty()) return rows;
  std::string header;
  for (std::size_t i = 0; i < records[0].size(); ++i) header += (i ? "," : "") + records[0][i];
  const bool old = header == kRdCsvHeaderWithoutMsSsim;
  if (header != kRdCsvHeader && !old)
    throw Error(ErrorCode::kCorrupt, name + ": line 1 is not the rd.csv header (" + std::string(kRdCsvHeader) + ")");
  if (without_ms_ssim) *without_ms_ssim = old;
  const std::size_t fields = old ? 11 : 12;
  for (std::size_t k = 1; k < records.size(); ++k) {
    const auto& f = records[k];
    const std::string where = name + ": line " + std::to_string(lines[k]);
    if (f.size() == 1 && f[0].empty()) continue;  // a blank line
    if (f.size() != fields)
      throw Error(ErrorCode::kCorrupt, where + ": " + std::to_string(f.size()) + " fields, expected " + std::to_string(fields));
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
    std::size_t at = 9;
    if (!old) r.ms_ssim = parse_double(f[at++], ok);
    r.encode_seconds = parse_double(f[at++], ok);
    r.decode_seconds = parse_double(f[at], ok);
    if (!ok || r.image.empty() || r.codec.empty() || r.setting.empty() || r.width < 1 || r.height < 1 || bytes < 0)
      throw Error(ErrorCode::kCorrupt, where + ": malformed row");
    rows.push_back(std::move(r));
  }
  return rows;
}

std::vector<RdRow> read_rd_csv(const std::string& path, bool* partial_tail) {
  const std::string text = detail::read_text(path);
  std::size_t complete = 0;
  auto rows = parse_rd_csv(text, path, complete);
  if (partial_tail) *partial_tail = complete < text.size();
  return rows;
}

std::string format_summary_csv(const std::vector<RdSummaryRow>& summary) {
  std::string summary_csv =
      "codec,setting,count,bpp,psnr_mean,psnr_of_mean_mse,ssim,ms_ssim,encode_seconds,decode_seconds\n";
  for (const auto& s : summary)
    summary_csv += csv_field(s.codec) + ',' + csv_field(s.setting) + ',' + std::to_string(s.count) + ',' + num(s.bpp) + ',' +
                   num(s.psnr_mean) + ',' + num(s.psnr_of_mean_mse) + ',' + num(s.ssim) + ',' + num(s.ms_ssim) + ',' +
                   num(s.encode_seconds, 6) +
                   ',' + num(s.decode_seconds, 6) + '\n';
  return summary_csv;
}

std::string format_bd_csv(const std::vector<BdComparison>& bd) {
  std::string bd_csv =
      "anchor,test,convention,anchor_points,test_points,bd_rate_percent,bd_rate_psnr_lo_db,bd_rate_psnr_hi_db,"
      "bd_psnr_db,bd_psnr_bpp_lo,bd_psnr_bpp_hi,note\n";
  for (const auto& b : bd) {
    std::string note = b.rate.reason;
    if (!b.psnr.reason.empty() && b.psnr.reason != note) note += (note.empty() ? "" : "; ") + b.psnr.reason;
    bd_csv += csv_field(b.anchor) + ',' + csv_field(b.test) + ',' + b.convention + ',' + std::to_string(b.anchor_points) + ',' +
              std::to_string(b.test_points) + ',' + num(b.rate.value, 6) + ',' + num(b.rate.lo, 6) + ',' + num(b.rate.hi, 6) + ',' +
              num(b.psnr.value, 6) + ',' + num(b.psnr.lo, 6) + ',' + num(b.psnr.hi, 6) + ',' + csv_field(note) + '\n';
  }
  return bd_csv;
}

}  // namespace msinr::tools
