// Hostile and broken inputs: every failure is a typed msinr::Error naming the file; nothing crashes,
// and failed writes leave neither an output nor a temporary file behind.
#include <cstddef>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared first.
#include <jpeglib.h>

#include "imageio/image_io.hpp"
#include "codec_test_util.hpp"

using namespace msinr::codec;
using namespace codec_test;

namespace {

std::vector<std::uint8_t> valid_png() { return encode_png(random_image(40, 30, 3, 1)); }
std::vector<std::uint8_t> valid_jpeg() { return encode_jpeg(random_image(40, 30, 3, 2), 85); }

// `count` cut points spread over [1, size), plus the last few bytes.
std::vector<std::size_t> cut_points(std::size_t size, int count) {
  std::vector<std::size_t> cuts;
  for (int i = 0; i < count; ++i) cuts.push_back(1 + (size - 2) * static_cast<std::size_t>(i) / (count - 1));
  for (std::size_t k = 1; k <= 4; ++k) cuts.push_back(size - k);
  return cuts;
}

// Decoding must either succeed with the right size or throw msinr::Error; anything else fails.
void decode_or_typed_error(const std::vector<std::uint8_t>& bytes, const std::string& name, int w, int h) {
  try {
    const Image img = read_image_from_memory(bytes.data(), bytes.size(), name);
    CHECK(img.width == w);
    CHECK(img.height == h);
    CHECK(img.pixels.size() == static_cast<std::size_t>(w) * h * 3);
  } catch (const msinr::Error& e) {
    CHECK(std::string(e.what()).find(name) != std::string::npos);
  }
}

}  // namespace

TEST_CASE("codec: missing or empty or directory inputs") {
  TempDir dir;
  const std::string missing = dir.file("does-not-exist.png");
  check_error([&] { read_image(missing); }, ErrorCode::kIo, missing);
  const std::string empty = dir.file("empty.png");
  write_bytes(empty, {});
  check_error([&] { read_image(empty); }, ErrorCode::kCorrupt, empty);
  check_error([&] { read_image(dir.path().string()); }, ErrorCode::kIo, dir.path().string());
  check_error([&] { read_image_from_memory(nullptr, 0, "nothing.jpg"); }, ErrorCode::kCorrupt, "nothing.jpg");
}

TEST_CASE("codec: Truncated PNG at many offsets is kCorrupt") {
  TempDir dir;
  const auto png = valid_png();
  int n = 0;
  for (std::size_t cut : cut_points(png.size(), 20)) {
    CAPTURE(cut);
    const std::vector<std::uint8_t> part(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(cut));
    const std::string path = dir.file("cut" + std::to_string(cut) + ".png");
    write_bytes(path, part);
    check_error([&] { read_image(path); }, ErrorCode::kCorrupt, path);
    ++n;
  }
  CHECK(n == 24);
  // The repository sample, cut in the middle of its IDAT stream and just before IEND's CRC.
  const auto k = read_file(std::string(MSINR_SOURCE_DIR) + "/samples/kodim23.png");
  for (std::size_t cut : {std::size_t{33}, k.size() / 3, k.size() - 1}) {
    check_error([&] { read_image_from_memory(k.data(), cut, "kodim23-cut.png"); }, ErrorCode::kCorrupt,
                "kodim23-cut.png");
  }
  try {
    read_image_from_memory(png.data(), png.size() / 2, "half.png");
  } catch (const msinr::Error& e) {
    CHECK(std::string(e.what()).find("truncated PNG data") != std::string::npos);
  }
}

TEST_CASE("codec: Truncated JPEG at many offsets is kCorrupt") {
  const auto jpg = valid_jpeg();
  for (std::size_t cut : cut_points(jpg.size(), 20)) {
    CAPTURE(cut);
    check_error([&] { read_image_from_memory(jpg.data(), cut, "cut.jpg"); }, ErrorCode::kCorrupt, "cut.jpg");
  }
  try {
    read_image_from_memory(jpg.data(), jpg.size() - 10, "short.jpg");
  } catch (const msinr::Error& e) {
    CHECK(std::string(e.what()).find("truncated JPEG data") != std::string::npos);
  }
}

TEST_CASE("codec: a flipped byte in IDAT is kCorrupt with or without a repaired CRC") {
  auto png = valid_png();
  const std::size_t idat = find_png_chunk(png, "IDAT");
  REQUIRE(idat != std::string::npos);
  auto flipped = png;
  flipped[idat + 8 + 20] ^= 0x01;
  check_error([&] { read_image_from_memory(flipped.data(), flipped.size(), "flip.png"); }, ErrorCode::kCorrupt,
              "flip.png");
  // Repair the chunk CRC so only zlib (inflate or Adler-32) can notice.
  const std::uint32_t len = (std::uint32_t{png[idat]} << 24) | (std::uint32_t{png[idat + 1]} << 16) |
                            (std::uint32_t{png[idat + 2]} << 8) | png[idat + 3];
  // (Not the first deflate bytes: in a stored block the bits after the block header are ignored.)
  for (std::size_t off : {std::size_t{len / 3}, std::size_t{len / 2}, std::size_t{len - 1}}) {
    auto bad = png;
    bad[idat + 8 + off] ^= 0x10;
    const auto crc = static_cast<std::uint32_t>(::crc32(0L, bad.data() + idat + 4, len + 4));
    for (int s = 0; s < 4; ++s) bad[idat + 8 + len + s] = static_cast<std::uint8_t>(crc >> (24 - 8 * s));
    CAPTURE(off);
    check_error([&] { read_image_from_memory(bad.data(), bad.size(), "adler.png"); }, ErrorCode::kCorrupt,
                "adler.png");
  }
}

