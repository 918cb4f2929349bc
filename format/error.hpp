#pragma once
// The format module's own typed error. format/ must not include libmsinr or codec, so it does not
// reuse msinr::Error; the codec maps FormatErrorCode onto msinr::ErrorCode one to one.
#include <stdexcept>
#include <string>

namespace msinr::format {

enum class FormatErrorCode {
  kIo,               // a file could not be opened, read, written or renamed
  kCorrupt,          // bytes that claim to be an msinr file but break its rules (truncated, bad field)
  kUnsupported,      // a well-formed input this build does not handle (newer version, other precision)
  kLimit,            // a size or dimension beyond the documented (or caller's) limits
  kInvalidArgument,  // a caller handed the writer something out of contract
  kChecksum,         // a CRC-32C did not match: the bytes were damaged after they were written
  kModelMismatch,    // reserved for callers (the codec) comparing a container's model id to a model
};

// A stable lower-case name: "io", "corrupt", "unsupported", "limit", "invalid-argument",
// "checksum", "model-mismatch".
const char* format_error_code_name(FormatErrorCode code) noexcept;

class FormatError : public std::runtime_error {
 public:
  FormatError(FormatErrorCode code, const std::string& message)
      : std::runtime_error(message), code_(code) {}
  FormatErrorCode code() const noexcept { return code_; }

 private:
  FormatErrorCode code_;
};

}  // namespace msinr::format
