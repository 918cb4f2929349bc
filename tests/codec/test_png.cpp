// PNG reading and writing: round trips, every colour type and bit depth, the channel policy.
#include "imageio/image_io.hpp"
#include "codec_test_util.hpp"

using namespace msinr::codec;
using namespace codec_test;

namespace {

void check_source(const Image& img, int channels, int bit_depth) {
  CHECK(img.channels == 3);
  CHECK(img.source.format == ImageFormat::kPng);
  CHECK(img.source.channels == channels);
  CHECK(img.source.bit_depth == bit_depth);
}

}  // namespace

TEST_CASE("codec: PNG RGB 8-bit round trip is lossless and atomic and leaves no temporary") {
  TempDir dir;
  const Image img = random_image(37, 23, 3, 42);
  const std::string path = dir.file("rgb.png");
  write_png(img, path);
  CHECK(dir.entries() == std::vector<std::string>{"rgb.png"});
  const Image back = read_image(path);
  CHECK(back.width == 37);
  CHECK(back.height == 23);
  CHECK(back.pixels == img.pixels);
  check_source(back, 3, 8);
  CHECK(back.source.warnings.empty());
  CHECK_FALSE(back.source.had_alpha());
  const std::vector<std::uint8_t> bytes = encode_png(img);
  CHECK(file_bytes(path) == bytes);
  CHECK(sniff_format(bytes.data(), bytes.size()) == ImageFormat::kPng);
  CHECK(read_image_from_memory(bytes.data(), bytes.size(), "mem").pixels == img.pixels);

  // Overwriting replaces the file in place.
  const Image other = linear_pattern(5, 6, 3);
  write_png(other, path);
  CHECK(read_image(path).pixels == other.pixels);
  CHECK(dir.entries() == std::vector<std::string>{"rgb.png"});
}

TEST_CASE("codec: PNG gray and gray+alpha and RGBA written by msinr read back as RGB per the policy") {
  TempDir dir;
  const Image gray = random_image(19, 11, 1, 1);
  const Image ga = random_image(19, 11, 2, 2);
  const Image rgba = random_image(19, 11, 4, 3);
  write_png(gray, dir.file("g.png"));
  write_png(ga, dir.file("ga.png"));
  write_png(rgba, dir.file("rgba.png"));
  const Image g1 = read_image(dir.file("g.png"));
  const Image g2 = read_image(dir.file("ga.png"));
  const Image g4 = read_image(dir.file("rgba.png"));
  check_source(g1, 1, 8);
  check_source(g2, 2, 8);
  check_source(g4, 4, 8);
  CHECK_FALSE(g1.source.had_alpha());
  CHECK(g2.source.had_alpha());
  CHECK(g4.source.had_alpha());
  CHECK(g1.pixels == to_rgb(gray).pixels);
  CHECK(g2.pixels == to_rgb(ga).pixels);
  CHECK(g4.pixels == to_rgb(rgba).pixels);
  for (std::size_t i = 0; i < 19 * 11; ++i) {
    CHECK(g1.pixels[3 * i + 1] == gray.pixels[i]);
    CHECK(g2.pixels[3 * i + 2] == ga.pixels[2 * i]);  // alpha discarded, not composited
    CHECK(g4.pixels[3 * i + 2] == rgba.pixels[4 * i + 2]);
  }
}

TEST_CASE("codec: PNG 16-bit: every value reduces by (v*255+32767)/65535") {
  // 256x256 16-bit gray holding each of the 65536 values once.
  RawPng r;
  r.width = r.height = 256;
  r.bit_depth = 16;
  r.color_type = PNG_COLOR_TYPE_GRAY;
  for (int v = 0; v < 65536; ++v) {
    r.data.push_back(static_cast<std::uint8_t>(v >> 8));
    r.data.push_back(static_cast<std::uint8_t>(v & 0xFF));
  }
  const auto bytes = encode_raw_png(r);
  const Image img = read_image_from_memory(bytes.data(), bytes.size(), "gray16.png");
  check_source(img, 1, 16);
  int mismatches = 0;
  for (int v = 0; v < 65536; ++v) {
    const long want = std::lround(v / 257.0);  // the same value, computed independently (no ties exist)
    for (int k = 0; k < 3; ++k) mismatches += img.pixels[3 * static_cast<std::size_t>(v) + k] != want;
  }
  CHECK(mismatches == 0);
  CHECK(img.pixels[3 * 128] == 0);    // 128 / 257 = 0.498
  CHECK(img.pixels[3 * 129] == 1);    // 129 / 257 = 0.502
  CHECK(img.pixels[3 * 65535] == 255);

  // 16-bit RGBA: big-endian samples, alpha dropped.
  RawPng q;
  q.width = 2;
  q.height = 1;
  q.bit_depth = 16;
  q.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
  q.data = {0x12, 0x34, 0xFF, 0xFF, 0x00, 0x80, 0x00, 0x00, 0x80, 0x00, 0x7F, 0x7F, 0x00, 0x81, 0xAB, 0xCD};
  const auto qb = encode_raw_png(q);
  const Image qi = read_image_from_memory(qb.data(), qb.size(), "rgba16.png");
  check_source(qi, 4, 16);
  const std::vector<std::uint8_t> want = {18, 255, 0, 128, 127, 1};  // 0x1234=4660 -> 18.13, 0x8000 -> 127.5 -> 128
  CHECK(qi.pixels == want);
}

