#pragma once
// Rate-distortion against JPEG: the harness behind `msinr rd` (docs/rd.md).
//
// For every image of a folder (optionally center-cropped, the first K in name order) and every
// setting (msinr: each requested model level at each container precision; JPEG: each quality at
// 4:2:0 and at 4:4:4), the image goes through the real encoder to bytes and back through the real
// decoder; the row records the bytes, bpp = bytes * 8 / pixels, the 8-bit RGB PSNR and SSIM of the
// decoded image against the (cropped) original, and the wall seconds of encoding and of decoding.
// The rows go to rd.csv, the per-setting means to summary.csv, the curves to rd.svg, and the
// Bjontegaard deltas of every msinr curve against every JPEG curve to bd.csv.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "codec/model.hpp"

namespace msinr::codec {

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
  bool ok() const { return std::isfinite(value); }
};

BdResult bd_rate(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test,
                 BdInterval interval = BdInterval::kOverlap);
BdResult bd_psnr(const std::vector<RdPoint>& anchor, const std::vector<RdPoint>& test,
                 BdInterval interval = BdInterval::kOverlap);

// ---- The run --------------------------------------------------------------------------------------

// "5,10,15" -> {5, 10, 15}. kInvalidArgument (naming `what`) for an empty list, an empty item or
// anything that is not an integer.
std::vector<int> parse_int_list(const std::string& text, const std::string& what);
// "a.png,b" -> {"a.png", "b"}; empty items are refused.
std::vector<std::string> parse_name_list(const std::string& text, const std::string& what);

// One line of rd.csv.
struct RdRow {
  std::string image;    // file name inside the images folder
  std::string codec;    // a curve: "msinr-fp16", "jpeg-420", "jpeg-444"
  std::string setting;  // a point on it: "level5", "q50"
  int width = 0, height = 0;
  std::size_t bytes = 0;
  double bpp = 0.0;
  double psnr = 0.0;  // 8-bit RGB, 10 log10(255^2 / MSE); inf when lossless
  double ssim = std::numeric_limits<double>::quiet_NaN();  // nan when a side is < 11 pixels
  double encode_seconds = 0.0, decode_seconds = 0.0;
};

inline constexpr const char* kRdCsvHeader =
    "image,codec,setting,width,height,bytes,bpp,psnr,ssim,encode_seconds,decode_seconds";

// The CSV text of one row (no newline); fields are quoted only when they need it (RFC 4180).
std::string format_rd_row(const RdRow& row);
// Reads an rd.csv file. kCorrupt (naming the file and line) for a wrong header or a malformed
// complete line; a final line without its newline (a run killed mid-write) is ignored and
// reported through `partial_tail` when given.
std::vector<RdRow> read_rd_csv(const std::string& path, bool* partial_tail = nullptr);

// One point of a curve: the means over the images that have this codec and setting.
struct RdSummaryRow {
  std::string codec, setting;
  std::size_t count = 0;
  double bpp = 0.0;               // mean bpp
  double psnr_mean = 0.0;         // mean over images of each image's PSNR (the usual convention)
  double psnr_of_mean_mse = 0.0;  // 10 log10(255^2 / mean over images of each image's MSE)
  double ssim = 0.0;              // mean SSIM (over images where it is defined; nan if none)
  double encode_seconds = 0.0, decode_seconds = 0.0;  // means
};

// Groups rows by codec and setting: curves in order (msinr curves first, then JPEG), points by bpp.
std::vector<RdSummaryRow> summarize_rd(const std::vector<RdRow>& rows);

// Bjontegaard deltas of one msinr curve (test) against one JPEG curve (anchor), with the points
// taken as (mean bpp, PSNR) under one of the two PSNR conventions.
struct BdComparison {
  std::string anchor, test;
  std::string convention;  // "psnr_mean" or "psnr_of_mean_mse"
  std::size_t anchor_points = 0, test_points = 0;
  BdResult rate, psnr;
};
std::vector<BdComparison> compare_curves(const std::vector<RdSummaryRow>& summary);

struct SvgOptions {
  std::string title;
  bool log_rate = false;  // log10 bpp axis
  int width = 800, height = 540;
};
// PSNR (mean over images) against mean bpp, one <polyline id="curve-CODEC" class="curve CODEC">
// per curve inside a <g>, with point markers, axes with ticks and labels, a legend and a title.
std::string render_rd_svg(const std::vector<RdSummaryRow>& summary, const SvgOptions& options);

