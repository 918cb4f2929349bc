// Issue 16: decoding costs what the file can honestly need. Header counts are checked against the
// model before the payload is decompressed, the pixel limit holds, and rendering goes in strips.
#include <doctest/doctest.h>
#include <sys/resource.h>

#include <cstring>

#include "codec/codec.hpp"
#include "imageio/image_io.hpp"
#include "codec/metrics.hpp"
#include "codec_test_util.hpp"
#include "format/container.hpp"
#include "format/testkit.hpp"
#include "msinr/error.hpp"
#include "msinr_format.pb.h"
#include "tiny_model.hpp"

using namespace msinr;
using namespace msinr::codec;

namespace {

const Model& limits_model() {
  static const Model model = codec_test::train_tiny_model({16, 2, 24, 10, 2, 3, 6, 60.0f});
  return model;
}


std::vector<std::uint8_t> encode_fp16(const Image& im, const Model& m) {
  codec::EncodeOptions o;
  o.level = m.levels.front().index;
  o.device = Device::kCpu;
  o.steps = 5;
  o.bits = 16;
  return encode_image(im, m, o).bytes;
}

void put_le24(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int i = 0; i < 3; ++i) out.push_back(static_cast<std::uint8_t>(v >> (8 * i)));
}

// One zstd frame declaring `size` bytes of content (single segment, 8-byte content size): RLE blocks
// of 128 KiB of zeros, or, when `garbage_tail`, a last "compressed" block of junk that no decoder
// accepts (its header and size are well formed, so only decompression finds out).
std::vector<std::uint8_t> zero_frame(std::uint64_t size, bool garbage_tail) {
  std::vector<std::uint8_t> f = {0x28, 0xB5, 0x2F, 0xFD, 0xE0};
  for (int i = 0; i < 8; ++i) f.push_back(static_cast<std::uint8_t>(size >> (8 * i)));
  constexpr std::uint32_t kBlock = 1u << 17;
  std::uint64_t left = size;
  while (left > 0) {
    const std::uint32_t n = static_cast<std::uint32_t>(std::min<std::uint64_t>(left, kBlock));
    left -= n;
    const bool last = left == 0;
    if (last && garbage_tail) {
      put_le24(f, (8u << 3) | (2u << 1) | 1u);  // compressed block of 8 bytes
      for (int i = 0; i < 8; ++i) f.push_back(0xFF);
    } else {
      put_le24(f, (n << 3) | (1u << 1) | (last ? 1u : 0u));  // RLE block
      f.push_back(0);
    }
  }
  return f;
}

long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

TEST_CASE("decode limits: a framed fp16 container declaring 2^24 values per tile is refused before decompression") {
  const Model& m = limits_model();
  const auto good = encode_fp16(codec_test::kodim23_crop(30, 30), m);
  const format::ContainerHeader h = format::peek_header(good);
  const std::uint64_t raw = static_cast<std::uint64_t>(h.tile_count) << 25;  // 2^24 fp16 values per tile
  for (bool garbage : {true, false}) {
    CAPTURE(garbage);
    const auto bad = fmt_test::edit_container(
        good,
        [&](format::pb::ContainerHeader& p) {
          p.set_values_per_tile(1u << 24);
          p.set_payload_raw_size(raw);
        },
        zero_frame(raw, garbage));
    CHECK(bad.size() < 64 * 1024);
    const long before = peak_rss_kb();
    try {
      decode_image(bad, "hostile.msinr", m);
      FAIL("decoded a hostile container");
    } catch (const Error& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(e.code() == ErrorCode::kCorrupt);
      CHECK(what.find("hostile.msinr") != std::string::npos);
      // The model's count is named: the payload (which a garbage tail makes undecompressible) was
      // never touched.
      CHECK(what.find("values per tile") != std::string::npos);
    }
    // 2^27 raw bytes would be 512 MB once converted: the peak must not move by anything like that.
    CHECK(peak_rss_kb() - before < 64 * 1024);
  }
}

TEST_CASE("decode limits: a missing level names the file") {
  const Model& m = limits_model();
  const auto good = encode_fp16(codec_test::kodim23_crop(30, 30), m);
  const auto bad = fmt_test::edit_container(good, [](format::pb::ContainerHeader& p) { p.set_level(61); });
  try {
    decode_image(bad, "nolevel.msinr", m);
    FAIL("decoded at a level the model lacks");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("nolevel.msinr") != std::string::npos);
    CHECK(what.find("level 61") != std::string::npos);
  }
}

TEST_CASE("decode limits: max_pixels bounds the output and the native size") {
  const Model& m = limits_model();
  const auto bytes = encode_fp16(codec_test::kodim23_crop(30, 20), m);
  DecodeOptions o;
  o.max_pixels = 30 * 20;
  CHECK(decode_image(bytes, "x", m, o).width == 30);
  o.max_pixels = 30 * 20 - 1;
  codec_test::check_error([&] { decode_image(bytes, "small.msinr", m, o); }, ErrorCode::kLimit, "small.msinr");
  o.max_pixels = kDefaultMaxDecodePixels;
  o.width = 16384;
  o.height = 16384;
  codec_test::check_error([&] { decode_image(bytes, "x", m, o); }, ErrorCode::kLimit, "max-pixels");
}

TEST_CASE("decode limits: strips render what whole tile rows did, and rows arrive in order") {
  const Model& m = limits_model();  // tile 24
  const auto bytes = encode_fp16(codec_test::kodim23_crop(30, 20), m);
  // 16x upscale: a tile row is ~380 output rows, more than one strip of kDecodeStripRows (256).
  DecodeOptions o;
  o.width = 480;
  int next = 0;
  int h = 0;
  decode_rows(bytes, "x", m, o, [&](int y, const std::uint8_t*) {
    CHECK(y == next);
    ++next;
    h = y + 1;
  });
  CHECK(h == 320);
  const Image big = decode_image(bytes, "x", m, o);
  const Image native = decode_image(bytes, "x", m);
  CHECK(psnr_8bit(big, resize_bilinear(native, 480, 320)) > 22.0);
  // Wider than a column chunk: still the right size and continuous across chunk borders.
  DecodeOptions wide;
  wide.width = 2 * kDecodeChunkCols + 10;
  const Image w = decode_image(bytes, "x", m, wide);
  CHECK(w.width == wide.width);
  const int y = w.height / 2, x = kDecodeChunkCols;
  for (int c = 0; c < 3; ++c)
    CHECK(std::abs(int(w.pixels[(static_cast<std::size_t>(y) * w.width + x) * 3 + c]) -
                   int(w.pixels[(static_cast<std::size_t>(y) * w.width + x - 1) * 3 + c])) <= 8);
}
