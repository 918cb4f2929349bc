#pragma once
// Helpers shared by the format tests and the corpus generator. Where they frame files or hash
// models they do it from docs/format.md, independently of format/detail, so they double as a
// check that the spec and the code agree.
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "format/container.hpp"
#include "format/error.hpp"
#include "format/model_file.hpp"
#include "msinr_format.pb.h"

namespace fmt_test {

using Bytes = std::vector<std::uint8_t>;
namespace f = msinr::format;

void put_le16(Bytes& out, std::uint16_t v);
void put_le32(Bytes& out, std::uint32_t v);
std::uint32_t get_le32(const std::uint8_t* p);
Bytes to_bytes(const std::string& s);

// magic | u16 version | u32 header length | header | frame | u32 CRC-32C trailer (per the spec).
Bytes frame_file(std::span<const std::uint8_t> magic, std::uint16_t version, std::span<const std::uint8_t> header,
                 std::span<const std::uint8_t> frame);
// Recomputes the trailing CRC-32C of a file in place (the size is unchanged).
void reseal(Bytes& file);

// The parts of a framed file, located from its preamble (no validation beyond bounds).
struct Parts {
  std::uint16_t version = 0;
  Bytes header;
  Bytes frame;  // everything between the header and the last 4 bytes
};
Parts split(const Bytes& file);

Bytes zstd_compress(std::span<const std::uint8_t> raw, int level = 3);
Bytes zstd_decompress(std::span<const std::uint8_t> frame);
// A frame written by the streaming API without a content size in its header.
Bytes zstd_compress_unknown_size(std::span<const std::uint8_t> raw);

// A small valid container: 5x3 image, tiles of 2 (6 tiles), 7 values per tile.
f::ContainerHeader small_header();
std::vector<float> small_values(std::size_t count, std::uint32_t seed = 1);
Bytes small_container();

// Re-frames `file` with its protobuf header edited by `edit` (and optionally a new frame); resealed.
Bytes edit_container(const Bytes& file, const std::function<void(msinr::format::pb::ContainerHeader&)>& edit,
                     const std::optional<Bytes>& new_frame = std::nullopt);
// A container whose payload is `raw` (any bytes), with sizes and both CRCs made consistent.
Bytes container_with_raw_payload(const Bytes& file, const Bytes& raw);

// A small valid model: siren 2 -> 4 -> 3 with one hidden layer, 27 parameters, 2 levels.
f::ModelFile small_model(const std::string& arch = "siren");
Bytes edit_model(const Bytes& file, const std::function<void(msinr::format::pb::ModelHeader&)>& edit,
                 const std::optional<Bytes>& new_frame = std::nullopt);
// The model id of a header and raw payload, computed from the spec's definition.
f::ModelId spec_model_id(const msinr::format::pb::ModelHeader& header, std::span<const std::uint8_t> raw);
// A model whose payload is `raw`, with sizes, id and CRC made consistent (kept counts untouched).
Bytes model_with_raw_payload(const Bytes& file, const Bytes& raw);

// Runs `fn`; returns the FormatError code it threw, or nullopt if it returned normally. Any other
// exception propagates (and fails the test).
std::optional<f::FormatErrorCode> error_of(const std::function<void()>& fn, std::string* message = nullptr);

// The corpus of valid and corrupt files. Names are "<kind>/ok-<what>" (must read) or
// "<kind>/bad-<code>-<what>" (must throw FormatError with that code, see format_error_code_name);
// kind is "container" or "model".
struct CorpusCase {
  std::string name;
  Bytes bytes;
  bool seed = false;  // one of the committed seed files under format/fuzz/corpus/
};
std::vector<CorpusCase> make_corpus();
// Parses the expectation out of a corpus name: nullopt for "ok-", the code for "bad-<code>-".
std::optional<f::FormatErrorCode> expected_code(const std::string& file_name);
// Reads `bytes` with the reader for `kind` ("container" or "model").
void read_as(const std::string& kind, const Bytes& bytes);

}  // namespace fmt_test
