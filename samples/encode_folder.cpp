// encode_folder DIR [THREADS]
// Encodes every .png/.jpg in DIR to DIR/NAME.msinr, one Encoder per worker thread sharing one
// Model (the documented threading rule), with a progress line counting finished tiles.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "msinr/msinr.hpp"

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s DIR [THREADS]\n", argv[0]);
    return 2;
  }
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(argv[1])) {
    const auto ext = e.path().extension();
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") files.push_back(e.path());
  }
  const int workers = argc == 3 ? std::atoi(argv[2]) : static_cast<int>(std::thread::hardware_concurrency());
  const msinr::Model model = msinr::Model::builtin();  // shared, read-only
  std::atomic<std::size_t> next{0}, done_files{0}, done_tiles{0};
  std::atomic<int> failed{0};
  std::mutex print;
  auto report = [&] {
    std::lock_guard<std::mutex> lock(print);
    std::fprintf(stderr, "\r%zu/%zu files, %zu tiles", done_files.load(), files.size(), done_tiles.load());
  };
  std::vector<std::thread> pool;
  for (int w = 0; w < std::max(1, workers); ++w)
    pool.emplace_back([&] {
      msinr::EncodeOptions options;
      options.threads = 1;  // parallel across files, not within one
      std::size_t last = 0;
      options.progress = [&](std::size_t tiles, std::size_t) {
        done_tiles += tiles - last;
        last = tiles;
        report();
        return true;
      };
      const msinr::Encoder encoder(model, options);  // one per thread
      for (std::size_t i; (i = next++) < files.size();) {
        last = 0;
        try {
          const auto r = encoder.encode(msinr::read_image(files[i].string()));
          msinr::write_file(fs::path(files[i]).replace_extension(".msinr").string(), r.bytes);
        } catch (const msinr::Error& e) {
          std::lock_guard<std::mutex> lock(print);
          std::fprintf(stderr, "\n%s: %s\n", files[i].string().c_str(), e.what());
          ++failed;
        }
        ++done_files;
        report();
      }
    });
  for (auto& t : pool) t.join();
  std::fprintf(stderr, "\n");
  return failed ? 1 : 0;
}
