// Writes the seed corpus the fuzzers start from and test_corpus replays:
//   msinr_format_make_corpus <repo>/format/fuzz/corpus
// Replaces the directory's container/ and model/ contents with the cases marked `seed`.
#include <cstdio>
#include <filesystem>
#include <string>

#include "format/file_io.hpp"
#include "testkit.hpp"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  try {
    const fs::path root = argv[1];
    for (const char* kind : {"container", "model"}) {
      fs::remove_all(root / kind);
      fs::create_directories(root / kind);
    }
    int n = 0;
    for (const fmt_test::CorpusCase& c : fmt_test::make_corpus()) {
      if (!c.seed) continue;
      const std::string ext = c.name.rfind("model/", 0) == 0 ? ".msm" : ".msinr";
      msinr::format::write_file_atomic(root / (c.name + ext), c.bytes);
      std::printf("%6zu  %s%s\n", c.bytes.size(), c.name.c_str(), ext.c_str());
      ++n;
    }
    std::printf("%d files written under %s\n", n, root.string().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "msinr_format_make_corpus: %s\n", e.what());
    return 1;
  }
  return 0;
}
