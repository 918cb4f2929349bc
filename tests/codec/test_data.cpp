// Real images from the shared data folder (MSINR_DATA_DIR), read in place and never copied. Each
// case says so and passes when the folder is absent.
#include <filesystem>

#include "imageio/image_io.hpp"
#include "codec/metrics.hpp"
#include "codec_test_util.hpp"

using namespace msinr::codec;
using namespace codec_test;

namespace {

std::vector<std::string> files_in(const std::string& sub, const std::string& ext) {
  std::vector<std::string> out;
  const fs::path dir = fs::path(MSINR_DATA_DIR) / sub;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) out.push_back(e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("codec: Kodak PNGs are 24 RGB images of 768x512 or 512x768 without warnings") {
  const auto files = files_in("kodak", ".png");
  if (files.empty()) {
    MESSAGE("skipped: no " << MSINR_DATA_DIR << "/kodak");
    return;
  }
  CHECK(files.size() == 24);
  for (const auto& f : files) {
    CAPTURE(f);
    const Image img = read_image(f);
    CHECK(((img.width == 768 && img.height == 512) || (img.width == 512 && img.height == 768)));
    CHECK(img.source.channels == 3);
    CHECK(img.source.bit_depth == 8);
    CHECK(img.source.warnings.empty());
  }
  // JPEG at q=75 on a real photo: a plausible PSNR/SSIM, and SSIM below 1.
  const Image k = read_image(files.front());
  const Image crop = center_crop(k, 256);
  const Image dec = decode_jpeg(encode_jpeg(crop, 75));
  const double p = psnr_8bit(crop, dec), s = ssim(crop, dec);
  INFO("kodim01 256 crop, q=75: PSNR " << p << " dB, SSIM " << s);
  CHECK(p > 25.0);
  CHECK(p < 45.0);
  CHECK(s > 0.8);
  CHECK(s < 1.0);
}

TEST_CASE("codec: CelebA and Imagenette validation JPEGs all decode") {
  int seen = 0, gray = 0;
  for (const char* sub : {"celeba178/val", "imagenette/val"}) {
    for (const auto& f : files_in(sub, std::string(sub).rfind("celeba", 0) == 0 ? ".jpg" : ".JPEG")) {
      CAPTURE(f);
      const Image img = read_image(f);
      CHECK(img.channels == 3);
      CHECK(img.source.format == ImageFormat::kJpeg);
      gray += img.source.channels == 1;
      ++seen;
    }
  }
  if (seen == 0) MESSAGE("skipped: no JPEG folders under " << MSINR_DATA_DIR);
  MESSAGE("decoded " << seen << " JPEGs, " << gray << " of them grayscale");
}
