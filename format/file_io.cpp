#include "format/file_io.hpp"

#include "format/container.hpp"
#include "format/detail/framing.hpp"
#include "format/model_file.hpp"
#include "msinr_format.pb.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
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

// The registry of live temporary files. Plain arrays and lock-free atomics only, so that
// remove_temporary_files() may run in a signal handler. A slot is 0 free, 1 being filled, 2 live.
constexpr int kSlots = 64;
constexpr std::size_t kSlotBytes = 4096;
struct Slot {
  std::atomic<int> state{0};
  char path[kSlotBytes];
};
Slot g_slots[kSlots];
static_assert(std::atomic<int>::is_always_lock_free);

int register_temporary(const std::string& path) {
  if (path.size() >= kSlotBytes) return -1;  // too long to keep: written unregistered
  for (int i = 0; i < kSlots; ++i) {
    int expected = 0;
    if (g_slots[i].state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
      std::memcpy(g_slots[i].path, path.c_str(), path.size() + 1);
      g_slots[i].state.store(2, std::memory_order_release);
      return i;
    }
  }
  return -1;  // more than kSlots writers at once: the rest go unregistered
}

void unregister_temporary(int slot) {
  if (slot >= 0) g_slots[slot].state.store(0, std::memory_order_release);
}

constexpr std::size_t kBufferBytes = 1 << 16;

}  // namespace

void remove_temporary_files() noexcept {
  for (Slot& s : g_slots)
    if (s.state.load(std::memory_order_acquire) == 2) ::unlink(s.path);
}

std::string temporary_name(const std::string& file_name, unsigned long pid, unsigned long n, std::size_t name_max) {
  std::string suffix = ".tmp.";
  suffix += std::to_string(pid);
  suffix += '.';
  suffix += std::to_string(n);
  std::size_t room = name_max > suffix.size() + 1 ? name_max - suffix.size() - 1 : 0;
  if (room < file_name.size()) {
    // Cut at a character boundary: the first byte dropped must not continue a UTF-8 sequence.
    while (room > 0 && (static_cast<unsigned char>(file_name[room]) & 0xC0) == 0x80) --room;
  } else {
    room = file_name.size();
  }
  // (Built with += : GCC 12 gives a false -Wrestrict for "." + std::string.)
  std::string name(1, '.');
  name.append(file_name, 0, room);
  name += suffix;
  return name;
}

std::filesystem::path resolve_output_path(const std::filesystem::path& path) {
  std::filesystem::path p = path;
  for (int hops = 0; hops < 40; ++hops) {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) return p;
    char buf[PATH_MAX];
    const ssize_t n = ::readlink(p.c_str(), buf, sizeof buf);
    if (n < 0) io_fail("cannot read the symbolic link", p, errno);
    if (static_cast<std::size_t>(n) >= sizeof buf) io_fail("cannot read the symbolic link", p, ENAMETOOLONG);
    const std::filesystem::path link(std::string(buf, static_cast<std::size_t>(n)));
    p = link.is_absolute() ? link : p.parent_path() / link;
  }
  io_fail("cannot follow the symbolic links of", path, ELOOP);
}

AtomicFile::AtomicFile(const std::filesystem::path& path) : path_(path) {
  if (path.empty() || !path.has_filename()) {
    throw FormatError(FormatErrorCode::kIo, "cannot write '" + path.string() + "': not a file path");
  }
  target_ = resolve_output_path(path);
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode)) {
      throw FormatError(FormatErrorCode::kIo, "refusing to write " + path.string() + ": it is " + file_kind(st.st_mode) +
                                                  ", and only regular files are replaced");
    }
    keep_mode_ = true;
    mode_ = st.st_mode & 07777;
    uid_ = st.st_uid;
    gid_ = st.st_gid;
  } else if (errno != ENOENT) {
    io_fail("cannot write", path, errno);
  }
  const std::filesystem::path dir = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
  long name_max = ::pathconf(dir.c_str(), _PC_NAME_MAX);
  if (name_max <= 0) name_max = NAME_MAX;
  static std::atomic<unsigned long> counter{0};
  for (int attempt = 0;; ++attempt) {
    tmp_ = dir / temporary_name(target_.filename().string(), static_cast<unsigned long>(::getpid()), counter++,
                                static_cast<std::size_t>(name_max));
    // Registered before it exists, so no moment passes where a signal would leave it behind.
    slot_ = register_temporary(tmp_.string());
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) break;
    const int err = errno;
    unregister_temporary(slot_);
    slot_ = -1;
    if (err != EEXIST || attempt >= 100) io_fail("cannot create a temporary file for", path, err);
  }
  buffer_.reserve(kBufferBytes);
}

AtomicFile::~AtomicFile() { discard(); }

void AtomicFile::discard() noexcept {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
  if (!committed_ && !tmp_.empty()) {
    ::unlink(tmp_.c_str());
    unregister_temporary(slot_);
    slot_ = -1;
    tmp_.clear();
  }
}

void AtomicFile::fail(const std::string& what, int err) {
  discard();
  io_fail(what, path_, err);
}

