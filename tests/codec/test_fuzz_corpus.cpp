// Replays the committed seed corpora of the codec layer's fuzz targets (codec/fuzz/corpus/) through
// the same harness the fuzzers run: every input must end normally (a typed msinr::Error is fine).
#include <doctest/doctest.h>

#include <filesystem>

#include "codec/fuzz/harness.hpp"
#include "format/file_io.hpp"

namespace fs = std::filesystem;

TEST_CASE("codec: the fuzz seed corpora (png, jpeg, codec) replay through the fuzz harness") {
  const fs::path root = fs::path(MSINR_SOURCE_DIR) / "codec" / "fuzz" / "corpus";
  REQUIRE_MESSAGE(fs::is_directory(root), root.string() << " is missing");
  for (const std::string kind : {"png", "jpeg", "codec"}) {
    int files = 0;
    for (const auto& entry : fs::directory_iterator(root / kind)) {
      CAPTURE(entry.path().string());
      const auto bytes = msinr::format::read_file(entry.path(), 1 << 20);
      if (kind == "png") msinr::codec::fuzz::png_one(bytes.data(), bytes.size());
      if (kind == "jpeg") msinr::codec::fuzz::jpeg_one(bytes.data(), bytes.size());
      if (kind == "codec") msinr::codec::fuzz::codec_one(bytes.data(), bytes.size());
      ++files;
    }
    CAPTURE(kind);
    CHECK(files >= 4);
  }
  // The seed containers decode (the harness swallows refusals, so check the valid ones directly).
  const auto fp16 = msinr::format::read_file(root / "codec" / "fp16-native", 1 << 20);
  const std::vector<std::uint8_t> c(fp16.begin() + 4, fp16.end());
  CHECK(msinr::codec::decode_image(c, "fp16-native", msinr::codec::fuzz::fuzz_model()).width == 12);
}
