#pragma once
// The training checkpoint (`msinr train` writes OUT.ckpt; --resume reads it): the meta-trainer's
// whole state, so a killed run continues exactly where it stopped. Plain structs in, bytes out, like
// the container and the model file; tools/checkpoint.hpp converts to and from the engine's state.
//
// Version 1 (the only one):
//   offset 0   8 bytes   magic "MSINRCKP"
//   offset 8   u32 LE    version
//   offset 12  C bytes   one zstd frame that declares its content size
//   12 + C     u32 LE    CRC-32C of every byte before it
// The frame's content, every number little-endian (floats and doubles as their IEEE 754 bits):
//   fingerprint (u64 length + bytes), round i32, step i32, params (u64 count + f32 each),
//   mask (u64 count + u8 each), adam_steps i32, adam_m, adam_v (as params), rng_state u64,
//   train_seconds f64, level count u32, then per level: index i32, mask (as mask), init (as params).
// Reading checks the CRC before anything else, refuses a frame whose content is more than
// detail::kMaxZstdRatio times its size (or over kMaxCheckpointRawBytes) before allocating, and
// bounds every count.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "format/error.hpp"
#include "format/magic.hpp"

namespace msinr::format {

inline constexpr std::uint32_t kCheckpointVersion = 1;
inline constexpr std::size_t kMaxCheckpointVectorLength = std::size_t{1} << 24;  // per vector
inline constexpr std::uint32_t kMaxCheckpointLevels = 64;
inline constexpr std::uint64_t kMaxCheckpointRawBytes = std::uint64_t{1} << 32;

struct CheckpointLevel {
  std::int32_t index = 0;
  std::vector<std::uint8_t> mask;
  std::vector<float> init;
};

struct Checkpoint {
  std::string fingerprint;  // names the training configuration; the reader's caller compares it
  std::int32_t round = 0, step = 0;
  std::vector<float> params;
  std::vector<std::uint8_t> mask;
  std::int32_t adam_steps = 0;
  std::vector<float> adam_m, adam_v;
  std::uint64_t rng_state = 0;
  double train_seconds = 0.0;
  std::vector<CheckpointLevel> levels;
};

std::vector<std::uint8_t> write_checkpoint(const Checkpoint& checkpoint);
// kCorrupt (not a checkpoint, truncated, trailing bytes, bad counts, inconsistent sizes), kChecksum,
// kUnsupported (another version), kLimit (a payload beyond the bounds above).
Checkpoint read_checkpoint(std::span<const std::uint8_t> bytes);

}  // namespace msinr::format
