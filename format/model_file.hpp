#pragma once
// The .msm model file: an architecture, the tile size it was trained for, every sparsity level's
// mask and initial parameter values, and how it was made. Byte layout and rules: docs/format.md.
//
//   magic "\x89MSMOD\r\n" | u16 LE version (1) | u32 LE header length | protobuf ModelHeader |
//   zstd frame of the payload | u32 LE CRC-32C of everything before it
//
// Payload, per level in order: the mask bit-packed (ceil(P / 8) bytes, parameter i in bit i % 8 of
// byte i / 8, LSB first, padding bits zero), then the P init values as float32 little-endian.
//
// A model is identified by its content hash (ModelId), SHA-256 over the bytes that decide how it
// decodes (see compute_model_id); provenance is not part of it.
#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "format/error.hpp"
#include "format/magic.hpp"

namespace msinr::format {

// kModelMagic: format/magic.hpp.
// Version 2 adds w0_hidden, version 3 frozen_biases. The writer writes the lowest version that can
// hold the model (1 without either field), so older models stay byte-identical and readable by
// older builds; a reader refuses a field its file's version cannot have.
inline constexpr std::uint16_t kModelVersion = 3;
inline constexpr int kModelZstdLevel = 9;

using ModelId = std::array<std::uint8_t, 32>;

struct ModelLevel {
  std::uint32_t index = 0;         // pruning round (0 = dense); strictly increasing over levels, < 64
  std::vector<std::uint8_t> mask;  // one byte per parameter, 0 or 1 (1 = kept); size = param count
  std::vector<float> init;         // initial parameters, size = param count, all finite
  float val_psnr = 0.0f;           // validation PSNR (dB) after training, finite (0 = not measured)
  std::uint32_t kept = 0;          // set mask bits: filled in by the readers, ignored by the writer
};

struct Provenance {
  std::string data;        // UTF-8 (every string: at most 65536 bytes)
  std::string recipe;      // UTF-8
  std::uint64_t steps = 0; // outer training steps in all
  std::uint64_t seed = 0;
  double wall_seconds = 0.0;  // finite, >= 0
  std::string created_by;     // UTF-8, e.g. "msinr 0.1.0"
  std::vector<std::pair<std::string, std::string>> notes;  // at most 256; keys 1..256 bytes UTF-8

  bool operator==(const Provenance&) const = default;
};

struct ModelFile {
  std::string arch = "siren";  // "siren" or "ffn"
  std::uint32_t in_features = 2;
  std::uint32_t hidden_width = 256;
  std::uint32_t hidden_layers = 4;
  std::uint32_t out_features = 3;
  float w0 = 200.0f;                 // siren: > 0; ffn: >= 0 (unused)
  float w0_hidden = 0.0f;            // siren: w0 of the later sine layers, > 0, or 0 for "= w0"; ffn: 0
  std::uint32_t fourier_features = 0;  // ffn: >= 1; siren: 0
  float fourier_sigma = 0.0f;          // ffn: > 0; siren: +0
  std::uint32_t tile_size = 0;         // 1..8192
  // true: tiles never change or transmit a bias; every tile decodes with the level's init biases.
  bool frozen_biases = false;
  std::vector<ModelLevel> levels;      // 1..64, all with the same param count
  Provenance provenance;
  // Filled in by the readers, ignored by the writer (which computes them).
  ModelId model_id{};
  std::uint32_t param_count = 0;
};

struct ModelReadLimits {
  std::uint32_t max_param_count = 1u << 24;
  std::uint32_t max_levels = 64;
  std::uint64_t max_payload_raw_bytes = 1ull << 30;
};

// SHA-256 of the canonical identity bytes of a model (docs/format.md, "Model id"):
//   "msinr-model-id-1" (16 ASCII bytes), then u32 LE: arch (1 siren, 2 ffn), in_features,
//   hidden_width, hidden_layers, out_features, bits of w0, fourier_features, bits of fourier_sigma,
//   tile_size, param_count, level count, each level's index; then, only when w0_hidden is not 0,
//   the bits of w0_hidden (so every model written before the field existed keeps its id); then,
//   only when frozen_biases, the 13 ASCII bytes "frozen-biases"; then the raw payload.
// Validates the model first (FormatError kInvalidArgument).
ModelId compute_model_id(const ModelFile& model);

// 64 lower-case hex digits.
std::string model_id_hex(const ModelId& id);

// Validates (kInvalidArgument) and writes a complete model file.
std::vector<std::uint8_t> write_model_file(const ModelFile& model, int zstd_level = kModelZstdLevel);

// Reads and fully validates a model file, recomputing its content hash (mismatch: kCorrupt). Throws
// FormatError: kCorrupt, kChecksum, kUnsupported or kLimit.
ModelFile read_model_file(std::span<const std::uint8_t> bytes, const ModelReadLimits& limits = {});

// The header only (levels carry index, kept and val_psnr but empty mask and init), with every check
// read_model_file makes short of decompressing: for `msinr info`.
ModelFile peek_model_file(std::span<const std::uint8_t> bytes, const ModelReadLimits& limits = {});

}  // namespace msinr::format