struct RdProgress {
  std::size_t rows_total = 0;    // rows this run asks for
  std::size_t rows_done = 0;     // computed so far in this run
  std::size_t rows_skipped = 0;  // already in rd.csv
  std::size_t images_done = 0, images_total = 0;
  std::string image;             // the image that just moved on
};

// Several processes sharing one run (mpirun -np N msinr rd; the transport is the caller's). Process
// `shard` of `shards` measures the images whose index in name order is shard mod shards. Process
// 0 alone reads and writes the output folder's files: the others get rd.csv's rows through
// `broadcast` and send the rows they measured through `gather`, which rank 0 appends to rd.csv
// before it summarizes, so the outputs are those of one process.
struct RdSharing {
  int shard = 0, shards = 1;
  std::function<std::string(const std::string& from_root)> broadcast;         // every process gets rank 0's
  std::function<std::vector<std::string>(const std::string& mine)> gather;   // rank 0 gets all, in rank order
};

struct RdConfig {
  std::string images;                  // folder of .png / .jpg / .jpeg (not recursive)
  int crop = 0;                        // > 0: center crop to crop x crop (smaller images are skipped)
  int count = 0;                       // > 0: the first `count` images in name order
  std::vector<int> levels;             // model levels; empty: every level of the model
  std::vector<int> payload_bits = {0, 16};  // msinr payloads: 0 quantized ("msinr"), 16 fp16 ("msinr-fp16")
  std::vector<int> jpeg_qualities = {10, 20, 30, 40, 50, 60, 70, 80, 90};  // 1..100
  int steps = 100;                     // Adam steps per tile (msinr encoder)
  float lr = 0.0f;  // 0: the model's per-level rate
  Device device = Device::kAuto;
  int threads = 0;                     // all threads together; 0: the machine's cores
  int jobs = 0;                        // images at once; 0: min(images, threads) on the CPU, 1 on CUDA
  std::string out;                     // output folder (created)
  std::vector<std::string> compare;    // images (file name or stem) to draw side by side
  int compare_crop = 0;                // > 0: each panel is the centred square of this side (at most the image's)
  bool log_rate = false;
  std::string title;                   // empty: from the folder name
  RdSharing sharing;                   // default: one process
  // Called after every row (computed or skipped), one call at a time, from worker threads.
  std::function<void(const RdProgress&)> progress;
};

struct CompareRow {  // one row of a compare-NAME.png
  std::string msinr_codec, msinr_setting, jpeg_codec, jpeg_setting;
  double msinr_bpp = 0, msinr_psnr = 0, jpeg_bpp = 0, jpeg_psnr = 0;
};
struct CompareImage {
  std::string image, file;  // source image name, the PNG written
  std::vector<CompareRow> rows;
};

struct RdReport {
  std::size_t images = 0;          // images measured
  std::size_t skipped_small = 0;   // smaller than --crop
  std::size_t rows_total = 0, rows_written = 0, rows_skipped = 0;
  bool dropped_partial_row = false;  // rd.csv ended in a half-written line (dropped, then redone)
  std::vector<RdSummaryRow> summary;
  std::vector<BdComparison> bd;
  std::vector<CompareImage> compares;
  std::vector<std::string> files;  // what was written, in the output folder
  int jobs = 0, threads_per_job = 0;
};

// Runs (or resumes) the measurement described above and writes into config.out:
//  rd.csv       one row per image x codec x setting, appended and flushed row by row. Append-only
//               by design: a killed run keeps every finished row, and the next run with the same
//               --out skips the rows already there (same image, codec, setting). A half-written
//               last line is dropped and redone.
//  rd-config.txt  what the rows depend on (model id, steps, lr, crop, folder); resuming under a
//               different one is refused (kInvalidArgument) rather than mixing incomparable rows.
//  summary.csv, bd.csv, rd.svg  from the rows of this request (images x settings), rewritten
//               whole each run through a temporary file and rename().
//  compare-STEM.png  for each --compare image: rows of original | msinr | JPEG at the closest bpp.
// Errors: kIo for a missing folder, no images or unwritable output; kInvalidArgument for bad
// lists (levels not in the model, qualities outside 1..100, unknown --compare names).
RdReport run_rd(const Model& model, const RdConfig& config);

}  // namespace msinr::codec
