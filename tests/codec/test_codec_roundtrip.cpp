// The codec end to end in memory: encode -> bytes -> decode, with a small model trained here.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <random>

#include "codec/codec.hpp"
#include "codec/default_model.hpp"
#include "imageio/image_io.hpp"
#include "codec/metrics.hpp"
#include "codec/model.hpp"
#include "codec/tiling.hpp"
#include "tools/checkpoint.hpp"
#include "codec_test_util.hpp"
#include "tiny_model.hpp"
#include "msinr/error.hpp"
#include "msinr/meta_trainer.hpp"

using namespace msinr;
using namespace msinr::codec;
using namespace msinr::tools;

namespace {

// A SIREN 2-32x3-3 at tile 24 with four levels, from the project's own trainer.
const Model& test_model() {
  static const Model model = codec_test::train_tiny_model({32, 3, 24, 20, 3, 5, 12, 60.0f});
  return model;
}


// One level for every tile, on the grid: these tests pin that path's files (the default, kAuto, gives
// per-tile levels at a fixed level: test_tile_levels.cpp; merged edges: the test below).
codec::EncodeOptions cpu_options(int level) {
  codec::EncodeOptions o;
  o.level = level;
  o.device = Device::kCpu;
  o.tile_levels = TileLevels::kUniform;
  o.merge_edges = false;
  return o;
}

}  // namespace

TEST_CASE("codec: round trip on a Kodak crop whose size is not a multiple of the tile") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(50, 37);
  const EncodeResult r = encode_image(im, m, cpu_options(2));
  CHECK(r.tiles == 3u * 2u);
  CHECK(r.level == 2);
  const ContainerInfo info = read_info(r.bytes, "mem");
  CHECK(info.header.width == 50u);
  CHECK(info.header.height == 37u);
  CHECK(info.bpp == doctest::Approx(r.bytes.size() * 8.0 / (50 * 37)));
  const Image back = decode_image(r.bytes, "mem", m);
  REQUIRE(back.width == 50);
  REQUIRE(back.height == 37);
  const double psnr = psnr_8bit(back, im);
  MESSAGE("fit PSNR " << r.fit_psnr << " dB, decoded (quantized) " << psnr << " dB, " << r.bytes.size() << " bytes");
  CHECK(psnr > 18.0);                             // it really fitted (the init alone gives < 12 dB)
  CHECK(psnr >= r.fit_psnr - 0.1 - 1e-9);         // what quantization may cost (--quant-loss)
  CHECK(psnr == r.psnr);                          // the encoder measured exactly what decodes
  CHECK(decode_image(r.bytes, "mem", m).pixels == back.pixels);  // decoding is deterministic
  CHECK(encode_image(im, m, cpu_options(2)).bytes == r.bytes);   // and so is encoding
}

TEST_CASE("codec: the quantized payload costs fewer bits than fp16 for at most --quant-loss dB") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(48, 40);
  for (int level : {0, 3}) {
    CAPTURE(level);
    codec::EncodeOptions o = cpu_options(level);
    const EncodeResult q = encode_image(im, m, o);
    o.bits = 16;
    const EncodeResult h = encode_image(im, m, o);
    CHECK(q.payload == "quantized");
    CHECK(h.payload == "fp16");
    CHECK(read_info(h.bytes, "fp16").header.precision == format::Precision::kFp16);
    CHECK(h.bytes[8] == 1);  // fp16 containers stay version 1
    CHECK(q.bytes[8] == 2);
    CHECK(q.fit_psnr == h.fit_psnr);  // the same fit, two payloads
    const double pq = psnr_8bit(decode_image(q.bytes, "q", m), im), ph = psnr_8bit(decode_image(h.bytes, "h", m), im);
    MESSAGE("level " << level << ": quantized " << q.bytes.size() << " B " << pq << " dB; fp16 " << h.bytes.size()
                     << " B " << ph << " dB");
    CHECK(q.bytes.size() * 2 < h.bytes.size());
    CHECK(pq >= q.fit_psnr - o.quant_loss_db - 1e-9);
    CHECK(pq == q.psnr);
    o.bits = 0;
    o.quant_loss_db = 1.0;  // a looser budget buys a smaller file
    CHECK(encode_image(im, m, o).bytes.size() < q.bytes.size());
  }
}

