// encode_decode IMAGE.png OUT.msinr DECODED.png
// Encodes an image with the built-in model, writes the .msinr, decodes it back, reports size and PSNR.
#include <cstdio>

#include "msinr/msinr.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s IMAGE OUT.msinr DECODED.png\n", argv[0]);
    return 2;
  }
  try {
    const msinr::Image image = msinr::read_image(argv[1]);
    const std::vector<std::uint8_t> bytes = msinr::encode(image);  // default options, built-in model
    msinr::write_file(argv[2], bytes);
    const msinr::Image decoded = msinr::decode(bytes);             // native size
    msinr::write_png(decoded, argv[3]);
    std::printf("%s: %zu bytes, %.3f bpp, PSNR %.2f dB\n", argv[2], bytes.size(),
                bytes.size() * 8.0 / (image.width * image.height), msinr::psnr(image, decoded));
    return 0;
  } catch (const msinr::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
