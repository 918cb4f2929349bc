#pragma once
// What meta-training and evaluation read from files: a folder of images as equal-sized float tiles.
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

namespace msinr::tools {

struct DatasetOptions {
  int crop = 178;     // center crop to crop x crop
  int resize = 0;     // first scale so the shorter side is this many pixels (0: no resize)
  int count = 0;      // use the first `count` images in name order (0: all)
};

struct Dataset {
  std::vector<std::vector<float>> tiles;  // crop * crop * 3 floats in [0, 1] each
  std::vector<std::string> names;
  int skipped_small = 0;                  // images smaller than the crop (not upscaled)
};

// Reads every .png/.jpg/.jpeg in `dir` (sorted by name, so runs are reproducible). Unreadable
// files are an error naming the file; images smaller than the crop are skipped and counted.
Dataset load_dataset(const std::string& dir, const DatasetOptions& options,
                     const std::function<void(std::size_t done, std::size_t total)>& progress = {});

}  // namespace msinr::tools