TEST_CASE("codec: quantization-aware refit never makes the decoded picture worse, under every rate mode") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(48, 40);
  codec::EncodeOptions o = cpu_options(1);
  o.quant_loss_db = 0.8;  // coarse steps: where rounding costs the most and a refit can win it back
  o.refit_steps = 0;
  const EncodeResult plain = encode_image(im, m, o);
  o.refit_steps = 30;
  o.refit_lr = 1e-4f;
  const EncodeResult refit = encode_image(im, m, o);
  MESSAGE("refit: " << plain.psnr << " -> " << refit.psnr << " dB, " << plain.bytes.size() << " -> " << refit.bytes.size() << " B");
  CHECK(refit.fit_psnr == plain.fit_psnr);  // the same 100-step fit underneath
  CHECK(refit.psnr >= plain.psnr);
  CHECK(refit.psnr == psnr_8bit(decode_image(refit.bytes, "refit", m), im));  // the decoder sees what was measured
  // The steps are those of the plain file (only the integers move), so the size barely changes.
  CHECK(read_info(refit.bytes, "r").header.quant_steps == read_info(plain.bytes, "p").header.quant_steps);
  // A refit on pixel subsets keeps the same promises, and repeats exactly (the subsets are seeded).
  codec::EncodeOptions subset = o;
  subset.refit_pixel_fraction = 0.5;
  const EncodeResult half = encode_image(im, m, subset);
  CHECK(half.psnr >= plain.psnr);
  CHECK(half.psnr == psnr_8bit(decode_image(half.bytes, "half", m), im));
  CHECK(half.bytes == encode_image(im, m, subset).bytes);
  subset.refit_pixel_fraction = 0.0;  // the message names the field, not just "a pixel fraction"
  codec_test::check_error([&] { encode_image(im, m, subset); }, ErrorCode::kInvalidArgument, "refit_pixel_fraction");
  // Rate control with the refit still keeps its promise.
  o.level = -1;
  o.target_bpp = plain.bytes.size() * 8.0 / (48.0 * 40.0);
  const EncodeResult by_bpp = encode_image(im, m, o);
  CHECK(by_bpp.target_met);
  CHECK(by_bpp.bytes.size() <= plain.bytes.size());
  CHECK(by_bpp.psnr == psnr_8bit(decode_image(by_bpp.bytes, "bpp", m), im));
  o.target_bpp = 0.0;
  o.target_psnr = plain.psnr;
  const EncodeResult by_psnr = encode_image(im, m, o);
  CHECK(by_psnr.target_met);
  CHECK(psnr_8bit(decode_image(by_psnr.bytes, "psnr", m), im) >= plain.psnr);
}

TEST_CASE("codec: rate control keeps its promise or says it could not") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(48, 48);
  const double pixels = 48.0 * 48.0;
  const auto sparse = encode_image(im, m, cpu_options(3));
  const auto dense = encode_image(im, m, cpu_options(0));
  codec::EncodeOptions o;
  o.device = Device::kCpu;
  // A reachable budget between the levels' default sizes: met, at or under it.
  o.target_bpp = (sparse.bytes.size() + dense.bytes.size()) * 4.0 / pixels;
  const auto by_bpp = encode_image(im, m, o);
  CHECK(by_bpp.target_met);
  CHECK(by_bpp.bytes.size() * 8.0 / pixels <= o.target_bpp);
  CHECK(by_bpp.psnr == psnr_8bit(decode_image(by_bpp.bytes, "bpp", m), im));
  CHECK(by_bpp.psnr >= sparse.psnr - 0.05);  // the budget bought at least the sparse level's quality
  // An unreachable one: not met, and the closest (sparsest) file comes back.
  o.target_bpp = 0.01;
  const auto tiny = encode_image(im, m, o);
  CHECK_FALSE(tiny.target_met);
  o.target_bpp = 0.0;
  o.target_psnr = sparse.psnr;  // reachable: the sparse level's own quality
  const auto by_psnr = encode_image(im, m, o);
  CHECK(by_psnr.target_met);
  CHECK(psnr_8bit(decode_image(by_psnr.bytes, "psnr", m), im) >= o.target_psnr);
  CHECK(by_psnr.bytes.size() <= sparse.bytes.size());  // never a bigger file than a known answer
  o.target_psnr = 99.0;
  CHECK_FALSE(encode_image(im, m, o).target_met);
}

