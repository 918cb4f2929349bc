#pragma once
// The encoder's settings and the device enum: part of the public API (msinr.hpp includes this), and
// the very struct the codec inside the library runs on (codec::EncodeOptions extends it with the
// settings only the command line offers), so a setting exists once and is never copied field by
// field between layers.
#include <cstddef>
#include <functional>

namespace msinr {

// Where the networks are fitted and evaluated. The C API's MSINR_DEVICE_* values are these, in order.
enum class Device {
  kAuto = 0,       // the GPU when this build has CUDA and one answers, else the CPU
  kCpu = 1,        // OpenBLAS and the AVX2 kernels (generic kernels on older CPUs)
  kCuda = 2,       // Error(kDevice) when this build or machine has no usable GPU
  kReference = 3,  // the scalar reference engine: slow; the oracle the others are tested against
};

struct EncodeOptions {
  int level = -1;            // a model level; -1: chosen by target_bpp / target_psnr, else the model's default
  double target_bpp = 0.0;   // > 0: the best PSNR at or under this many bits per pixel (searches levels and steps)
  double target_psnr = 0.0;  // > 0: the smallest file reaching this PSNR (searches levels and steps)
  int steps = 100;           // Adam steps per tile (>= 1)
  float lr = 0.0f;           // Adam learning rate; 0: the rate the model measured for the level
  int bits = 0;              // payload: 0 quantized + entropy-coded (default), 16 fp16 + zstd
  // Quantized payload: the decoded 8-bit PSNR may fall at most this far below the float fit's (before
  // the refit wins some of it back). 0.5 dB, chosen on validation (docs/results.md): at equal rate it
  // beats 0.1 dB by 0.2-0.3 dB, since coarser steps on a denser level beat fine steps on a sparser one.
  double quant_loss_db = 0.5;
  int threads = 0;           // worker threads; 0: all cores
  Device device = Device::kAuto;
  // Called as each tile finishes (from worker threads, one call at a time). Return false to cancel:
  // encode then throws ErrorCode::kCancelled.
  std::function<bool(std::size_t tiles_done, std::size_t tiles_total)> progress;
};

}  // namespace msinr
