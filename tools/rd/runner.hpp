#pragma once
// Rate-distortion against JPEG: the harness behind `msinr rd` (docs/rd.md).
//
// For every image of a folder (optionally center-cropped, the first K in name order) and every
// setting (msinr: each requested model level at each container precision; JPEG: each quality at
// 4:2:0 and at 4:4:4), the image goes through the real encoder to bytes and back through the real
// decoder; the row records the bytes, bpp = bytes * 8 / pixels, the 8-bit RGB PSNR, SSIM and MS-SSIM of the
// decoded image against the (cropped) original, and the wall seconds of encoding and of decoding.
// The rows go to rd.csv, the per-setting means to summary.csv, the curves to rd.svg, and the
// Bjontegaard deltas of every msinr curve against every JPEG curve to bd.csv.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "codec/codec.hpp"
#include "codec/model.hpp"
#include "tools/rd/compare.hpp"
#include "tools/rd/summary.hpp"

namespace msinr::tools {

// "5,10,15" -> {5, 10, 15}. kInvalidArgument (naming `what`) for an empty list, an empty item or
// anything that is not an integer.
std::vector<int> parse_int_list(const std::string& text, const std::string& what);
// "a.png,b" -> {"a.png", "b"}; empty items are refused.
std::vector<std::string> parse_name_list(const std::string& text, const std::string& what);
// The encoder's quantized-payload settings as rd-config.txt records them ("quant_loss=0.5,...").
std::string payload_settings(const codec::EncodeOptions& options = {});

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
  // Every msinr row's encoder settings (steps, lr, device, payload); each row sets its own level,
  // bits, threads and progress on a copy.
  codec::EncodeOptions encode;
  int threads = 0;                     // all threads together; 0: the machine's cores
  int jobs = 0;                        // images at once; 0: min(images, threads) on the CPU, 1 on CUDA
  std::string out;                     // output folder (created)
  std::vector<std::string> compare;    // images (file name or stem) to draw side by side
  int compare_crop = 0;                // > 0: each panel is the centred square of this side (at most the image's)
  bool log_rate = false;
  std::string title;                   // empty: from the folder name
  RdSharing sharing;                   // default: one process
  // Refuse (kInvalidArgument, before anything is measured) when JPEG curves are asked for and any
  // curve would have fewer than 4 points, so BD-rate would be undefined. `msinr rd` sets it unless
  // --no-bd is given.
  bool require_bd = false;
  // Called after every row (computed or skipped), one call at a time, from worker threads.
  std::function<void(const RdProgress&)> progress;
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
RdReport run_rd(const codec::Model& model, const RdConfig& config);

}  // namespace msinr::tools
