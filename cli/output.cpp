#include "cli/output.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "codec/model.hpp"
#include "format/file_io.hpp"
#include "msinr/error.hpp"

namespace msinr::cli {
namespace {

}  // namespace

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

void check_output(const std::string& output, const std::vector<std::string>& inputs, bool force) {
  namespace fs = std::filesystem;
  if (output.empty()) throw Error(ErrorCode::kInvalidArgument, "no output file (give OUT or -o OUT)");
  if (is_stdio(output)) {
    if (!force && isatty(STDOUT_FILENO) == 1)
      throw Error(ErrorCode::kInvalidArgument,
                  "refusing to write binary data to the terminal: redirect standard output (-o - > FILE), "
                  "or pass -f to write it anyway");
    return;
  }
  for (const std::string& in : inputs)
    if (!in.empty() && !is_stdio(in) && same_file(output, in))
      throw Error(ErrorCode::kInvalidArgument,
                  output + (output == in ? " is an input of this command" : " is the same file as the input " + in) +
                      "; msinr never writes over an input, even with -f: choose another output name");
  const fs::path target = format::resolve_output_path(output);
  struct stat st {};
  if (::stat(target.c_str(), &st) == 0) {
    if (!S_ISREG(st.st_mode))
      throw Error(ErrorCode::kIo, "refusing to write " + output + ": it is " + format::file_kind(st.st_mode) +
                                      ", and msinr replaces only regular files (standard output is '-o -')");
    if (!force) throw Error(ErrorCode::kIo, output + " exists; pass -f (--force) to overwrite it");
  } else if (errno != ENOENT) {
    throw Error(ErrorCode::kIo, "cannot write " + output + ": " + std::strerror(errno));
  }
  const fs::path parent = target.parent_path();
  std::error_code ec;
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(ErrorCode::kIo, output + ": folder " + parent.string() + " does not exist");
}

void warn_extension(const std::string& path, std::initializer_list<const char*> expected, const std::string& what,
                    bool quiet) {
  if (quiet || is_stdio(path)) return;
  const std::string ext = lower_extension(path);
  for (const char* e : expected)
    if (ext == e) return;
  std::fprintf(stderr, "msinr: warning: %s: writing %s, but the name %s\n", path.c_str(), what.c_str(),
               ext.empty() ? "has no extension" : ("ends in " + ext).c_str());
}

std::vector<std::uint8_t> read_msinr_input(const std::string& path) {
  if (is_stdio(path)) return format::read_msinr_fd(STDIN_FILENO, "standard input");
  return format::read_msinr_file(path);
}

std::vector<std::uint8_t> read_input(const std::string& path, std::uint64_t max_bytes) {
  if (is_stdio(path)) return format::read_fd(STDIN_FILENO, "standard input", max_bytes);
  return format::read_file(path, max_bytes);
}

std::string existing_file_or_stdin(const std::string& path) {
  if (is_stdio(path)) return {};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "File does not exist: " + path;
  if (std::filesystem::is_directory(path, ec)) return "File is actually a directory: " + path;
  return {};
}

std::string existing_path_or_stdin(const std::string& path) {
  if (is_stdio(path)) return {};
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return "Path does not exist: " + path;
  return {};
}

}  // namespace msinr::cli
