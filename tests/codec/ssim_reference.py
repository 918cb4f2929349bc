#!/usr/bin/env python3
"""Reference SSIM values for tests/codec/test_metrics.cpp, computed independently with scikit-image.

Not run by the tests: its output is recorded there as constants. To regenerate:
    python3 -m venv /tmp/venv-ssim && /tmp/venv-ssim/bin/pip install scikit-image numpy
    /tmp/venv-ssim/bin/python tests/codec/ssim_reference.py
(recorded with scikit-image 0.26.0, numpy 2.4.6, Python 3.11.)

The images are generated from formulas that test_metrics.cpp reproduces exactly; keep them in sync.
"""
import numpy as np
import skimage
from skimage.metrics import structural_similarity


class Lcg:
    """state = (state * 1103515245 + 12345) mod 2^31; next() returns state >> 16 (0..32767)."""

    def __init__(self, seed):
        self.state = seed

    def next(self):
        self.state = (self.state * 1103515245 + 12345) & 0x7FFFFFFF
        return self.state >> 16


def make(w, h, c, f):
    img = np.zeros((h, w, c), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            for k in range(c):
                img[y, x, k] = f(x, y, k)
    return img


def linear(x, y, k):
    return (x * 7 + y * 13 + k * 29) % 256


def quadratic(x, y, k):
    return ((x * x + 3 * y * y) // 7 + 40 * k) % 256


def other_linear(x, y, k):
    return (x * 11 + y * 5 + k * 71) % 256


def noisy(img, seed, amplitude):
    """Adds lcg() % (2a+1) - a to every sample in row-major (y, x, channel) order, clamped."""
    rng = Lcg(seed)
    out = img.astype(np.int64).copy()
    h, w, c = img.shape
    for y in range(h):
        for x in range(w):
            for k in range(c):
                out[y, x, k] = min(255, max(0, out[y, x, k] + rng.next() % (2 * amplitude + 1) - amplitude))
    return out.astype(np.uint8)


def random_image(w, h, c, seed):
    rng = Lcg(seed)
    return make(w, h, c, lambda x, y, k: rng.next() % 256)  # row-major (y, x, channel) order


def ssim(a, b):
    multichannel = a.shape[2] > 1
    return structural_similarity(
        a.astype(np.float64) if multichannel else a[:, :, 0].astype(np.float64),
        b.astype(np.float64) if multichannel else b[:, :, 0].astype(np.float64),
        gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255,
        channel_axis=2 if multichannel else None)


CASES = [
    ("linear 32x24x3 vs noisy(seed 1, +-20)", lambda: (make(32, 24, 3, linear), None, (1, 20))),
    ("quadratic 48x40x3 vs noisy(seed 7, +-20)", lambda: (make(48, 40, 3, quadratic), None, (7, 20))),
    ("linear 11x11x1 vs noisy(seed 3, +-30)", lambda: (make(11, 11, 1, linear), None, (3, 30))),
    ("linear 64x16x3 vs other_linear", lambda: (make(64, 16, 3, linear), make(64, 16, 3, other_linear), None)),
    ("random(seed 11) 20x20x3 vs random(seed 12)", lambda: (random_image(20, 20, 3, 11), random_image(20, 20, 3, 12), None)),
]

def ssim_valid(a, b):
    """Cross-check of the convention: Wang et al. with a 'valid' 2-D correlation (no padding)."""
    from scipy.signal import correlate2d
    g = np.exp(-0.5 * np.arange(-5, 6) ** 2 / 1.5 ** 2)
    g /= g.sum()
    win = np.outer(g, g)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for k in range(a.shape[2]):
        x, y = a[:, :, k].astype(np.float64), b[:, :, k].astype(np.float64)
        f = lambda z: correlate2d(z, win, mode="valid")
        ux, uy = f(x), f(y)
        vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
        vals.append(s.mean())
    return float(np.mean(vals))


if __name__ == "__main__":
    print(f"# scikit-image {skimage.__version__}, numpy {np.__version__}")
    for name, build in CASES:
        a, b, noise = build()
        if b is None:
            b = noisy(a, *noise)
        ref = float(ssim(a, b))
        assert abs(ref - ssim_valid(a, b)) < 1e-12, (name, ref, ssim_valid(a, b))
        print(f"{ref!r:>22},  // {name}")
