#include "cli/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace msinr::cli {
namespace {

std::string singular(const std::string& unit) {
  return unit.size() > 1 && unit.back() == 's' ? unit.substr(0, unit.size() - 1) : unit;
}

std::string count_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", std::floor(std::max(0.0, v) + 1e-9));
  return buf;
}

int percent_of(const ProgressView& v) {
  if (!(v.total > 0.0)) return -1;
  return static_cast<int>(std::clamp(std::floor(100.0 * v.done / v.total + 1e-9), 0.0, 100.0));
}

}  // namespace

std::string format_duration(double seconds) {
  if (!(seconds >= 0.0) || !std::isfinite(seconds) || seconds > 1e8) return "--:--";
  const long t = std::lround(seconds);
  char buf[32];
  if (t >= 3600) std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
  else std::snprintf(buf, sizeof buf, "%ld:%02ld", t / 60, t % 60);
  return buf;
}

std::string format_rate(double done, double elapsed, const std::string& unit) {
  char buf[64];
  if (!(done > 0.0) || !(elapsed > 0.0)) {
    std::snprintf(buf, sizeof buf, "-- %s/s", unit.c_str());
    return buf;
  }
  const double rate = done / elapsed;
  if (rate >= 1.0) std::snprintf(buf, sizeof buf, rate >= 100.0 ? "%.0f %s/s" : "%.1f %s/s", rate, unit.c_str());
  else std::snprintf(buf, sizeof buf, elapsed / done >= 100.0 ? "%.0f s/%s" : "%.1f s/%s", elapsed / done, singular(unit).c_str());
  return buf;
}

double eta_seconds(const ProgressView& v) {
  if (v.eta >= 0.0) return v.eta;
  if (!(v.total > 0.0) || !(v.done > 0.0) || !(v.elapsed > 0.0)) return -1.0;
  return std::max(0.0, v.total - v.done) * v.elapsed / v.done;
}

std::string format_progress_bar(const ProgressView& v, int columns) {
  columns = std::max(columns, 20);
  const int pct = percent_of(v);
  // (Built with append: GCC 12 gives false -Wrestrict warnings for "literal" + std::string.)
  std::string tail = "  ";
  tail += count_text(v.done);
  if (pct >= 0) tail.append("/").append(count_text(v.total));
  if (!v.unit.empty()) tail.append(" ").append(v.unit);
  tail.append("  ").append(format_rate(v.done, v.elapsed, v.unit));
  tail.append(pct >= 0 ? "  ETA " : "  ").append(format_duration(pct >= 0 ? eta_seconds(v) : v.elapsed));
  std::string head = v.label;
  char pct_text[16] = "";
  if (pct >= 0) std::snprintf(pct_text, sizeof pct_text, "%3d%% ", pct);
  auto assemble = [&](int cells, bool with_detail) {
    std::string s = head;
    if (pct >= 0) {
      const int filled = static_cast<int>(std::floor(cells * std::clamp(v.done / v.total, 0.0, 1.0) + 1e-9));
      s += (head.empty() ? "" : "  ") + std::string(pct_text) + "[" + std::string(static_cast<std::size_t>(filled), '#') +
           std::string(static_cast<std::size_t>(cells - filled), '-') + "]";
    }
    s += s.empty() ? tail.substr(2) : tail;
    if (with_detail && !v.detail.empty()) s.append("  ").append(v.detail);
    return s;
  };
  const int fixed = static_cast<int>(assemble(0, true).size());
  int cells = std::clamp(columns - fixed - 2, 10, 30);
  std::string line = assemble(cells, true);
  if (static_cast<int>(line.size()) > columns && !v.detail.empty()) {
    const int without = static_cast<int>(assemble(0, false).size());
    cells = std::clamp(columns - without - 2, 10, 30);
    line = assemble(cells, false);
  }
  if (static_cast<int>(line.size()) > columns) {
    // Cut the label (from its start: the end of a file name says more), then anything left over.
    const std::size_t over = line.size() - static_cast<std::size_t>(columns);
    if (head.size() > over + 3) {
      head = std::string("...").append(head, over + 3);
      line = assemble(cells, false);
    }
    if (static_cast<int>(line.size()) > columns) line.resize(static_cast<std::size_t>(columns));
  }
  return line;
}

std::string format_progress_line(const ProgressView& v) {
  const int pct = percent_of(v);
  std::string s = v.label;
  if (!s.empty()) s.append(": ");
  s.append(count_text(v.done));
  if (pct >= 0) s.append("/").append(count_text(v.total));
  if (!v.unit.empty()) s.append(" ").append(v.unit);
  if (pct >= 0) s.append(" (").append(std::to_string(pct)).append("%)");
  s.append(", ").append(format_rate(v.done, v.elapsed, v.unit));
  if (pct >= 0) s.append(", ETA ").append(format_duration(eta_seconds(v)));
  else s.append(", ").append(format_duration(v.elapsed)).append(" so far");
  if (!v.detail.empty()) s.append(", ").append(v.detail);
  return s;
}

ProgressMode progress_mode(bool quiet) {
  if (quiet) return ProgressMode::kQuiet;
  return isatty(STDERR_FILENO) == 1 ? ProgressMode::kBar : ProgressMode::kLines;
}

int terminal_columns() {
  winsize ws{};
  if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  if (const char* c = std::getenv("COLUMNS"); c && std::atoi(c) > 0) return std::atoi(c);
  return 80;
}

Progress::Progress(ProgressMode mode, std::string label, double total, std::string unit, double line_interval)
    : mode_(mode), line_interval_(line_interval) {
  view_.label = std::move(label);
  view_.total = total;
  view_.unit = std::move(unit);
  start_ = std::chrono::steady_clock::now();
  last_draw_ = start_;
}

Progress::~Progress() { finish(); }

void Progress::update(double done, const std::string& detail, double eta) {
  if (mode_ == ProgressMode::kQuiet) return;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  view_.done = done;
  view_.detail = detail;
  view_.eta = eta;
  view_.elapsed = std::chrono::duration<double>(now - start_).count();
  const double since = std::chrono::duration<double>(now - last_draw_).count();
  const bool last = view_.total > 0.0 && done >= view_.total;
  if (mode_ == ProgressMode::kBar) {
    if (drawn_ && since < 0.1 && !last) return;
    std::fprintf(stderr, "\r%s\033[K", format_progress_bar(view_, terminal_columns() - 1).c_str());
    std::fflush(stderr);
    drawn_ = true;
  } else {
    // Off a terminal: a line every line_interval seconds, so a log shows the work is alive
    // without filling up; short work prints none.
    if (since < line_interval_) return;
    std::fprintf(stderr, "%s\n", format_progress_line(view_).c_str());
    std::fflush(stderr);
  }
  last_draw_ = now;
}

void Progress::restart(std::string label, double total) {
  std::lock_guard lock(mutex_);
  view_.label = std::move(label);
  view_.total = total;
  view_.done = 0.0;
  start_ = std::chrono::steady_clock::now();
}

void Progress::set_label(std::string label) {
  std::lock_guard lock(mutex_);
  view_.label = std::move(label);
}

void Progress::set_total(double total) {
  std::lock_guard lock(mutex_);
  view_.total = total;
}

void Progress::clear_locked() {
  if (mode_ == ProgressMode::kBar && drawn_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    drawn_ = false;
  }
}

void Progress::note(const std::string& line) {
  if (mode_ == ProgressMode::kQuiet) return;
  std::lock_guard lock(mutex_);
  clear_locked();
  std::fprintf(stderr, "%s\n", line.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  clear_locked();
}

}  // namespace msinr::cli
