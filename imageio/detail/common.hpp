#pragma once
// What the per-format readers and writers of imageio/ share: the read limits and their errors,
// signatures, and a byte buffer that libpng/libjpeg callbacks can fill without throwing.
// Internal to imageio/ (not part of its interface).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace msinr::codec::detail {

std::string size_text(std::int64_t w, std::int64_t h);
[[noreturn]] void throw_limit(const std::string& name, std::int64_t w, std::int64_t h);
// Within the side and format limits and within the caller's pixel limit (0: the format's).
bool within_read_limits(std::uint64_t w, std::uint64_t h, std::uint64_t max_pixels);
[[noreturn]] void throw_read_limit(const std::string& name, std::int64_t w, std::int64_t h, std::uint64_t max_pixels);
// Appends "; msg" to a fixed buffer, silently truncating (used from C callbacks: no allocation).
void append_message(char* buf, std::size_t cap, const char* msg);

// A malloc-backed growing byte buffer that C callbacks can append to without throwing.
struct MallocBuffer {
  unsigned char* data = nullptr;
  std::size_t size = 0;
  std::size_t capacity = 0;
  MallocBuffer() = default;
  MallocBuffer(const MallocBuffer&) = delete;
  MallocBuffer& operator=(const MallocBuffer&) = delete;
  ~MallocBuffer() { std::free(data); }
  bool grow_to(std::size_t min_capacity) {
    if (min_capacity <= capacity) return true;
    std::size_t cap = capacity ? capacity : 65536;
    while (cap < min_capacity) cap *= 2;
    void* p = std::realloc(data, cap);
    if (!p) return false;
    data = static_cast<unsigned char*>(p);
    capacity = cap;
    return true;
  }
  bool append(const void* src, std::size_t n) {
    if (!grow_to(size + n)) return false;
    std::memcpy(data + size, src, n);
    size += n;
    return true;
  }
  std::vector<std::uint8_t> to_vector() const { return std::vector<std::uint8_t>(data, data + size); }
};

inline constexpr std::uint8_t kPngSig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
inline constexpr std::uint8_t kJpegSig[3] = {0xFF, 0xD8, 0xFF};

bool starts_with(const std::uint8_t* data, std::size_t size, const void* magic, std::size_t n);
// True when the data is shorter than the magic and is a prefix of it.
bool proper_prefix_of(const std::uint8_t* data, std::size_t size, const std::uint8_t* magic, std::size_t n);

}  // namespace msinr::codec::detail
