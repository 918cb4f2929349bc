#include "codec/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "msinr/error.hpp"

namespace msinr::codec {
namespace {

void check_same_shape(const Image& a, const Image& b, const char* what) {
  validate_image(a, what);
  validate_image(b, what);
  if (a.width != b.width || a.height != b.height || a.channels != b.channels) {
    throw Error(ErrorCode::kInvalidArgument,
                std::string(what) + ": images differ in shape (" + std::to_string(a.width) + "x" +
                    std::to_string(a.height) + "x" + std::to_string(a.channels) + " vs " +
                    std::to_string(b.width) + "x" + std::to_string(b.height) + "x" +
                    std::to_string(b.channels) + ")");
  }
}

// The normalised 11-tap Gaussian, sigma 1.5 (the same taps as MATLAB fspecial and scipy.ndimage).
std::vector<double> gaussian_taps() {
  const int r = kSsimWindow / 2;
  const double sigma = 1.5;
  std::vector<double> w(kSsimWindow);
  double sum = 0.0;
  for (int i = -r; i <= r; ++i) {
    w[i + r] = std::exp(-0.5 * i * i / (sigma * sigma));
    sum += w[i + r];
  }
  for (double& v : w) v /= sum;
  return w;
}

// Valid separable correlation of a w x h plane with the taps: (w-10) x (h-10) output.
void filter_valid(const std::vector<double>& in, int w, int h, const std::vector<double>& taps,
                  std::vector<double>& tmp, std::vector<double>& out) {
  const int k = kSsimWindow;
  const int ow = w - k + 1, oh = h - k + 1;
  tmp.assign(static_cast<std::size_t>(ow) * h, 0.0);
  for (int y = 0; y < h; ++y) {
    const double* row = &in[static_cast<std::size_t>(y) * w];
    double* t = &tmp[static_cast<std::size_t>(y) * ow];
    for (int x = 0; x < ow; ++x) {
      double s = 0.0;
      for (int i = 0; i < k; ++i) s += taps[i] * row[x + i];
      t[x] = s;
    }
  }
  out.assign(static_cast<std::size_t>(ow) * oh, 0.0);
  for (int y = 0; y < oh; ++y) {
    double* o = &out[static_cast<std::size_t>(y) * ow];
    for (int i = 0; i < k; ++i) {
      const double* t = &tmp[static_cast<std::size_t>(y + i) * ow];
      const double wgt = taps[i];
      for (int x = 0; x < ow; ++x) o[x] += wgt * t[x];
    }
  }
}

struct SsimScratch {
  std::vector<double> xx, yy, xy, tmp, ux, uy, uxx, uyy, uxy;
};
struct SsimTerms {
  double ssim = 0.0;  // mean of l * cs over the valid map
  double cs = 0.0;    // mean of the contrast-structure term alone (what MS-SSIM uses at the finer scales)
};

// SSIM of one plane pair (w x h, w and h >= 11) over the valid region.
SsimTerms ssim_plane(const std::vector<double>& x, const std::vector<double>& y, int w, int h,
                     const std::vector<double>& taps, SsimScratch& s) {
  const double C1 = (0.01 * 255.0) * (0.01 * 255.0);
  const double C2 = (0.03 * 255.0) * (0.03 * 255.0);
  const std::size_t n = static_cast<std::size_t>(w) * h;
  s.xx.resize(n);
  s.yy.resize(n);
  s.xy.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    s.xx[i] = x[i] * x[i];
    s.yy[i] = y[i] * y[i];
    s.xy[i] = x[i] * y[i];
  }
  filter_valid(x, w, h, taps, s.tmp, s.ux);
  filter_valid(y, w, h, taps, s.tmp, s.uy);
  filter_valid(s.xx, w, h, taps, s.tmp, s.uxx);
  filter_valid(s.yy, w, h, taps, s.tmp, s.uyy);
  filter_valid(s.xy, w, h, taps, s.tmp, s.uxy);
  double sum = 0.0, sum_cs = 0.0;
  for (std::size_t i = 0; i < s.ux.size(); ++i) {
    const double ux = s.ux[i], uy = s.uy[i];
    const double vx = s.uxx[i] - ux * ux;
    const double vy = s.uyy[i] - uy * uy;
    const double vxy = s.uxy[i] - ux * uy;
    const double a1 = 2.0 * ux * uy + C1, a2 = 2.0 * vxy + C2;
    const double b1 = ux * ux + uy * uy + C1, b2 = vx + vy + C2;
    sum += (a1 * a2) / (b1 * b2);
    sum_cs += a2 / b2;
  }
  const double count = static_cast<double>(s.ux.size());
  return {sum / count, sum_cs / count};
}

// 2x2 box averaging to ((w+1)/2) x ((h+1)/2): an odd last row or column is paired with itself
// (the symmetric padding of Wang's msssim.m and TensorFlow's ssim_multiscale).
void downsample2(const std::vector<double>& in, int w, int h, std::vector<double>& out, int& ow, int& oh) {
  ow = (w + 1) / 2;
  oh = (h + 1) / 2;
  out.assign(static_cast<std::size_t>(ow) * oh, 0.0);
  for (int y = 0; y < oh; ++y) {
    const double* r0 = &in[static_cast<std::size_t>(2 * y) * w];
    const double* r1 = &in[static_cast<std::size_t>(std::min(2 * y + 1, h - 1)) * w];
    for (int x = 0; x < ow; ++x) {
      const int x0 = 2 * x, x1 = std::min(2 * x + 1, w - 1);
      out[static_cast<std::size_t>(y) * ow + x] = 0.25 * ((r0[x0] + r0[x1]) + (r1[x0] + r1[x1]));
    }
  }
}

}  // namespace

