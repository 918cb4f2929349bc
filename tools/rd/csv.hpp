#pragma once
// The CSV files of a rate-distortion run: rd.csv (rows, appended as they are measured and read back
// to resume), summary.csv (per-curve means) and bd.csv (Bjontegaard deltas).
#include <cstddef>
#include <string>
#include <vector>

#include "tools/rd/summary.hpp"

namespace msinr::tools {

inline constexpr const char* kRdCsvHeader =
    "image,codec,setting,width,height,bytes,bpp,psnr,ssim,ms_ssim,encode_seconds,decode_seconds";
// The header before the ms_ssim column: such files are still read (ms_ssim nan), but a run does not
// append to them (run_rd refuses to resume into one).
inline constexpr const char* kRdCsvHeaderWithoutMsSsim =
    "image,codec,setting,width,height,bytes,bpp,psnr,ssim,encode_seconds,decode_seconds";

// The CSV text of one row (no newline); fields are quoted only when they need it (RFC 4180).
std::string format_rd_row(const RdRow& row);
// Reads an rd.csv file. kCorrupt (naming the file and line) for a wrong header or a malformed
// complete line; a final line without its newline (a run killed mid-write) is ignored and
// reported through `partial_tail` when given.
std::vector<RdRow> read_rd_csv(const std::string& path, bool* partial_tail = nullptr);
// The rows of rd.csv text (header first). `complete` is the byte count up to and including the last
// line terminator; a final line without one is left out. kCorrupt naming `name` and the line.
// `without_ms_ssim`, when given, is set when the header is kRdCsvHeaderWithoutMsSsim.
std::vector<RdRow> parse_rd_csv(const std::string& text, const std::string& name, std::size_t& complete,
                                bool* without_ms_ssim = nullptr);

// summary.csv and bd.csv, whole.
std::string format_summary_csv(const std::vector<RdSummaryRow>& summary);
std::string format_bd_csv(const std::vector<BdComparison>& bd);

}  // namespace msinr::tools
