#pragma once
// The bodies of the format's fuzz targets (fuzz_container, fuzz_model), shared with the ctest replay
// of their seed corpus (tests/format/test_corpus.cpp), so the replay runs exactly what the fuzzers
// run: a round trip that broke for one payload kind once stayed hidden because only the fuzzer ran
// it (the fp16 writer was handed quantized containers, and every fuzz_container run aborted on its
// own seed ok-quantized.msinr).
//
// Each returns normally for any input. A FormatError from the reader is an expected refusal; past
// the reader nothing may throw (what the reader accepts the writer must accept), and a round trip
// that changes the file's content calls std::abort(): both are findings.
#include <cstdint>
#include <cstdlib>
#include <span>

#include "format/container.hpp"
#include "format/model_file.hpp"

namespace msinr::format::fuzz {

inline void container_one(std::span<const std::uint8_t> bytes) {
  try {
    (void)peek_header(bytes);
  } catch (const FormatError&) {
  }
  Container c;
  try {
    c = read_container(bytes);
  } catch (const FormatError&) {
    return;
  }
  // Each payload kind goes back through its own writer.
  const bool quantized = c.header.precision == Precision::kQuantized;
  const Container again =
      read_container(quantized ? write_quantized_container(c.header, c.symbols, c.tile_levels) : write_container(c.header, c.values, 1));
  ContainerHeader a = c.header, b = again.header;
  a.payload_compressed_size = b.payload_compressed_size = 0;  // the zstd level may differ
  a.payload_crc = b.payload_crc = 0;                          // fuzz builds accept a wrong stored CRC
  if (!(a == b) || c.values != again.values || c.symbols != again.symbols) std::abort();
}

inline void model_one(std::span<const std::uint8_t> bytes) {
  try {
    (void)peek_model_file(bytes);
  } catch (const FormatError&) {
  }
  ModelFile m;
  try {
    m = read_model_file(bytes);
  } catch (const FormatError&) {
    return;
  }
  const ModelFile again = read_model_file(write_model_file(m, 1));
  // (Fuzz builds accept a wrong stored id, so compare against the recomputed one.)
  if (again.model_id != compute_model_id(m) || !(again.provenance == m.provenance)) std::abort();
}

}  // namespace msinr::format::fuzz