double mse_float(const float* a, const float* b, std::size_t n) {
  if (n == 0) throw Error(ErrorCode::kInvalidArgument, "mse_float: no samples");
  double sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - static_cast<double>(b[i]);
    sum += d * d;
  }
  return sum / static_cast<double>(n);
}

double psnr_float(const float* a, const float* b, std::size_t n) {
  const double mse = mse_float(a, b, n);
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return -10.0 * std::log10(mse);
}

double mse_8bit(const Image& a, const Image& b) {
  check_same_shape(a, b, "mse_8bit");
  std::uint64_t sum = 0;  // exact: at most 2^28 * 4 * 255^2 < 2^64
  for (std::size_t i = 0; i < a.pixels.size(); ++i) {
    const int d = static_cast<int>(a.pixels[i]) - static_cast<int>(b.pixels[i]);
    sum += static_cast<std::uint64_t>(d * d);
  }
  return static_cast<double>(sum) / static_cast<double>(a.pixels.size());
}

double psnr_8bit(const Image& a, const Image& b) {
  const double mse = mse_8bit(a, b);
  if (mse == 0.0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

double ssim(const Image& a, const Image& b) {
  check_same_shape(a, b, "ssim");
  if (a.width < kSsimWindow || a.height < kSsimWindow) {
    throw Error(ErrorCode::kInvalidArgument, "ssim: image " + std::to_string(a.width) + "x" +
                                                 std::to_string(a.height) + " is smaller than the 11x11 window");
  }
  const std::vector<double> taps = gaussian_taps();
  const int w = a.width, h = a.height, nc = a.channels;
  const std::size_t n = static_cast<std::size_t>(w) * h;
  std::vector<double> x(n), y(n);
  SsimScratch scratch;
  double total = 0.0;
  for (int c = 0; c < nc; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = a.pixels[i * nc + c];
      y[i] = b.pixels[i * nc + c];
    }
    total += ssim_plane(x, y, w, h, taps, scratch).ssim;
  }
  return total / nc;
}

double ms_ssim(const Image& a, const Image& b) {
  check_same_shape(a, b, "ms_ssim");
  if (a.width < kMsSsimMinSide || a.height < kMsSsimMinSide) {
    throw Error(ErrorCode::kInvalidArgument, "ms_ssim: image " + std::to_string(a.width) + "x" + std::to_string(a.height) +
                                                 " is too small for 5 scales (each side must be at least " +
                                                 std::to_string(kMsSsimMinSide) + ")");
  }
  const std::vector<double> taps = gaussian_taps();
  const int nc = a.channels;
  const std::size_t n = static_cast<std::size_t>(a.width) * a.height;
  SsimScratch scratch;
  std::vector<double> x(n), y(n), xs, ys;
  double total = 0.0;
  for (int c = 0; c < nc; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = a.pixels[i * nc + c];
      y[i] = b.pixels[i * nc + c];
    }
    int w = a.width, h = a.height;
    double value = 1.0;
    for (int s = 0; s < kMsSsimScales; ++s) {
      const SsimTerms t = ssim_plane(x, y, w, h, taps, scratch);
      // Negative means (possible for anti-correlated pictures) are clipped to 0 before the
      // fractional power, as pytorch_msssim and TensorFlow do; otherwise the power is NaN.
      const double term = std::max(0.0, s + 1 < kMsSsimScales ? t.cs : t.ssim);
      value *= std::pow(term, kMsSsimWeights[s]);
      if (s + 1 < kMsSsimScales) {
        int w2 = 0, h2 = 0;
        downsample2(x, w, h, xs, w2, h2);
        downsample2(y, w, h, ys, w2, h2);
        x.swap(xs);
        y.swap(ys);
        w = w2;
        h = h2;
      }
    }
    total += value;
    x.resize(n);
    y.resize(n);
  }
  return total / nc;
}

}  // namespace msinr::codec
