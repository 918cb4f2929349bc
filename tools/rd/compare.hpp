#pragma once
// The comparison pictures of a rate-distortion run (compare-NAME.png): the original beside what
// msinr and JPEG at about the same bpp make of it.
#include <functional>
#include <string>
#include <vector>

#include "codec/image.hpp"
#include "tools/rd/summary.hpp"

namespace msinr::tools {

struct CompareRow {  // one row of a compare-NAME.png
  std::string msinr_codec, msinr_setting, jpeg_codec, jpeg_setting;
  double msinr_bpp = 0, msinr_psnr = 0, jpeg_bpp = 0, jpeg_psnr = 0;
};
struct CompareImage {
  std::string image, file;  // source image name, the PNG written
  std::vector<CompareRow> rows;
};

// One msinr row of a comparison picture: its measurement and the image it decoded to.
struct ComparePanel {
  RdRow row;
  codec::Image decoded;
};

// The picture of one image: a row per msinr panel with original | msinr | the JPEG row (of
// jpeg_rows, when there are any) at the bpp closest to the panel's, as `jpeg_decoded` decodes it.
// compare_crop > 0: each panel is the centred square of this side (at most the image's). `rows`
// gets one CompareRow per panel.
codec::Image draw_comparison(const codec::Image& img, const std::vector<ComparePanel>& panels,
                             const std::vector<RdRow>& jpeg_rows,
                             const std::function<codec::Image(const RdRow&)>& jpeg_decoded, int compare_crop,
                             std::vector<CompareRow>& rows);

}  // namespace msinr::tools
