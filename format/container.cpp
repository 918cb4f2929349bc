#include "format/container.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "format/checksum.hpp"
#include "format/detail/framing.hpp"
#include "format/entropy/symbol_coder.hpp"
#include "format/half.hpp"
#include "msinr_format.pb.h"

namespace msinr::format {
namespace {

using detail::fail;

constexpr detail::FileKindInfo kKind{"container", &kContainerMagic, kContainerVersion, 4096};

std::string str(std::uint64_t v) { return std::to_string(v); }

// Checks every rule on the fields a caller sets. When `writing`, every violation is the caller's
// (kInvalidArgument); when reading, it is the file's (kCorrupt, kUnsupported or kLimit).
void validate_fields(const ContainerHeader& h, const ReadLimits& limits, bool writing) {
  auto bad = [writing](FormatErrorCode code, const std::string& message) {
    fail(writing ? FormatErrorCode::kInvalidArgument : code, "container " + message);
  };
  if (h.channels != 3) {
    bad(FormatErrorCode::kUnsupported, "has " + str(h.channels) + " channels; format version 1 stores 3 (RGB)");
  }
  if (h.precision != Precision::kFp16 && h.precision != Precision::kQuantized) {
    bad(FormatErrorCode::kUnsupported, "precision " + str(static_cast<std::uint32_t>(h.precision)) +
                                           " is not supported (1 = fp16, 2 = quantized)");
  }
  if (h.precision == Precision::kFp16 && (!h.group_sizes.empty() || !h.quant_steps.empty())) {
    bad(FormatErrorCode::kCorrupt, "is fp16 but has quantizer groups");
  }
  if (h.width == 0 || h.height == 0) {
    bad(FormatErrorCode::kCorrupt, "has an empty image size " + str(h.width) + "x" + str(h.height));
  }
  if (h.width > limits.max_dimension || h.height > limits.max_dimension) {
    bad(FormatErrorCode::kLimit, "image size " + str(h.width) + "x" + str(h.height) + " exceeds the limit of " +
                                     str(limits.max_dimension) + " pixels per side");
  }
  const std::uint64_t pixels = static_cast<std::uint64_t>(h.width) * h.height;
  if (pixels > limits.max_pixels) {
    bad(FormatErrorCode::kLimit, "image size " + str(h.width) + "x" + str(h.height) + " has " + str(pixels) +
                                     " pixels, more than the limit of " + str(limits.max_pixels));
  }
  if (h.tile_size == 0) bad(FormatErrorCode::kCorrupt, "has tile size 0");
  if (h.tile_size > limits.max_tile_size) {
    bad(FormatErrorCode::kLimit,
        "tile size " + str(h.tile_size) + " exceeds the limit of " + str(limits.max_tile_size));
  }
  if (h.merged_edges() && !(valid_tiles_along(h.tiles_across, h.width, h.tile_size) &&
                             valid_tiles_along(h.tiles_down, h.height, h.tile_size))) {
    bad(FormatErrorCode::kCorrupt, "says " + str(h.tiles_across) + " x " + str(h.tiles_down) + " tiles, which cannot cover a " +
                                       str(h.width) + "x" + str(h.height) + " image in tiles of " + str(h.tile_size));
  }
  const std::uint64_t tiles = tile_count_for(h);
  if (h.tile_count != tiles) {
    bad(FormatErrorCode::kCorrupt, "says " + str(h.tile_count) + " tiles but a " + str(h.width) + "x" +
                                       str(h.height) + " image in tiles of " + str(h.tile_size) + " has " +
                                       str(tiles));
  }
  if (h.values_per_tile == 0) bad(FormatErrorCode::kCorrupt, "has 0 values per tile");
  if (h.values_per_tile > limits.max_values_per_tile) {
    bad(FormatErrorCode::kLimit, str(h.values_per_tile) + " values per tile exceed the limit of " +
                                     str(limits.max_values_per_tile));
  }
  if (h.precision != Precision::kQuantized && (!h.tile_level_set.empty() || !h.level_group_sizes.empty())) {
    bad(FormatErrorCode::kCorrupt, "is fp16 but has per-tile levels");
  }
  if (h.precision == Precision::kQuantized) {
    const std::size_t groups = h.quant_steps.size();
    if (groups == 0 || groups > kMaxQuantGroups) {
      bad(FormatErrorCode::kCorrupt, "is quantized with " + str(groups) + " groups (1.." + str(kMaxQuantGroups) + ")");
    }
    for (float step : h.quant_steps) {
      if (!std::isfinite(step) || !(step > 0.0f) || step > kMaxQuantStep) {
        bad(FormatErrorCode::kCorrupt, "has a quantizer step " + std::to_string(step) + " (must be in (0, 2^20])");
      }
    }
    if (h.per_tile_levels()) {
      if (!h.group_sizes.empty()) bad(FormatErrorCode::kCorrupt, "has per-tile levels and one level's groups");
      if (h.tile_level_set.size() > kMaxTileLevels) {
        bad(FormatErrorCode::kCorrupt, "lets tiles choose from " + str(h.tile_level_set.size()) + " levels (1.." +
                                           str(kMaxTileLevels) + ")");
      }
      for (std::size_t k = 0; k < h.tile_level_set.size(); ++k) {
        if (h.tile_level_set[k] > limits.max_level) {
          bad(FormatErrorCode::kLimit, "tile level " + str(h.tile_level_set[k]) + " exceeds the limit of " +
                                           str(limits.max_level));
        }
        if (k > 0 && h.tile_level_set[k] <= h.tile_level_set[k - 1]) {
          bad(FormatErrorCode::kCorrupt, "tile levels are not strictly ascending");
        }
      }
      if (h.level_group_sizes.size() != h.tile_level_set.size() * groups) {
        bad(FormatErrorCode::kCorrupt, "has " + str(h.level_group_sizes.size()) + " level group sizes for " +
                                           str(h.tile_level_set.size()) + " levels of " + str(groups) + " groups");
      }
      std::uint64_t largest = 0;
      for (std::size_t k = 0; k < h.tile_level_set.size(); ++k) {
        std::uint64_t sum = 0;
        for (std::size_t g = 0; g < groups; ++g) sum += h.level_group_sizes[k * groups + g];
        if (sum == 0) bad(FormatErrorCode::kCorrupt, "has a tile level with no values");
        largest = std::max(largest, sum);
      }
      if (largest != h.values_per_tile) {
        bad(FormatErrorCode::kCorrupt, "has at most " + str(largest) + " values per tile, not " + str(h.values_per_tile));
      }
    } else {
      if (!h.level_group_sizes.empty()) bad(FormatErrorCode::kCorrupt, "has level group sizes but no tile levels");
      if (h.group_sizes.size() != groups) {
        bad(FormatErrorCode::kCorrupt, "has " + str(groups) + " quantizer steps for " + str(h.group_sizes.size()) +
                                           " groups");
      }
      std::uint64_t sum = 0;
      for (std::uint32_t n : h.group_sizes) sum += n;
      if (sum != h.values_per_tile) {
        bad(FormatErrorCode::kCorrupt, "quantizer groups hold " + str(sum) + " values per tile, not " +
                                           str(h.values_per_tile));
      }
    }
  }
  if (h.level > limits.max_level) {
    bad(FormatErrorCode::kLimit, "level " + str(h.level) + " exceeds the limit of " + str(limits.max_level));
  }
  // Both factors are below 2^32, so the product fits; its doubling is bounded by the limit (and by
  // 2^64 whatever limit a caller sets), so payload sizes below never overflow.
  const std::uint64_t values = static_cast<std::uint64_t>(h.tile_count) * h.values_per_tile;
  if (values > limits.max_payload_raw_bytes / 2 || values > std::numeric_limits<std::uint64_t>::max() / 2) {
    bad(FormatErrorCode::kLimit, "payload of " + str(values) + " values exceeds the limit of " +
                                     str(limits.max_payload_raw_bytes) + " bytes");
  }
}

// The rules on the fields the writer computes.
void validate_payload_fields(const ContainerHeader& h) {
  if (h.precision == Precision::kQuantized) {
    // The coded symbols are the payload: nothing is decompressed, so both sizes are its length.
    if (h.payload_raw_size != h.payload_compressed_size || h.payload_compressed_size < 4) {
      fail(FormatErrorCode::kCorrupt, "quantized container says its payload is " + str(h.payload_raw_size) + " / " +
                                          str(h.payload_compressed_size) + " bytes (both must be the coded length, >= 4)");
    }
    return;
  }
  const std::uint64_t raw = static_cast<std::uint64_t>(h.tile_count) * h.values_per_tile * 2;
  if (h.payload_raw_size != raw) {
    fail(FormatErrorCode::kCorrupt, "container says its payload is " + str(h.payload_raw_size) + " bytes but " +
                                        str(h.tile_count) + " tiles of " + str(h.values_per_tile) +
                                        " fp16 values make " + str(raw));
  }
  // A zstd frame is at least 9 bytes and cannot expand by more than kMaxZstdRatio.
  if (h.payload_compressed_size < 9 ||
      h.payload_compressed_size < (raw + detail::kMaxZstdRatio - 1) / detail::kMaxZstdRatio) {
    fail(FormatErrorCode::kCorrupt, "container says " + str(h.payload_compressed_size) +
                                        " compressed bytes hold " + str(raw) + ", which no zstd frame can");
  }
}

ContainerHeader from_proto(const pb::ContainerHeader& p) {
  ContainerHeader h;
  h.width = p.width();
  h.height = p.height();
  h.channels = p.channels();
  h.tile_size = p.tile_size();
  if (p.model_id().size() != h.model_id.size()) {
    fail(FormatErrorCode::kCorrupt,
         "container model id is " + str(p.model_id().size()) + " bytes; it must be 32");
  }
  std::memcpy(h.model_id.data(), p.model_id().data(), h.model_id.size());
  h.level = p.level();
  h.precision = static_cast<Precision>(static_cast<std::uint32_t>(p.precision()));
  h.steps = p.steps();
  h.tile_count = p.tile_count();
  h.values_per_tile = p.values_per_tile();
  h.payload_raw_size = p.payload_raw_size();
  h.payload_compressed_size = p.payload_compressed_size();
  h.payload_crc = p.payload_crc();
  if (p.group_sizes_size() > static_cast<int>(kMaxQuantGroups) || p.quant_steps_size() > static_cast<int>(kMaxQuantGroups)) {
    fail(FormatErrorCode::kCorrupt, "container declares more than " + str(kMaxQuantGroups) + " quantizer groups");
  }
  h.group_sizes.assign(p.group_sizes().begin(), p.group_sizes().end());
  h.quant_steps.assign(p.quant_steps().begin(), p.quant_steps().end());
  if (p.tile_level_set_size() > static_cast<int>(kMaxTileLevels) ||
      p.level_group_sizes_size() > static_cast<int>(kMaxTileLevels * kMaxQuantGroups)) {
    fail(FormatErrorCode::kCorrupt, "container declares more than " + str(kMaxTileLevels) + " tile levels");
  }
  h.tile_level_set.assign(p.tile_level_set().begin(), p.tile_level_set().end());
  h.level_group_sizes.assign(p.level_group_sizes().begin(), p.level_group_sizes().end());
  h.tiles_across = p.tiles_across();
  h.tiles_down = p.tiles_down();
  return h;
}

pb::ContainerHeader to_proto(const ContainerHeader& h) {
  pb::ContainerHeader p;
  p.set_width(h.width);
  p.set_height(h.height);
  p.set_channels(h.channels);
  p.set_tile_size(h.tile_size);
  p.set_model_id(std::string(h.model_id.begin(), h.model_id.end()));
  p.set_level(h.level);
  p.set_precision(static_cast<pb::Precision>(h.precision));
  p.set_steps(h.steps);
  p.set_tile_count(h.tile_count);
  p.set_values_per_tile(h.values_per_tile);
  p.set_payload_raw_size(h.payload_raw_size);
  p.set_payload_compressed_size(h.payload_compressed_size);
  p.set_payload_crc(h.payload_crc);
  for (std::uint32_t n : h.group_sizes) p.add_group_sizes(n);
  for (float step : h.quant_steps) p.add_quant_steps(step);
  for (std::uint32_t level : h.tile_level_set) p.add_tile_level_set(level);
  for (std::uint32_t n : h.level_group_sizes) p.add_level_group_sizes(n);
  p.set_tiles_across(h.tiles_across);
  p.set_tiles_down(h.tiles_down);
  return p;
}

struct Parsed {
  ContainerHeader header;
  std::span<const std::uint8_t> frame;
};

// Everything up to (not including) decompression.
Parsed parse(std::span<const std::uint8_t> bytes, const ReadLimits& limits) {
  const std::span<const std::uint8_t> header_bytes = detail::read_preamble(bytes, kKind);
  pb::ContainerHeader p;
  if (!p.ParseFromArray(header_bytes.data(), static_cast<int>(header_bytes.size()))) {
    fail(FormatErrorCode::kCorrupt, "container header is not a valid protobuf message");
  }
  // Sizes and the file checksum first, so damage reads as damage rather than as an odd field.
  Parsed out;
  out.frame = detail::check_body(bytes, header_bytes.size(), p.payload_compressed_size(), kKind);
  out.header = from_proto(p);
  const unsigned version = bytes[8] | (static_cast<unsigned>(bytes[9]) << 8);  // read_preamble checked it
  if (version < 2 && out.header.precision == Precision::kQuantized) {
    fail(FormatErrorCode::kCorrupt, "container version 1 cannot hold a quantized payload (a version 2 feature)");
  }
  if (version < 3 && (!out.header.tile_level_set.empty() || !out.header.level_group_sizes.empty())) {
    fail(FormatErrorCode::kCorrupt, "container version " + str(version) + " cannot hold per-tile levels (a version 3 feature)");
  }
  if (version < 4 && out.header.merged_edges()) {
    fail(FormatErrorCode::kCorrupt, "container version " + str(version) + " cannot merge edge tiles (a version 4 feature)");
  }
  validate_fields(out.header, limits, /*writing=*/false);
  validate_payload_fields(out.header);
  return out;
}

}  // namespace

std::span<const std::uint32_t> ContainerHeader::groups_of(std::size_t k) const {
  if (!per_tile_levels()) return group_sizes;
  return std::span<const std::uint32_t>(level_group_sizes).subspan(k * quant_steps.size(), quant_steps.size());
}

std::uint32_t ContainerHeader::values_of(std::size_t k) const {
  if (!per_tile_levels()) return values_per_tile;
  std::uint32_t n = 0;
  for (std::uint32_t g : groups_of(k)) n += g;
  return n;
}

std::uint64_t tile_count_for(std::uint32_t width, std::uint32_t height, std::uint32_t tile_size) noexcept {
  if (width == 0 || height == 0 || tile_size == 0) return 0;
  const std::uint64_t across = (static_cast<std::uint64_t>(width) + tile_size - 1) / tile_size;
  const std::uint64_t down = (static_cast<std::uint64_t>(height) + tile_size - 1) / tile_size;
  return across * down;
}

std::uint32_t grid_tiles_along(std::uint32_t length, std::uint32_t tile_size) noexcept {
  if (length == 0 || tile_size == 0) return 0;
  return static_cast<std::uint32_t>((static_cast<std::uint64_t>(length) + tile_size - 1) / tile_size);
}

bool valid_tiles_along(std::uint32_t n, std::uint32_t length, std::uint32_t tile_size) noexcept {
  const std::uint32_t grid = grid_tiles_along(length, tile_size);
  if (n == 0 || grid == 0) return false;
  if (n == grid) return true;
  // One fewer: the grid's partial last tile joins the one before it (never a whole one: a last tile
  // of 2 tile_size would be two tiles stretched into one).
  return n + 1 == grid && length % tile_size != 0;
}

std::uint64_t tile_count_for(const ContainerHeader& h) noexcept {
  if (!h.merged_edges()) return tile_count_for(h.width, h.height, h.tile_size);
  return static_cast<std::uint64_t>(h.tiles_across) * h.tiles_down;
}

std::vector<std::uint8_t> write_container(const ContainerHeader& header, std::span<const float> values,
                                          int zstd_level) {
  validate_fields(header, ReadLimits{}, /*writing=*/true);
  const std::uint64_t expected = static_cast<std::uint64_t>(header.tile_count) * header.values_per_tile;
  if (values.size() != expected) {
    fail(FormatErrorCode::kInvalidArgument, "write_container: " + str(values.size()) + " values given but " +
                                                str(header.tile_count) + " tiles of " +
                                                str(header.values_per_tile) + " need " + str(expected));
  }
  std::vector<std::uint16_t> halves(values.size());
  floats_to_halves(values, halves);
  std::vector<std::uint8_t> raw(values.size() * 2);
  for (std::size_t i = 0; i < halves.size(); ++i) {
    if (!half_is_finite(halves[i])) {
      fail(FormatErrorCode::kInvalidArgument,
           "write_container: value " + str(i) + " (" + std::to_string(values[i]) +
               ") is not representable in fp16 (NaN, or magnitude >= 65520)");
    }
    raw[2 * i] = static_cast<std::uint8_t>(halves[i]);
    raw[2 * i + 1] = static_cast<std::uint8_t>(halves[i] >> 8);
  }
  const std::vector<std::uint8_t> frame = detail::zstd_compress(raw, zstd_level);
  ContainerHeader h = header;
  h.payload_raw_size = raw.size();
  h.payload_compressed_size = frame.size();
  h.payload_crc = crc32c(raw);
  validate_payload_fields(h);
  const std::string header_bytes = to_proto(h).SerializeAsString();
  return detail::assemble(kContainerMagic, h.merged_edges() ? 4 : 1,
                          std::span(reinterpret_cast<const std::uint8_t*>(header_bytes.data()), header_bytes.size()),
                          frame);
}

std::vector<std::uint8_t> write_quantized_container(const ContainerHeader& header,
                                                    std::span<const std::int32_t> symbols,
                                                    std::span<const std::uint32_t> tile_levels) {
  ContainerHeader h = header;
  h.precision = Precision::kQuantized;
  validate_fields(h, ReadLimits{}, /*writing=*/true);
  const bool per_tile = h.per_tile_levels();
  if (per_tile ? tile_levels.size() != h.tile_count : !tile_levels.empty()) {
    fail(FormatErrorCode::kInvalidArgument, "write_quantized_container: " + str(tile_levels.size()) + " tile levels given for " +
                                                str(h.tile_count) + " tiles" + (per_tile ? "" : " without a tile level set"));
  }
  // Each coded symbol's context group: with per-tile levels a tile's level (its position in the set,
  // context group G) comes first, then its values.
  const auto G = static_cast<std::uint16_t>(h.quant_steps.size());
  std::vector<std::int32_t> coded_symbols;
  std::vector<std::uint16_t> groups;
  coded_symbols.reserve(symbols.size() + (per_tile ? h.tile_count : 0));
  groups.reserve(coded_symbols.capacity());
  std::size_t next = 0;
  for (std::uint32_t t = 0; t < h.tile_count; ++t) {
    std::size_t k = 0;
    if (per_tile) {
      const auto at = std::find(h.tile_level_set.begin(), h.tile_level_set.end(), tile_levels[t]);
      if (at == h.tile_level_set.end()) {
        fail(FormatErrorCode::kInvalidArgument, "write_quantized_container: tile " + str(t) + "'s level " +
                                                    str(tile_levels[t]) + " is not in the tile level set");
      }
      k = static_cast<std::size_t>(at - h.tile_level_set.begin());
      coded_symbols.push_back(static_cast<std::int32_t>(k));
      groups.push_back(G);
    }
    const auto sizes = h.groups_of(k);
    for (std::size_t g = 0; g < sizes.size(); ++g) {
      if (symbols.size() - next < sizes[g]) {
        fail(FormatErrorCode::kInvalidArgument, "write_quantized_container: " + str(symbols.size()) +
                                                    " symbols given, fewer than the tiles need");
      }
      coded_symbols.insert(coded_symbols.end(), symbols.begin() + static_cast<std::ptrdiff_t>(next),
                           symbols.begin() + static_cast<std::ptrdiff_t>(next + sizes[g]));
      groups.insert(groups.end(), sizes[g], static_cast<std::uint16_t>(g));
      next += sizes[g];
    }
  }
  if (next != symbols.size()) {
    fail(FormatErrorCode::kInvalidArgument, "write_quantized_container: " + str(symbols.size()) +
                                                " symbols given but the tiles need " + str(next));
  }
  const std::vector<std::uint8_t> coded = entropy::encode_symbols(coded_symbols, groups, G + (per_tile ? 1 : 0));
  h.payload_raw_size = coded.size();
  h.payload_compressed_size = coded.size();
  h.payload_crc = crc32c(coded);
  validate_payload_fields(h);
  const std::string header_bytes = to_proto(h).SerializeAsString();
  if (header_bytes.size() > kKind.max_header_bytes) {
    fail(FormatErrorCode::kInvalidArgument, "container header would be " + str(header_bytes.size()) + " bytes");
  }
  return detail::assemble(kContainerMagic, h.merged_edges() ? 4 : per_tile ? 3 : 2,
                          std::span(reinterpret_cast<const std::uint8_t*>(header_bytes.data()), header_bytes.size()),
                          coded);
}

ContainerHeader peek_header(std::span<const std::uint8_t> bytes, const ReadLimits& limits) {
  const Parsed parsed = parse(bytes, limits);
  if (parsed.header.precision == Precision::kFp16)
    detail::zstd_check_frame(parsed.frame, parsed.header.payload_raw_size, kKind);
  return parsed.header;
}

struct TileReader::State {
  ContainerHeader header;
  std::uint32_t tiles_read = 0;
  std::uint32_t tile_level = 0;  // the level of the tile last read
  // kQuantized: the range decoder over the payload.
  std::unique_ptr<entropy::SymbolDecoder> symbols;
  std::vector<std::int32_t> scratch;  // a tile's integers when the caller wants only the values
  // kFp16: the whole payload, decompressed and checked by the constructor.
  std::vector<std::uint16_t> halves;
};

TileReader::TileReader(std::span<const std::uint8_t> bytes, const ReadLimits& limits) : state_(std::make_unique<State>()) {
  Parsed parsed = parse(bytes, limits);
  const ContainerHeader& h = state_->header = parsed.header;
  if (h.precision == Precision::kQuantized) {
    const std::uint32_t crc = crc32c(parsed.frame);
    if (crc != h.payload_crc && detail::kEnforceChecksums) {
      fail(FormatErrorCode::kChecksum, "container payload checksum mismatch (CRC-32C stored " +
                                           detail::hex32(h.payload_crc) + ", computed " + detail::hex32(crc) + ")");
    }
    state_->symbols = std::make_unique<entropy::SymbolDecoder>(
        parsed.frame, static_cast<int>(h.quant_steps.size()) + (h.per_tile_levels() ? 1 : 0));
    return;
  }
  const std::vector<std::uint8_t> raw = detail::zstd_decompress_exact(parsed.frame, h.payload_raw_size, kKind);
  const std::uint32_t crc = crc32c(raw);
  if (crc != h.payload_crc && detail::kEnforceChecksums) {
    fail(FormatErrorCode::kChecksum, "container payload checksum mismatch (CRC-32C stored " +
                                         detail::hex32(h.payload_crc) + ", computed " + detail::hex32(crc) + ")");
  }
  const std::size_t count = raw.size() / 2;
  std::vector<std::uint16_t>& halves = state_->halves;
  halves.resize(count);
  for (std::size_t i = 0; i < count; ++i) {
    halves[i] = detail::get_le16(raw.data() + 2 * i);
    if (!half_is_finite(halves[i])) {
      fail(FormatErrorCode::kCorrupt, "container value " + str(i) + " is not finite (fp16 bits " +
                                          detail::hex32(halves[i]) + ")");
    }
  }
}

TileReader::~TileReader() = default;
TileReader::TileReader(TileReader&&) noexcept = default;
TileReader& TileReader::operator=(TileReader&&) noexcept = default;

const ContainerHeader& TileReader::header() const { return state_->header; }
std::uint32_t TileReader::tiles_read() const { return state_->tiles_read; }

std::uint32_t TileReader::tile_level() const { return state_->tile_level; }

std::size_t TileReader::next_tile(std::span<float> values, std::span<std::int32_t> symbols) {
  State& s = *state_;
  const ContainerHeader& h = s.header;
  const std::size_t most = h.values_per_tile;
  if (s.tiles_read >= h.tile_count) fail(FormatErrorCode::kInvalidArgument, "TileReader: every tile has been read");
  if (values.size() < most || (!symbols.empty() && (symbols.size() < most || h.precision != Precision::kQuantized))) {
    fail(FormatErrorCode::kInvalidArgument, "TileReader: a tile has up to " + str(most) + " values; spans of " +
                                                str(values.size()) + " and " + str(symbols.size()) + " given");
  }
  s.tile_level = h.level;
  if (h.precision == Precision::kQuantized) {
    if (symbols.empty()) {
      s.scratch.resize(most);
      symbols = s.scratch;
    }
    std::size_t k = 0;
    if (h.per_tile_levels()) {
      std::int32_t position = -1;
      s.symbols->next(static_cast<std::uint16_t>(h.quant_steps.size()), std::span<std::int32_t>(&position, 1));
      if (position < 0 || static_cast<std::size_t>(position) >= h.tile_level_set.size()) {
        fail(FormatErrorCode::kCorrupt, "container tile " + str(s.tiles_read) + " names tile level " +
                                            std::to_string(position) + " of " + str(h.tile_level_set.size()));
      }
      k = static_cast<std::size_t>(position);
      s.tile_level = h.tile_level_set[k];
    }
    const auto sizes = h.groups_of(k);
    std::size_t i = 0;
    for (std::size_t g = 0; g < sizes.size(); ++g) {
      const std::span<std::int32_t> run = symbols.subspan(i, sizes[g]);
      s.symbols->next(static_cast<std::uint16_t>(g), run);
      const float step = h.quant_steps[g];
      for (std::size_t j = 0; j < run.size(); ++j) values[i + j] = static_cast<float>(run[j]) * step;
      i += run.size();
    }
    if (++s.tiles_read == h.tile_count) s.symbols->finish();
    return i;
  }
  halves_to_floats(std::span<const std::uint16_t>(s.halves).subspan(static_cast<std::size_t>(s.tiles_read) * most, most),
                   values.first(most));
  ++s.tiles_read;
  return most;
}

Container read_container(std::span<const std::uint8_t> bytes, const ReadLimits& limits) {
  TileReader reader(bytes, limits);
  Container out;
  out.header = reader.header();
  const ContainerHeader& h = out.header;
  const std::size_t n = h.values_per_tile;
  const bool quantized = h.precision == Precision::kQuantized;
  // Per-tile levels: tiles hold up to n values, so the vectors grow tile by tile (bounded by n each).
  std::vector<float> values(n);
  std::vector<std::int32_t> symbols(quantized ? n : 0);
  out.values.reserve(h.per_tile_levels() ? n : static_cast<std::size_t>(h.tile_count) * n);
  for (std::uint32_t t = 0; t < h.tile_count; ++t) {
    const std::size_t got = reader.next_tile(values, symbols);
    out.values.insert(out.values.end(), values.begin(), values.begin() + static_cast<std::ptrdiff_t>(got));
    if (quantized) out.symbols.insert(out.symbols.end(), symbols.begin(), symbols.begin() + static_cast<std::ptrdiff_t>(got));
    if (h.per_tile_levels()) out.tile_levels.push_back(reader.tile_level());
  }
  return out;
}

}  // namespace msinr::format