TEST_CASE("codec: a rate-control search reports its level, step and fits, and a fixed level reports nothing") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(48, 48);
  const auto sparse = encode_image(im, m, cpu_options(3));
  const auto dense = encode_image(im, m, cpu_options(0));
  std::vector<SearchStatus> seen;
  codec::EncodeOptions o;
  o.device = Device::kCpu;
  o.search = [&](const SearchStatus& s) { seen.push_back(s); };
  auto check_sequence = [&](const EncodeResult& r) {
    REQUIRE(!seen.empty());
    int fits = 0, fit_events = 0;
    bool quantized_at_result_level = false;
    for (const SearchStatus& s : seen) {
      CAPTURE(s.phase);
      CHECK(s.fits_done >= fits);  // never goes back
      fits = s.fits_done;
      CHECK(s.fits_done <= s.fits_max);
      CHECK(s.fits_max <= static_cast<int>(m.levels.size()) + 1);
      CHECK_NOTHROW(m.level(s.level));  // a level the model has
      const std::string phase = s.phase;
      if (phase == "fit") {
        ++fit_events;
        CHECK(s.fits_done < s.fits_max);  // room for the fit it announces
        CHECK(s.step_scale == 0.0);
      } else {
        CHECK((phase == "quantize" || phase == "refit"));
        CHECK(s.step_scale > 0.0);
        quantized_at_result_level |= s.level == r.level;
      }
    }
    CHECK(fit_events == seen.back().fits_done + (std::string(seen.back().phase) == "fit" ? 1 : 0));
    CHECK(quantized_at_result_level);
  };
  o.target_bpp = (sparse.bytes.size() + dense.bytes.size()) * 4.0 / (48.0 * 48.0);
  const EncodeResult by_bpp = encode_image(im, m, o);
  check_sequence(by_bpp);
  bool sized = false;  // the bpp search reports the size of the steps it tries
  for (const SearchStatus& s : seen) sized |= s.bytes > 0;
  CHECK(sized);
  seen.clear();
  o.target_bpp = 0.0;
  o.target_psnr = sparse.psnr;
  check_sequence(encode_image(im, m, o));
  bool measured = false;  // the PSNR search reports the quality of the steps it found
  for (const SearchStatus& s : seen) measured |= s.psnr > 0.0;
  CHECK(measured);
  seen.clear();
  o.target_psnr = 0.0;
  o.level = 1;
  encode_image(im, m, o);
  CHECK(seen.empty());
}

TEST_CASE("codec: sparser levels make smaller files") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(48, 48);
  const auto dense = encode_image(im, m, cpu_options(0));
  const auto sparse = encode_image(im, m, cpu_options(3));
  CHECK(sparse.bytes.size() < dense.bytes.size());
  codec::EncodeOptions by_bpp;
  by_bpp.device = Device::kCpu;
  by_bpp.target_bpp = sparse.bytes.size() * 8.0 / (48 * 48) + 0.01;
  const auto picked = encode_image(im, m, by_bpp);
  CHECK(picked.target_met);
  CHECK(picked.bytes.size() * 8.0 / (48 * 48) <= by_bpp.target_bpp);  // a real budget, not an estimate
  codec::EncodeOptions by_psnr;
  by_psnr.device = Device::kCpu;
  by_psnr.target_psnr = 15.0;
  const auto q = encode_image(im, m, by_psnr);
  CHECK(psnr_8bit(decode_image(q.bytes, "mem", m), im) >= 15.0);
}

TEST_CASE("codec: decoding at other resolutions") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(40, 30);
  const auto r = encode_image(im, m, cpu_options(1));
  const Image native = decode_image(r.bytes, "mem", m);
  DecodeOptions twice;
  twice.scale = 2.0;
  const Image big = decode_image(r.bytes, "mem", m, twice);
  CHECK(big.width == 80);
  CHECK(big.height == 60);
  DecodeOptions half;
  half.width = 20;  // height follows the aspect ratio
  const Image small = decode_image(r.bytes, "mem", m, half);
  CHECK(small.width == 20);
  CHECK(small.height == 15);
  // Plausible images: close to resampling the native decode.
  CHECK(psnr_8bit(big, resize_bilinear(native, 80, 60)) > 22.0);
  CHECK(psnr_8bit(small, resize_bilinear(native, 20, 15)) > 18.0);
  // Corners stay corners: the 2x decode's corner pixels are the native decode's.
  for (int c = 0; c < 3; ++c) {
    CHECK(std::abs(big.pixels[c] - native.pixels[c]) <= 1);
    CHECK(std::abs(big.pixels[(60 * 80 - 1) * 3 + c] - native.pixels[(30 * 40 - 1) * 3 + c]) <= 1);
  }
}

TEST_CASE("codec: tiny, thin, gray and RGBA images") {
  const Model& m = test_model();
  for (auto [w, h] : {std::pair{1, 1}, std::pair{1, 37}, std::pair{53, 2}}) {
    const Image im = codec_test::kodim23_crop(w, h);
    const auto r = encode_image(im, m, cpu_options(1));
    const Image back = decode_image(r.bytes, "mem", m);
    CAPTURE(w);
    CAPTURE(h);
    CHECK(back.width == w);
    CHECK(back.height == h);
    CHECK(psnr_8bit(back, im) > 12.0);
  }
  Image gray = make_image(30, 20, 1);
  for (std::size_t i = 0; i < gray.pixels.size(); ++i) gray.pixels[i] = static_cast<std::uint8_t>(i % 200);
  const Image back_gray = decode_image(encode_image(gray, m, cpu_options(1)).bytes, "mem", m);
  CHECK(back_gray.channels == 3);
  Image rgba = make_image(20, 20, 4);
  for (std::size_t i = 0; i < rgba.pixels.size(); ++i) rgba.pixels[i] = static_cast<std::uint8_t>(i * 7 % 256);
  const Image back_rgba = decode_image(encode_image(rgba, m, cpu_options(1)).bytes, "mem", m);
  CHECK(back_rgba.width == 20);
}

