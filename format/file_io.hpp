#pragma once
// Whole-file reads with a size cap, and atomic writes (a reader never sees a half-written file and a
// failed or interrupted write leaves no output behind).
//
// Every file msinr writes goes through AtomicFile, which follows one set of rules:
//  - The bytes go to a temporary file in the destination's folder, ".NAME.tmp.PID.N", where NAME is
//    the destination's name shortened (at a UTF-8 character boundary) so the whole temporary name
//    fits the folder's NAME_MAX: any name the file system accepts can be written. The temporary is
//    fsync()ed, renamed over the destination, and the folder is fsync()ed (best effort).
//  - A destination that is a symbolic link is written through: the link's final target (after every
//    hop, at most 40) is replaced and the link itself stays, as a shell's `>` does. A dangling link
//    creates its target.
//  - An existing destination that is not a regular file (a device node, fifo, socket or folder) is
//    refused (kIo) before anything is written: it is never replaced by a regular file.
//  - A replaced file keeps its permission bits (and owner and group where the process may set them);
//    a new file gets 0666 & ~umask.
//  - While a temporary exists its path sits in a process-wide registry, so a signal handler can call
//    remove_temporary_files() (async-signal-safe) to take it away before the process dies.
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "format/error.hpp"

namespace msinr::format {

class AtomicFile {
 public:
  // Resolves `path` (symbolic links), checks the destination and creates the temporary.
  // FormatError(kIo) names the path and the reason.
  explicit AtomicFile(const std::filesystem::path& path);
  // Not committed: the temporary is removed and the destination is untouched.
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Buffered; kIo on a failed write (disk full, ...), after which only destruction is useful.
  void write(const void* data, std::size_t size);
  void write(std::span<const std::uint8_t> bytes) { write(bytes.data(), bytes.size()); }
  // Flushes, fsyncs, gives the file the destination's mode, renames it into place, syncs the folder.
  void commit();

  const std::filesystem::path& path() const { return path_; }      // as given
  const std::filesystem::path& target() const { return target_; }  // what is replaced (links resolved)
  const std::filesystem::path& temporary() const { return tmp_; }

 private:
  void flush_buffer();
  [[noreturn]] void fail(const std::string& what, int err);
  void discard() noexcept;

  std::filesystem::path path_, target_, tmp_;
  int fd_ = -1;
  int slot_ = -1;  // registry slot, -1 when not registered
  bool committed_ = false;
  bool keep_mode_ = false;
  unsigned mode_ = 0;
  unsigned uid_ = 0, gid_ = 0;
  std::vector<std::uint8_t> buffer_;
};

// Writes `bytes` atomically to `path` (an AtomicFile written once and committed).
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);

// The file `path` names once symbolic links are followed (the path itself when it is not a link or
// does not exist). kIo on a loop or a link that cannot be read.
std::filesystem::path resolve_output_path(const std::filesystem::path& path);

// The temporary name AtomicFile uses for `destination`'s file name, shortened to fit name_max
// (exposed for tests): "." + NAME + ".tmp." + pid + "." + n.
std::string temporary_name(const std::string& file_name, unsigned long pid, unsigned long n, std::size_t name_max);

// Unlinks every live temporary file of this process. Async-signal-safe: meant for SIGINT/SIGTERM
// handlers, which then re-raise the signal.
void remove_temporary_files() noexcept;

// Reads a whole file. Throws FormatError(kIo) when it cannot be opened or read (including when it
// is a directory) and FormatError(kLimit) when it holds more than max_bytes bytes.
std::vector<std::uint8_t> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

// Reads a whole stream (e.g. standard input, fd 0) up to max_bytes; `name` is used in messages.
std::vector<std::uint8_t> read_fd(int fd, const std::string& name, std::uint64_t max_bytes);

// Reads an msinr file (container or model, told apart by the magic) without trusting its length:
// the 14-byte preamble first, then exactly the header it declares (at most the kind's header limit:
// 4096 bytes for a container, 1 MiB for a model), then the payload size that header declares plus
// the 4-byte trailer, then one byte more so trailing data is still seen (and refused) by the parser.
// So an endless input (/dev/zero, a pipe) costs at most what a valid file of that kind could.
// Anything that is not an msinr file returns its first bytes only (at most 14: enough for the
// parsers to say what it looks like). FormatError(kLimit) when a header declares a payload beyond
// the format's limits (2^30 + 2^20 bytes for a container, 2^31 for a model); kIo on a read error.
std::vector<std::uint8_t> read_msinr_fd(int fd, const std::string& name);
std::vector<std::uint8_t> read_msinr_file(const std::filesystem::path& path);

// What a non-regular file is, for refusals: "a folder", "a fifo", "a character device", ...
const char* file_kind(mode_t mode);

}  // namespace msinr::format
