#include "tools/dataset.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <thread>

#include "codec/image.hpp"
#include "imageio/image_io.hpp"
#include "msinr/error.hpp"

namespace msinr::tools {
using namespace codec;

Dataset load_dataset(const std::string& dir, const DatasetOptions& options,
                     const std::function<void(std::size_t, std::size_t)>& progress) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw Error(ErrorCode::kIo, dir + ": not a folder");
  if (options.crop < 1) throw Error(ErrorCode::kInvalidArgument, "crop must be at least 1 pixel");
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir, ec))
    if (e.is_regular_file() && is_image_file_name(e.path())) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  if (options.count > 0 && files.size() > static_cast<std::size_t>(options.count))
    files.resize(static_cast<std::size_t>(options.count));
  if (files.empty()) throw Error(ErrorCode::kIo, dir + ": no .png, .jpg or .jpeg images");

  std::vector<std::vector<float>> tiles(files.size());
  std::vector<std::string> errors(files.size());
  std::atomic<std::size_t> next{0}, done{0};
  auto work = [&] {
    for (std::size_t i; (i = next++) < files.size();) {
      try {
        Image im = to_rgb(read_image(files[i].string()));
        if (options.resize > 0) {
          const int shorter = std::min(im.width, im.height);
          const double s = static_cast<double>(options.resize) / shorter;
          im = resize_bilinear(im, std::max(1, static_cast<int>(std::lround(im.width * s))),
                               std::max(1, static_cast<int>(std::lround(im.height * s))));
        }
        if (im.width >= options.crop && im.height >= options.crop)
          tiles[i] = to_float_rgb(center_crop(im, options.crop));
      } catch (const Error& e) {
        errors[i] = e.what();
      }
      ++done;
    }
  };
  const unsigned n_threads = std::max(1u, std::min(4u, std::thread::hardware_concurrency()));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < n_threads; ++t) pool.emplace_back(work);
  // The calling thread works too.
  work();
  for (auto& t : pool) t.join();
  if (progress) progress(done.load(), files.size());
  for (const auto& e : errors)
    if (!e.empty()) throw Error(ErrorCode::kCorrupt, e);
  Dataset d;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (tiles[i].empty()) {
      ++d.skipped_small;
      continue;
    }
    d.tiles.push_back(std::move(tiles[i]));
    d.names.push_back(files[i].filename().string());
  }
  if (d.tiles.empty())
    throw Error(ErrorCode::kInvalidArgument, dir + ": every image is smaller than the " + std::to_string(options.crop) +
                                                 "-pixel crop");
  return d;
}

}  // namespace msinr::tools
