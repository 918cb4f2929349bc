// Writes the seed corpora of the codec layer's fuzz targets (codec/fuzz/):
//   msinr_codec_make_fuzz_corpus <repo>/codec/fuzz/corpus
// png/ and jpeg/: small valid images of each kind the writers make, and hostile headers; codec/: a
// u16 LE width, a u16 LE height, then a container encoded with the harness's fuzz model (fp16 and
// quantized), including forged headers (2^24 values per tile, a level the model lacks).
#include <filesystem>
#include <fstream>
#include <iostream>

#include "codec/fuzz/harness.hpp"
#include "codec/quantize.hpp"
#include "codec_test_util.hpp"
#include "format/testkit.hpp"

namespace fs = std::filesystem;
using namespace msinr::codec;

namespace {
void put(const fs::path& p, const std::vector<std::uint8_t>& b) {
  std::ofstream out(p, std::ios::binary);
  out.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
}
std::vector<std::uint8_t> with_size(std::uint16_t w, std::uint16_t h, const std::vector<std::uint8_t>& c) {
  std::vector<std::uint8_t> out = {static_cast<std::uint8_t>(w), static_cast<std::uint8_t>(w >> 8),
                                   static_cast<std::uint8_t>(h), static_cast<std::uint8_t>(h >> 8)};
  out.insert(out.end(), c.begin(), c.end());
  return out;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: msinr_codec_make_fuzz_corpus DIR\n";
    return 2;
  }
  const fs::path root = argv[1];
  for (const char* d : {"png", "jpeg", "codec"}) fs::create_directories(root / d);
  using codec_test::random_image;
  put(root / "png" / "grey-7x5.png", encode_png(random_image(7, 5, 1, 1)));
  put(root / "png" / "grey-alpha-6x6.png", encode_png(random_image(6, 6, 2, 2)));
  put(root / "png" / "rgb-16x9.png", encode_png(random_image(16, 9, 3, 3)));
  put(root / "png" / "rgba-1x1.png", encode_png(random_image(1, 1, 4, 4)));
  put(root / "png" / "header-16384x16384.png", codec_test::png_header_only(16384, 16384));
  const auto jpg = encode_jpeg(random_image(24, 16, 3, 5), 80);
  put(root / "jpeg" / "rgb-420-24x16.jpg", jpg);
  put(root / "jpeg" / "rgb-444-9x7.jpg", encode_jpeg(random_image(9, 7, 3, 6), 90, false));
  put(root / "jpeg" / "grey-8x8.jpg", encode_jpeg(random_image(8, 8, 1, 7), 70));
  auto huge = jpg;
  const std::size_t sof = codec_test::find_jpeg_marker(huge, 0xC0);
  if (sof != std::string::npos) {
    huge[sof + 5] = huge[sof + 7] = 0x9C;  // 40000 x 40000
    huge[sof + 6] = huge[sof + 8] = 0x40;
    put(root / "jpeg" / "sof-40000x40000.jpg", huge);
  }

  const Model& m = fuzz::fuzz_model();
  EncodeOptions o;
  o.device = msinr::Device::kCpu;
  o.steps = 3;
  o.threads = 1;
  o.level = 1;
  o.bits = 16;
  o.merge_edges = false;  // the seeds made before merged edges, unchanged
  const auto fp16 = encode_image(random_image(12, 10, 3, 8), m, o).bytes;
  o.bits = 0;
  o.level = 0;
  const auto quantized = encode_image(random_image(9, 17, 3, 9), m, o).bytes;
  {
    // Version 3: the same image's tiles at levels 0 and 1 in turn (small integers as their values).
    msinr::format::ContainerHeader h = msinr::format::read_container(quantized).header;
    const msinr::ParamLayout layout(m.arch);
    h.group_sizes.clear();
    h.values_per_tile = 0;
    std::vector<std::uint32_t> levels;
    std::vector<std::int32_t> symbols;
    for (const auto& l : m.levels) {
      h.tile_level_set.push_back(static_cast<std::uint32_t>(l.index));
      const auto g = quant_groups(layout, l.mask, !m.frozen_biases);
      h.level_group_sizes.insert(h.level_group_sizes.end(), g.begin(), g.end());
      h.values_per_tile = std::max(h.values_per_tile, static_cast<std::uint32_t>(stored_indices(m, l).size()));
    }
    for (std::uint32_t t = 0; t < h.tile_count; ++t) {
      const auto& l = m.levels[t % 2];
      levels.push_back(static_cast<std::uint32_t>(l.index));
      for (std::size_t k = 0; k < stored_indices(m, l).size(); ++k) symbols.push_back(static_cast<std::int32_t>((t + k) % 5) - 2);
    }
    put(root / "codec" / "tile-levels-native", with_size(0, 0, msinr::format::write_quantized_container(h, symbols, levels)));
  }
  {
    // Version 4: 17x9 in tiles of 8 merges the 1-pixel column and row into their neighbours (2 x 1 tiles).
    EncodeOptions om = o;
    om.merge_edges = true;
    om.tile_levels = msinr::TileLevels::kUniform;
    const auto merged = encode_image(random_image(17, 9, 3, 10), m, om).bytes;
    put(root / "codec" / "merged-edges-native", with_size(0, 0, merged));
    put(root / "codec" / "merged-edges-30x20", with_size(30, 20, merged));
  }
  put(root / "codec" / "fp16-native", with_size(0, 0, fp16));
  put(root / "codec" / "fp16-width-40", with_size(40, 0, fp16));
  put(root / "codec" / "quantized-native", with_size(0, 0, quantized));
  put(root / "codec" / "quantized-3x200", with_size(3, 200, quantized));
  put(root / "codec" / "fp16-huge-output", with_size(60000, 60000, fp16));
  put(root / "codec" / "fp16-vpt-2pow24",
      with_size(0, 0, fmt_test::edit_container(fp16, [](msinr::format::pb::ContainerHeader& h) { h.set_values_per_tile(1u << 24); })));
  put(root / "codec" / "fp16-level-9",
      with_size(0, 0, fmt_test::edit_container(fp16, [](msinr::format::pb::ContainerHeader& h) { h.set_level(9); })));
  std::cout << "wrote " << root << "\n";
  return 0;
}