TEST_CASE("codec: damaged files and wrong models are refused with typed errors") {
  const Model& m = test_model();
  const auto r = encode_image(codec_test::kodim23_crop(30, 30), m, cpu_options(3));
  // Truncation at every byte offset.
  for (std::size_t n = 0; n < r.bytes.size(); ++n) {
    std::vector<std::uint8_t> cut(r.bytes.begin(), r.bytes.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(decode_image(cut, "cut", m), Error);
  }
  // Random bit flips anywhere: caught by the checksums or the header checks.
  std::mt19937 rng(5);
  for (int k = 0; k < 300; ++k) {
    auto bad = r.bytes;
    const std::size_t bit = rng() % (bad.size() * 8);
    bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
    CHECK_THROWS_AS(decode_image(bad, "flipped", m), Error);
  }
  // Another model (same shapes, other values): refused, naming both identities.
  Model other = m;
  other.levels[0].init[0] += 0.5f;
  const auto bytes = format::write_model_file(to_model_file(other));
  const Model other_loaded = load_model_from_memory(bytes.data(), bytes.size(), "other");
  try {
    decode_image(r.bytes, "x.msinr", other_loaded);
    FAIL("decoded with the wrong model");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::kModelMismatch);
    CHECK(std::string(e.what()).find(m.id_hex().substr(0, 16)) != std::string::npos);
    CHECK(std::string(e.what()).find(other_loaded.id_hex().substr(0, 16)) != std::string::npos);
  }
  // A well-formed model file whose network is not (x, y) -> RGB is refused at load, before any
  // backend could write an output of the wrong width (found by the format review: 2 -> 4 and
  // 1 -> 3 overflowed the decoder's buffers).
  for (auto [in, out] : {std::pair{2u, 4u}, std::pair{1u, 3u}, std::pair{3u, 3u}}) {
    Model shaped = m;
    shaped.arch.in_features = static_cast<int>(in);
    shaped.arch.out_features = static_cast<int>(out);
    const std::size_t n = ParamLayout(shaped.arch).param_count();
    for (auto& l : shaped.levels) {
      l.mask.assign(n, 1);
      l.init.assign(n, 0.01f);
    }
    const auto b = format::write_model_file(to_model_file(shaped));  // a well-formed file
    CAPTURE(in);
    CAPTURE(out);
    try {
      (void)load_model_from_memory(b.data(), b.size(), "shape");
      FAIL("a model of another shape was accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::kUnsupported);
    }
  }
  DecodeOptions huge;
  huge.scale = 64.0;
  const auto big = encode_image(codec_test::kodim23_crop(1000, 1), m, cpu_options(3));
  CHECK_THROWS_AS(decode_image(big.bytes, "x", m, huge), Error);  // 64000 px wide: beyond the limit
}

TEST_CASE("codec: training checkpoints round-trip and refuse damage or other settings") {
  codec_test::TempDir dir;
  MetaTrainingState s;
  s.round = 2;
  s.step = 7;
  s.params = {1.0f, -2.0f, 3.5f};
  s.mask = {1, 0, 1};
  s.adam_steps = 9;
  s.adam_m = {0.1f, 0.0f, 0.3f};
  s.adam_v = {0.01f, 0.0f, 0.03f};
  s.rng_state = 0x1234567890abcdefull;
  s.train_seconds = 12.5;
  s.levels.push_back({0, {1, 1, 1}, {0.5f, 0.25f, 0.125f}});
  const std::string path = dir.file("state.ckpt");
  save_checkpoint(path, "recipe A", s);
  const MetaTrainingState t = load_checkpoint(path, "recipe A");
  CHECK(t.round == 2);
  CHECK(t.step == 7);
  CHECK(t.params == s.params);
  CHECK(t.mask == s.mask);
  CHECK(t.adam_steps == 9);
  CHECK(t.adam_m == s.adam_m);
  CHECK(t.adam_v == s.adam_v);
  CHECK(t.rng_state == s.rng_state);
  CHECK(t.train_seconds == 12.5);
  REQUIRE(t.levels.size() == 1);
  CHECK(t.levels[0].init == s.levels[0].init);
  CHECK_THROWS_AS(load_checkpoint(path, "recipe B"), Error);
  auto bytes = read_file(path);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    auto bad = bytes;
    bad[i] ^= 0x04;
    write_file_atomic(path, bad.data(), bad.size());
    CHECK_THROWS_AS(load_checkpoint(path, "recipe A"), Error);
  }
}

