#pragma once
// Netpbm output (PGM, PPM); msinr does not read it.
#include <cstdint>
#include <string>
#include <vector>

#include "codec/image.hpp"

namespace msinr::codec {

// Netpbm: 1 channel -> P5 (PGM), 3 channels -> P6 (PPM), maxval 255, binary; other channel counts
// are refused (kInvalidArgument). The header is "P6\n<width> <height>\n255\n".
std::string pnm_header(int width, int height, int channels);
std::vector<std::uint8_t> encode_pnm(const Image& image);
void write_pnm(const Image& image, const std::string& path);

}  // namespace msinr::codec
