#pragma once
// Typed errors for everything that can fail on user input: the CLI turns them into a one-line
// message and a non-zero exit; nothing in the library aborts on bad input.
#include <stdexcept>
#include <string>

#include "msinr/export.h"

namespace msinr {

enum class ErrorCode {
  kInvalidArgument,  // a caller passed something out of contract (bad option, size mismatch)
  kIo,               // a file could not be opened, read or written
  kCorrupt,          // bytes that claim a format but break its rules (truncated, bad checksum)
  kUnsupported,      // a valid-looking input this build does not handle (future version, bit depth)
  kLimit,            // dimensions or sizes beyond the documented limits
  kModelMismatch,    // a file made with another model than the one given
  kDevice,           // the requested compute device is missing or failed
  kCancelled,        // the caller asked to stop
  kInternal,         // a broken invariant: a bug in msinr
};

// The code's name ("invalid argument", "corrupt data", ...); never null.
MSINR_API const char* error_code_name(ErrorCode code) noexcept;

// What every msinr function throws on bad input or failure (code + one-line message).
class MSINR_API Error : public std::runtime_error {
 public:
  Error(ErrorCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ErrorCode code() const noexcept { return code_; }

 private:
  ErrorCode code_;
};

}  // namespace msinr