TEST_CASE("codec: the built-in model round-trips a Kodak crop and a CelebA crop within --quant-loss of its fit") {
  if (!has_default_model()) {
    MESSAGE("skipped: this build has no built-in model");
    return;
  }
  const Model& m = default_model();
  std::vector<std::pair<std::string, Image>> inputs;
  {
    const Image kodak = read_image(std::string(MSINR_SOURCE_DIR) + "/samples/kodim23.png");
    // 200 x 150: one full 178 tile plus thin edge tiles on the right and bottom.
    Image crop = make_image(200, 150, 3);
    for (int y = 0; y < 150; ++y)
      std::copy_n(&kodak.pixels[((200 + y) * kodak.width + 300) * 3], 200 * 3, &crop.pixels[y * 200 * 3]);
    inputs.push_back({"kodim23 crop", crop});
  }
  const std::string celeba = std::string(MSINR_DATA_DIR) + "/celeba178/val/202468.jpg";
  if (std::filesystem::exists(celeba)) inputs.push_back({"celeba 202468", center_crop(to_rgb(read_image(celeba)), 178)});
  else MESSAGE("CelebA crop skipped: " << celeba << " is absent");
  for (const auto& [name, im] : inputs) {
    codec::EncodeOptions o;
    o.device = Device::kCpu;
    const EncodeResult r = encode_image(im, m, o);
    const Image back = decode_image(r.bytes, name, m);
    const double psnr = psnr_8bit(back, im);
    MESSAGE(name << ": level " << r.level << ", " << r.bytes.size() << " bytes, "
                 << r.bytes.size() * 8.0 / (im.width * im.height) << " bpp, fit " << r.fit_psnr << " dB, decoded "
                 << psnr << " dB");
    CAPTURE(name);
    CHECK(psnr >= r.fit_psnr - o.quant_loss_db - 1e-9);
    CHECK(psnr == r.psnr);
    CHECK(psnr > 12.0);
  }
}

TEST_CASE("codec: the encoder's default learning rate is the model's per-level measurement") {
  Model m = test_model();
  REQUIRE(m.levels.size() >= 2);
  const int dense = m.levels.front().index, sparse = m.levels.back().index;
  // The test model records 1e-3 for every level.
  CHECK(m.fit_lr(dense) == doctest::Approx(1e-3f));
  // Without the note: a w0-60 SIREN (this model) takes 3e-3 at any density; the w0-200 density rule
  // puts a dense level at 1e-4 and a level under 25% at 1e-3.
  m.provenance.notes.clear();
  CHECK(m.fit_lr(dense) == doctest::Approx(3e-3f));
  CHECK(fallback_fit_lr(1.0, Network::kSiren, 30.0f) == doctest::Approx(3e-3f));
  CHECK(fallback_fit_lr(1.0) == doctest::Approx(1e-4f));
  CHECK(fallback_fit_lr(0.1) == doctest::Approx(1e-3f));
  CHECK(fallback_fit_lr(1.0, Network::kFourier) == doctest::Approx(1e-3f));  // ReLU layers take 10x
  CHECK(fallback_fit_lr(0.1, Network::kFourier) == doctest::Approx(1e-2f));
  // A recorded rate per level wins; a malformed entry falls back instead of failing the encode.
  m.provenance.notes.push_back({"fit_lr", format_fit_lrs({{dense, 3e-4f}, {sparse, 2e-3f}})});
  CHECK(m.fit_lr(dense) == doctest::Approx(3e-4f));
  CHECK(m.fit_lr(sparse) == doctest::Approx(2e-3f));
  m.provenance.notes.back().second = std::to_string(dense) + ":oops," + std::to_string(sparse) + ":-1";
  CHECK(m.fit_lr(dense) == doctest::Approx(3e-3f));
  CHECK_THROWS_AS(m.fit_lr(999), msinr::Error);
  // encode_image uses it when no rate is given, and an explicit rate overrides.
  m.provenance.notes.back().second = format_fit_lrs({{dense, 3e-4f}});
  const Image im = codec_test::kodim23_crop(12, 10);
  codec::EncodeOptions o = cpu_options(dense);
  o.steps = 3;
  CHECK(encode_image(im, m, o).lr == doctest::Approx(3e-4f));
  o.lr = 5e-4f;
  const auto explicit_rate = encode_image(im, m, o);
  CHECK(explicit_rate.lr == doctest::Approx(5e-4f));
  o.lr = 3e-4f;
  CHECK(encode_image(im, m, o).bytes != explicit_rate.bytes);  // the rate really reaches the fit
}

TEST_CASE("codec: -q follows the levels' measured validation PSNR, or their order without it") {
  Model m = test_model();
  REQUIRE(m.levels.size() == 4);
  // Densest first: 30, 29.5, 29, 20 dB (one level far below the rest, as sparse levels often are).
  m.val_psnr = {30.0f, 29.5f, 29.0f, 20.0f};
  const int l0 = m.levels[0].index, l1 = m.levels[1].index, l2 = m.levels[2].index, l3 = m.levels[3].index;
  CHECK(m.level_for_quality(100) == l0);
  CHECK(m.level_for_quality(0) == l3);
  // 50 asks for 25 dB: closer to 29 dB than to 20 dB. A line over the levels would give level 2 of 4
  // for 50 as well, but 30 asks for 23 dB: the sparsest by PSNR, the third level by position.
  CHECK(m.level_for_quality(50) == l2);
  CHECK(m.level_for_quality(30) == l3);
  CHECK(m.level_for_quality(95) == l1);
  // Unmeasured levels (0 dB): a straight line over the levels by size.
  m.val_psnr = {30.0f, 0.0f, 29.0f, 20.0f};
  CHECK(m.level_for_quality(30) == l2);
  CHECK(m.level_for_quality(100) == l0);
  CHECK(m.level_for_quality(0) == l3);
  CHECK_THROWS_AS(m.level_for_quality(101), msinr::Error);
}

