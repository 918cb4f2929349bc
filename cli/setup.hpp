#pragma once
// Options and helpers that several commands share: engine choice, masks, output checks.
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "msinr/backend.hpp"
#include "msinr/mask.hpp"

namespace msinr::cli {

struct EngineArgs {
  std::string device = "auto";  // auto | cpu | cuda | reference
  int threads = 0;
  int block_pixels = 0;         // 0: the backend's default
  bool tf32 = false;            // CUDA: let cuBLAS use TF32 tensor cores
};

void add_engine_options(CLI::App& cmd, EngineArgs& args);
// --tf32 (CUDA: TF32 tensor-core GEMMs), offered by fit and the benchmarks, which build their
// engine with make_engine; the codec's own device choice has no such option yet.
void add_tf32_option(CLI::App& cmd, EngineArgs& args);
std::unique_ptr<Backend> make_engine(const EngineArgs& args);

// Global-magnitude mask keeping round(density * weights) of `params`' weights (dense at 1).
Mask magnitude_mask_of(const ParamLayout& layout, const std::vector<float>& params, double density);

// Fails early (kInvalidArgument / kIo) when an output path has an unknown extension or its folder
// does not exist, so a long job does not end in an unwritable file.
void check_output_path(const std::string& path);

}  // namespace msinr::cli

namespace msinr::codec { struct Image; }

namespace msinr::cli {
// Writes PNG or JPEG (quality 95, 4:4:4) by the path's extension, atomically.
void write_image_by_extension(const codec::Image& image, const std::string& path);

}  // namespace msinr::cli
