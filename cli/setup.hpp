#pragma once
// Options and helpers that several commands share: engine choice and masks (files: output.hpp).
#include <CLI/CLI.hpp>

#include <memory>
#include <string>

#include "msinr/backend.hpp"
#include "msinr/encode_options.hpp"
#include "msinr/mask.hpp"

namespace msinr::cli {

struct EngineArgs {
  std::string device = "auto";  // auto | cpu | cuda | reference
  int threads = 0;
  int block_pixels = 0;         // 0: the backend's default
  bool tf32 = false;            // CUDA: let cuBLAS use TF32 tensor cores
};

void add_engine_options(CLI::App& cmd, EngineArgs& args);
// --tf32 (CUDA: TF32 tensor-core GEMMs), offered by fit and the benchmarks; the codec's own device
// choice has no such option yet.
void add_tf32_option(CLI::App& cmd, EngineArgs& args);
// The command line's engine choice as the options of libmsinr's one factory, make_backend().
BackendOptions backend_options(const EngineArgs& args);

// --tile-levels auto|uniform|adaptive (encode and rd).
void add_tile_levels_option(CLI::App& cmd, TileLevels& levels);
// --edge-tiles merge|grid (encode and rd): EncodeOptions::merge_edges.
void add_edge_tiles_option(CLI::App& cmd, bool& merge);

// Global-magnitude mask keeping round(density * weights) of `params`' weights (dense at 1).
Mask magnitude_mask_of(const ParamLayout& layout, const std::vector<float>& params, double density);

}  // namespace msinr::cli
