#pragma once
// Progress of long work (encode over tiles, batches over images, train over steps, rd over rows),
// in one place. On a terminal (stderr a tty) a bar redrawn in place with percent, rate and ETA;
// off a terminal a plain line now and then; with --quiet nothing. The text is a pure function of
// what is shown (ProgressView), so its formatting is unit-tested without a terminal.
// (Debian 12 packages no C++ progress-bar library, e.g. p-ranav/indicators, hence this small one.)
#include <chrono>
#include <mutex>
#include <string>

namespace msinr::cli {

struct ProgressView {
  std::string label;       // what is running: "encode kodim23.png", "round 3/15"
  double done = 0.0;       // units finished (may be fractional: 2.5 images)
  double total = 0.0;      // units in all; 0: unknown
  std::string unit;        // plural: "tiles", "steps", "images", "rows"
  double elapsed = 0.0;    // seconds since this work started
  double eta = -1.0;       // seconds left when the caller knows better; < 0: from done / elapsed
  std::string detail;      // appended as is: "PSNR 23.10 dB"
};

// "0:07", "12:34", "1:02:03"; "--:--" for a negative, infinite or NaN time.
std::string format_duration(double seconds);
// "3.2 tiles/s" at one or more units a second, "4.1 s/tile" below, "-- tiles/s" when unknown.
std::string format_rate(double done, double elapsed, const std::string& unit);
// Seconds left: v.eta when >= 0, else (total - done) * elapsed / done; < 0 when unknown.
double eta_seconds(const ProgressView& v);
// One terminal line of at most `columns` characters (no control characters):
//   "encode a.png  42% [########-----------]  20/48 tiles  3.1 tiles/s  ETA 0:09  PSNR 23.10 dB"
// The bar narrows (to 10 cells) before the detail is dropped; the label is cut last.
std::string format_progress_bar(const ProgressView& v, int columns);
// The same facts as a log line: "encode a.png: 20/48 tiles (42%), 3.1 tiles/s, ETA 0:09, PSNR 23.10 dB".
std::string format_progress_line(const ProgressView& v);

enum class ProgressMode { kBar, kLines, kQuiet };
// kQuiet when quiet, kBar when stderr is a terminal, else kLines.
ProgressMode progress_mode(bool quiet);
// Columns of the terminal on stderr (TIOCGWINSZ, else $COLUMNS, else 80).
int terminal_columns();

// A live display on stderr. update() may come from any thread (calls are serialised); the bar is
// redrawn at most 10 times a second, a plain line printed at most every `line_interval` seconds.
class Progress {
 public:
  Progress(ProgressMode mode, std::string label, double total, std::string unit, double line_interval = 10.0);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void update(double done, const std::string& detail = {}, double eta = -1.0);
  // A new phase: label, total and clock start afresh (train's rounds).
  void restart(std::string label, double total);
  // Changes what is shown, keeping the clock.
  void set_label(std::string label);
  void set_total(double total);
  // Prints a line of its own (clearing the bar first; it comes back on the next update).
  void note(const std::string& line);
  // Clears the bar (the summary that follows stands alone); lines mode prints nothing more.
  void finish();
  ProgressMode mode() const { return mode_; }

 private:
  void clear_locked();
  ProgressMode mode_;
  ProgressView view_;
  double line_interval_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool drawn_ = false;
  std::mutex mutex_;
};

}  // namespace msinr::cli
