#pragma once
// Whole-file reads with a size cap, and atomic writes (a reader never sees a half-written file and a
// failed write leaves no output behind).
#include <cstdint>
#include <filesystem>
#include <span>
#include <vector>

#include "format/error.hpp"

namespace msinr::format {

// Writes `bytes` to a new temporary file in the directory of `path`, flushes it to disk (fsync),
// renames it over `path` and syncs the directory. On any failure the temporary file is removed,
// `path` is untouched, and FormatError(kIo) names the path and the system's reason.
void write_file_atomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);

// Reads a whole file. Throws FormatError(kIo) when it cannot be opened or read (including when it
// is a directory) and FormatError(kLimit) when it holds more than max_bytes bytes.
std::vector<std::uint8_t> read_file(const std::filesystem::path& path, std::uint64_t max_bytes);

}  // namespace msinr::format
