#include <doctest/doctest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "format/file_io.hpp"
#include "testkit.hpp"

using namespace fmt_test;
namespace fs = std::filesystem;
using Code = f::FormatErrorCode;

namespace {
struct TempDir {
  fs::path path;
  TempDir() {
    path = fs::temp_directory_path() / ("msinr-format-test-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::size_t entries() const {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(path)) (void)e, ++n;
    return n;
  }
};
}  // namespace

TEST_CASE("format: write_file_atomic writes, replaces, and read_file reads back") {
  TempDir dir;
  const fs::path file = dir.path / "out.msinr";
  const Bytes a = small_container();
  f::write_file_atomic(file, a);
  CHECK(f::read_file(file, 1 << 20) == a);
  const Bytes b(10000, 0x5A);
  f::write_file_atomic(file, b);
  CHECK(f::read_file(file, 1 << 20) == b);
  f::write_file_atomic(file, Bytes{});
  CHECK(f::read_file(file, 0).empty());
  CHECK(dir.entries() == 1);  // no temporary files left behind
}

TEST_CASE("format: write_file_atomic failures leave nothing behind") {
  TempDir dir;
  std::string message;
  CHECK(error_of([&] { f::write_file_atomic(dir.path / "missing" / "out.msinr", Bytes{1, 2, 3}); }, &message) ==
        Code::kIo);
  CHECK(message.find("missing") != std::string::npos);
  // Renaming onto a directory fails after the temporary file was written: it must be removed.
  fs::create_directory(dir.path / "adir");
  CHECK(error_of([&] { f::write_file_atomic(dir.path / "adir", Bytes{1, 2, 3}); }) == Code::kIo);
  CHECK(dir.entries() == 1);
  CHECK(error_of([&] { f::write_file_atomic("", Bytes{}); }) == Code::kIo);
}

TEST_CASE("format: read_file errors") {
  TempDir dir;
  std::string message;
  CHECK(error_of([&] { f::read_file(dir.path / "nope", 100); }, &message) == Code::kIo);
  CHECK(message.find("nope") != std::string::npos);
  CHECK(error_of([&] { f::read_file(dir.path, 100); }) == Code::kIo);
  const fs::path file = dir.path / "f";
  f::write_file_atomic(file, Bytes(101, 1));
  CHECK(error_of([&] { f::read_file(file, 100); }) == Code::kLimit);
  CHECK(f::read_file(file, 101).size() == 101);
}
