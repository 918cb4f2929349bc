#include "tools/rd/compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace msinr::tools {
using namespace codec;
namespace {

void paste_panel(Image& canvas, const Image& panel, int x0, int y0) {
  for (int y = 0; y < panel.height; ++y)
    std::copy_n(&panel.pixels[static_cast<std::size_t>(y) * panel.width * 3], static_cast<std::size_t>(panel.width) * 3,
                &canvas.pixels[(static_cast<std::size_t>(y0 + y) * canvas.width + x0) * 3]);
}

}  // namespace

Image draw_comparison(const Image& img, const std::vector<ComparePanel>& panels, const std::vector<RdRow>& jpeg_rows,
                      const std::function<Image(const RdRow&)>& jpeg_decoded, int compare_crop,
                      std::vector<CompareRow>& rows) {
  // Rows: original | msinr at a level | JPEG at the bpp closest to it. With compare_crop every
  // panel is the same centred square (the whole pictures of a large image make a huge PNG).
  const int side = compare_crop > 0 ? std::min({compare_crop, img.width, img.height}) : 0;
  auto view = [side](const Image& full) { return side > 0 ? center_crop(full, side) : full; };
  const Image original = view(img);
  constexpr int gap = 4;
  const int cols = jpeg_rows.empty() ? 2 : 3;
  const int n = static_cast<int>(panels.size());
  Image canvas = make_image(cols * original.width + (cols - 1) * gap, n * original.height + (n - 1) * gap, 3);
  std::fill(canvas.pixels.begin(), canvas.pixels.end(), std::uint8_t{255});
  for (int r = 0; r < n; ++r) {
    const ComparePanel& p = panels[static_cast<std::size_t>(r)];
    const int y0 = r * (original.height + gap);
    paste_panel(canvas, original, 0, y0);
    paste_panel(canvas, view(p.decoded), original.width + gap, y0);
    CompareRow cr;
    cr.msinr_codec = p.row.codec;
    cr.msinr_setting = p.row.setting;
    cr.msinr_bpp = p.row.bpp;
    cr.msinr_psnr = p.row.psnr;
    if (!jpeg_rows.empty()) {
      const RdRow* best = &jpeg_rows[0];
      for (const RdRow& j : jpeg_rows)
        if (std::fabs(j.bpp - p.row.bpp) < std::fabs(best->bpp - p.row.bpp)) best = &j;
      const Image jb = jpeg_decoded(*best);
      paste_panel(canvas, view(jb), 2 * (original.width + gap), y0);
      cr.jpeg_codec = best->codec;
      cr.jpeg_setting = best->setting;
      cr.jpeg_bpp = best->bpp;
      cr.jpeg_psnr = best->psnr;
    }
    rows.push_back(cr);
  }
  return canvas;
}

}  // namespace msinr::tools
