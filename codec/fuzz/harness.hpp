#pragma once
// The bodies of the codec layer's fuzz targets (fuzz_png, fuzz_jpeg, fuzz_codec), shared with the
// ctest replay of their seed corpora (tests/codec/test_fuzz_corpus.cpp), so the replay runs exactly
// what the fuzzers run. Each returns normally for any input: a typed msinr::Error is an expected
// refusal; anything else (another exception, a crash, a sanitizer report) is a finding.
//
// Every target bounds its work so a run stays fast and memory-bounded: images at most 2^22 pixels,
// decodes at most 2^16 output pixels, on one thread.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "codec/codec.hpp"
#include "imageio/image_io.hpp"
#include "codec/model.hpp"
#include "format/model_file.hpp"
#include "msinr/error.hpp"

namespace msinr::codec::fuzz {

inline constexpr std::uint64_t kFuzzMaxImagePixels = 1u << 22;
inline constexpr std::uint64_t kFuzzMaxDecodePixels = 1u << 16;

inline void check_image(const Image& im, std::uint64_t max_pixels) {
  if (im.width < 1 || im.height < 1 || im.channels != 3 ||
      static_cast<std::uint64_t>(im.width) * static_cast<std::uint64_t>(im.height) > max_pixels ||
      im.pixels.size() != static_cast<std::size_t>(im.width) * im.height * 3)
    std::abort();
}

inline void png_one(const std::uint8_t* data, std::size_t size) {
  try {
    check_image(decode_png(data, size, "fuzz.png", kFuzzMaxImagePixels), kFuzzMaxImagePixels);
  } catch (const Error&) {
  }
}

inline void jpeg_one(const std::uint8_t* data, std::size_t size) {
  try {
    check_image(decode_jpeg(data, size, "fuzz.jpg", kFuzzMaxImagePixels), kFuzzMaxImagePixels);
  } catch (const Error&) {
  }
}

// A small fixed model (SIREN 2-8-3, one hidden layer, 51 parameters, tile 8, levels 0 and 1) built
// in memory, so the codec target needs no file: the seed containers are encoded with it.
inline format::ModelFile fuzz_model_file() {
  format::ModelFile m;
  m.arch = "siren";
  m.in_features = 2;
  m.hidden_width = 8;
  m.hidden_layers = 1;
  m.out_features = 3;
  m.w0 = 30.0f;
  m.tile_size = 8;
  const std::size_t p = 2 * 8 + 8 + 8 * 3 + 3;
  std::uint32_t state = 12345;
  for (std::uint32_t index : {0u, 1u}) {
    format::ModelLevel level;
    level.index = index;
    level.mask.assign(p, 1);
    level.init.resize(p);
    for (std::size_t i = 0; i < p; ++i) {
      if (index > 0 && i < 16 && i % 3 == 1) level.mask[i] = 0;  // prune some first-layer weights
      state = state * 1664525u + 1013904223u;
      level.init[i] = level.mask[i] ? (static_cast<float>(state >> 8) / 16777216.0f - 0.5f) : 0.0f;
    }
    m.levels.push_back(std::move(level));
  }
  m.provenance.created_by = "msinr fuzz harness";
  return m;
}

inline const Model& fuzz_model() {
  static const Model model = [] {
    const std::vector<std::uint8_t> bytes = format::write_model_file(fuzz_model_file());
    return load_model_from_memory(bytes.data(), bytes.size(), "fuzz model");
  }();
  return model;
}

// Input: u16 LE output width, u16 LE output height (0: keep the native size / aspect ratio), then a
// container. The container is decoded against fuzz_model() with hostile sizes allowed through to the
// codec's own checks.
inline void codec_one(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return;
  DecodeOptions o;
  o.width = data[0] | (data[1] << 8);
  o.height = data[2] | (data[3] << 8);
  o.threads = 1;
  o.max_pixels = kFuzzMaxDecodePixels;
  const std::vector<std::uint8_t> bytes(data + 4, data + size);
  try {
    (void)read_info(bytes, "fuzz.msinr");
  } catch (const Error&) {
  }
  try {
    const Image im = decode_image(bytes, "fuzz.msinr", fuzz_model(), o);
    check_image(im, kFuzzMaxDecodePixels);
  } catch (const Error&) {
  }
}

}  // namespace msinr::codec::fuzz
