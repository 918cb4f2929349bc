// Per-tile levels (TileLevels::kAdaptive, container version 3): each tile at its level or a
// neighbour, chosen for the most quality at the uniform file's bits. The file must decode to exactly
// the PSNR the encoder reports, on every thread count, at about the uniform file's bits; where no
// tile can move, the file is the uniform one byte for byte.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "codec/codec.hpp"
#include "codec/metrics.hpp"
#include "codec/tiling.hpp"
#include "codec_test_util.hpp"
#include "msinr/error.hpp"
#include "format/container.hpp"
#include "tiny_model.hpp"

using namespace msinr;
using namespace msinr::codec;

namespace {

const Model& tiny(bool frozen) {
  static const Model fitted = codec_test::train_tiny_model({16, 2, 24, 10, 3, 3, 6, 60.0f});
  static const Model frozen_biases = codec_test::train_tiny_model({16, 2, 24, 10, 3, 3, 6, 60.0f, Network::kSiren, true});
  return frozen ? frozen_biases : fitted;
}

codec::EncodeOptions options(const Model& m, std::size_t level_position, TileLevels tile_levels) {
  codec::EncodeOptions o;
  o.level = m.levels[level_position].index;
  o.device = Device::kCpu;
  o.steps = 20;
  o.refit_steps = 3;
  o.tile_levels = tile_levels;
  return o;
}

// 96x48 (4 x 2 tiles of 24) plus a 10-pixel edge column: the left half flat grey, the right half and
// the edge column from the Kodak sample.
Image half_flat() {
  const Image photo = codec_test::kodim23_crop(106, 48);
  Image im = photo;
  for (int y = 0; y < im.height; ++y)
    for (int x = 0; x < 48; ++x)
      for (int c = 0; c < 3; ++c) im.pixels[(static_cast<std::size_t>(y) * im.width + x) * 3 + c] = 128;
  return im;
}

}  // namespace

TEST_CASE("tile levels: an adaptive file decodes to the PSNR the encoder reports, with each tile at its level or a neighbour") {
  for (bool frozen : {false, true}) {
    CAPTURE(frozen);
    const Model& m = tiny(frozen);
    REQUIRE(m.levels.size() >= 3);
    const Image image = half_flat();
    const EncodeResult r = encode_image(image, m, options(m, 1, TileLevels::kAdaptive));
    REQUIRE(r.bytes[8] == 3);  // tiles moved: a version-3 file
    const format::Container c = format::read_container(r.bytes);
    REQUIRE(c.tile_levels.size() == tile_rects(image.width, image.height, m.tile_size).size());
    const std::set<std::uint32_t> neighbours = {static_cast<std::uint32_t>(m.levels[0].index),
                                                static_cast<std::uint32_t>(m.levels[1].index),
                                                static_cast<std::uint32_t>(m.levels[2].index)};
    for (std::uint32_t l : c.tile_levels) CHECK(neighbours.count(l) == 1);
    CHECK(c.header.level == static_cast<std::uint32_t>(m.levels[1].index));
    DecodeOptions one;
    one.threads = 1;
    const Image decoded = decode_image(r.bytes, "adaptive", m, one);
    CHECK(psnr_8bit(decoded, image) == doctest::Approx(r.psnr).epsilon(1e-12));
    DecodeOptions three;
    three.threads = 3;
    CHECK(decode_image(r.bytes, "adaptive", m, three).pixels == decoded.pixels);
    // Equal tiles (the flat ones, fitted from the same seeded pixel subsets) take the same level.
    const auto rects = tile_rects(image.width, image.height, m.tile_size);
    std::set<std::uint32_t> flat;
    for (std::size_t t = 0; t < rects.size(); ++t)
      if (rects[t].x0 + rects[t].width <= 48) flat.insert(c.tile_levels[t]);
    CHECK(flat.size() == 1);
    // About the uniform file's bits: the choice is made on estimated bits (each level's order-0
    // statistics), so the file lands near, not at, the uniform size. Whether the quality gained is
    // worth it is a rate-distortion measurement (docs/results), not something a 16-wide network shows.
    const EncodeResult u = encode_image(image, m, options(m, 1, TileLevels::kUniform));
    MESSAGE("adaptive " << r.bytes.size() << " bytes " << r.psnr << " dB, uniform " << u.bytes.size() << " bytes " << u.psnr << " dB");
    CHECK(static_cast<double>(r.bytes.size()) == doctest::Approx(static_cast<double>(u.bytes.size())).epsilon(0.1));
  }
}

