#pragma once
// The .msinr container: one encoded image. Byte layout and validity rules: docs/format.md.
//
//   magic "\x89MSINR\r\n" | u16 LE version (1) | u32 LE header length | protobuf ContainerHeader |
//   zstd frame of the payload | u32 LE CRC-32C of everything before it
//
// The payload is tile_count * values_per_tile IEEE binary16 values, little-endian: for each tile in
// raster order (left to right, top to bottom), that tile's surviving weights in mask order, then all
// of its biases. The format layer only counts values; what they mean is the codec's business.
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "format/error.hpp"
#include "format/magic.hpp"

namespace msinr::format {

// kContainerMagic: format/magic.hpp.
// Version 2 adds the quantized payload, version 3 per-tile levels (quantized only), version 4 edge
// tiles merged into their neighbours (tiles_across / tiles_down). Each file is written at the oldest
// version that holds it (fp16: 1; one level for every tile: 2; per-tile levels: 3), byte for byte
// as before, so older readers keep reading what they could.
inline constexpr std::uint16_t kContainerVersion = 4;
// Most levels a version-3 container lets its tiles choose from.
inline constexpr std::uint32_t kMaxTileLevels = 64;
// Zstd level write_container uses unless told otherwise (payloads are a few KB: the best is cheap).
inline constexpr int kContainerZstdLevel = 19;

// Number format of the stored values.
enum class Precision : std::uint32_t {
  kFp16 = 1,       // IEEE 754 binary16, 2 bytes per value, zstd (version 1)
  kQuantized = 2,  // integers q per value, step per group, adaptive range coder (version 2;
                   // format/entropy/symbol_coder.hpp, docs/entropy-coding.md)
};

// Most groups a quantized container may declare (a network has two tensors per layer).
inline constexpr std::uint32_t kMaxQuantGroups = 256;
// Largest quantizer step: with |q| < 2^24 every q * step stays finite in float32.
inline constexpr float kMaxQuantStep = 1048576.0f;

struct ContainerHeader {
  std::uint32_t width = 0;   // image size in pixels
  std::uint32_t height = 0;
  std::uint32_t channels = 3;   // 3 (RGB) is the only value version 1 accepts
  std::uint32_t tile_size = 0;  // side of the square tiles, pixels
  std::array<std::uint8_t, 32> model_id{};  // content hash of the model (see model_file.hpp)
  std::uint32_t level = 0;                  // the model's level index the tiles were fitted from
  Precision precision = Precision::kFp16;
  std::uint32_t steps = 0;            // encoder's optimizer steps per tile (informational)
  std::uint32_t tile_count = 0;       // must equal tile_count_for(*this)
  std::uint32_t values_per_tile = 0;  // surviving weights + biases of the level
  // Filled in by write_container (any value given is ignored) and by the readers.
  std::uint64_t payload_raw_size = 0;         // tile_count * values_per_tile * 2
  std::uint64_t payload_compressed_size = 0;  // bytes of the zstd frame
  std::uint32_t payload_crc = 0;              // CRC-32C of the raw (decompressed) payload
  // kQuantized only: values per tile in each group (summing to values_per_tile) and each group's
  // quantizer step (finite, > 0). Empty for fp16.
  std::vector<std::uint32_t> group_sizes;
  std::vector<float> quant_steps;
  // Per-tile levels (version 3; both empty otherwise): the levels tiles may use, strictly ascending,
  // and for each its quant_steps.size() group sizes (flattened, in tile_level_set's order). Then
  // group_sizes is empty, values_per_tile is the largest level's sum and `level` is the level the
  // encoder was asked for (it need not be in the set); each tile's own level is in the payload.
  std::vector<std::uint32_t> tile_level_set;
  std::vector<std::uint32_t> level_group_sizes;
  // Edge tiles merged (version 4; both 0 otherwise: the grid): tiles across and down. Along an axis
  // of n tiles the first n - 1 are tile_size long and the last holds the rest, which may then be up
  // to 2 tile_size - 1 long (valid_tiles_along). The codec's layout: codec/tiling.hpp.
  std::uint32_t tiles_across = 0;
  std::uint32_t tiles_down = 0;

  bool merged_edges() const { return tiles_across != 0 || tiles_down != 0; }

  bool per_tile_levels() const { return !tile_level_set.empty(); }
  // Group sizes of the tile_level_set entry `k` (per_tile_levels()), or group_sizes.
  std::span<const std::uint32_t> groups_of(std::size_t k) const;
  // Values of a tile at tile_level_set entry `k` (per_tile_levels()), or values_per_tile.
  std::uint32_t values_of(std::size_t k) const;

