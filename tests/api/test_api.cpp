// The public C++ API, linked as a consumer would (msinr::msinr, the shared library): round trips,
// typed errors, version, and concurrent encodes/decodes matching sequential ones byte for byte.
#include <doctest/doctest.h>

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
