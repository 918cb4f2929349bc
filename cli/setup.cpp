#include "cli/setup.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "msinr/error.hpp"

namespace msinr::cli {

void add_engine_options(CLI::App& cmd, EngineArgs& args) {
  cmd.add_option("--device", args.device,
                 "Compute device: auto (GPU when usable, else CPU), cpu, cuda, or reference (slow scalar oracle)")
      ->capture_default_str()
      ->check(CLI::IsMember({"auto", "cpu", "cuda", "reference"}));
  cmd.add_option("--threads", args.threads, "CPU threads (0: all cores; under mpirun, this process's share of its machine's cores)")
      ->capture_default_str()
      ->check(CLI::Range(0, 1024));
  cmd.add_option("--block", args.block_pixels, "CPU pixels per cache block (0: default)")
      ->check(CLI::Range(0, 65536))
      ->group("Tuning");
}

void add_tf32_option(CLI::App& cmd, EngineArgs& args) {
  cmd.add_flag("--tf32", args.tf32, "CUDA: allow TF32 tensor-core GEMMs (faster, 10-bit mantissa inputs; off by default)")
      ->group("Tuning");
}

void add_tile_levels_option(CLI::App& cmd, TileLevels& levels) {
  cmd.add_option_function<std::string>(
         "--tile-levels",
         [&levels](const std::string& name) {
           levels = name == "uniform" ? TileLevels::kUniform : name == "adaptive" ? TileLevels::kAdaptive : TileLevels::kAuto;
         },
                 "adaptive: each tile at the level or its denser or sparser neighbour, whichever buys the most "
                 "quality for the same bits (only the tiles predicted to move are fitted twice: 1.4-1.9x the "
                 "time, 5.6% fewer bits on validation); uniform: every tile at the level; "
                 "auto (default): adaptive at a fixed level with the quantized payload, else uniform")
      ->check(CLI::IsMember({"auto", "uniform", "adaptive"}))
      ->default_str("auto");
}

void add_edge_tiles_option(CLI::App& cmd, bool& merge) {
  cmd.add_option_function<std::string>(
         "--edge-tiles", [&merge](const std::string& name) { merge = name != "grid"; },
         "merge (default): where the last tile of a row or column would hold fewer than a quarter of a "
         "tile, its pixels join the tile before it, so a thin edge costs no network of its own "
         "(container version 4 when it happens; on validation crops with 8-24-pixel edges 47-60% fewer "
         "bits at equal PSNR, the densest level reaching 1-2 dB less); grid: every edge its own tile, as before")
      ->check(CLI::IsMember({"merge", "grid"}))
      ->default_str("merge");
}

BackendOptions backend_options(const EngineArgs& args) {
  BackendOptions o;
  o.device = parse_device(args.device);
  o.cuda.allow_tf32 = args.tf32;
  o.cpu.threads = args.threads;
  if (args.block_pixels > 0) o.cpu.block_pixels = args.block_pixels;
  return o;
}

Mask magnitude_mask_of(const ParamLayout& layout, const std::vector<float>& params, double density) {
  const Mask dense = dense_mask(layout);
  if (density >= 1.0) return dense;
  const auto keep = static_cast<std::size_t>(std::llround(density * static_cast<double>(layout.weight_count())));
  return global_magnitude_mask(layout, params, dense, std::max<std::size_t>(keep, 1));
}

}  // namespace msinr::cli