TEST_CASE("tile levels: only the tiles predicted to move are fitted again, and progress runs forward to the end") {
  // The level's fit predicts the neighbours' error and bits, so the encoder fits at a neighbour
  // level only the tiles expected to move: never more tile fits than twice the tiles, and the bar
  // (done / total) never goes back and ends full.
  const Model& m = tiny(true);
  const Image image = half_flat();
  const std::size_t n_tiles = tile_rects(image.width, image.height, m.tile_size).size();
  codec::EncodeOptions o = options(m, 1, TileLevels::kAdaptive);
  std::vector<std::pair<std::size_t, std::size_t>> calls;
  o.progress = [&](std::size_t done, std::size_t total) {
    calls.emplace_back(done, total);
    return true;
  };
  const EncodeResult r = encode_image(image, m, o);
  REQUIRE(r.bytes[8] == 3);
  REQUIRE(!calls.empty());
  double last = 0.0;
  for (const auto& [done, total] : calls) {
    REQUIRE(total > 0);
    REQUIRE(total <= 2 * n_tiles);
    const double fraction = static_cast<double>(done) / static_cast<double>(total);
    CHECK(fraction >= last - 1e-12);
    CHECK(fraction <= 1.0);
    last = fraction;
  }
  CHECK(last == doctest::Approx(1.0));
  // The tiles fitted again are the ones predicted to move: fewer than all of them here (the flat
  // half has equal tiles, which all stay or all move together, and the rest differ).
  CHECK(calls.back().second < 2 * n_tiles);
  // Cancelling from the progress callback stops the encode with kCancelled.
  codec::EncodeOptions cancel = options(m, 1, TileLevels::kAdaptive);
  cancel.progress = [&](std::size_t done, std::size_t total) { return done * 2 < total; };
  try {
    encode_image(image, m, cancel);
    FAIL("not cancelled");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kCancelled);
  }
}

TEST_CASE("tile levels: where no tile can move, the adaptive file is the uniform one") {
  const Model& m = tiny(false);
  // One tile: the bits of the uniform file leave no room to move it denser, and sparser loses.
  const Image one_tile = codec_test::kodim23_crop(24, 24);
  CHECK(encode_image(one_tile, m, options(m, 1, TileLevels::kAdaptive)).bytes ==
        encode_image(one_tile, m, options(m, 1, TileLevels::kUniform)).bytes);
  // Four equal tiles (flat grey, 48x48): they would all move together, which the bits of the uniform
  // file do not allow, so the file is the uniform one, written from the level's one fit.
  Image flat = codec_test::kodim23_crop(48, 48);
  std::fill(flat.pixels.begin(), flat.pixels.end(), std::uint8_t{128});
  CHECK(encode_image(flat, m, options(m, 1, TileLevels::kAdaptive)).bytes ==
        encode_image(flat, m, options(m, 1, TileLevels::kUniform)).bytes);
  // The densest and the sparsest level have one neighbour only: uniform.
  const Image image = half_flat();
  for (std::size_t at : {std::size_t{0}, m.levels.size() - 1})
    CHECK(encode_image(image, m, options(m, at, TileLevels::kAdaptive)).bytes ==
          encode_image(image, m, options(m, at, TileLevels::kUniform)).bytes);
  // Per-tile levels need the quantized payload and a fixed level: anything else is refused, not ignored.
  codec::EncodeOptions fp16 = options(m, 1, TileLevels::kAdaptive);
  fp16.bits = 16;
  codec::EncodeOptions bpp = options(m, 1, TileLevels::kAdaptive);
  bpp.level = -1;
  bpp.target_bpp = 2.0;
  for (const auto& bad : {fp16, bpp}) {
    try {
      encode_image(image, m, bad);
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kInvalidArgument);
      CHECK(std::string(e.what()).find("tile_levels") != std::string::npos);
    }
  }
}

TEST_CASE("tile levels: the default (kAuto) is per-tile levels where they apply and one level elsewhere") {
  const Model& m = tiny(true);
  const Image image = half_flat();
  codec::EncodeOptions automatic = options(m, 1, TileLevels::kAuto);
  CHECK(codec::EncodeOptions{}.tile_levels == TileLevels::kAuto);
  CHECK(per_tile_levels(automatic));
  const EncodeResult a = encode_image(image, m, automatic);
  CHECK(a.bytes == encode_image(image, m, options(m, 1, TileLevels::kAdaptive)).bytes);
  // fp16 and a rate or quality target: one level per image, as kUniform gives, and no refusal.
  codec::EncodeOptions fp16 = automatic;
  fp16.bits = 16;
  codec::EncodeOptions fp16_uniform = options(m, 1, TileLevels::kUniform);
  fp16_uniform.bits = 16;
  CHECK(!per_tile_levels(fp16));
  CHECK(encode_image(image, m, fp16).bytes == encode_image(image, m, fp16_uniform).bytes);
  codec::EncodeOptions bpp = automatic, bpp_uniform = options(m, 1, TileLevels::kUniform);
  for (auto* o : {&bpp, &bpp_uniform}) {
    o->level = -1;
    o->target_bpp = 3.0;
  }
  CHECK(!per_tile_levels(bpp));
  CHECK(encode_image(image, m, bpp).bytes == encode_image(image, m, bpp_uniform).bytes);
  CHECK(!per_tile_levels(options(m, 1, TileLevels::kUniform)));
}
