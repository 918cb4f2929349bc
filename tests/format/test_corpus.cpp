// Replays the committed seed corpus (format/fuzz/corpus/), which is also the fuzzers' starting
// point: files named ok-* must read, bad-<code>-* must be refused with that FormatError code.
#include <doctest/doctest.h>

#include <filesystem>
#include <map>
#include <string>

#include "format/file_io.hpp"
#include "format/fuzz/harness.hpp"
#include "testkit.hpp"

using namespace fmt_test;
namespace fs = std::filesystem;

TEST_CASE("format: the committed seed corpus replays with the expected results") {
  const fs::path root = fs::path(MSINR_SOURCE_DIR) / "format" / "fuzz" / "corpus";
  REQUIRE_MESSAGE(fs::is_directory(root), root.string() << " is missing");
  int files = 0;
  for (const std::string kind : {"container", "model"}) {
    for (const auto& entry : fs::directory_iterator(root / kind)) {
      const std::string name = entry.path().filename().string();
      const Bytes bytes = f::read_file(entry.path(), 4096);
      std::string message;
      const auto code = error_of([&] { read_as(kind, bytes); }, &message);
      const auto expected = expected_code(name);
      if (expected) {
        CHECK_MESSAGE(code == expected, kind << "/" << name << ": "
                                             << (code ? f::format_error_code_name(*code) : "accepted") << ": "
                                             << message);
      } else {
        CHECK_MESSAGE(!code, kind << "/" << name << ": " << message);
      }
      ++files;
    }
  }
  CHECK(files >= 10);
  CHECK(files <= 36);
}

// The fuzzers' own bodies on every seed: each must end normally (refusals are fine), and each
// accepted file must survive its writer's round trip. This is what caught the fp16 writer being
// handed quantized containers, which made every fuzz_container run abort on its first seed.
TEST_CASE("format: the seed corpus replays through the fuzz harness, round trips included") {
  const fs::path root = fs::path(MSINR_SOURCE_DIR) / "format" / "fuzz" / "corpus";
  int accepted_quantized = 0;
  for (const std::string kind : {"container", "model"}) {
    for (const auto& entry : fs::directory_iterator(root / kind)) {
      CAPTURE(entry.path().string());
      const Bytes bytes = f::read_file(entry.path(), 4096);
      if (kind == "container") {
        msinr::format::fuzz::container_one(bytes);
        if (!expected_code(entry.path().filename().string()) &&
            f::read_container(bytes).header.precision == f::Precision::kQuantized)
          ++accepted_quantized;
      } else {
        msinr::format::fuzz::model_one(bytes);
      }
    }
  }
  CHECK(accepted_quantized >= 1);  // the round trip of the quantized writer is exercised
}

TEST_CASE("format: the committed seed corpus is what the generator makes") {
  // Byte equality would tie the test to one zstd version; names and outcomes are what matter.
  const fs::path root = fs::path(MSINR_SOURCE_DIR) / "format" / "fuzz" / "corpus";
  std::map<std::string, bool> committed;
  for (const std::string kind : {"container", "model"}) {
    for (const auto& entry : fs::directory_iterator(root / kind)) {
      committed[kind + "/" + entry.path().stem().string()] = true;
    }
  }
  std::map<std::string, bool> generated;
  for (const CorpusCase& c : make_corpus()) {
    if (c.seed) generated[c.name] = true;
  }
  CHECK(committed == generated);
}
