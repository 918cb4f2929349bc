// The public C++ API, linked as a consumer would (msinr::msinr, the shared library): round trips,
// typed errors, version, concurrent encodes/decodes matching sequential ones byte for byte, and
// what the command line needs from it (row decode, output size, Info, ModelInfo, ssim, names).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "msinr/msinr.hpp"

namespace {

msinr::Image pattern(int w, int h, int seed) {
  msinr::Image img;
  img.width = w;
  img.height = h;
  img.channels = 3;
  img.pixels.resize(static_cast<std::size_t>(w) * h * 3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      for (int c = 0; c < 3; ++c)
        img.pixels[(static_cast<std::size_t>(y) * w + x) * 3 + c] =
            static_cast<std::uint8_t>((x * (3 + seed) + y * (5 + c) + 40 * seed) % 256);
  return img;
}

msinr::EncodeOptions quick() {
  msinr::EncodeOptions o;
  o.steps = 8;
  o.threads = 1;
  o.device = msinr::Device::kCpu;
  return o;
}

template <class F>
msinr::ErrorCode code_of(F&& f) {
  try {
    f();
  } catch (const msinr::Error& e) {
    return e.code();
  }
  FAIL("no msinr::Error thrown");
  return msinr::ErrorCode::kInternal;
}

// The message of the msinr::Error f throws ("" when none: the caller's CHECK on it then fails).
template <class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const msinr::Error& e) {
    return e.what();
  }
  FAIL("no msinr::Error thrown");
  return {};
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("version macros match the library's run-time version") {
  const std::string v = std::to_string(MSINR_VERSION_MAJOR) + "." + std::to_string(MSINR_VERSION_MINOR) + "." +
                        std::to_string(MSINR_VERSION_PATCH);
  CHECK(v == msinr::version());
  CHECK(v == MSINR_VERSION_STRING);
}

TEST_CASE("one-call tier: encode, read_info, decode at native and larger sizes") {
  const msinr::Image img = pattern(36, 20, 1);
  const std::vector<std::uint8_t> bytes = msinr::encode(img, quick());
  const msinr::Info info = msinr::read_info(bytes.data(), bytes.size());
  CHECK(info.width == 36);
  CHECK(info.height == 20);
  CHECK(info.file_bytes == bytes.size());
  CHECK(info.model_id == msinr::Model::builtin().id());
  const msinr::Image out = msinr::decode(bytes);
  CHECK(out.width == 36);
  CHECK(out.height == 20);
  CHECK(out.channels == 3);
  CHECK(out.pixels.size() == 36u * 20u * 3u);
  const msinr::Image big = msinr::decode(bytes, 72, 0);
  CHECK(big.width == 72);
  CHECK(big.height == 40);
}

TEST_CASE("every public encode option reaches the codec (one options struct, no field-by-field copy)") {
  const msinr::Image img = pattern(20, 12, 2);
  const msinr::Model model = msinr::Model::builtin();
  msinr::EncodeOptions o = quick();
  o.level = model.levels().back();
  o.steps = 3;
  o.device = msinr::Device::kReference;
  const msinr::EncodeResult reference = msinr::Encoder(model, o).encode(img);
  CHECK(reference.device.find("reference") != std::string::npos);
  CHECK(reference.level == o.level);
  const msinr::Info info = msinr::read_info(reference.bytes.data(), reference.bytes.size());
  CHECK(info.steps == 3);
  CHECK(info.level == o.level);
  CHECK(reference.psnr > 0.0);  // quantized: measured
  o.device = msinr::Device::kCpu;
  o.bits = 16;
  o.lr = 1e-4f;
  const msinr::EncodeResult fp16 = msinr::Encoder(model, o).encode(img);
  CHECK(fp16.psnr == 0.0);  // fp16: not measured
  CHECK(fp16.lr == doctest::Approx(1e-4f));
  CHECK(fp16.bytes.size() > reference.bytes.size());
  CHECK(fp16.device.find("reference") == std::string::npos);
}

TEST_CASE("advanced tier: model from memory equals the file, progress and cancellation, levels") {
  const std::vector<std::uint8_t> file = msinr::read_file(std::string(MSINR_SOURCE_DIR) + "/codec/models/natural.msm");
  const msinr::Model m = msinr::Model::from_memory(file.data(), file.size());
  CHECK(m.id() == msinr::Model::builtin().id());
  CHECK(m.tile_size() > 0);
  REQUIRE(!m.levels().empty());
  msinr::EncodeOptions o = quick();
  o.level = m.levels().front();
  std::size_t calls = 0;
  o.progress = [&](std::size_t done, std::size_t total) {
    ++calls;
    CHECK(done <= total);
    return true;
  };
  const msinr::EncodeResult r = msinr::Encoder(m, o).encode(pattern(30, 30, 2));
  CHECK(r.level == m.levels().front());
  CHECK(calls >= 1);
  CHECK(r.bpp > 0.0);
  // lr 0 (the default) means the model's measured rate for the level: a rate the model recorded
  // (the same file as an explicit lr of that value): the built-in w0-30 codec model measured 3e-3.
  CHECK(o.lr == 0.0f);
  CHECK(r.lr > 0.0f);
  CHECK(r.lr < 1e-2f);
  {
    msinr::EncodeOptions explicit_rate = quick();
    explicit_rate.level = o.level;
    explicit_rate.lr = r.lr;
    CHECK(msinr::Encoder(m, explicit_rate).encode(pattern(30, 30, 2)).bytes == r.bytes);
  }
  o.progress = [](std::size_t, std::size_t) { return false; };
  CHECK(code_of([&] { msinr::Encoder(m, o).encode(pattern(30, 30, 2)); }) == msinr::ErrorCode::kCancelled);
}

TEST_CASE("bad input gets typed errors") {
  msinr::Image bad = pattern(8, 8, 0);
  bad.pixels.pop_back();
  CHECK(code_of([&] { msinr::encode(bad, quick()); }) == msinr::ErrorCode::kInvalidArgument);
  msinr::EncodeOptions o = quick();
  o.lr = -1.0f;
  CHECK(code_of([&] { msinr::Encoder(msinr::Model::builtin(), o); }) == msinr::ErrorCode::kInvalidArgument);
  o = quick();
  o.steps = -1;
  CHECK(code_of([&] { msinr::Encoder(msinr::Model::builtin(), o); }) == msinr::ErrorCode::kInvalidArgument);
  const std::vector<std::uint8_t> junk(64, 7);
  CHECK(code_of([&] { msinr::decode(junk); }) == msinr::ErrorCode::kCorrupt);
  CHECK(code_of([&] { msinr::read_info(junk.data(), junk.size()); }) == msinr::ErrorCode::kCorrupt);
  CHECK(code_of([&] { msinr::Model::load("/nonexistent.msm"); }) == msinr::ErrorCode::kIo);
  CHECK(code_of([&] { msinr::Model::from_memory(junk.data(), junk.size()); }) == msinr::ErrorCode::kCorrupt);
  const std::vector<std::uint8_t> bytes = msinr::encode(pattern(12, 12, 3), quick());
  CHECK(code_of([&] { msinr::decode(bytes, -1, 0); }) == msinr::ErrorCode::kInvalidArgument);
}

TEST_CASE("concurrent encodes and decodes (one Encoder per thread, one shared Model) match sequential runs") {
  const msinr::Model model = msinr::Model::builtin();
  constexpr int kThreads = 4;
  std::vector<msinr::Image> images;
  for (int i = 0; i < kThreads; ++i) images.push_back(pattern(24 + 4 * i, 20, i));
  std::vector<std::vector<std::uint8_t>> seq_bytes, par_bytes(kThreads);
  std::vector<msinr::Image> seq_dec, par_dec(kThreads);
  for (const auto& img : images) {
    seq_bytes.push_back(msinr::Encoder(model, quick()).encode(img).bytes);
    seq_dec.push_back(msinr::Decoder(model).decode(seq_bytes.back(), {0, 0, 0.0, 1}));
  }
  std::vector<std::thread> pool;
  for (int i = 0; i < kThreads; ++i)
    pool.emplace_back([&, i] {
      const msinr::Encoder enc(model, quick());
      const msinr::Decoder dec(model);
      par_bytes[i] = enc.encode(images[i]).bytes;
      par_dec[i] = dec.decode(par_bytes[i], {0, 0, 0.0, 1});
    });
  for (auto& t : pool) t.join();
  for (int i = 0; i < kThreads; ++i) {
    CAPTURE(i);
    CHECK(par_bytes[i] == seq_bytes[i]);
    CHECK(par_dec[i].pixels == seq_dec[i].pixels);
    CHECK(par_dec[i].width == images[i].width);
  }
  // Different images make different files: the comparison above is not vacuous.
  CHECK(seq_bytes[0] != seq_bytes[1]);
}

TEST_CASE("steps 0 stores the level's meta-learned init (the command line's --steps 0)") {
  msinr::EncodeOptions o = quick();
  o.steps = 0;
  const msinr::EncodeResult r = msinr::Encoder(msinr::Model::builtin(), o).encode(pattern(20, 16, 1));
  CHECK(msinr::read_info(r.bytes.data(), r.bytes.size()).steps == 0);
  CHECK(msinr::decode(r.bytes).width == 20);
  o.steps = 8;
  CHECK(msinr::Encoder(msinr::Model::builtin(), o).encode(pattern(20, 16, 1)).bytes != r.bytes);  // the fit moved it
}

TEST_CASE("every encode option is checked when the Encoder is made, and the message names the field") {
  const msinr::Model model = msinr::Model::builtin();
  struct Bad {
    const char* field;
    std::function<void(msinr::EncodeOptions&)> set;
  };
  const double nan = std::nan("");
  const std::vector<Bad> bad = {
      {"level", [](auto& o) { o.level = -2; }},
      {"target_bpp", [](auto& o) { o.target_bpp = -1.0; }},
      {"target_bpp", [&](auto& o) { o.target_bpp = nan; }},
      {"target_psnr", [](auto& o) { o.target_psnr = -3.0; }},
      {"steps", [](auto& o) { o.steps = -1; }},
      {"lr", [](auto& o) { o.lr = -1e-3f; }},
      {"lr", [](auto& o) { o.lr = INFINITY; }},
      {"lr_schedule", [](auto& o) { o.lr_schedule = static_cast<msinr::LrSchedule>(7); }},
      {"pixel_fraction", [](auto& o) { o.pixel_fraction = 0.0; }},
      {"pixel_fraction", [](auto& o) { o.pixel_fraction = 1.5; }},
      {"pixel_fraction", [&](auto& o) { o.pixel_fraction = nan; }},
      {"bits", [](auto& o) { o.bits = 8; }},
      {"quant_loss_db", [](auto& o) { o.quant_loss_db = -0.1; }},
      {"quant_loss_db", [](auto& o) { o.quant_loss_db = INFINITY; }},
      {"refit_steps", [](auto& o) { o.refit_steps = -1; }},
      {"refit_lr", [](auto& o) { o.refit_lr = -1.0f; }},
      {"refit_pixel_fraction", [](auto& o) { o.refit_pixel_fraction = 0.0; }},
      {"refit_pixel_fraction", [](auto& o) { o.refit_pixel_fraction = 2.0; }},
      {"threads", [](auto& o) { o.threads = -1; }},
      {"device", [](auto& o) { o.device = static_cast<msinr::Device>(9); }},
  };
  for (const Bad& b : bad) {
    const std::string field = b.field;
    CAPTURE(field);
    msinr::EncodeOptions o = quick();
    b.set(o);
    CHECK(code_of([&] { msinr::Encoder(model, o); }) == msinr::ErrorCode::kInvalidArgument);
    const std::string message = message_of([&] { msinr::Encoder(model, o); });
    CHECK(contains(message, "encode options: " + field + " "));
  }
  // The edges of each range are accepted.
  msinr::EncodeOptions edge = quick();
  edge.steps = 0;
  edge.refit_steps = 0;
  edge.pixel_fraction = 1.0;
  edge.refit_pixel_fraction = 1.0;
  edge.quant_loss_db = 0.0;
  edge.lr_schedule = msinr::LrSchedule::kCosine;
  CHECK_NOTHROW(msinr::Encoder(model, edge));
}

TEST_CASE("the fit, refit and search settings reach the codec") {
  const msinr::Model model = msinr::Model::builtin();
  const msinr::Image img = pattern(40, 24, 4);
  msinr::EncodeOptions o = quick();
  o.level = model.levels().front();
  const msinr::EncodeResult plain = msinr::Encoder(model, o).encode(img);
  auto differs = [&](const char* what, const std::function<void(msinr::EncodeOptions&)>& set) {
    CAPTURE(what);
    msinr::EncodeOptions changed = o;
    set(changed);
    const msinr::EncodeResult r = msinr::Encoder(model, changed).encode(img);
    CHECK(r.bytes != plain.bytes);
    CHECK(msinr::Encoder(model, changed).encode(img).bytes == r.bytes);  // seeded: repeats exactly
    return r;
  };
  differs("lr_schedule", [](auto& c) { c.lr_schedule = msinr::LrSchedule::kCosine; });
  const msinr::EncodeResult subset = differs("pixel_fraction", [](auto& c) { c.pixel_fraction = 0.5; });
  CHECK(subset.fit_psnr != plain.fit_psnr);
  // The refit comes after the fit, and is kept only when it improves the picture, so its settings
  // show in the log's "refit: BEFORE -> AFTER dB" line (AFTER whether kept or not). A rate far
  // above the default's makes each setting's effect plain at the line's two decimals.
  auto refit_line = [&](const std::function<void(msinr::EncodeOptions&)>& set) {
    msinr::EncodeOptions c = o;
    c.refit_lr = 1e-3f;
    std::string line;
    c.log = [&](const std::string& l) {
      if (l.rfind("refit:", 0) == 0) line = l;
    };
    set(c);
    const msinr::EncodeResult r = msinr::Encoder(model, c).encode(img);
    CHECK(r.fit_psnr == plain.fit_psnr);  // the same fit underneath
    return line;
  };
  const std::string refit = refit_line([](auto&) {});
  CHECK(!refit.empty());
  CHECK(refit_line([](auto& c) { c.refit_steps = 0; }).empty());
  CHECK(refit_line([](auto& c) { c.refit_steps = 3; }) != refit);
  CHECK(refit_line([](auto& c) { c.refit_lr = 1e-2f; }) != refit);
  CHECK(refit_line([](auto& c) { c.refit_pixel_fraction = 1.0; }) != refit);

  // What the result says matches the file.
  const msinr::Info info = msinr::read_info(plain.bytes.data(), plain.bytes.size());
  CHECK(plain.payload == "quantized");
  CHECK(plain.payload == info.payload);
  CHECK(plain.tiles == static_cast<std::size_t>(info.tiles));
  CHECK(plain.values_per_tile == static_cast<std::size_t>(info.values_per_tile));
  CHECK(plain.fit_psnr > 10.0);
  CHECK(plain.psnr >= plain.fit_psnr - o.quant_loss_db - 1e-9);

  // The log says what the encoder does; the search status comes from a search alone.
  std::vector<std::string> lines;
  std::vector<msinr::SearchStatus> seen;
  o.log = [&](const std::string& line) { lines.push_back(line); };
  o.search = [&](const msinr::SearchStatus& s) { seen.push_back(s); };
  (void)msinr::Encoder(model, o).encode(img);
  CHECK(!lines.empty());
  CHECK(seen.empty());
  const std::size_t fixed_lines = lines.size();
  o.level = -1;
  o.target_bpp = 3.0;
  const msinr::EncodeResult searched = msinr::Encoder(model, o).encode(img);
  CHECK(lines.size() > fixed_lines);
  REQUIRE(!seen.empty());
  CHECK(std::string(seen.front().phase) == "fit");
  for (const auto& st : seen) CHECK(st.fits_done <= st.fits_max);
  CHECK(searched.level >= 0);
}

TEST_CASE("row-by-row decode equals the whole decode, at any size, rows in order after one size call") {
  const msinr::Model model = msinr::Model::builtin();
  // Three tiles across (the built-in model's tiles are 128 wide), and outputs taller than one
  // 256-row strip, so rows come from several tiles and strips.
  const msinr::Image img = pattern(300, 40, 5);
  msinr::EncodeOptions eo = quick();
  const std::vector<std::uint8_t> bytes = msinr::Encoder(model, eo).encode(img).bytes;
  const msinr::Decoder dec(model);
  std::vector<msinr::DecodeOptions> sizes(4);
  sizes[1].scale = 0.5;
  sizes[2].height = 600;  // 4500 x 600
  sizes[3].width = 310;
  sizes[3].height = 7;
  for (const msinr::DecodeOptions& o : sizes) {
    CAPTURE(o.width);
    CAPTURE(o.height);
    CAPTURE(o.scale);
    const msinr::Image whole = dec.decode(bytes, o);
    int size_calls = 0, w = 0, h = 0, next = 0;
    bool in_order = true;
    std::vector<std::uint8_t> rows;
    dec.decode_rows(
        bytes.data(), bytes.size(), o,
        [&](int y, const std::uint8_t* rgb) {
          in_order = in_order && y == next++ && size_calls == 1;
          rows.insert(rows.end(), rgb, rgb + static_cast<std::size_t>(w) * 3);
        },
        [&](int width, int height) {
          ++size_calls;
          w = width;
          h = height;
        });
    CHECK(size_calls == 1);
    CHECK(in_order);
    CHECK(w == whole.width);
    CHECK(h == whole.height);
    CHECK(next == whole.height);
    CHECK(rows == whole.pixels);
    const msinr::OutputSize predicted = msinr::output_size(img.width, img.height, o);
    CHECK(predicted.width == whole.width);
    CHECK(predicted.height == whole.height);
  }
  CHECK(dec.decode(bytes, sizes[2]).height == 600);

  // Errors name the input, and a callback's own exception comes through unchanged.
  const std::vector<std::uint8_t> cut(bytes.begin(), bytes.begin() + bytes.size() / 2);
  const std::string message = message_of([&] {
    dec.decode_rows(cut.data(), cut.size(), {}, [](int, const std::uint8_t*) {}, {}, "holiday.msinr");
  });
  CHECK(contains(message, "holiday.msinr"));
  struct Stop {};
  CHECK_THROWS_AS(dec.decode_rows(bytes.data(), bytes.size(), {}, [](int, const std::uint8_t*) { throw Stop(); }), Stop);
  CHECK(code_of([&] { dec.decode_rows(bytes.data(), bytes.size(), {}, {}); }) == msinr::ErrorCode::kInvalidArgument);
  msinr::DecodeOptions small;
  small.max_pixels = 300 * 40 - 1;
  CHECK(code_of([&] { dec.decode_rows(bytes.data(), bytes.size(), small, [](int, const std::uint8_t*) {}); }) ==
        msinr::ErrorCode::kLimit);
}

TEST_CASE("output_size: native, scale, one side keeps the aspect ratio, limits") {
  auto size = [](int w, int h, int ow, int oh, double scale) {
    msinr::DecodeOptions o;
    o.width = ow;
    o.height = oh;
    o.scale = scale;
    const msinr::OutputSize s = msinr::output_size(w, h, o);
    return std::to_string(s.width) + "x" + std::to_string(s.height);
  };
  CHECK(size(36, 20, 0, 0, 0.0) == "36x20");
  CHECK(size(36, 20, 0, 0, 1.5) == "54x30");
  CHECK(size(36, 20, 72, 0, 0.0) == "72x40");
  CHECK(size(36, 20, 0, 7, 0.0) == "13x7");  // 12.6 rounds to the nearest
  CHECK(size(36, 20, 5, 50, 0.0) == "5x50");  // both given: exactly those
  CHECK(size(36, 20, 0, 0, 1e-4) == "1x1");   // never below one pixel
  msinr::DecodeOptions both;
  both.width = 10;
  both.scale = 2.0;
  CHECK(code_of([&] { msinr::output_size(36, 20, both); }) == msinr::ErrorCode::kInvalidArgument);
  msinr::DecodeOptions negative;
  negative.height = -1;
  CHECK(code_of([&] { msinr::output_size(36, 20, negative); }) == msinr::ErrorCode::kInvalidArgument);
  CHECK(code_of([&] { msinr::output_size(0, 20, {}); }) == msinr::ErrorCode::kInvalidArgument);
  msinr::DecodeOptions huge;
  huge.scale = 64.0;
  CHECK(code_of([&] { msinr::output_size(32768, 20, huge); }) == msinr::ErrorCode::kLimit);
  huge.scale = 0.0;
  huge.width = 32769;
  CHECK(code_of([&] { msinr::output_size(36, 20, huge); }) == msinr::ErrorCode::kLimit);
  // max_pixels is decode's to apply, not output_size's.
  msinr::DecodeOptions capped;
  capped.max_pixels = 10;
  CHECK(size(36, 20, 0, 0, 0.0) == "36x20");
  CHECK(msinr::output_size(36, 20, capped).width == 36);
}

TEST_CASE("Info: every header field, fp16 and quantized, and errors name the input") {
  const msinr::Model model = msinr::Model::builtin();
  msinr::EncodeOptions o = quick();
  o.level = model.levels().back();
  o.steps = 5;
  const msinr::Image img = pattern(300, 170, 6);  // 3 x 2 tiles of 128 (edges of 44 and 42: none merged)
  const std::vector<std::uint8_t> q = msinr::Encoder(model, o).encode(img).bytes;
  o.bits = 16;
  const std::vector<std::uint8_t> h = msinr::Encoder(model, o).encode(img).bytes;
  const msinr::ModelInfo mi = model.info();
  std::size_t values = 0;
  for (const auto& l : mi.levels)
    if (l.index == o.level) values = l.values_per_tile;
  for (const auto* bytes : {&q, &h}) {
    const msinr::Info i = msinr::read_info(bytes->data(), bytes->size());
    CHECK(i.width == 300);
    CHECK(i.height == 170);
    CHECK(i.level == o.level);
    CHECK(i.steps == 5);
    CHECK(i.tile_size == model.tile_size());
    CHECK(i.tiles == 6);
    CHECK(static_cast<std::size_t>(i.values_per_tile) == values);
    CHECK(i.model_id == model.id());
    CHECK(i.file_bytes == bytes->size());
    CHECK(i.bpp == doctest::Approx(bytes->size() * 8.0 / (300.0 * 170.0)));
  }
  CHECK(msinr::read_info(q.data(), q.size()).payload == "quantized");
  CHECK(msinr::read_info(h.data(), h.size()).payload == "fp16");
  const std::vector<std::uint8_t> junk(64, 7);
  CHECK(contains(message_of([&] { msinr::read_info(junk.data(), junk.size(), "scan.msinr"); }), "scan.msinr"));
  CHECK(contains(message_of([&] { msinr::Model::from_memory(junk.data(), junk.size(), "faces.msm"); }), "faces.msm"));
}

TEST_CASE("ModelInfo describes the model: architecture, levels densest first, values per tile, rates") {
  const msinr::Model model = msinr::Model::builtin();
  const msinr::ModelInfo m = model.info();
  CHECK(m.id == model.id());
  CHECK(m.tile_size == model.tile_size());
  CHECK(m.default_level == model.default_level());
  CHECK(m.network == "siren");
  CHECK(contains(m.architecture, "SIREN"));
  CHECK(m.width > 0);
  CHECK(m.layers > 0);
  CHECK(m.w0 > 0.0);
  CHECK(m.w0_hidden > 0.0);
  CHECK(!m.data.empty());
  REQUIRE(m.levels.size() == model.levels().size());
  for (std::size_t i = 0; i < m.levels.size(); ++i) {
    const auto& l = m.levels[i];
    CAPTURE(l.index);
    CHECK(l.index == model.levels()[i]);
    CHECK(l.density > 0.0);
    CHECK(l.density <= 1.0);
    // The built-in model freezes its biases: a tile stores its kept weights and nothing else.
    CHECK(m.frozen_biases);
    CHECK(l.values_per_tile == l.weights);
    CHECK(l.lr > 0.0);
    CHECK(l.val_psnr >= 0.0);
    if (i > 0) CHECK(l.weights <= m.levels[i - 1].weights);
  }
  // The values per tile are what a file at that level stores.
  msinr::EncodeOptions o = quick();
  o.level = m.levels.back().index;
  const std::vector<std::uint8_t> bytes = msinr::Encoder(model, o).encode(pattern(20, 20, 1)).bytes;
  CHECK(static_cast<std::size_t>(msinr::read_info(bytes.data(), bytes.size()).values_per_tile) ==
        m.levels.back().values_per_tile);
  // A model loaded from its file says the same.
  const std::vector<std::uint8_t> file = msinr::read_file(std::string(MSINR_SOURCE_DIR) + "/codec/models/natural.msm");
  const msinr::ModelInfo again = msinr::Model::from_memory(file.data(), file.size(), "natural.msm").info();
  CHECK(again.architecture == m.architecture);
  CHECK(again.levels.size() == m.levels.size());
  CHECK(again.recipe == m.recipe);
  // The previous default sends its biases with every tile: the same number on every level.
  const std::vector<std::uint8_t> old_file =
      msinr::read_file(std::string(MSINR_SOURCE_DIR) + "/codec/models/natural-2026-12-01.msm");
  const msinr::ModelInfo old = msinr::Model::from_memory(old_file.data(), old_file.size(), "old").info();
  CHECK_FALSE(old.frozen_biases);
  for (const auto& l : old.levels) CHECK(l.values_per_tile == l.weights + 147);  // 48 x 3 + 3 biases
}

TEST_CASE("level_for_quality: 100 the densest level, 0 the sparsest, out of range refused") {
  const msinr::Model model = msinr::Model::builtin();
  const msinr::ModelInfo m = model.info();
  CHECK(model.level_for_quality(100) == m.levels.front().index);
  CHECK(model.level_for_quality(0) == m.levels.back().index);
  for (int q = 0; q <= 100; q += 10) {
    const int level = model.level_for_quality(q);
    CHECK(std::find(model.levels().begin(), model.levels().end(), level) != model.levels().end());
  }
  CHECK(code_of([&] { model.level_for_quality(101); }) == msinr::ErrorCode::kInvalidArgument);
  CHECK(code_of([&] { model.level_for_quality(-1); }) == msinr::ErrorCode::kInvalidArgument);
}

TEST_CASE("ssim: 1 for identical images, lower for a worse one, typed errors for bad sizes") {
  const msinr::Image a = pattern(40, 30, 1);
  CHECK(msinr::ssim(a, a) == doctest::Approx(1.0));
  const msinr::Image b = msinr::decode(msinr::encode(a, quick()));
  const double s = msinr::ssim(a, b);
  CHECK(s < 1.0);
  CHECK(s > 0.0);
  msinr::Image worse = b;
  for (std::size_t i = 0; i < worse.pixels.size(); i += 7) worse.pixels[i] = static_cast<std::uint8_t>(255 - worse.pixels[i]);
  CHECK(msinr::ssim(a, worse) < s);
  // Grey converts to RGB first, as psnr does.
  msinr::Image grey;
  grey.width = 12;
  grey.height = 12;
  grey.channels = 1;
  grey.pixels.assign(144, 90);
  msinr::Image rgb = grey;
  rgb.channels = 3;
  rgb.pixels.assign(144 * 3, 90);
  CHECK(msinr::ssim(grey, rgb) == doctest::Approx(1.0));
  CHECK(code_of([&] { msinr::ssim(a, pattern(40, 31, 1)); }) == msinr::ErrorCode::kInvalidArgument);
  CHECK(code_of([&] { msinr::ssim(pattern(10, 30, 1), pattern(10, 30, 1)); }) == msinr::ErrorCode::kInvalidArgument);
}