void AtomicFile::flush_buffer() {
  const std::uint8_t* p = buffer_.data();
  std::size_t left = buffer_.size();
  while (left > 0) {
    const ssize_t n = ::write(fd_, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot write", errno);
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  buffer_.clear();
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (fd_ < 0) throw FormatError(FormatErrorCode::kIo, "cannot write " + path_.string() + ": the file is closed");
  const auto* p = static_cast<const std::uint8_t*>(data);
  while (size > 0) {
    const std::size_t n = std::min(size, kBufferBytes - buffer_.size());
    buffer_.insert(buffer_.end(), p, p + n);
    p += n;
    size -= n;
    if (buffer_.size() == kBufferBytes) flush_buffer();
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw FormatError(FormatErrorCode::kIo, "cannot write " + path_.string() + ": the file is closed");
  flush_buffer();
  if (keep_mode_) {
    // Owner first: fchown may clear set-id bits that fchmod then restores. Only root (or a member of
    // the group) may change these; otherwise the file is ours, as any rewrite would make it.
    if (uid_ != ::geteuid() || gid_ != ::getegid()) (void)::fchown(fd_, uid_, gid_);
    if (::fchmod(fd_, static_cast<mode_t>(mode_)) != 0) fail("cannot set the mode of", errno);
  }
  if (::fsync(fd_) != 0) fail("cannot flush", errno);
  const int rc = ::close(fd_);
  fd_ = -1;
  if (rc != 0) fail("cannot close", errno);
  if (::rename(tmp_.c_str(), target_.c_str()) != 0) fail("cannot rename the temporary file onto", errno);
  committed_ = true;
  unregister_temporary(slot_);
  slot_ = -1;
  // Make the rename itself durable; failing to sync a directory does not undo a complete write.
  const std::filesystem::path dir = target_.has_parent_path() ? target_.parent_path() : std::filesystem::path(".");
  Fd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd.get() >= 0) (void)::fsync(dir_fd.get());
}

void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  AtomicFile file(path);
  file.write(bytes);
  file.commit();
}

namespace {
std::vector<std::uint8_t> read_all(int fd, const std::string& name, std::uint64_t max_bytes, std::size_t expected) {
  std::vector<std::uint8_t> out;
  out.reserve(expected);
  std::uint8_t buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot read", name, errno);
    }
    if (n == 0) break;
    // Pipes and files that grow while read are capped here too.
    if (out.size() + static_cast<std::size_t>(n) > max_bytes) {
      throw FormatError(FormatErrorCode::kLimit,
                        name + " holds more than the limit of " + std::to_string(max_bytes) + " bytes");
    }
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}
}  // namespace

std::vector<std::uint8_t> read_fd(int fd, const std::string& name, std::uint64_t max_bytes) {
  return read_all(fd, name, max_bytes, 0);
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
  return read_all(fd.get(), path.string(), max_bytes, S_ISREG(st.st_mode) ? static_cast<std::size_t>(st.st_size) : 0);
}

namespace {
// Reads up to n bytes (fewer only at end of input), appending to out.
void read_up_to(int fd, const std::string& name, std::vector<std::uint8_t>& out, std::uint64_t n) {
  std::uint8_t buf[1 << 16];
  while (n > 0) {
    const ssize_t got = ::read(fd, buf, static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof buf)));
    if (got < 0) {
      if (errno == EINTR) continue;
      io_fail("cannot read", name, errno);
    }
    if (got == 0) return;
    out.insert(out.end(), buf, buf + got);
    n -= static_cast<std::uint64_t>(got);
  }
}
}  // namespace

std::vector<std::uint8_t> read_msinr_fd(int fd, const std::string& name) {
  std::vector<std::uint8_t> out;
  read_up_to(fd, name, out, detail::kPreambleSize);
  if (out.size() < detail::kPreambleSize) return out;
  const bool container = std::equal(kContainerMagic.begin(), kContainerMagic.end(), out.begin());
  const bool model = std::equal(kModelMagic.begin(), kModelMagic.end(), out.begin());
  if (!container && !model) return out;
  const std::uint32_t header_size = detail::get_le32(out.data() + 10);
  const std::uint32_t max_header = container ? 4096u : (1u << 20);
  if (header_size == 0 || header_size > max_header) return out;  // the parser names the problem
  read_up_to(fd, name, out, header_size);
  if (out.size() < detail::kPreambleSize + header_size) return out;  // truncated: the parser says so
  const std::uint8_t* h = out.data() + detail::kPreambleSize;
  std::uint64_t body = 0;
  if (container) {
    pb::ContainerHeader p;
    if (!p.ParseFromArray(h, static_cast<int>(header_size))) return out;
    body = p.payload_compressed_size();
  } else {
    pb::ModelHeader p;
    if (!p.ParseFromArray(h, static_cast<int>(header_size))) return out;
    body = p.payload_compressed_size();
  }
  const std::uint64_t max_body = container ? (1ull << 30) + (1ull << 20) : (1ull << 31);
  if (body > max_body) {
    throw FormatError(FormatErrorCode::kLimit, name + ": the " + (container ? "container" : "model file") +
                                                   " header declares a payload of " + std::to_string(body) +
                                                   " bytes, more than the format's limit of " +
                                                   std::to_string(max_body));
  }
  read_up_to(fd, name, out, body + detail::kTrailerSize + 1);  // + 1: trailing data is refused later
  return out;
}

std::vector<std::uint8_t> read_msinr_file(const std::filesystem::path& path) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) io_fail("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) io_fail("cannot stat", path, errno);
  if (S_ISDIR(st.st_mode)) io_fail("cannot read", path, EISDIR);
  return read_msinr_fd(fd.get(), path.string());
}

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a fifo";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace msinr::format
