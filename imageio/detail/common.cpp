#include "imageio/detail/common.hpp"

#include <cstdio>

#include "codec/image.hpp"
#include "msinr/error.hpp"

namespace msinr::codec::detail {

std::string size_text(std::int64_t w, std::int64_t h) { return std::to_string(w) + "x" + std::to_string(h); }

[[noreturn]] void throw_limit(const std::string& name, std::int64_t w, std::int64_t h) {
  throw Error(ErrorCode::kLimit, name + ": image size " + size_text(w, h) +
                                     " exceeds the limits (each side <= " + std::to_string(kMaxImageSide) +
                                     ", at most 2^28 pixels)");
}

// Within the side and format limits and within the caller's pixel limit (0: the format's).
bool within_read_limits(std::uint64_t w, std::uint64_t h, std::uint64_t max_pixels) {
  return w <= 0x7FFFFFFFu && h <= 0x7FFFFFFFu && dimensions_within_limits(static_cast<std::int64_t>(w), static_cast<std::int64_t>(h)) &&
         (max_pixels == 0 || w * h <= max_pixels);
}

[[noreturn]] void throw_read_limit(const std::string& name, std::int64_t w, std::int64_t h, std::uint64_t max_pixels) {
  if (dimensions_within_limits(w, h))
    throw Error(ErrorCode::kLimit, name + ": image size " + size_text(w, h) + " has " + std::to_string(w * h) +
                                       " pixels, more than the read limit of " + std::to_string(max_pixels) +
                                       " (raise it with --max-pixels)");
  throw_limit(name, w, h);
}

// Appends "; msg" to a fixed buffer, silently truncating (used from C callbacks: no allocation).
void append_message(char* buf, std::size_t cap, const char* msg) {
  std::size_t len = std::strlen(buf);
  if (len + 3 >= cap) return;
  if (len > 0) {
    std::memcpy(buf + len, "; ", 2);
    len += 2;
    buf[len] = '\0';
  }
  std::snprintf(buf + len, cap - len, "%s", msg);
}

bool starts_with(const std::uint8_t* data, std::size_t size, const void* magic, std::size_t n) {
  return size >= n && std::memcmp(data, magic, n) == 0;
}
// True when the data is shorter than the magic and is a prefix of it.
bool proper_prefix_of(const std::uint8_t* data, std::size_t size, const std::uint8_t* magic, std::size_t n) {
  return size < n && std::memcmp(data, magic, size) == 0;
}

}  // namespace msinr::codec::detail
