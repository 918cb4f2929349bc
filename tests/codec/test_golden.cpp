// Golden files: containers written by earlier (and the current) versions of msinr must keep
// decoding to exactly the same pixels. Each entry is a committed container, the model it cites
// (codec/models/, kept there for as long as files made with it may exist) and the CRC-32C of the
// decoded 8-bit RGB at native size, recorded when the file was made.
#include <doctest/doctest.h>

#include <string>

#include "codec/codec.hpp"
#include "imageio/image_io.hpp"
#include "codec/model.hpp"
#include "format/checksum.hpp"

using namespace msinr::codec;

namespace {

struct Golden {
  const char* file;     // under tests/golden/
  const char* model;    // under codec/models/
  int width, height;
  std::uint32_t pixels_crc;
};

// kodim03-v1-fp16: container version 1 (fp16 + zstd), made by msinr 0.1.0 (2026-11-29) with the
// paper-configuration model (SIREN 2-256x4-3, w0 200) at level 20: the README sample of that time.
// kodim23-v2-quantized: container version 2 (quantized, entropy-coded), made 2026-12-01 with the
// codec model (SIREN 2-48x3-3, w0 30, tile 128, id 11d527b0...) at its default level 4.
// kodim23-v2-frozen-biases: container version 2 with a version-3 model (frozen biases: tiles carry
// weights only, the biases come from the model), made 2026-12-02 with the built-in model of that
// day (id cffaf8fc...) at its default level 1: the README sample.
// kodim23-v3-tile-levels: container version 3 (per-tile levels: tiles at levels 0, 1 and 2 around
// the requested level 1), made 2026-12-02 with the same model and --tile-levels adaptive; it
// decoded to 33.527 dB, the PSNR the encoder reported, checked outside msinr (numpy).
// kodim23-v4-merged-edges: container version 4 (merged edges, with per-tile levels 0 and 2 around
// level 1): kodim23's 396x140 crop at (100, 120), 3 x 1 tiles whose last column (140 pixels) and
// only row (140) hold the 12-pixel edges; made 2026-12-02 with the built-in model (cffaf8fc...) and
// the default settings; it decoded to 28.67 dB, the PSNR the encoder reported, checked with numpy.
constexpr Golden kGolden[] = {
    {"kodim03-v1-fp16.msinr", "paper-natural.msm", 768, 512, 0xc58ff553u},
    {"kodim23-v2-quantized.msinr", "natural-2026-12-01.msm", 768, 512, 0xcca31aefu},
    {"kodim23-v2-frozen-biases.msinr", "natural.msm", 768, 512, 0xdfee1f66u},
    {"kodim23-v3-tile-levels.msinr", "natural.msm", 768, 512, 0xc4b4c6e0u},
    {"kodim23-v4-merged-edges.msinr", "natural.msm", 396, 140, 0x0cd19281u},
};

}  // namespace

TEST_CASE("golden files decode to the pixels they decoded to when they were made") {
  for (const Golden& g : kGolden) {
    CAPTURE(g.file);
    const auto bytes = read_file(std::string(MSINR_SOURCE_DIR) + "/tests/golden/" + g.file);
    const Model model = load_model(std::string(MSINR_SOURCE_DIR) + "/codec/models/" + g.model);
    const Image im = decode_image(bytes, g.file, model);
    REQUIRE(im.width == g.width);
    REQUIRE(im.height == g.height);
    const std::uint32_t crc = msinr::format::crc32c(im.pixels);
    MESSAGE(g.file << ": CRC-32C of the decoded pixels " << crc);
    CHECK(crc == g.pixels_crc);
  }
}
