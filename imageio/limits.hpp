#pragma once
// Size limits of image reading (docs/image-io.md), shared by every format's reader.
#include <cstddef>
#include <cstdint>

namespace msinr::codec {

inline constexpr std::size_t kMaxImageFileBytes = std::size_t{1} << 31;  // 2 GiB
// Default bound on a read image's pixels, checked from the PNG IHDR / JPEG SOF before any pixel
// memory is allocated (kLimit beyond): a 32 KB PNG cannot declare 16384x16384 and cost gigabytes.
// Callers raise it with the max_pixels argument (the CLI's encode --max-pixels); it is never more
// than the format limit of 2^28. 0 means that format limit.
inline constexpr std::uint64_t kDefaultMaxImagePixels = std::uint64_t{1} << 27;

}  // namespace msinr::codec
