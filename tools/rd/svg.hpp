#pragma once
// The rate-distortion plot (rd.svg): PSNR against bpp, one curve per codec.
#include <string>
#include <vector>

#include "tools/rd/summary.hpp"

namespace msinr::tools {

struct SvgOptions {
  std::string title;
  bool log_rate = false;  // log10 bpp axis
  int width = 800, height = 540;
};
// PSNR (mean over images) against mean bpp, one <polyline id="curve-CODEC" class="curve CODEC">
// per curve inside a <g>, with point markers, axes with ticks and labels, a legend and a title.
std::string render_rd_svg(const std::vector<RdSummaryRow>& summary, const SvgOptions& options);

}  // namespace msinr::tools
