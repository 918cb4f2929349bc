#pragma once
// Small text helpers the parts of the rate-distortion tool share (internal to tools/rd/).
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "imageio/image_io.hpp"

namespace msinr::tools::detail {

inline std::string num(double v, int digits = 10) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", digits, v);
  return buf;
}

inline std::string read_text(const std::string& path) {
  const auto bytes = codec::read_file(path, std::size_t{1} << 30);
  return std::string(bytes.begin(), bytes.end());
}

inline void write_text_atomic(const std::string& path, const std::string& text) {
  codec::write_file_atomic(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

inline bool is_msinr_curve(const std::string& codec) { return codec.rfind("msinr", 0) == 0; }
inline bool is_jpeg_curve(const std::string& codec) { return codec.rfind("jpeg", 0) == 0; }

}  // namespace msinr::tools::detail
