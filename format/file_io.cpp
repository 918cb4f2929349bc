#include "format/file_io.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace msinr::format {
namespace {

[[noreturn]] void io_fail(const std::string& what, const std::filesystem::path& path, int err) {
  throw FormatError(FormatErrorCode::kIo, what + " " + path.string() + ": " + std::strerror(err));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { close(); }
  int get() const { return fd_; }
  int close() {
    if (fd_ < 0) return 0;
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }

 private:
  int fd_;
};

}  // namespace

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  if (path.empty() || !path.has_filename()) {
    throw FormatError(FormatErrorCode::kIo, "cannot write '" + path.string() + "': not a file path");
  }
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  // A name no other writer uses: pid, a per-process counter and the clock.
  static std::atomic<std::uint64_t> counter{0};
  const std::uint64_t unique = (static_cast<std::uint64_t>(
                                    std::chrono::steady_clock::now().time_since_epoch().count()) << 8) ^
                               counter.fetch_add(1);
  // (Built with += : GCC 12 gives a false -Wrestrict for "." + std::string.)
  std::string name(1, '.');
  name += path.filename().string();
  name += ".tmp.";
  name += std::to_string(::getpid());
  name += '.';
  name += std::to_string(unique);
  const std::filesystem::path tmp = dir / name;

  Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666));
  if (fd.get() < 0) io_fail("cannot create a temporary file for", path, errno);
  auto fail_and_clean = [&](const std::string& what, int err) {
    fd.close();
    ::unlink(tmp.c_str());
    io_fail(what, path, err);
  };
  const std::uint8_t* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    const ssize_t n = ::write(fd.get(), p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_and_clean("cannot write", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (::fsync(fd.get()) != 0) fail_and_clean("cannot flush", errno);
  if (fd.close() != 0) fail_and_clean("cannot close", errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int err = errno;
    ::unlink(tmp.c_str());
    io_fail("cannot rename the temporary file onto", path, err);
  }
  // Make the rename itself durable; failing to sync a directory does not undo a complete write.
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) (void)::fsync(dir_fd.get());
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path, std::uint64_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) io_fail("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) io_fail("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) io_fail("cannot read", path, EISDIR);
  if (S_ISREG(st.st_mode) && static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    throw FormatError(FormatErrorCode::kLimit, path.string() + " is " + std::to_string(st.st_size) +
                                                   " bytes, more than the limit of " + std::to_string(max_bytes));
  }
  std::vector<std::uint8_t> out;
  if (S_ISREG(st.st_mode)) out.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot read", path, errno);
    }
    if (n == 0) break;
    // Pipes and files that grow while read are capped here too.
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      throw FormatError(FormatErrorCode::kLimit,
                        path.string() + " holds more than the limit of " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

}  // namespace msinr::format
