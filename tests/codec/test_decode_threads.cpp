// Issue 15: decode_rows renders whole tiles per thread, range-decodes the payload while it renders,
// and hands rows to the callback from the calling thread, in order. None of that may move a pixel:
// every thread count decodes to the same bytes, the golden file's CRC included, at native and
// resized output sizes; damage found while decoding is still a clean error, never a hang.
#include <doctest/doctest.h>

#include <string>
#include <thread>
#include <vector>

#include "codec/codec.hpp"
#include "codec/model.hpp"
#include "codec_test_util.hpp"
#include "format/checksum.hpp"
#include "format/container.hpp"
#include "format/testkit.hpp"
#include "imageio/image_io.hpp"
#include "msinr/error.hpp"
#include "msinr_format.pb.h"
#include "tiny_model.hpp"

using namespace msinr;
using namespace msinr::codec;

namespace {

constexpr std::uint32_t kGolden23Crc = 0xcca31aefu;  // tests/codec/test_golden.cpp

const Model& natural_model() {
  static const Model model = load_model(std::string(MSINR_SOURCE_DIR) + "/codec/models/natural-2026-12-01.msm");
  return model;
}

const std::vector<std::uint8_t>& golden23() {
  static const std::vector<std::uint8_t> bytes =
      read_file(std::string(MSINR_SOURCE_DIR) + "/tests/golden/kodim23-v2-quantized.msinr");
  return bytes;
}

// A decode through decode_rows, checking the callbacks' contract on the way: one size call before
// any row, rows 0 .. h-1 in order, all on the calling thread.
struct Streamed {
  Image image;
  int size_calls = 0;
  bool in_order = true, on_caller = true;
};

Streamed decode_streamed(const std::vector<std::uint8_t>& bytes, const Model& m, DecodeOptions o) {
  Streamed s;
  int next = 0;
  const std::thread::id caller = std::this_thread::get_id();
  decode_rows(
      bytes, "x", m, o,
      [&](int y, const std::uint8_t* rgb) {
        s.in_order = s.in_order && y == next++ && s.size_calls == 1;
        s.on_caller = s.on_caller && std::this_thread::get_id() == caller;
        std::copy_n(rgb, static_cast<std::size_t>(s.image.width) * 3,
                    &s.image.pixels[static_cast<std::size_t>(y) * s.image.width * 3]);
      },
      [&](int w, int h) {
        ++s.size_calls;
        s.image = make_image(w, h, 3);
      });
  s.in_order = s.in_order && next == s.image.height;
  return s;
}

DecodeOptions sized(int w, int h, double scale = 0.0) {
  DecodeOptions o;
  o.width = w;
  o.height = h;
  o.scale = scale;
  return o;
}

// A small model (tile 24) so that large upscales, several strips per tile row and column chunks
// wider than kDecodeChunkCols stay cheap.
const Model& tiny_model() {
  static const Model model = codec_test::train_tiny_model({16, 2, 24, 10, 2, 3, 6, 60.0f});
  return model;
}

const std::vector<std::uint8_t>& tiny_file() {  // 100x60: 5 x 3 tiles of 24 (edge tiles 4 and 12)
  static const std::vector<std::uint8_t> bytes = [] {
    codec::EncodeOptions o;
    o.level = tiny_model().levels.front().index;
    o.device = Device::kCpu;
    o.steps = 5;
    o.refit_steps = 0;
    return encode_image(codec_test::kodim23_crop(100, 60), tiny_model(), o).bytes;
  }();
  return bytes;
}

const std::vector<std::uint8_t>& narrow_file() {  // 20x100: one tile column, 5 tile rows
  static const std::vector<std::uint8_t> bytes = [] {
    codec::EncodeOptions o;
    o.level = tiny_model().levels.front().index;
    o.device = Device::kCpu;
    o.steps = 5;
    o.refit_steps = 0;
    return encode_image(codec_test::kodim23_crop(20, 100), tiny_model(), o).bytes;
  }();
  return bytes;
}

}  // namespace

TEST_CASE("decode threads: 1 to 4 threads decode the golden file to its recorded pixels, rows in order") {
  const Image reference = decode_image(golden23(), "golden", natural_model(), sized(0, 0));
  CHECK(format::crc32c(reference.pixels) == kGolden23Crc);
  for (int threads : {1, 2, 3, 4}) {
    CAPTURE(threads);
    DecodeOptions o;
    o.threads = threads;
    const Streamed s = decode_streamed(golden23(), natural_model(), o);
    CHECK(s.size_calls == 1);
    CHECK(s.in_order);
    CHECK(s.on_caller);
    CHECK(format::crc32c(s.image.pixels) == kGolden23Crc);
    CHECK(decode_image(golden23(), "golden", natural_model(), o).pixels == reference.pixels);
  }
}

