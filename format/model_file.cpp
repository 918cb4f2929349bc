#include "format/model_file.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>

#include "format/checksum.hpp"
#include "format/detail/framing.hpp"
#include "msinr_format.pb.h"

namespace msinr::format {
namespace {

using detail::fail;

constexpr detail::FileKindInfo kKind{"model file", &kModelMagic, kModelVersion, 1u << 20};
constexpr std::uint32_t kMaxFeatures = 4096;     // in, out, width, layers, Fourier features
constexpr std::uint32_t kMaxTileSize = 8192;
constexpr std::uint32_t kMaxLevelIndex = 63;
constexpr std::size_t kMaxTextBytes = 65536;
constexpr std::size_t kMaxNoteKeyBytes = 256;
constexpr std::size_t kMaxNotes = 256;
constexpr char kIdDomain[] = "msinr-model-id-1";  // 16 bytes, no terminator hashed

std::string str(std::uint64_t v) { return std::to_string(v); }

std::uint64_t level_raw_bytes(std::uint64_t param_count) { return (param_count + 7) / 8 + 4 * param_count; }

std::uint32_t arch_code_of(const std::string& arch) {
  if (arch == "siren") return 1;
  if (arch == "ffn") return 2;
  return 0;
}

// Checks everything but the payload contents. `writing` turns every violation into the caller's
// (kInvalidArgument); otherwise it is the file's.
void validate_model(const ModelFile& m, std::uint32_t arch_code, std::uint32_t param_count,
                    const ModelReadLimits& limits, bool writing) {
  auto bad = [writing](FormatErrorCode code, const std::string& message) {
    fail(writing ? FormatErrorCode::kInvalidArgument : code, "model file " + message);
  };
  if (arch_code != 1 && arch_code != 2) {
    bad(FormatErrorCode::kUnsupported, "architecture '" + m.arch + "' is not supported (siren or ffn)");
  }
  auto in_range = [&](const char* name, std::uint32_t v, std::uint32_t lo, std::uint32_t hi) {
    if (v < lo || v > hi) {
      bad(v > hi ? FormatErrorCode::kLimit : FormatErrorCode::kCorrupt,
          std::string(name) + " " + str(v) + " is outside " + str(lo) + ".." + str(hi));
    }
  };
  in_range("in_features", m.in_features, 1, kMaxFeatures);
  in_range("hidden_width", m.hidden_width, 1, kMaxFeatures);
  in_range("hidden_layers", m.hidden_layers, 1, kMaxFeatures);
  in_range("out_features", m.out_features, 1, kMaxFeatures);
  in_range("tile_size", m.tile_size, 1, kMaxTileSize);
  if (!std::isfinite(m.w0)) bad(FormatErrorCode::kCorrupt, "w0 is not finite");
  if (arch_code == 1) {
    if (!(m.w0 > 0.0f)) bad(FormatErrorCode::kCorrupt, "siren w0 " + std::to_string(m.w0) + " is not positive");
    if (!std::isfinite(m.w0_hidden) || !(m.w0_hidden >= 0.0f) || std::bit_cast<std::uint32_t>(m.w0_hidden) == 0x80000000u)
      bad(FormatErrorCode::kCorrupt, "siren w0_hidden " + std::to_string(m.w0_hidden) + " is not 0 or positive");
    if (m.fourier_features != 0 || std::bit_cast<std::uint32_t>(m.fourier_sigma) != 0) {
      bad(FormatErrorCode::kCorrupt, "siren has Fourier-feature settings (they must be 0)");
    }
  } else {
    if (!(m.w0 >= 0.0f)) bad(FormatErrorCode::kCorrupt, "w0 is negative");
    if (std::bit_cast<std::uint32_t>(m.w0_hidden) != 0) bad(FormatErrorCode::kCorrupt, "ffn has a w0_hidden (it must be 0)");
    in_range("fourier_features", m.fourier_features, 1, kMaxFeatures);
    if (!std::isfinite(m.fourier_sigma) || !(m.fourier_sigma > 0.0f)) {
      bad(FormatErrorCode::kCorrupt, "ffn fourier_sigma is not a positive finite number");
    }
  }
  if (m.levels.empty()) bad(FormatErrorCode::kCorrupt, "has no levels");
  if (m.levels.size() > limits.max_levels) {
    bad(FormatErrorCode::kLimit, "has " + str(m.levels.size()) + " levels, more than the limit of " +
                                     str(limits.max_levels));
  }
  if (param_count == 0) bad(FormatErrorCode::kCorrupt, "has 0 parameters");
  if (param_count > limits.max_param_count) {
    bad(FormatErrorCode::kLimit, "has " + str(param_count) + " parameters, more than the limit of " +
                                     str(limits.max_param_count));
  }
  // level_raw_bytes < 2^35 and the level count was bounded above, but a caller's limits may be
  // anything: refuse a product that would not fit in 64 bits too.
  const std::uint64_t per_level = level_raw_bytes(param_count);
  if (m.levels.size() > std::numeric_limits<std::uint64_t>::max() / per_level ||
      per_level * m.levels.size() > limits.max_payload_raw_bytes) {
    bad(FormatErrorCode::kLimit, "payload of " + str(m.levels.size()) + " levels of " + str(per_level) +
                                     " bytes exceeds the limit of " + str(limits.max_payload_raw_bytes));
  }
  for (std::size_t i = 0; i < m.levels.size(); ++i) {
    const ModelLevel& level = m.levels[i];
    if (level.index > kMaxLevelIndex) {
      bad(FormatErrorCode::kCorrupt, "level index " + str(level.index) + " exceeds " + str(kMaxLevelIndex));
    }
    if (i > 0 && level.index <= m.levels[i - 1].index) {
      bad(FormatErrorCode::kCorrupt, "level indices are not strictly increasing (" +
                                         str(m.levels[i - 1].index) + " then " + str(level.index) + ")");
    }
    if (!std::isfinite(level.val_psnr)) {
      bad(FormatErrorCode::kCorrupt, "level " + str(level.index) + " validation PSNR is not finite");
    }
  }
  const Provenance& p = m.provenance;
  auto text = [&](const char* name, const std::string& s, std::size_t max_bytes) {
    if (s.size() > max_bytes) {
      bad(FormatErrorCode::kLimit, std::string("provenance ") + name + " is " + str(s.size()) +
                                       " bytes, more than " + str(max_bytes));
    }
    if (!detail::is_valid_utf8(std::span(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()))) {
      bad(FormatErrorCode::kCorrupt, std::string("provenance ") + name + " is not valid UTF-8");
    }
  };
  text("data", p.data, kMaxTextBytes);
  text("recipe", p.recipe, kMaxTextBytes);
  text("created_by", p.created_by, kMaxTextBytes);
  if (!std::isfinite(p.wall_seconds) || p.wall_seconds < 0.0) {
    bad(FormatErrorCode::kCorrupt, "provenance wall_seconds is not a finite non-negative number");
  }
  if (p.notes.size() > kMaxNotes) {
    bad(FormatErrorCode::kLimit, "has " + str(p.notes.size()) + " provenance notes, more than " + str(kMaxNotes));
  }
  for (const auto& [key, value] : p.notes) {
    if (key.empty()) bad(FormatErrorCode::kCorrupt, "has a provenance note with an empty key");
    text("note key", key, kMaxNoteKeyBytes);
    text("note value", value, kMaxTextBytes);
  }
}

void append_le32(std::vector<std::uint8_t>& out, std::uint32_t v) { detail::put_le32(out, v); }

// The raw payload of a validated model whose masks are all 0/1 and of size param_count.
std::vector<std::uint8_t> build_payload(const ModelFile& m, std::uint32_t param_count) {
  const std::size_t mask_bytes = (static_cast<std::size_t>(param_count) + 7) / 8;
  std::vector<std::uint8_t> raw(level_raw_bytes(param_count) * m.levels.size());
  std::uint8_t* out = raw.data();
  for (const ModelLevel& level : m.levels) {
    std::memset(out, 0, mask_bytes);
    for (std::size_t i = 0; i < param_count; ++i) {
      if (level.mask[i]) out[i / 8] = static_cast<std::uint8_t>(out[i / 8] | (1u << (i % 8)));
    }
    out += mask_bytes;
    for (std::size_t i = 0; i < param_count; ++i) {
      const std::uint32_t bits = std::bit_cast<std::uint32_t>(level.init[i]);
      for (int b = 0; b < 4; ++b) *out++ = static_cast<std::uint8_t>(bits >> (8 * b));
    }
  }
  return raw;
}

ModelId hash_identity(const ModelFile& m, std::uint32_t arch_code, std::uint32_t param_count,
                      std::span<const std::uint8_t> raw) {
  std::vector<std::uint8_t> prefix(kIdDomain, kIdDomain + 16);
  append_le32(prefix, arch_code);
  append_le32(prefix, m.in_features);
  append_le32(prefix, m.hidden_width);
  append_le32(prefix, m.hidden_layers);
  append_le32(prefix, m.out_features);
  append_le32(prefix, std::bit_cast<std::uint32_t>(m.w0));
  append_le32(prefix, m.fourier_features);
  append_le32(prefix, std::bit_cast<std::uint32_t>(m.fourier_sigma));
  append_le32(prefix, m.tile_size);
  append_le32(prefix, param_count);
  append_le32(prefix, static_cast<std::uint32_t>(m.levels.size()));
  for (const ModelLevel& level : m.levels) append_le32(prefix, level.index);
  if (std::bit_cast<std::uint32_t>(m.w0_hidden) != 0) append_le32(prefix, std::bit_cast<std::uint32_t>(m.w0_hidden));
  if (m.frozen_biases) {
    constexpr char kFrozen[] = "frozen-biases";
    prefix.insert(prefix.end(), kFrozen, kFrozen + sizeof(kFrozen) - 1);
  }
  Sha256 h;
  h.update(prefix);
  h.update(raw);
  return h.finish();
}

// Validates a model given to the writer, including its masks and init values.
std::uint32_t validate_for_writing(const ModelFile& m) {
  const std::uint32_t arch_code = arch_code_of(m.arch);
  const std::size_t p = m.levels.empty() ? 0 : m.levels[0].mask.size();
  if (p > 0xFFFFFFFFu) fail(FormatErrorCode::kInvalidArgument, "model file has too many parameters");
  const auto param_count = static_cast<std::uint32_t>(p);
  validate_model(m, arch_code, param_count, ModelReadLimits{}, /*writing=*/true);
  for (const ModelLevel& level : m.levels) {
    if (level.mask.size() != param_count || level.init.size() != param_count) {
      fail(FormatErrorCode::kInvalidArgument,
           "model file level " + str(level.index) + " has " + str(level.mask.size()) + " mask entries and " +
               str(level.init.size()) + " init values; every level needs " + str(param_count) + " of each");
    }
    for (std::size_t i = 0; i < param_count; ++i) {
      if (level.mask[i] > 1) {
        fail(FormatErrorCode::kInvalidArgument,
             "model file level " + str(level.index) + " mask entry " + str(i) + " is neither 0 nor 1");
      }
      if (!std::isfinite(level.init[i])) {
        fail(FormatErrorCode::kInvalidArgument,
             "model file level " + str(level.index) + " init value " + str(i) + " is not finite");
      }
    }
  }
  return param_count;
}

ModelFile from_proto(const pb::ModelHeader& p, std::uint32_t& arch_code) {
  ModelFile m;
  arch_code = static_cast<std::uint32_t>(p.arch());
  m.arch = arch_code == 1 ? "siren" : arch_code == 2 ? "ffn" : "unknown(" + str(arch_code) + ")";
  m.in_features = p.in_features();
  m.hidden_width = p.hidden_width();
  m.hidden_layers = p.hidden_layers();
  m.out_features = p.out_features();
  m.w0 = p.w0();
  m.w0_hidden = p.w0_hidden();
  m.fourier_features = p.fourier_features();
  m.fourier_sigma = p.fourier_sigma();
  m.tile_size = p.tile_size();
  m.frozen_biases = p.frozen_biases();
  m.param_count = p.param_count();
  m.levels.reserve(static_cast<std::size_t>(std::min(p.levels_size(), 1024)));
  for (const pb::LevelInfo& l : p.levels()) {
    ModelLevel level;
    level.index = l.index();
    level.kept = l.kept();
    level.val_psnr = l.val_psnr();
    m.levels.push_back(std::move(level));
  }
  const pb::Provenance& pv = p.provenance();
  m.provenance.data = pv.data();
  m.provenance.recipe = pv.recipe();
  m.provenance.steps = pv.steps();
  m.provenance.seed = pv.seed();
  m.provenance.wall_seconds = pv.wall_seconds();
  m.provenance.created_by = pv.created_by();
  for (const pb::Note& n : pv.notes()) m.provenance.notes.emplace_back(n.key(), n.value());
  if (p.model_id().size() != m.model_id.size()) {
    fail(FormatErrorCode::kCorrupt, "model file id is " + str(p.model_id().size()) + " bytes; it must be 32");
  }
  std::memcpy(m.model_id.data(), p.model_id().data(), m.model_id.size());
  return m;
}

struct Parsed {
  ModelFile model;
  std::uint32_t arch_code = 0;
  std::uint64_t raw_size = 0;
  std::span<const std::uint8_t> frame;
};

Parsed parse(std::span<const std::uint8_t> bytes, const ModelReadLimits& limits) {
  const std::span<const std::uint8_t> header_bytes = detail::read_preamble(bytes, kKind);
  pb::ModelHeader p;
  if (!p.ParseFromArray(header_bytes.data(), static_cast<int>(header_bytes.size()))) {
    fail(FormatErrorCode::kCorrupt, "model file header is not a valid protobuf message");
  }
  Parsed out;
  out.frame = detail::check_body(bytes, header_bytes.size(), p.payload_compressed_size(), kKind);
  // Bound the level count before copying levels out of the message.
  if (static_cast<std::uint64_t>(p.levels_size()) > limits.max_levels) {
    fail(FormatErrorCode::kLimit, "model file has " + str(static_cast<std::uint64_t>(p.levels_size())) +
                                      " levels, more than the limit of " + str(limits.max_levels));
  }
  out.model = from_proto(p, out.arch_code);
  const ModelFile& m = out.model;
  const unsigned version = bytes[8] | (static_cast<unsigned>(bytes[9]) << 8);  // read_preamble checked it
  if (version < 2 && std::bit_cast<std::uint32_t>(m.w0_hidden) != 0)
    fail(FormatErrorCode::kCorrupt, "model file version 1 cannot have w0_hidden (a version 2 field)");
  if (version < 3 && m.frozen_biases)
    fail(FormatErrorCode::kCorrupt, "model file version " + str(version) + " cannot have frozen biases (a version 3 field)");
  validate_model(m, out.arch_code, m.param_count, limits, /*writing=*/false);
  for (const ModelLevel& level : m.levels) {
    if (level.kept > m.param_count) {
      fail(FormatErrorCode::kCorrupt, "model file level " + str(level.index) + " keeps " + str(level.kept) +
                                          " of " + str(m.param_count) + " parameters");
    }
  }
  out.raw_size = level_raw_bytes(m.param_count) * m.levels.size();
  if (p.payload_raw_size() != out.raw_size) {
    fail(FormatErrorCode::kCorrupt, "model file says its payload is " + str(p.payload_raw_size()) +
                                        " bytes but " + str(m.levels.size()) + " levels of " +
                                        str(m.param_count) + " parameters make " + str(out.raw_size));
  }
  const std::uint64_t compressed = p.payload_compressed_size();
  if (compressed < 9 || compressed < (out.raw_size + detail::kMaxZstdRatio - 1) / detail::kMaxZstdRatio) {
    fail(FormatErrorCode::kCorrupt, "model file says " + str(compressed) + " compressed bytes hold " +
                                        str(out.raw_size) + ", which no zstd frame can");
  }
  return out;
}

}  // namespace

ModelId compute_model_id(const ModelFile& model) {
  const std::uint32_t param_count = validate_for_writing(model);
  const std::vector<std::uint8_t> raw = build_payload(model, param_count);
  return hash_identity(model, arch_code_of(model.arch), param_count, raw);
}

std::string model_id_hex(const ModelId& id) { return to_hex(id); }

std::vector<std::uint8_t> write_model_file(const ModelFile& m, int zstd_level) {
  const std::uint32_t param_count = validate_for_writing(m);
  const std::uint32_t arch_code = arch_code_of(m.arch);
  const std::vector<std::uint8_t> raw = build_payload(m, param_count);
  const ModelId id = hash_identity(m, arch_code, param_count, raw);
  const std::vector<std::uint8_t> frame = detail::zstd_compress(raw, zstd_level);

  pb::ModelHeader p;
  p.set_arch(static_cast<pb::Arch>(arch_code));
  p.set_in_features(m.in_features);
  p.set_hidden_width(m.hidden_width);
  p.set_hidden_layers(m.hidden_layers);
  p.set_out_features(m.out_features);
  p.set_w0(m.w0);
  p.set_w0_hidden(m.w0_hidden);
  p.set_fourier_features(m.fourier_features);
  p.set_fourier_sigma(m.fourier_sigma);
  p.set_tile_size(m.tile_size);
  p.set_frozen_biases(m.frozen_biases);
  p.set_param_count(param_count);
  for (const ModelLevel& level : m.levels) {
    pb::LevelInfo* l = p.add_levels();
    l->set_index(level.index);
    std::uint32_t kept = 0;
    for (const std::uint8_t v : level.mask) kept += v;
    l->set_kept(kept);
    l->set_val_psnr(level.val_psnr);
  }
  pb::Provenance* pv = p.mutable_provenance();
  pv->set_data(m.provenance.data);
  pv->set_recipe(m.provenance.recipe);
  pv->set_steps(m.provenance.steps);
  pv->set_seed(m.provenance.seed);
  pv->set_wall_seconds(m.provenance.wall_seconds);
  pv->set_created_by(m.provenance.created_by);
  for (const auto& [key, value] : m.provenance.notes) {
    pb::Note* n = pv->add_notes();
    n->set_key(key);
    n->set_value(value);
  }
  p.set_model_id(std::string(id.begin(), id.end()));
  p.set_payload_raw_size(raw.size());
  p.set_payload_compressed_size(frame.size());
  const std::string header = p.SerializeAsString();
  if (header.size() > kKind.max_header_bytes) {
    fail(FormatErrorCode::kInvalidArgument, "model file header would be " + str(header.size()) +
                                                " bytes, more than " + str(kKind.max_header_bytes));
  }
  const std::uint16_t version = m.frozen_biases                                  ? std::uint16_t{3}
                                : std::bit_cast<std::uint32_t>(m.w0_hidden) != 0 ? std::uint16_t{2}
                                                                                 : std::uint16_t{1};
  return detail::assemble(kModelMagic, version,
                          std::span(reinterpret_cast<const std::uint8_t*>(header.data()), header.size()), frame);
}

ModelFile peek_model_file(std::span<const std::uint8_t> bytes, const ModelReadLimits& limits) {
  Parsed parsed = parse(bytes, limits);
  detail::zstd_check_frame(parsed.frame, parsed.raw_size, kKind);
  return std::move(parsed.model);
}

ModelFile read_model_file(std::span<const std::uint8_t> bytes, const ModelReadLimits& limits) {
  Parsed parsed = parse(bytes, limits);
  ModelFile& m = parsed.model;
  const std::vector<std::uint8_t> raw = detail::zstd_decompress_exact(parsed.frame, parsed.raw_size, kKind);
  const std::uint32_t param_count = m.param_count;
  const std::size_t mask_bytes = (static_cast<std::size_t>(param_count) + 7) / 8;
  const std::uint8_t* in = raw.data();
  for (ModelLevel& level : m.levels) {
    level.mask.resize(param_count);
    std::uint32_t kept = 0;
    for (std::size_t i = 0; i < param_count; ++i) {
      const std::uint8_t bit = (in[i / 8] >> (i % 8)) & 1u;
      level.mask[i] = bit;
      kept += bit;
    }
    if (param_count % 8 != 0 && (in[mask_bytes - 1] >> (param_count % 8)) != 0) {
      fail(FormatErrorCode::kCorrupt, "model file level " + str(level.index) + " mask has non-zero padding bits");
    }
    if (kept != level.kept) {
      fail(FormatErrorCode::kCorrupt, "model file level " + str(level.index) + " mask keeps " + str(kept) +
                                          " parameters but the header says " + str(level.kept));
    }
    in += mask_bytes;
    level.init.resize(param_count);
    for (std::size_t i = 0; i < param_count; ++i) {
      const float v = std::bit_cast<float>(detail::get_le32(in));
      in += 4;
      if (!std::isfinite(v)) {
        fail(FormatErrorCode::kCorrupt,
             "model file level " + str(level.index) + " init value " + str(i) + " is not finite");
      }
      level.init[i] = v;
    }
  }
  const ModelId id = hash_identity(m, parsed.arch_code, param_count, raw);
  if (id != m.model_id && detail::kEnforceChecksums) {
    fail(FormatErrorCode::kCorrupt, "model file content hash mismatch: the header says " +
                                        model_id_hex(m.model_id) + ", the content hashes to " + model_id_hex(id));
  }
  return std::move(parsed.model);
}

}  // namespace msinr::format