TEST_CASE("codec: Random byte corruption never crashes and only throws msinr::Error") {
  const auto png = valid_png();
  const auto jpg = valid_jpeg();
  Lcg rng(123);
  for (int trial = 0; trial < 150; ++trial) {
    for (const auto* src : {&png, &jpg}) {
      auto bad = *src;
      const int flips = 1 + static_cast<int>(rng.next() % 4);
      for (int f = 0; f < flips; ++f) bad[2 + rng.next() % (bad.size() - 2)] ^= static_cast<std::uint8_t>(1 + rng.next() % 255);
      decode_or_typed_error(bad, src == &png ? "fuzz.png" : "fuzz.jpg", 40, 30);
    }
  }
}

TEST_CASE("codec: garbage and text and other formats are refused with the right code") {
  TempDir dir;
  std::vector<std::uint8_t> garbage(1000);
  Lcg rng(7);
  for (auto& b : garbage) b = static_cast<std::uint8_t>(rng.next());
  garbage[0] = 0x00;
  const std::string g = dir.file("garbage.png");
  write_bytes(g, garbage);
  check_error([&] { read_image(g); }, ErrorCode::kUnsupported, g);

  const std::string t = dir.file("notes.jpg");
  const std::string text = "This is a text file, not an image.\n";
  write_bytes(t, std::vector<std::uint8_t>(text.begin(), text.end()));
  check_error([&] { read_image(t); }, ErrorCode::kUnsupported, t);

  const std::pair<std::string, std::string> others[] = {
      {"GIF89a\x01\x00\x01\x00", "GIF"}, {"BM\x3a\x00\x00\x00", "BMP"},       {"RIFF\x10\x00\x00\x00WEBPVP8 ", "WebP"},
      {"II*\x00\x08\x00", "TIFF"},        {"P6\n2 2\n255\n", "PNM"},          {"qoif\x00\x00", "QOI"},
  };
  for (const auto& [magic, fmt] : others) {
    CAPTURE(fmt);
    const std::string p = dir.file("image." + fmt);
    write_bytes(p, std::vector<std::uint8_t>(magic.begin(), magic.end()));
    check_error([&] { read_image(p); }, ErrorCode::kUnsupported, p);
    try {
      read_image(p);
    } catch (const msinr::Error& e) {
      CHECK(std::string(e.what()).find(fmt) != std::string::npos);
    }
  }
  // The first bytes of a signature alone are a truncated file, not an unknown one.
  const std::uint8_t sig[] = {0x89, 'P', 'N', 'G'};
  check_error([&] { read_image_from_memory(sig, 4, "sig.png"); }, ErrorCode::kCorrupt, "sig.png");
  const std::uint8_t soi[] = {0xFF, 0xD8};
  check_error([&] { read_image_from_memory(soi, 2, "soi.jpg"); }, ErrorCode::kCorrupt, "soi.jpg");
  // The format comes from the bytes: a PNG named .jpg reads fine.
  const std::string misnamed = dir.file("really-a-png.jpg");
  write_bytes(misnamed, valid_png());
  CHECK(read_image(misnamed).source.format == ImageFormat::kPng);
}

