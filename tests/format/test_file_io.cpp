#include <doctest/doctest.h>

#include <sys/stat.h>
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

TEST_CASE("format: temporary names fit NAME_MAX, cut at a UTF-8 character boundary") {
  CHECK(f::temporary_name("out.png", 123, 4, 255) == ".out.png.tmp.123.4");
  const std::string long_name(246, 'x');
  const std::string t = f::temporary_name(long_name, 4194304, 17, 255);
  CHECK(t.size() == 255);
  CHECK(t.rfind(".xxx", 0) == 0);
  CHECK(t.substr(t.size() - 15) == ".tmp.4194304.17");
  // "é" is two bytes (C3 A9): the cut never splits it.
  std::string accents;
  for (int i = 0; i < 120; ++i) accents += "\xC3\xA9";
  for (std::size_t name_max = 20; name_max < 40; ++name_max) {
    const std::string n = f::temporary_name(accents, 1, 2, name_max);
    CAPTURE(name_max);
    CHECK(n.size() <= name_max);
    const std::string kept = n.substr(1, n.size() - 1 - std::string(".tmp.1.2").size());
    CHECK(kept.size() % 2 == 0);
    CHECK(kept == accents.substr(0, kept.size()));
  }
}

TEST_CASE("format: AtomicFile writes through symbolic links, keeps modes, refuses non-regular files") {
  TempDir dir;
  const Bytes a(100, 7);
  // Through a link: the target changes, the link stays.
  f::write_file_atomic(dir.path / "target", Bytes{1});
  fs::create_symlink("target", dir.path / "link");
  f::write_file_atomic(dir.path / "link", a);
  CHECK(fs::is_symlink(dir.path / "link"));
  CHECK(f::read_file(dir.path / "target", 1000) == a);
  CHECK(f::resolve_output_path(dir.path / "link") == dir.path / "target");
  // A chain of links, and a dangling one (creates its target).
  fs::create_symlink("link", dir.path / "link2");
  CHECK(f::resolve_output_path(dir.path / "link2") == dir.path / "target");
  fs::create_symlink("made", dir.path / "dangling");
  f::write_file_atomic(dir.path / "dangling", a);
  CHECK(f::read_file(dir.path / "made", 1000) == a);
  // A loop is an error.
  fs::create_symlink("loop2", dir.path / "loop1");
  fs::create_symlink("loop1", dir.path / "loop2");
  CHECK(error_of([&] { f::write_file_atomic(dir.path / "loop1", a); }) == Code::kIo);
  // Modes are kept.
  fs::permissions(dir.path / "target", fs::perms::owner_read | fs::perms::owner_write);
  f::write_file_atomic(dir.path / "target", Bytes{2});
  CHECK(fs::status(dir.path / "target").permissions() == (fs::perms::owner_read | fs::perms::owner_write));
  // Devices and fifos are never replaced.
  std::string message;
  CHECK(error_of([&] { f::write_file_atomic("/dev/null", a); }, &message) == Code::kIo);
  CHECK(message.find("character device") != std::string::npos);
  REQUIRE(::mkfifo((dir.path / "fifo").c_str(), 0600) == 0);
  CHECK(error_of([&] { f::write_file_atomic(dir.path / "fifo", a); }) == Code::kIo);
  CHECK(fs::is_fifo(dir.path / "fifo"));
  // A 255-byte name works: the temporary's name is shortened.
  const fs::path longest = dir.path / std::string(255, 'n');
  f::write_file_atomic(longest, a);
  CHECK(f::read_file(longest, 1000) == a);
  for (const auto& e : fs::directory_iterator(dir.path)) CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("format: remove_temporary_files() takes away live temporaries (what the signal handler does)") {
  TempDir dir;
  {
    f::AtomicFile file(dir.path / "out.bin");
    file.write(Bytes(1000, 3));
    CHECK(fs::exists(file.temporary()));
    f::remove_temporary_files();
    CHECK_FALSE(fs::exists(file.temporary()));
    CHECK(error_of([&] { file.commit(); }) == Code::kIo);  // nothing left to rename
  }
  CHECK(dir.entries() == 0);
  // A committed file is no longer registered: removing temporaries leaves it alone.
  {
    f::AtomicFile file(dir.path / "kept.bin");
    file.write(Bytes(10, 1));
    file.commit();
  }
  f::remove_temporary_files();
  CHECK(f::read_file(dir.path / "kept.bin", 100) == Bytes(10, 1));
  // Large writes go through the buffer in pieces.
  Bytes big(300000);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<std::uint8_t>(i * 31);
  {
    f::AtomicFile file(dir.path / "big.bin");
    file.write(big.data(), 1);
    file.write(big.data() + 1, big.size() - 1);
    file.commit();
  }
  CHECK(f::read_file(dir.path / "big.bin", 1 << 20) == big);
}

// Issue 16: `info /dev/zero` read 4 GiB. An msinr file is read only as far as its header declares.
TEST_CASE("format: read_msinr_file reads the preamble, the header and the declared payload, never more") {
  // Endless inputs: /dev/zero is not an msinr file, so only the preamble's 14 bytes are read.
  const auto zero = f::read_msinr_file("/dev/zero");
  CHECK(zero.size() == 14);
  CHECK(error_of([&] { f::read_container(zero); }) == Code::kCorrupt);
  // A valid container followed by endless data: read to its trailer plus one byte, which the
  // parser then refuses as trailing data.
  TempDir dir;
  const Bytes c = small_container();
  const fs::path p = dir.path / "x.msinr";
  {
    std::ofstream out(p, std::ios::binary);
    out.write(reinterpret_cast<const char*>(c.data()), static_cast<std::streamsize>(c.size()));
    const std::string junk(1 << 20, 'j');
    out.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  const auto got = f::read_msinr_file(p);
  CHECK(got.size() == c.size() + 1);
  CHECK(error_of([&] { f::read_container(got); }) == Code::kCorrupt);
  // Exactly a valid file: read whole, and it parses.
  f::write_file_atomic(p, c);
  CHECK(f::read_msinr_file(p) == c);
  CHECK_NOTHROW(f::read_container(f::read_msinr_file(p)));
  // A model file too.
  const Bytes m = f::write_model_file(small_model());
  f::write_file_atomic(p, m);
  CHECK(f::read_msinr_file(p) == m);
  // A header declaring a payload beyond the format's limit is refused before reading on.
  const Bytes huge = edit_container(c, [](f::pb::ContainerHeader& h) { h.set_payload_compressed_size(1ull << 40); });
  f::write_file_atomic(p, huge);
  CHECK(error_of([&] { f::read_msinr_file(p); }) == Code::kLimit);
  // A truncated file comes back as it is (the parser says it is truncated).
  const Bytes cut(c.begin(), c.begin() + 20);
  f::write_file_atomic(p, cut);
  CHECK(f::read_msinr_file(p) == cut);
  // From a pipe (standard input's case).
  int fds[2];
  REQUIRE(::pipe(fds) == 0);
  REQUIRE(::write(fds[1], c.data(), c.size()) == static_cast<ssize_t>(c.size()));
  ::close(fds[1]);
  CHECK(f::read_msinr_fd(fds[0], "pipe") == c);
  ::close(fds[0]);
}
