#pragma once
// The format module's typed error. There is one error family: msinr::Error (msinr/error.hpp, a
// code and a one-line message), which the engine, the codec, image I/O, the tools and the public API
// throw. FormatError is one of them, carrying the format's finer code besides, so a caller that
// catches msinr::Error catches format errors too and no layer has to translate them. format/
// includes that one header (and export.h), never the engine or the codec.
#include <string>

#include "msinr/error.hpp"

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

// The msinr::ErrorCode a format error is seen as: a checksum mismatch is corrupt data, the others
// map one to one.
constexpr ErrorCode error_code_of(FormatErrorCode code) noexcept {
  switch (code) {
    case FormatErrorCode::kIo: return ErrorCode::kIo;
    case FormatErrorCode::kCorrupt:
    case FormatErrorCode::kChecksum: return ErrorCode::kCorrupt;
    case FormatErrorCode::kUnsupported: return ErrorCode::kUnsupported;
    case FormatErrorCode::kLimit: return ErrorCode::kLimit;
    case FormatErrorCode::kInvalidArgument: return ErrorCode::kInvalidArgument;
    case FormatErrorCode::kModelMismatch: return ErrorCode::kModelMismatch;
  }
  return ErrorCode::kCorrupt;
}

class FormatError : public Error {
 public:
  FormatError(FormatErrorCode code, const std::string& message) : Error(error_code_of(code), message), code_(code) {}
  // The format's own code. Seen as an msinr::Error, code() is error_code_of(this code).
  FormatErrorCode code() const noexcept { return code_; }

 private:
  FormatErrorCode code_;
};

// For callers that say where a format error happened: throws an msinr::Error with the same code and
// the message prefixed by "context: " (none when context is empty).
[[noreturn]] inline void rethrow_format_error(const FormatError& e, const std::string& context) {
  throw Error(error_code_of(e.code()), context.empty() ? std::string(e.what()) : context + ": " + e.what());
}

}  // namespace msinr::format
