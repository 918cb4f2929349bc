#include "format/detail/framing.hpp"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <limits>

#include "format/checksum.hpp"
#include "format/magic.hpp"

namespace msinr::format {

const char* format_error_code_name(FormatErrorCode code) noexcept {
  switch (code) {
    case FormatErrorCode::kIo: return "io";
    case FormatErrorCode::kCorrupt: return "corrupt";
    case FormatErrorCode::kUnsupported: return "unsupported";
    case FormatErrorCode::kLimit: return "limit";
    case FormatErrorCode::kInvalidArgument: return "invalid-argument";
    case FormatErrorCode::kChecksum: return "checksum";
    case FormatErrorCode::kModelMismatch: return "model-mismatch";
  }
  return "unknown";
}

namespace detail {

void fail(FormatErrorCode code, const std::string& message) { throw FormatError(code, message); }

std::string sniff_foreign(std::span<const std::uint8_t> bytes) {
  auto starts = [&](std::initializer_list<std::uint8_t> sig) {
    return bytes.size() >= sig.size() && std::equal(sig.begin(), sig.end(), bytes.begin());
  };
  if (starts({0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'})) return "a PNG image";
  if (starts({0xFF, 0xD8, 0xFF})) return "a JPEG image";
  if (starts({'G', 'I', 'F', '8'})) return "a GIF image";
  if (starts({'R', 'I', 'F', 'F'})) return "a RIFF (WebP/WAV/AVI) file";
  if (starts({0x28, 0xB5, 0x2F, 0xFD})) return "a bare zstd frame";
  if (starts({0x1F, 0x8B})) return "a gzip file";
  if (starts({'P', 'K', 0x03, 0x04})) return "a zip archive";
  if (bytes.size() >= kModelMagic.size() && std::equal(kModelMagic.begin(), kModelMagic.end(), bytes.begin()))
    return "an msinr model file (.msm)";
  if (bytes.size() >= kContainerMagic.size() &&
      std::equal(kContainerMagic.begin(), kContainerMagic.end(), bytes.begin()))
    return "an msinr container (.msinr)";
  return "";
}

std::span<const std::uint8_t> read_preamble(std::span<const std::uint8_t> bytes, const FileKindInfo& kind) {
  const Magic& magic = *kind.magic;
  const std::size_t n = std::min(bytes.size(), magic.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n), magic.begin())) {
    const std::string what = sniff_foreign(bytes);
    fail(FormatErrorCode::kCorrupt, std::string("not an msinr ") + kind.noun +
                                        (what.empty() ? std::string(" (wrong magic bytes)")
                                                      : " (it looks like " + what + ")"));
  }
  if (bytes.size() < kPreambleSize) {
    fail(FormatErrorCode::kCorrupt, std::string(kind.noun) + " is truncated: " + std::to_string(bytes.size()) +
                                        " bytes, shorter than the " + std::to_string(kPreambleSize) +
                                        "-byte preamble");
  }
  const std::uint16_t version = get_le16(bytes.data() + 8);
  if (version == 0) {
    fail(FormatErrorCode::kCorrupt, std::string(kind.noun) + " has invalid format version 0");
  }
  if (version > kind.version) {
    fail(FormatErrorCode::kUnsupported, std::string(kind.noun) + " format version " + std::to_string(version) +
                                            " is newer than this msinr supports (" +
                                            std::to_string(kind.version) + ")");
  }
  const std::uint32_t header_size = get_le32(bytes.data() + 10);
  if (header_size == 0 || header_size > kind.max_header_bytes) {
    fail(FormatErrorCode::kCorrupt, std::string(kind.noun) + " header length " + std::to_string(header_size) +
                                        " is outside 1.." + std::to_string(kind.max_header_bytes));
  }
  if (bytes.size() - kPreambleSize < header_size) {
    fail(FormatErrorCode::kCorrupt, std::string(kind.noun) + " is truncated: " + std::to_string(bytes.size()) +
                                        " bytes, the header alone needs " +
                                        std::to_string(kPreambleSize + header_size));
  }
  return bytes.subspan(kPreambleSize, header_size);
}

std::span<const std::uint8_t> check_body(std::span<const std::uint8_t> bytes, std::size_t header_size,
                                         std::uint64_t compressed_size, const FileKindInfo& kind) {
  const std::uint64_t before = kPreambleSize + header_size;  // <= bytes.size(), checked by read_preamble
  const std::uint64_t available = bytes.size() - before;
  if (compressed_size > available || available - compressed_size < kTrailerSize) {
    fail(FormatErrorCode::kCorrupt,
         std::string(kind.noun) + " is truncated: " + std::to_string(bytes.size()) + " bytes, the header says " +
             (compressed_size > std::numeric_limits<std::uint64_t>::max() - before - kTrailerSize
                  ? std::string("more than 2^64")
                  : std::to_string(before + compressed_size + kTrailerSize)));
  }
  const std::uint64_t extra = available - compressed_size - kTrailerSize;
  if (extra != 0) {
    fail(FormatErrorCode::kCorrupt, std::string(kind.noun) + " has " + std::to_string(extra) +
                                        " unexpected trailing bytes after its checksum");
  }
  const std::size_t crc_at = bytes.size() - kTrailerSize;
  const std::uint32_t stored = get_le32(bytes.data() + crc_at);
  const std::uint32_t actual = crc32c(bytes.first(crc_at));
  if (stored != actual && kEnforceChecksums) {
    fail(FormatErrorCode::kChecksum, std::string(kind.noun) + " checksum mismatch (CRC-32C stored " +
                                         hex32(stored) + ", computed " + hex32(actual) +
                                         "): the file is damaged");
  }
  return bytes.subspan(static_cast<std::size_t>(before), static_cast<std::size_t>(compressed_size));
}

std::vector<std::uint8_t> assemble(const Magic& magic, std::uint16_t version,
                                   std::span<const std::uint8_t> header,
                                   std::span<const std::uint8_t> frame) {
  std::vector<std::uint8_t> out;
  out.reserve(kPreambleSize + header.size() + frame.size() + kTrailerSize);
  out.insert(out.end(), magic.begin(), magic.end());
  put_le16(out, version);
  put_le32(out, static_cast<std::uint32_t>(header.size()));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), frame.begin(), frame.end());
  put_le32(out, crc32c(out));
  return out;
}

std::vector<std::uint8_t> zstd_compress(std::span<const std::uint8_t> raw, int level) {
  level = std::clamp(level, ZSTD_minCLevel(), ZSTD_maxCLevel());
  std::vector<std::uint8_t> out(ZSTD_compressBound(raw.size()));
  // ZSTD_compress always records the content size in the frame header and adds no checksum
  // (the file's CRC-32C covers the frame).
  const std::size_t n = ZSTD_compress(out.data(), out.size(), raw.data(), raw.size(), level);
  if (ZSTD_isError(n)) {
    fail(FormatErrorCode::kInvalidArgument, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

void zstd_check_frame(std::span<const std::uint8_t> frame, std::uint64_t expected_size, const FileKindInfo& kind) {
  const std::string noun = kind.noun;
  if (frame.size() < 4 || get_le32(frame.data()) != 0xFD2FB528u) {
    fail(FormatErrorCode::kCorrupt, noun + " payload is not a zstd frame");
  }
  const unsigned long long declared = ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    fail(FormatErrorCode::kCorrupt, noun + " payload has an invalid zstd frame header");
  }
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) {
    fail(FormatErrorCode::kCorrupt, noun + " payload's zstd frame does not declare its content size");
  }
  if (declared != expected_size) {
    fail(FormatErrorCode::kCorrupt, noun + " payload's zstd frame declares " + std::to_string(declared) +
                                        " bytes but the header says " + std::to_string(expected_size));
  }
  const std::size_t frame_size = ZSTD_findFrameCompressedSize(frame.data(), frame.size());
  if (ZSTD_isError(frame_size) || frame_size != frame.size()) {
    fail(FormatErrorCode::kCorrupt, noun + " payload is not exactly one complete zstd frame");
  }
}

std::vector<std::uint8_t> zstd_decompress_exact(std::span<const std::uint8_t> frame,
                                                std::uint64_t expected_size, const FileKindInfo& kind) {
  const std::string noun = kind.noun;
  zstd_check_frame(frame, expected_size, kind);
  if (expected_size > std::numeric_limits<std::size_t>::max()) {
    fail(FormatErrorCode::kLimit, noun + " payload is too large for this machine");
  }
  std::vector<std::uint8_t> out(static_cast<std::size_t>(expected_size));
  ZSTD_DCtx* dctx = ZSTD_createDCtx();
  if (dctx == nullptr) fail(FormatErrorCode::kLimit, "out of memory creating a zstd decoder");
  const std::size_t n = ZSTD_decompressDCtx(dctx, out.data(), out.size(), frame.data(), frame.size());
  ZSTD_freeDCtx(dctx);
  if (ZSTD_isError(n)) {
    fail(FormatErrorCode::kCorrupt, noun + " payload does not decompress: " + ZSTD_getErrorName(n));
  }
  if (n != expected_size) {
    fail(FormatErrorCode::kCorrupt, noun + " payload decompressed to " + std::to_string(n) +
                                        " bytes but the header says " + std::to_string(expected_size));
  }
  return out;
}

std::string hex32(std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s.push_back(kDigits[(v >> shift) & 0xF]);
  return s;
}

bool is_valid_utf8(std::span<const std::uint8_t> s) noexcept {
  std::size_t i = 0;
  while (i < s.size()) {
    const std::uint8_t c = s[i];
    std::size_t len;
    std::uint32_t cp;
    if (c < 0x80) {
      ++i;
      continue;
    } else if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (s.size() - i < len) return false;
    for (std::size_t k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    // No overlong forms, no surrogates, nothing past U+10FFFF.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace detail
}  // namespace msinr::format
