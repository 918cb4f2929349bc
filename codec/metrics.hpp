#pragma once
// Image quality metrics. See docs/image-io.md ("Metrics") for the exact conventions.
#include <cstddef>

#include "codec/image.hpp"

namespace msinr::codec {

// Mean squared error over n floats, accumulated in double. kInvalidArgument when n == 0.
double mse_float(const float* a, const float* b, std::size_t n);

// The paper's PSNR: -10 log10(MSE) with peak 1, on the (unclamped) float output against the [0,1]
// target. +infinity when MSE == 0. kInvalidArgument when n == 0.
double psnr_float(const float* a, const float* b, std::size_t n);

// The codec's 8-bit metrics over all samples of all channels. The images must have the same width,
// height and channel count (else kInvalidArgument); 4-channel images include alpha.
double mse_8bit(const Image& a, const Image& b);
double psnr_8bit(const Image& a, const Image& b);  // 10 log10(255^2 / MSE); +infinity when identical

// SSIM (Wang, Bovik, Sheikh, Simoncelli 2004): 11x11 Gaussian window (sigma 1.5, normalised to sum 1),
// K1 = 0.01, K2 = 0.03, L = 255, population (1/N) moments, computed per channel on the "valid"
// region only (no padding: the map has (W-10) x (H-10) entries, every window inside the image), the
// mean over the map, then the mean over channels. No automatic downsampling. This equals
// skimage.metrics.structural_similarity(a, b, gaussian_weights=True, sigma=1.5,
// use_sample_covariance=False, data_range=255, channel_axis=-1): skimage filters with reflect
// padding but then crops (win_size-1)/2 = 5 pixels on every side, which leaves exactly the valid
// region. Images narrower or shorter than 11 pixels are refused (kInvalidArgument), as skimage does.
inline constexpr int kSsimWindow = 11;
double ssim(const Image& a, const Image& b);

// MS-SSIM (Wang, Simoncelli, Bovik 2003) on the same convention as ssim() above: per channel (RGB
// as stored, alpha included when present; no conversion to luma), the same window, constants and
// valid region at every scale, then the mean over channels. Five scales with weights 0.0448,
// 0.2856, 0.3001, 0.2363, 0.1333: the contrast-structure mean at scales 1-4 and the full SSIM mean
// at scale 5, each clipped at 0, raised to its weight and multiplied. Between scales each plane is
// 2x2 box-averaged; an odd last row or column is averaged with itself (Wang's msssim.m and
// TensorFlow's ssim_multiscale pad the same way). For sides that stay even down to scale 5 this
// equals pytorch_msssim.ms_ssim(data_range=255) on double tensors with a double window (to 5e-15 on
// the test images); it pads odd sides differently.
// Both sides must be at least kMsSsimMinSide (161), so the fifth scale still holds the 11x11 window;
// smaller images are refused (kInvalidArgument), as pytorch_msssim refuses them; `msinr rd` records
// nan for them.
inline constexpr int kMsSsimScales = 5;
inline constexpr double kMsSsimWeights[kMsSsimScales] = {0.0448, 0.2856, 0.3001, 0.2363, 0.1333};
inline constexpr int kMsSsimMinSide = (kSsimWindow - 1) * 16 + 1;
double ms_ssim(const Image& a, const Image& b);

}  // namespace msinr::codec