TEST_CASE("decode threads: resized decodes are identical on every thread count") {
  struct Case {
    const std::vector<std::uint8_t>* bytes;
    const Model* model;
    DecodeOptions o;
  };
  const std::vector<Case> cases = {
      {&golden23(), &natural_model(), sized(0, 0, 0.37)},  // downscale: every tile row has output
      {&golden23(), &natural_model(), sized(5, 2)},        // tile rows 1 and 2 have no output rows
      {&golden23(), &natural_model(), sized(310, 1)},      // one output row, then tiles never rendered
      {&golden23(), &natural_model(), sized(900, 37)},
      {&tiny_file(), &tiny_model(), sized(0, 0, 9.0)},   // 216 rows per tile row: one strip each
      {&tiny_file(), &tiny_model(), sized(0, 900)},      // 360 rows per tile row: two strips each
      {&tiny_file(), &tiny_model(), sized(2 * kDecodeChunkCols * 5 + 37, 45)},  // column chunks
      {&narrow_file(), &tiny_model(), sized(0, 0)},      // one tile per strip: more strips in flight
      {&narrow_file(), &tiny_model(), sized(0, 0, 13.0)},  // and two strips per tile row
  };
  for (const Case& c : cases) {
    CAPTURE(c.o.width);
    CAPTURE(c.o.height);
    CAPTURE(c.o.scale);
    DecodeOptions one = c.o;
    one.threads = 1;
    const Image reference = decode_image(*c.bytes, "x", *c.model, one);
    for (int threads : {2, 3, 4}) {
      CAPTURE(threads);
      DecodeOptions o = c.o;
      o.threads = threads;
      const Streamed s = decode_streamed(*c.bytes, *c.model, o);
      CHECK(s.size_calls == 1);
      CHECK(s.in_order);
      CHECK(s.on_caller);
      CHECK(s.image.width == reference.width);
      CHECK(s.image.height == reference.height);
      CHECK(s.image.pixels == reference.pixels);
    }
  }
}

TEST_CASE("decode threads: a coded stream damaged behind valid checksums is kCorrupt on every thread count") {
  // The payload CRC normally refuses damage before any decoding; these files carry damage with
  // both CRCs recomputed, so only the range decoder can notice, when rows may already have gone out
  // (a native decode of the truncated stream emits 384 of 512 rows first). (310, 1) renders one
  // tile row and range-decodes the rest after its only row.
  const fmt_test::Parts parts = fmt_test::split(golden23());
  auto with_frame = [&](const std::vector<std::uint8_t>& frame) {
    return fmt_test::edit_container(
        golden23(),
        [&](format::pb::ContainerHeader& h) {
          h.set_payload_raw_size(frame.size());
          h.set_payload_crc(format::crc32c(frame));
        },
        frame);
  };
  std::vector<std::vector<std::uint8_t>> damaged;
  {
    std::vector<std::uint8_t> f = parts.frame;
    f.resize(f.size() - 7);  // ends early
    damaged.push_back(with_frame(f));
  }
  {
    std::vector<std::uint8_t> f = parts.frame;
    f.insert(f.end(), {1, 2, 3});  // trailing bytes after the flush
    damaged.push_back(with_frame(f));
  }
  {
    std::vector<std::uint8_t> f = parts.frame;
    f[f.size() / 2] ^= 0x5a;  // decodes to other values and a final state that is not the flush's
    damaged.push_back(with_frame(f));
  }
  // The untouched stream re-framed the same way still decodes (the helper itself is sound).
  CHECK(format::crc32c(decode_image(with_frame(parts.frame), "x", natural_model()).pixels) == kGolden23Crc);
  for (std::size_t i = 0; i < damaged.size(); ++i) {
    CAPTURE(i);
    for (int threads : {1, 2, 3, 4})
      for (const DecodeOptions& size : {sized(0, 0), sized(310, 1), sized(0, 0, 0.5)}) {
        CAPTURE(threads);
        CAPTURE(size.height);
        DecodeOptions o = size;
        o.threads = threads;
        codec_test::check_error(
            [&] { decode_rows(damaged[i], "damaged.msinr", natural_model(), o, [](int, const std::uint8_t*) {}); },
            ErrorCode::kCorrupt, "damaged.msinr");
      }
  }
  // Damage the CRC sees is refused before the size callback, as before.
  std::vector<std::uint8_t> flipped = golden23();
  flipped[flipped.size() / 2] ^= 1;
  for (int threads : {1, 2}) {
    DecodeOptions o;
    o.threads = threads;
    bool sized_called = false;
    CHECK_THROWS_AS(decode_rows(flipped, "f", natural_model(), o, [](int, const std::uint8_t*) {},
                                [&](int, int) { sized_called = true; }),
                    msinr::Error);
    CHECK(!sized_called);
  }
}

TEST_CASE("decode threads: what the row callback throws comes back unchanged, on every thread count") {
  struct Stop {
    int y;
  };
  for (int threads : {1, 2, 3, 4})
    for (int stop_at : {0, 127, 128, 300, 511}) {
      CAPTURE(threads);
      CAPTURE(stop_at);
      DecodeOptions o;
      o.threads = threads;
      int got = -1;
      try {
        decode_rows(golden23(), "x", natural_model(), o, [&](int y, const std::uint8_t*) {
          if (y == stop_at) throw Stop{y};
        });
      } catch (const Stop& s) {
        got = s.y;
      }
      CHECK(got == stop_at);
    }
}
