// The progress display's text: a pure function of what it shows, so tested without a terminal.
#include <doctest/doctest.h>

#include <string>

#include "cli/progress.hpp"

using msinr::cli::format_duration;
using msinr::cli::format_progress_bar;
using msinr::cli::format_progress_line;
using msinr::cli::format_rate;
using msinr::cli::ProgressView;

namespace {
ProgressView view(double done, double total, double elapsed) {
  ProgressView v;
  v.label = "encode a.png";
  v.done = done;
  v.total = total;
  v.unit = "tiles";
  v.elapsed = elapsed;
  return v;
}
}  // namespace

TEST_CASE("progress: durations and rates") {
  CHECK(format_duration(0) == "0:00");
  CHECK(format_duration(7.4) == "0:07");
  CHECK(format_duration(754) == "12:34");
  CHECK(format_duration(3723) == "1:02:03");
  CHECK(format_duration(-1) == "--:--");
  CHECK(format_duration(1.0 / 0.0) == "--:--");
  CHECK(format_rate(20, 6.25, "tiles") == "3.2 tiles/s");
  CHECK(format_rate(1000, 2, "rows") == "500 rows/s");
  CHECK(format_rate(2, 8.2, "tiles") == "4.1 s/tile");  // slow work reads as seconds per unit
  CHECK(format_rate(0, 3, "tiles") == "-- tiles/s");
  CHECK(format_rate(5, 0, "tiles") == "-- tiles/s");
}

TEST_CASE("progress: the ETA comes from the rate, or from the caller") {
  CHECK(msinr::cli::eta_seconds(view(20, 48, 10)) == doctest::Approx(14.0));
  CHECK(msinr::cli::eta_seconds(view(0, 48, 10)) < 0);  // unknown before the first unit
  CHECK(msinr::cli::eta_seconds(view(5, 0, 10)) < 0);   // unknown total
  ProgressView v = view(20, 48, 10);
  v.eta = 3600;  // train knows the whole run's ETA better than one round's rate
  CHECK(msinr::cli::eta_seconds(v) == 3600);
}

TEST_CASE("progress: the terminal bar") {
  ProgressView v = view(12, 48, 6);
  const std::string bar = format_progress_bar(v, 100);
  CHECK(bar == "encode a.png   25% [#######-----------------------]  12/48 tiles  2.0 tiles/s  ETA 0:18");
  CHECK(bar.size() <= 100);
  CHECK(format_progress_bar(view(0, 48, 0), 100).find("  0% [------") != std::string::npos);
  CHECK(format_progress_bar(view(0, 48, 0), 100).find("ETA --:--") != std::string::npos);
  CHECK(format_progress_bar(view(48, 48, 12), 100).find("100% [##############################]  48/48") != std::string::npos);
  CHECK(format_progress_bar(view(60, 48, 12), 100).find("100%") != std::string::npos);  // never past full
  // Fractional progress (a batch inside an image) shows whole units.
  ProgressView batch = view(2.5, 10, 5);
  batch.unit = "images";
  CHECK(format_progress_bar(batch, 100).find(" 25% ") != std::string::npos);
  CHECK(format_progress_bar(batch, 100).find("2/10 images") != std::string::npos);
}

TEST_CASE("progress: the bar fits the terminal: narrower bar, then no detail, then a shorter label") {
  ProgressView v = view(12, 48, 6);
  v.detail = "PSNR 23.10 dB";
  CHECK(format_progress_bar(v, 120).find("ETA 0:18  PSNR 23.10 dB") != std::string::npos);
  for (int columns : {120, 90, 80, 70, 60, 50, 40, 30, 20}) {
    const std::string s = format_progress_bar(v, columns);
    CAPTURE(columns);
    CAPTURE(s);
    CHECK(static_cast<int>(s.size()) <= columns);
    CHECK(s.find('\r') == std::string::npos);
    CHECK(s.find('\n') == std::string::npos);
  }
  CHECK(format_progress_bar(v, 75).find("PSNR") == std::string::npos);  // detail dropped first
  CHECK(format_progress_bar(v, 75).find("ETA 0:18") != std::string::npos);
  v.label = "encode a-very-long-folder-name/and-a-very-long-file-name-that-goes-on.png";
  const std::string cut = format_progress_bar(v, 80);
  CHECK(cut.size() <= 80);
  CHECK(cut.rfind("...", 0) == 0);  // the label's start goes, its end (the file name) stays
  CHECK(cut.find("goes-on.png") != std::string::npos);
}

TEST_CASE("progress: unknown totals and plain lines") {
  ProgressView v = view(30, 0, 10);
  CHECK(format_progress_bar(v, 80) == "encode a.png  30 tiles  3.0 tiles/s  0:10");
  CHECK(format_progress_line(view(12, 48, 6)) == "encode a.png: 12/48 tiles (25%), 2.0 tiles/s, ETA 0:18");
  ProgressView d = view(12, 48, 6);
  d.detail = "PSNR 23.10 dB";
  CHECK(format_progress_line(d) == "encode a.png: 12/48 tiles (25%), 2.0 tiles/s, ETA 0:18, PSNR 23.10 dB");
  CHECK(format_progress_line(v) == "encode a.png: 30 tiles, 3.0 tiles/s, 0:10 so far");
}
