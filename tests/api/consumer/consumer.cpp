// Encodes and decodes a small generated image through the installed msinr; exits non-zero on any
// mismatch. Also checks the installed model file is the built-in model.
#include <cstdio>
#include <string>

#include "msinr/msinr.hpp"

int main() {
  try {
    if (std::string(msinr::version()) != MSINR_VERSION_STRING) return 2;
    msinr::Image img{20, 16, 3, {}};
    for (int i = 0; i < 20 * 16 * 3; ++i) img.pixels.push_back(static_cast<std::uint8_t>(i * 7));
    msinr::EncodeOptions o;
    o.steps = 3;
    o.threads = 1;
    const auto bytes = msinr::encode(img, o);
    const msinr::Image out = msinr::decode(bytes, 40, 0);
    if (out.width != 40 || out.height != 32) return 3;
    const msinr::Model installed = msinr::Model::load(std::string(MODEL_DIR) + "/natural.msm");
    if (installed.id() != msinr::Model::builtin().id()) return 4;
    std::printf("consumer: %zu bytes, decoded %dx%d, model %s\n", bytes.size(), out.width, out.height,
                installed.id().substr(0, 12).c_str());
    return 0;
  } catch (const msinr::Error& e) {
    std::fprintf(stderr, "consumer: %s: %s\n", msinr::error_code_name(e.code()), e.what());
    return 1;
  }
}
