#pragma once
// The rate-distortion tool behind `msinr rd` (docs/rd.md), one part per job:
//   bjontegaard.hpp  BD-rate and BD-PSNR between two curves
//   summary.hpp      rows, per-curve means, the deltas between curves
//   csv.hpp          rd.csv, summary.csv, bd.csv
//   svg.hpp          the plot
//   compare.hpp      the side-by-side comparison pictures
//   runner.hpp       the resumable, shardable run that measures and writes all of them
#include "tools/rd/bjontegaard.hpp"
#include "tools/rd/compare.hpp"
#include "tools/rd/csv.hpp"
#include "tools/rd/runner.hpp"
#include "tools/rd/summary.hpp"
#include "tools/rd/svg.hpp"
