// Netpbm (PGM, PPM) writing.
#include "imageio/pnm.hpp"

#include "imageio/image_io.hpp"
#include "msinr/error.hpp"

namespace msinr::codec {

std::string pnm_header(int width, int height, int channels) {
  if (channels != 1 && channels != 3)
    throw Error(ErrorCode::kInvalidArgument, "PNM holds 1 (PGM) or 3 (PPM) channels, not " + std::to_string(channels));
  return std::string(channels == 1 ? "P5\n" : "P6\n") + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
}

std::vector<std::uint8_t> encode_pnm(const Image& image) {
  validate_image(image, "encode_pnm");
  const std::string header = pnm_header(image.width, image.height, image.channels);
  std::vector<std::uint8_t> out(header.begin(), header.end());
  out.insert(out.end(), image.pixels.begin(), image.pixels.end());
  return out;
}

void write_pnm(const Image& image, const std::string& path) {
  validate_image(image, path);
  const std::vector<std::uint8_t> bytes = encode_pnm(image);
  write_file_atomic(path, bytes.data(), bytes.size());
}

}  // namespace msinr::codec