TEST_CASE("codec: Oversized dimensions are kLimit before any pixel allocation") {
  // IHDR only: reading any further would fail as truncated, so kLimit proves the early check.
  for (auto [w, h] : {std::pair{100000u, 100000u}, std::pair{32769u, 1u}, std::pair{1u, 40000u},
                      std::pair{20000u, 20000u}, std::pair{0x7FFFFFFFu, 0x7FFFFFFFu}}) {
    CAPTURE(w);
    CAPTURE(h);
    const auto f = png_header_only(w, h);
    check_error([&] { read_image_from_memory(f.data(), f.size(), "huge.png"); }, ErrorCode::kLimit, "huge.png");
  }
  // At the limits the header is accepted and the missing data is what fails (0: the format's limit,
  // 2^28, instead of the default read limit of 2^27).
  for (auto [w, h] : {std::pair{32768u, 8192u}, std::pair{1u, 32768u}}) {
    const auto f = png_header_only(w, h);
    check_error([&] { read_image_from_memory(f.data(), f.size(), "edge.png", 0); }, ErrorCode::kCorrupt, "edge.png");
  }
  // The default read limit, 2^27 pixels (issue 16: a 32 KB 1-bit PNG declaring 16384x16384 cost
  // 8.2 GB): refused from the header, and raised explicitly.
  {
    const auto f = png_header_only(16384, 16384);
    check_error([&] { read_image_from_memory(f.data(), f.size(), "bomb.png"); }, ErrorCode::kLimit, "--max-pixels");
    check_error([&] { read_image_from_memory(f.data(), f.size(), "bomb.png", 1ull << 28); }, ErrorCode::kCorrupt, "bomb.png");
    const auto at = png_header_only(16384, 8192);
    check_error([&] { read_image_from_memory(at.data(), at.size(), "at.png"); }, ErrorCode::kCorrupt, "at.png");
    const auto small = valid_png();  // 40x30
    check_error([&] { read_image_from_memory(small.data(), small.size(), "small.png", 1199); }, ErrorCode::kLimit, "small.png");
    CHECK(read_image_from_memory(small.data(), small.size(), "small.png", 1200).width == 40);
    const auto jpg = valid_jpeg();
    check_error([&] { read_image_from_memory(jpg.data(), jpg.size(), "small.jpg", 1199); }, ErrorCode::kLimit, "small.jpg");
    CHECK(read_image_from_memory(jpg.data(), jpg.size(), "small.jpg", 1200).width == 40);
  }
  const auto zero = png_header_only(0, 10);
  check_error([&] { read_image_from_memory(zero.data(), zero.size(), "zero.png"); }, ErrorCode::kCorrupt,
              "zero.png");

  // JPEG: patch the SOF0 height and width.
  const auto jpg = valid_jpeg();
  const std::size_t sof = find_jpeg_marker(jpg, 0xC0);
  REQUIRE(sof != std::string::npos);
  for (auto [w, h] : {std::pair{40000, 40000}, std::pair{60000, 16}, std::pair{20000, 20000}}) {
    auto big = jpg;
    big[sof + 5] = static_cast<std::uint8_t>(h >> 8);
    big[sof + 6] = static_cast<std::uint8_t>(h & 0xFF);
    big[sof + 7] = static_cast<std::uint8_t>(w >> 8);
    big[sof + 8] = static_cast<std::uint8_t>(w & 0xFF);
    CAPTURE(w);
    check_error([&] { read_image_from_memory(big.data(), big.size(), "huge.jpg"); }, ErrorCode::kLimit, "huge.jpg");
  }
}

TEST_CASE("codec: Unsupported JPEG variants are kUnsupported") {
  const auto jpg = valid_jpeg();
  const std::size_t sof = find_jpeg_marker(jpg, 0xC0);
  REQUIRE(sof != std::string::npos);
  auto twelve = jpg;
  twelve[sof + 4] = 12;  // 12-bit precision
  check_error([&] { read_image_from_memory(twelve.data(), twelve.size(), "p12.jpg"); }, ErrorCode::kUnsupported,
              "p12.jpg");
  auto lossless = jpg;
  lossless[sof + 1] = 0xC3;  // SOF3, lossless
  check_error([&] { read_image_from_memory(lossless.data(), lossless.size(), "sof3.jpg"); },
              ErrorCode::kUnsupported, "sof3.jpg");

  // A CMYK JPEG written with libjpeg directly.
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buf = nullptr;
  unsigned long len = 0;
  jpeg_mem_dest(&c, &buf, &len);
  c.image_width = 8;
  c.image_height = 8;
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_start_compress(&c, TRUE);
  std::vector<std::uint8_t> row(8 * 4, 100);
  while (c.next_scanline < 8) {
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  const std::vector<std::uint8_t> cmyk(buf, buf + len);
  jpeg_destroy_compress(&c);
  std::free(buf);
  check_error([&] { read_image_from_memory(cmyk.data(), cmyk.size(), "cmyk.jpg"); }, ErrorCode::kUnsupported,
              "cmyk.jpg");
}

TEST_CASE("codec: Failed writes leave no output and no temporary file") {
  TempDir dir;
  const Image img = linear_pattern(8, 8, 3);
  const std::string nodir = dir.file("no-such-dir/out.png");
  check_error([&] { write_png(img, nodir); }, ErrorCode::kIo, nodir);
  check_error([&] { write_jpeg(img, dir.file("no-such-dir/out.jpg"), 90); }, ErrorCode::kIo, "no-such-dir/out.jpg");
  CHECK(dir.entries().empty());

  // The destination is a directory: the temporary is written, the rename fails, it is removed.
  fs::create_directory(dir.path() / "taken.png");
  check_error([&] { write_png(img, dir.file("taken.png")); }, ErrorCode::kIo, dir.file("taken.png"));
  check_error([&] { write_jpeg(img, dir.file("taken.png"), 90); }, ErrorCode::kIo, dir.file("taken.png"));
  CHECK(dir.entries() == std::vector<std::string>{"taken.png"});
  CHECK(fs::is_empty(dir.path() / "taken.png"));

  check_error([&] { write_png(img, dir.path().string() + "/"); }, ErrorCode::kIo, dir.path().string());
  CHECK(dir.entries() == std::vector<std::string>{"taken.png"});
}
