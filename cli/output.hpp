#pragma once
// The command line's rules for the files it reads and writes (docs/cli.md, "Files"):
//  - "-" is standard input or output.
//  - An existing output is replaced only with -f/--force (zstd's rule); an input is never written
//    over, even with -f: "the same file" is decided by device and inode, so other names, hard
//    links and symbolic links to an input are caught too.
//  - An existing output that is not a regular file (device node, fifo, socket, folder) is refused;
//    standard output is "-". A symbolic link is written through to its target (format::AtomicFile).
//  - Binary data is not written to a terminal on standard output unless -f is given.
//  - A name whose extension does not match what is written gets a warning.
#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace msinr::cli {

inline bool is_stdio(const std::string& path) { return path == "-"; }

// Checks an output before any work is done; throws msinr::Error (kInvalidArgument or kIo) with a
// message that says what to do. `inputs` are every file the command reads ("-" and "" ignored).
void check_output(const std::string& output, const std::vector<std::string>& inputs, bool force);

// True when `a` and `b` both exist and are the same file (links followed).
bool same_file(const std::string& a, const std::string& b);
bool file_exists(const std::string& path);  // links followed

// Lower-case extension with the dot ("" when none).
std::string lower_extension(const std::string& path);

// "msinr: warning: NAME: ... writes WHAT, but the name ends in .EXT" on stderr unless quiet, when
// the extension is none of `expected`.
void warn_extension(const std::string& path, std::initializer_list<const char*> expected, const std::string& what,
                    bool quiet);

// Reads a whole input file, or standard input for "-".
std::vector<std::uint8_t> read_input(const std::string& path, std::uint64_t max_bytes);
// Reads an msinr container or model from a path or "-" (standard input) without trusting its length:
// only the preamble, the header it declares and the payload that header declares are read (see
// format::read_msinr_fd), so `info /dev/zero` stops after 14 bytes.
std::vector<std::uint8_t> read_msinr_input(const std::string& path);

// CLI11 check for inputs: an existing file or "-".
std::string existing_file_or_stdin(const std::string& path);
// CLI11 check: an existing file or folder, or "-".
std::string existing_path_or_stdin(const std::string& path);

}  // namespace msinr::cli