TEST_CASE("codec: PNG palette (with and without tRNS) and low-bit gray expand") {
  RawPng r;
  r.width = 4;
  r.height = 2;
  r.bit_depth = 4;
  r.color_type = PNG_COLOR_TYPE_PALETTE;
  for (int i = 0; i < 16; ++i)
    r.palette.push_back(png_color{static_cast<png_byte>(i * 16), static_cast<png_byte>(255 - i), static_cast<png_byte>(i * 3)});
  r.data = {0x01, 0x23, 0x4F, 0xE5};  // indices 0 1 2 3 / 4 15 14 5, packed two per byte
  const auto bytes = encode_raw_png(r);
  const Image img = read_image_from_memory(bytes.data(), bytes.size(), "pal.png");
  check_source(img, 3, 4);
  const int idx[8] = {0, 1, 2, 3, 4, 15, 14, 5};
  for (int i = 0; i < 8; ++i) {
    CHECK(img.pixels[3 * i] == r.palette[idx[i]].red);
    CHECK(img.pixels[3 * i + 1] == r.palette[idx[i]].green);
    CHECK(img.pixels[3 * i + 2] == r.palette[idx[i]].blue);
  }
  r.palette_alpha = {0, 128};  // tRNS counts as alpha and is dropped
  const auto tb = encode_raw_png(r);
  const Image ti = read_image_from_memory(tb.data(), tb.size(), "pal-trns.png");
  check_source(ti, 4, 4);
  CHECK(ti.source.had_alpha());
  CHECK(ti.pixels == img.pixels);

  RawPng g;  // 2-bit gray: 0, 1, 2, 3 -> 0, 85, 170, 255
  g.width = 4;
  g.height = 1;
  g.bit_depth = 2;
  g.color_type = PNG_COLOR_TYPE_GRAY;
  g.data = {0x1B};  // 00 01 10 11
  const auto gb = encode_raw_png(g);
  const Image gi = read_image_from_memory(gb.data(), gb.size(), "gray2.png");
  check_source(gi, 1, 2);
  CHECK(gi.pixels == std::vector<std::uint8_t>{0, 0, 0, 85, 85, 85, 170, 170, 170, 255, 255, 255});

  g.bit_depth = 1;  // 1-bit: 0 -> 0, 1 -> 255
  g.width = 8;
  g.data = {0xA5};  // 1010 0101
  const auto bb = encode_raw_png(g);
  const Image bi = read_image_from_memory(bb.data(), bb.size(), "gray1.png");
  const int bits[8] = {1, 0, 1, 0, 0, 1, 0, 1};
  for (int i = 0; i < 8; ++i) CHECK(bi.pixels[3 * i] == bits[i] * 255);
}

TEST_CASE("codec: PNG Adam7 interlaced files decode like non-interlaced ones") {
  RawPng r;
  r.width = 33;
  r.height = 17;
  r.color_type = PNG_COLOR_TYPE_RGB;
  r.interlace = true;
  r.data = random_image(33, 17, 3, 9).pixels;
  const auto bytes = encode_raw_png(r);
  const Image img = read_image_from_memory(bytes.data(), bytes.size(), "adam7.png");
  CHECK(img.pixels == r.data);
  r.interlace = false;
  const auto plain = encode_raw_png(r);
  CHECK(plain != bytes);
  CHECK(read_image_from_memory(plain.data(), plain.size(), "plain.png").pixels == r.data);
}

TEST_CASE("codec: The repository sample kodim23.png reads and round-trips") {
  const std::string path = std::string(MSINR_SOURCE_DIR) + "/samples/kodim23.png";
  const Image img = read_image(path);
  CHECK(img.width == 768);
  CHECK(img.height == 512);
  check_source(img, 3, 8);
  const auto bytes = encode_png(img);
  CHECK(read_image_from_memory(bytes.data(), bytes.size(), "kodim23-copy.png").pixels == img.pixels);
}

TEST_CASE("codec: PNG writer rejects malformed images before touching the destination") {
  TempDir dir;
  const std::string path = dir.file("keep.png");
  const Image good = linear_pattern(4, 4, 3);
  write_png(good, path);
  const auto before = file_bytes(path);
  Image bad = good;
  bad.pixels.resize(10);
  check_error([&] { write_png(bad, path); }, ErrorCode::kInvalidArgument, path);
  Image five = good;
  five.channels = 5;
  check_error([&] { write_png(five, path); }, ErrorCode::kInvalidArgument, path);
  check_error([&] { write_png(Image{}, path); }, ErrorCode::kInvalidArgument, path);
  CHECK(file_bytes(path) == before);
  CHECK(dir.entries() == std::vector<std::string>{"keep.png"});
}

TEST_CASE("codec: PngRowWriter streams rows to a file that reads back identically") {
  codec_test::TempDir dir;
  const std::string path = dir.file("rows.png");
  msinr::codec::Image im = msinr::codec::make_image(13, 7, 3);
  for (std::size_t i = 0; i < im.pixels.size(); ++i) im.pixels[i] = static_cast<std::uint8_t>(i * 11);
  {
    msinr::codec::PngRowWriter w(path, 13, 7, 3);
    for (int y = 0; y < 7; ++y) w.write_row(&im.pixels[static_cast<std::size_t>(y) * 13 * 3]);
    CHECK(dir.entries().size() == 1);            // only the temporary so far
    CHECK_FALSE(std::filesystem::exists(path));  // nothing at the destination until finish()
    w.finish();
  }
  CHECK(msinr::codec::read_image(path).pixels == im.pixels);
  {
    msinr::codec::PngRowWriter w(dir.file("abandoned.png"), 4, 4, 3);
    const std::uint8_t row[12] = {};
    w.write_row(row);
    CHECK_THROWS_AS(w.finish(), msinr::Error);  // rows missing
  }
  CHECK(dir.entries() == std::vector<std::string>{"rows.png"});  // the unfinished one left nothing
  CHECK_THROWS_AS(msinr::codec::PngRowWriter(dir.file("no/such/dir.png"), 4, 4, 3), msinr::Error);
}