  bool operator==(const ContainerHeader&) const = default;
};

struct Container {
  ContainerHeader header;
  // tile_count * values_per_tile: fp16 values, or for kQuantized float(q) * step of the value's group
  // (an offset from the model's init value: the codec adds it back).
  std::vector<float> values;
  std::vector<std::int32_t> symbols;  // kQuantized: the integers q themselves; empty for fp16
  // Per-tile levels (version 3): each tile's level index; `values` and `symbols` then hold each
  // tile's own count, tile after tile. Empty otherwise (every tile has values_per_tile values).
  std::vector<std::uint32_t> tile_levels;
};

// What a reader accepts. The defaults are the documented format limits; a caller may only tighten
// them in practice (looser values are honoured, but writers never exceed the defaults).
struct ReadLimits {
  std::uint32_t max_dimension = 1u << 20;      // width and height, each
  std::uint64_t max_pixels = 1ull << 28;       // width * height
  std::uint32_t max_tile_size = 8192;          // tile side
  std::uint32_t max_values_per_tile = 1u << 24;
  std::uint64_t max_payload_raw_bytes = 1ull << 30;
  std::uint32_t max_level = 63;
};

// ceil(width / tile_size) * ceil(height / tile_size); 0 when any argument is 0.
std::uint64_t tile_count_for(std::uint32_t width, std::uint32_t height, std::uint32_t tile_size) noexcept;
// ceil(length / tile_size), the grid's tiles along one axis; 0 when either is 0.
std::uint32_t grid_tiles_along(std::uint32_t length, std::uint32_t tile_size) noexcept;
// Whether n tiles may cover `length` pixels along an axis: the first n - 1 whole, the last holding
// 1 .. 2 tile_size - 1 pixels. That is the grid's count, or one fewer when the grid's last tile is
// partial (the thin edge then joins the tile before it).
bool valid_tiles_along(std::uint32_t n, std::uint32_t length, std::uint32_t tile_size) noexcept;
// The header's tile count: tiles_across * tiles_down when set, else the grid's.
std::uint64_t tile_count_for(const ContainerHeader& h) noexcept;

// Converts values to fp16 (round to nearest even) and writes a complete container. Throws
// FormatError(kInvalidArgument) when the header breaks a rule of the format (under the default
// ReadLimits), when values.size() != tile_count * values_per_tile, or when a value is NaN or its
// magnitude rounds to infinity in fp16 (>= 65520).
std::vector<std::uint8_t> write_container(const ContainerHeader& header, std::span<const float> values,
                                          int zstd_level = kContainerZstdLevel);

// Writes a container with precision kQuantized: symbols[i] is value i's integer (tile after tile,
// group after group within a tile, as the tile's group sizes lay them out), coded by the adaptive
// range coder with one context group per header group. Version 2 unless the header has per-tile
// levels: then tile_levels gives each tile's level (one of header.tile_level_set) and the file is
// version 3. Throws FormatError(kInvalidArgument) when the header breaks a rule (group sizes not
// summing to values_per_tile, a step not finite and positive, more than kMaxQuantGroups groups),
// tile_levels does not match the header, the symbol count is wrong or a |q| exceeds 2^24 - 1.
std::vector<std::uint8_t> write_quantized_container(const ContainerHeader& header,
                                                    std::span<const std::int32_t> symbols,
                                                    std::span<const std::uint32_t> tile_levels = {});

// Reads and fully validates a container (magic, version, header, sizes, limits, CRC-32C of the file,
// zstd frame, decompressed size, payload CRC-32C, every value finite). Throws FormatError:
// kCorrupt, kChecksum, kUnsupported (newer version, other precision or channel count) or kLimit.
Container read_container(std::span<const std::uint8_t> bytes, const ReadLimits& limits = {});

// read_container tile by tile, for a reader that uses each tile's values as they come instead of
// holding them all (the codec renders tiles while later ones are still being decoded). The
// constructor runs every check read_container runs before it decodes a value: magic, version,
// header, limits, the file's CRC-32C, the payload's CRC-32C (fp16: the zstd frame is decompressed
// and every value checked, all up front). next_tile() then yields the next tile's values, exactly
// read_container's. A quantized payload is range-decoded as the tiles are asked for, so damage inside
// the coded stream (which a writer's bug or a crafted file with matching CRCs can carry) throws
// FormatError(kCorrupt) from the next_tile that reaches it, or from the last one, which checks the
// coder's flush and that no bytes are left over. `bytes` must outlive the reader.
class TileReader {
 public:
  explicit TileReader(std::span<const std::uint8_t> bytes, const ReadLimits& limits = {});
  ~TileReader();
  TileReader(TileReader&&) noexcept;
  TileReader& operator=(TileReader&&) noexcept;

  const ContainerHeader& header() const;
  std::uint32_t tiles_read() const;
  // The next tile's values into the front of `values` (as Container::values), and for a quantized
  // payload its integers into the front of `symbols` when that is not empty; returns how many (always
  // header().values_per_tile, except with per-tile levels). Both spans must hold values_per_tile.
  // Throws FormatError(kInvalidArgument) on short spans or when every tile has been read.
  std::size_t next_tile(std::span<float> values, std::span<std::int32_t> symbols = {});
  // The level of the tile next_tile last returned (header().level without per-tile levels).
  std::uint32_t tile_level() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Everything read_container checks except decompressing the payload (so the payload CRC and the
// values are not checked): for `msinr info`.
ContainerHeader peek_header(std::span<const std::uint8_t> bytes, const ReadLimits& limits = {});

}  // namespace msinr::format
