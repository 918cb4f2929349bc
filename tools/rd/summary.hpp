#pragma once
// The rows of a rate-distortion run (one per image, codec and setting), their per-curve means and
// the Bjontegaard deltas between the curves.
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "tools/rd/bjontegaard.hpp"

namespace msinr::tools {

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
  // codec::ms_ssim; nan when a side is < 161 pixels (too small for 5 scales), and in rows read from
  // an rd.csv written before the column existed.
  double ms_ssim = std::numeric_limits<double>::quiet_NaN();
  double encode_seconds = 0.0, decode_seconds = 0.0;
};

// One point of a curve: the means over the images that have this codec and setting.
struct RdSummaryRow {
  std::string codec, setting;
  std::size_t count = 0;
  double bpp = 0.0;               // mean bpp
  double psnr_mean = 0.0;         // mean over images of each image's PSNR (the usual convention)
  double psnr_of_mean_mse = 0.0;  // 10 log10(255^2 / mean over images of each image's MSE)
  double ssim = 0.0;              // mean SSIM (over images where it is defined; nan if none)
  double ms_ssim = 0.0;           // mean MS-SSIM, likewise
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

}  // namespace msinr::tools
