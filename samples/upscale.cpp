// upscale IN.msinr OUT.png FACTOR
// A .msinr file stores a function of the coordinates, so it decodes at any size: here FACTOR times
// the native one, through a Decoder built once from the built-in model.
#include <cstdio>
#include <cstdlib>

#include "msinr/msinr.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: %s IN.msinr OUT.png FACTOR\n", argv[0]);
    return 2;
  }
  try {
    const std::vector<std::uint8_t> bytes = msinr::read_file(argv[1]);
    const msinr::Info info = msinr::read_info(bytes.data(), bytes.size());
    const msinr::Decoder decoder(msinr::Model::builtin());
    msinr::DecodeOptions options;
    options.scale = std::atof(argv[3]);
    const msinr::Image out = decoder.decode(bytes, options);
    msinr::write_png(out, argv[2]);
    std::printf("%dx%d -> %dx%d\n", info.width, info.height, out.width, out.height);
    return 0;
  } catch (const msinr::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
