#pragma once
// Shared helpers for the codec suite: temp directories, deterministic synthetic images, error
// assertions, and a raw libpng writer to craft files msinr's own writer never produces.
#include <doctest/doctest.h>
#include <png.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <csetjmp>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "codec/image.hpp"
#include "msinr/error.hpp"

namespace codec_test {

namespace fs = std::filesystem;
using msinr::ErrorCode;
using msinr::codec::Image;

// A fresh directory under the system temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "msinr-codec-test-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }
  // Names of everything in the directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> out;
    for (const auto& e : fs::directory_iterator(path_)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  fs::path path_;
};

inline void write_bytes(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  REQUIRE(f.good());
}

inline std::vector<std::uint8_t> file_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<std::uint8_t>((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// The LCG of tests/codec/ssim_reference.py: state = (state * 1103515245 + 12345) mod 2^31, >> 16.
struct Lcg {
  std::uint32_t state;
  explicit Lcg(std::uint32_t seed) : state(seed) {}
  std::uint32_t next() {
    state = (state * 1103515245u + 12345u) & 0x7FFFFFFFu;
    return state >> 16;
  }
};

// An image whose sample (x, y, c) is f(x, y, c), generated in row-major (y, x, c) order.
inline Image make_pattern(int w, int h, int c, const std::function<int(int, int, int)>& f) {
  Image img = msinr::codec::make_image(w, h, c);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int k = 0; k < c; ++k)
        img.pixels[(static_cast<std::size_t>(y) * w + x) * c + k] = static_cast<std::uint8_t>(f(x, y, k));
  return img;
}

inline Image linear_pattern(int w, int h, int c) {
  return make_pattern(w, h, c, [](int x, int y, int k) { return (x * 7 + y * 13 + k * 29) % 256; });
}

inline Image random_image(int w, int h, int c, std::uint32_t seed) {
  Lcg rng(seed);
  return make_pattern(w, h, c, [&](int, int, int) { return static_cast<int>(rng.next() % 256); });
}

// Adds lcg() % (2a+1) - a to every sample in row-major order, clamped to 0..255.
inline Image noisy(const Image& img, std::uint32_t seed, int amplitude) {
  Lcg rng(seed);
  Image out = img;
  for (auto& v : out.pixels) {
    const int n = static_cast<int>(rng.next() % static_cast<std::uint32_t>(2 * amplitude + 1)) - amplitude;
    v = static_cast<std::uint8_t>(std::clamp(v + n, 0, 255));
  }
  return out;
}

// Asserts that f throws msinr::Error with `code` and a message that contains `name`.
inline void check_error(const std::function<void()>& f, ErrorCode code, const std::string& name) {
  try {
    f();
    const std::string want = msinr::error_code_name(code);
    FAIL("expected msinr::Error (" << want << ") mentioning '" << name << "'");
  } catch (const msinr::Error& e) {
    const std::string message = e.what();
    const std::string got = msinr::error_code_name(e.code()), want = msinr::error_code_name(code);
    INFO("message: " << message);
    CHECK_MESSAGE(e.code() == code, "got " << got << ", expected " << want);
    CHECK(std::string(e.what()).find(name) != std::string::npos);
  }
}

// What a raw PNG should hold; rows are given already in PNG layout (16-bit big-endian, packed bits).
struct RawPng {
  int width = 0, height = 0, bit_depth = 8, color_type = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  std::vector<std::uint8_t> data;          // height * rowbytes
  std::vector<png_color> palette;          // PNG_COLOR_TYPE_PALETTE
  std::vector<std::uint8_t> palette_alpha; // tRNS for palette images
};

inline void raw_png_write_cb(png_structp png, png_bytep data, png_size_t n) {
  auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
  out->insert(out->end(), data, data + n);
}

inline std::vector<std::uint8_t> encode_raw_png(const RawPng& r) {
  std::vector<std::uint8_t> out;
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<png_bytep> rows(static_cast<std::size_t>(r.height));
  const std::size_t rowbytes = r.data.size() / static_cast<std::size_t>(r.height);
  for (int y = 0; y < r.height; ++y) rows[y] = const_cast<png_bytep>(r.data.data() + y * rowbytes);
  bool ok = false;
  if (setjmp(png_jmpbuf(png)) == 0) {
    png_set_write_fn(png, &out, raw_png_write_cb, nullptr);
    png_set_IHDR(png, info, r.width, r.height, r.bit_depth, r.color_type,
                 r.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    if (!r.palette.empty()) png_set_PLTE(png, info, r.palette.data(), static_cast<int>(r.palette.size()));
    if (!r.palette_alpha.empty()) {
      png_set_tRNS(png, info, r.palette_alpha.data(), static_cast<int>(r.palette_alpha.size()), nullptr);
    }
    png_write_info(png, info);
    png_set_interlace_handling(png);
    png_write_image(png, rows.data());
    png_write_end(png, nullptr);
    ok = true;
  }
  png_destroy_write_struct(&png, &info);
  REQUIRE(ok);
  return out;
}

// A PNG chunk: length, type, payload, CRC.
inline void put_be32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
inline std::vector<std::uint8_t> png_chunk(const char type[4], const std::vector<std::uint8_t>& payload) {
  const std::size_t n = payload.size();
  std::vector<std::uint8_t> c(12 + n);
  put_be32(c.data(), static_cast<std::uint32_t>(n));
  std::memcpy(c.data() + 4, type, 4);
  if (n) std::memcpy(c.data() + 8, payload.data(), n);
  put_be32(c.data() + 8 + n, static_cast<std::uint32_t>(::crc32(0L, c.data() + 4, static_cast<uInt>(n + 4))));
  return c;
}

// Signature plus an IHDR chunk (8-bit RGB) claiming w x h, and nothing else.
inline std::vector<std::uint8_t> png_header_only(std::uint32_t w, std::uint32_t h) {
  std::vector<std::uint8_t> f = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  std::vector<std::uint8_t> ihdr;
  for (std::uint32_t v : {w, h})
    for (int s = 24; s >= 0; s -= 8) ihdr.push_back(static_cast<std::uint8_t>(v >> s));
  ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});
  const auto chunk = png_chunk("IHDR", ihdr);
  f.insert(f.end(), chunk.begin(), chunk.end());
  return f;
}

// Offset of the first chunk of `type` (its length field), or npos.
inline std::size_t find_png_chunk(const std::vector<std::uint8_t>& png, const char type[4]) {
  std::size_t pos = 8;
  while (pos + 8 <= png.size()) {
    const std::uint32_t len = (std::uint32_t{png[pos]} << 24) | (std::uint32_t{png[pos + 1]} << 16) |
                              (std::uint32_t{png[pos + 2]} << 8) | png[pos + 3];
    if (std::equal(type, type + 4, png.begin() + static_cast<std::ptrdiff_t>(pos + 4))) return pos;
    pos += 12 + len;
  }
  return std::string::npos;
}

// Offset of the first JPEG marker 0xFF m, or npos.
inline std::size_t find_jpeg_marker(const std::vector<std::uint8_t>& jpg, std::uint8_t m) {
  for (std::size_t i = 0; i + 1 < jpg.size(); ++i)
    if (jpg[i] == 0xFF && jpg[i + 1] == m) return i;
  return std::string::npos;
}

}  // namespace codec_test