TEST_CASE("codec: merged edges: a thin last column joins its neighbour, and the file decodes to what the encoder measured") {
  const Model& m = test_model();  // tile 24
  // 50 = 24 + 24 + 2: the 2-pixel column joins the second (26 pixels, stretched); 37 = 24 + 13 keeps
  // its 13-pixel row (more than a quarter of a tile).
  CHECK(merged_tiles_along(50, 24) == 2);
  CHECK(merged_tiles_along(37, 24) == 2);
  CHECK(merged_tiles_along(48, 24) == 2);
  CHECK(merged_tiles_along(10, 24) == 1);
  CHECK(merged_tiles_along(29, 24) == 1);  // 5 < 6
  CHECK(merged_tiles_along(30, 24) == 2);  // 6 = a quarter: its own tile
  const auto rects = tile_rects(50, 37, 24, 2, 2);
  REQUIRE(rects.size() == 4u);
  CHECK(rects[1].x0 == 24);
  CHECK(rects[1].width == 26);
  CHECK(rects[1].span_x == 26);
  CHECK(rects[1].span_y == 24);
  CHECK(rects[3].height == 13);
  const msinr::Grid g = tile_grid(rects[1]);
  CHECK(g.col_lo == -1.0f);
  CHECK(g.col_hi == 1.0f);   // a stretched tile spans its whole square
  CHECK(g.row_hi == 1.0f);
  CHECK(tile_grid(rects[3]).row_hi < 0.1f);  // a grid edge keeps the tile's spacing, cut short

  const Image im = codec_test::kodim23_crop(50, 37);
  codec::EncodeOptions o = cpu_options(2);
  const EncodeResult grid = encode_image(im, m, o);
  o.merge_edges = true;
  const EncodeResult merged = encode_image(im, m, o);
  CHECK(grid.tiles == 6u);
  CHECK(merged.tiles == 4u);
  CHECK(merged.bytes[8] == 4);  // container version 4
  CHECK(grid.bytes[8] == 2);
  const ContainerInfo info = read_info(merged.bytes, "mem");
  CHECK(info.header.tiles_across == 2u);
  CHECK(info.header.tiles_down == 2u);
  CHECK(merged.bytes.size() < grid.bytes.size());
  const Image back = decode_image(merged.bytes, "mem", m);
  REQUIRE(back.width == 50);
  REQUIRE(back.height == 37);
  const double psnr = psnr_8bit(back, im);
  MESSAGE("grid " << grid.bytes.size() << " bytes " << grid.psnr << " dB; merged " << merged.bytes.size() << " bytes "
                  << psnr << " dB");
  CHECK(psnr > 18.0);
  CHECK(psnr == merged.psnr);  // the encoder rendered the stretched tile as the decoder does
  DecodeOptions one;
  one.threads = 1;
  CHECK(decode_image(merged.bytes, "mem", m, one).pixels == back.pixels);
  // A resized decode evaluates the stretched tile on the finer grid; at scale 1 it is the native decode.
  DecodeOptions twice;
  twice.scale = 2.0;
  const Image big = decode_image(merged.bytes, "mem", m, twice);
  CHECK(big.width == 100);
  CHECK(big.height == 74);
  DecodeOptions same;
  same.width = 50;
  CHECK(decode_image(merged.bytes, "mem", m, same).pixels == back.pixels);

  // Per-tile levels (the default) on merged edges: version 4 holds them too.
  o.tile_levels = TileLevels::kAdaptive;
  const EncodeResult adaptive = encode_image(im, m, o);
  CHECK(adaptive.bytes[8] == 4);
  CHECK(psnr_8bit(decode_image(adaptive.bytes, "mem", m), im) == adaptive.psnr);

  // fp16 and a target search on merged edges: version 4 as well, decoding to what was reported.
  codec::EncodeOptions of = cpu_options(2);
  of.merge_edges = true;
  of.steps = 10;
  of.bits = 16;
  const EncodeResult fp16 = encode_image(im, m, of);
  CHECK(fp16.bytes[8] == 4);
  CHECK(fp16.tiles == 4u);
  CHECK(std::fabs(psnr_8bit(decode_image(fp16.bytes, "mem", m), im) - fp16.fit_psnr) < 0.05);  // fp16 rounding only
  of.bits = 0;
  of.level = -1;
  of.target_bpp = 12.0;
  const EncodeResult target = encode_image(im, m, of);
  CHECK(target.bytes[8] == 4);
  CHECK(target.bytes.size() * 8.0 / (50 * 37) <= 12.0);
  CHECK(psnr_8bit(decode_image(target.bytes, "mem", m), im) == target.psnr);

  // Sides that need no merge: the file is the grid's, byte for byte, at its old version.
  const Image whole = codec_test::kodim23_crop(48, 40);
  codec::EncodeOptions og = cpu_options(2);
  og.steps = 10;
  const EncodeResult a = encode_image(whole, m, og);
  og.merge_edges = true;
  const EncodeResult b = encode_image(whole, m, og);
  CHECK(a.bytes == b.bytes);
  CHECK(b.bytes[8] == 2);
}

