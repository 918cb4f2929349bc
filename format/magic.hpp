#pragma once
// The first eight bytes of each msinr file, in one place: the formats' own headers re-export theirs,
// and detail/framing.cpp recognises them in messages about foreign files without including its users.
#include <array>
#include <cstdint>

namespace msinr::format {

inline constexpr std::array<std::uint8_t, 8> kContainerMagic = {0x89, 'M', 'S', 'I', 'N', 'R', '\r', '\n'};
inline constexpr std::array<std::uint8_t, 8> kModelMagic = {0x89, 'M', 'S', 'M', 'O', 'D', '\r', '\n'};
inline constexpr std::array<std::uint8_t, 8> kCheckpointMagic = {'M', 'S', 'I', 'N', 'R', 'C', 'K', 'P'};

}  // namespace msinr::format
