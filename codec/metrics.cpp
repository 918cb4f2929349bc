#include "codec/metrics.hpp"

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
  const double C1 = (0.01 * 255.0) * (0.01 * 255.0);
  const double C2 = (0.03 * 255.0) * (0.03 * 255.0);
  const std::vector<double> taps = gaussian_taps();
  const int w = a.width, h = a.height, nc = a.channels;
  const std::size_t n = static_cast<std::size_t>(w) * h;
  std::vector<double> x(n), y(n), xx(n), yy(n), xy(n), tmp;
  std::vector<double> ux, uy, uxx, uyy, uxy;
  double total = 0.0;
  for (int c = 0; c < nc; ++c) {
    for (std::size_t i = 0; i < n; ++i) {
      x[i] = a.pixels[i * nc + c];
      y[i] = b.pixels[i * nc + c];
      xx[i] = x[i] * x[i];
      yy[i] = y[i] * y[i];
      xy[i] = x[i] * y[i];
    }
    filter_valid(x, w, h, taps, tmp, ux);
    filter_valid(y, w, h, taps, tmp, uy);
    filter_valid(xx, w, h, taps, tmp, uxx);
    filter_valid(yy, w, h, taps, tmp, uyy);
    filter_valid(xy, w, h, taps, tmp, uxy);
    double sum = 0.0;
    for (std::size_t i = 0; i < ux.size(); ++i) {
      const double vx = uxx[i] - ux[i] * ux[i];
      const double vy = uyy[i] - uy[i] * uy[i];
      const double vxy = uxy[i] - ux[i] * uy[i];
      const double a1 = 2.0 * ux[i] * uy[i] + C1, a2 = 2.0 * vxy + C2;
      const double b1 = ux[i] * ux[i] + uy[i] * uy[i] + C1, b2 = vx + vy + C2;
      sum += (a1 * a2) / (b1 * b2);
    }
    total += sum / static_cast<double>(ux.size());
  }
  return total / nc;
}

}  // namespace msinr::codec