TEST_CASE("codec: batched tile fitting (the GPU's path) equals per-tile fitting bit for bit on the CPU") {
  // 50x37 at tile 24 gives all four tile sizes (24x24, 2x24, 24x13, 2x13), so the grouping by size,
  // the order of the payload and the placement of each tile's reconstruction are all exercised.
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(50, 37);
  codec::EncodeOptions o = cpu_options(2);
  o.steps = 20;
  o.threads = 1;  // one thread count for both paths: the CPU backend is deterministic per thread count
  o.tile_fitting = TileFitting::kPerTile;
  const EncodeResult per_tile = encode_image(im, m, o);
  o.tile_fitting = TileFitting::kBatched;
  std::vector<std::size_t> progress;
  o.progress = [&](std::size_t done, std::size_t total) {
    CHECK(total == 6u);
    progress.push_back(done);
    return true;
  };
  const EncodeResult batched = encode_image(im, m, o);
  CHECK(batched.bytes == per_tile.bytes);
  CHECK(batched.fit_psnr == per_tile.fit_psnr);
  CHECK(batched.device.find("batched") != std::string::npos);
  CHECK(progress == std::vector<std::size_t>{2, 3, 5, 6});  // groups of 2, 1, 2, 1 tiles
  o.progress = [](std::size_t, std::size_t) { return false; };
  CHECK_THROWS_AS(encode_image(im, m, o), msinr::Error);
  // Per-tile levels fit subsets of the tiles at the neighbour levels: batched the same.
  o.progress = nullptr;
  o.tile_levels = TileLevels::kAdaptive;
  o.tile_fitting = TileFitting::kPerTile;
  const EncodeResult adaptive_per_tile = encode_image(im, m, o);
  o.tile_fitting = TileFitting::kBatched;
  const EncodeResult adaptive_batched = encode_image(im, m, o);
  CHECK(adaptive_batched.bytes == adaptive_per_tile.bytes);
  CHECK(adaptive_batched.bytes[8] == 3);  // tiles moved, so the subsets were fitted
  // Merged edges: the stretched tiles are their own group (their grid spans their own length).
  o.tile_levels = TileLevels::kUniform;
  o.merge_edges = true;
  o.tile_fitting = TileFitting::kPerTile;
  const EncodeResult merged_per_tile = encode_image(im, m, o);
  o.tile_fitting = TileFitting::kBatched;
  const EncodeResult merged_batched = encode_image(im, m, o);
  CHECK(merged_batched.bytes == merged_per_tile.bytes);
  CHECK(merged_batched.tiles == 4u);
}

TEST_CASE("codec: a model with frozen biases encodes, decodes, and its files carry exactly its kept weights") {
  static const Model frozen = codec_test::train_tiny_model({32, 3, 24, 20, 3, 5, 12, 60.0f, Network::kSiren, true});
  REQUIRE(frozen.frozen_biases);
  Model fitted = frozen;  // the same levels with biases sent: what freezing saves, byte for byte
  fitted.frozen_biases = false;
  {
    const auto bytes = format::write_model_file(to_model_file(fitted));
    fitted = load_model_from_memory(bytes.data(), bytes.size(), "fitted copy");
  }
  REQUIRE(fitted.id != frozen.id);
  const ParamLayout layout(frozen.arch);
  const std::size_t biases = layout.param_count() - layout.weight_count();
  const Image im = codec_test::kodim23_crop(50, 37);  // 6 tiles of 4 sizes
  for (int level : {0, 2}) {
    CAPTURE(level);
    const std::size_t kept = kept_weights(layout, frozen.level(level).mask);
    CHECK(values_per_tile(frozen, frozen.level(level)) == kept);
    codec::EncodeOptions o = cpu_options(level);
    o.bits = 16;
    const EncodeResult h = encode_image(im, frozen, o);
    const EncodeResult hf = encode_image(im, fitted, o);
    const ContainerInfo hi = read_info(h.bytes, "fp16"), hfi = read_info(hf.bytes, "fp16 fitted");
    CHECK(hi.header.values_per_tile == kept);
    CHECK(hi.header.payload_raw_size == 6u * kept * 2u);  // two bytes per kept weight, nothing else
    CHECK(hfi.header.payload_raw_size - hi.header.payload_raw_size == 6u * biases * 2u);
    // The decoder rebuilt the init biases the encoder fitted with: the picture is the fit's, up to
    // fp16 rounding of the weights (the init biases alone would not be within 0.3 dB).
    const double decoded = psnr_8bit(decode_image(h.bytes, "fp16", frozen), im);
    CHECK(h.fit_psnr > 18.0);
    CHECK(std::fabs(decoded - h.fit_psnr) < 0.3);
    // Quantized: no bias groups, one group per layer's kept weights.
    const EncodeResult q = encode_image(im, frozen, cpu_options(level));
    const ContainerInfo qi = read_info(q.bytes, "quantized");
    CHECK(qi.header.values_per_tile == kept);
    CHECK(qi.header.group_sizes.size() == static_cast<std::size_t>(layout.layers().size()));
    CHECK(psnr_8bit(decode_image(q.bytes, "quantized", frozen), im) == q.psnr);
    CHECK(q.bytes.size() < encode_image(im, fitted, cpu_options(level)).bytes.size());
    // A file of one cannot be decoded with the other.
    try {
      decode_image(q.bytes, "quantized", fitted);
      FAIL("decoded a frozen-bias file with the fitted-bias model");
    } catch (const msinr::Error& e) {
      CHECK(e.code() == ErrorCode::kModelMismatch);
    }
  }
  // The batched path (the GPU's) freezes the same parameters: equal bit for bit on the CPU.
  codec::EncodeOptions o = cpu_options(2);
  o.steps = 15;
  o.threads = 1;
  o.tile_fitting = TileFitting::kPerTile;
  const EncodeResult per_tile = encode_image(im, frozen, o);
  o.tile_fitting = TileFitting::kBatched;
  CHECK(encode_image(im, frozen, o).bytes == per_tile.bytes);
}

TEST_CASE("codec: subset fits (--pixel-fraction) repeat exactly, keep batched == per tile, and are checked") {
  const Model& m = test_model();
  const Image im = codec_test::kodim23_crop(50, 37);
  codec::EncodeOptions o = cpu_options(2);
  o.steps = 20;
  o.threads = 1;
  const EncodeResult full = encode_image(im, m, o);
  o.pixel_fraction = 0.5;
  o.tile_fitting = TileFitting::kPerTile;
  const EncodeResult half = encode_image(im, m, o);
  CHECK(encode_image(im, m, o).bytes == half.bytes);  // seeded: the same file again
  CHECK(half.bytes != full.bytes);                     // and the subsets did change the fit
  CHECK(half.fit_psnr > 10.0);
  o.tile_fitting = TileFitting::kBatched;
  const EncodeResult batched = encode_image(im, m, o);
  CHECK(batched.bytes == half.bytes);
  CHECK(batched.fit_psnr == half.fit_psnr);
  for (double bad : {0.0, -0.5, 1.5, std::nan("")}) {
    o.pixel_fraction = bad;
    codec_test::check_error([&] { encode_image(im, m, o); }, ErrorCode::kInvalidArgument, "options: pixel_fraction");
  }
}

TEST_CASE("codec: a Fourier-feature model (appendix B) trains, survives its file and round-trips images") {
  const Model m = codec_test::train_tiny_model({32, 3, 24, 20, 2, 5, 12, 30.0f, Network::kFourier});
  CHECK(m.arch.network == Network::kFourier);
  CHECK(m.arch.fourier_features == 16);
  CHECK(m.arch.fourier_sigma == 3.0f);
  CHECK(ParamLayout(m.arch).layers().size() == 3u);  // 2 ReLU layers and the output; the encoding has no parameters
  // Through the model file again: same architecture, same identity.
  const auto bytes = format::write_model_file(to_model_file(m));
  const Model again = load_model_from_memory(bytes.data(), bytes.size(), "ffn");
  CHECK(again.arch == m.arch);
  CHECK(again.id == m.id);
  // A SIREN of the same sizes is another model.
  const Model& siren = test_model();
  CHECK(siren.id != m.id);

  const Image im = codec_test::kodim23_crop(50, 37);
  codec::EncodeOptions o = cpu_options(m.levels.back().index);
  o.threads = 1;
  const EncodeResult r = encode_image(im, m, o);
  const Image back = decode_image(r.bytes, "mem", m);
  const double psnr = psnr_8bit(back, im);
  // Against the init alone (0 steps): the fit must really improve the picture.
  o.steps = 0;
  const double psnr_init = psnr_8bit(decode_image(encode_image(im, m, o).bytes, "mem", m), im);
  MESSAGE("FFN: init " << psnr_init << " dB, 100 steps " << psnr << " dB (fit " << r.fit_psnr << ")");
  CHECK(psnr > psnr_init + 3.0);
  CHECK(psnr >= r.fit_psnr - o.quant_loss_db - 1e-9);
  CHECK(psnr == r.psnr);
  CHECK_THROWS_AS(decode_image(r.bytes, "mem", siren), msinr::Error);  // the other model is refused
}
