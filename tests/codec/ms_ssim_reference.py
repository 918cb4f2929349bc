#!/usr/bin/env python3
"""Reference MS-SSIM values for tests/codec/test_metrics.cpp, computed independently of the C++.

Not run by the tests: its output is recorded there as constants. Two implementations:
 - ms_ssim_numpy below, written from the paper (Wang, Simoncelli, Bovik 2003) and MATLAB's
   msssim.m conventions with numpy alone: 2-D 'valid' correlation with the 11x11 Gaussian window
   (sigma 1.5), K1 0.01, K2 0.03, L 255, weights 0.0448 0.2856 0.3001 0.2363 0.1333, 2x2 average
   downsampling (an odd last row/column averaged with itself), clipping at 0, per channel then the
   mean over channels;
 - pytorch_msssim.ms_ssim(data_range=255) on float64 tensors, a widely used implementation, for the
   cases whose sides stay even down to the fifth scale (it zero-pads odd sides, a different rule).
To regenerate:
    python3 -m venv /tmp/venv-msssim && /tmp/venv-msssim/bin/pip install numpy torch pytorch-msssim
    /tmp/venv-msssim/bin/python tests/codec/ms_ssim_reference.py
(numpy alone is enough for the numpy column: without torch the pytorch_msssim check is skipped.)
Recorded with numpy 2.4.6, torch 2.15.0, pytorch_msssim 1.0.0, Python 3.11: pytorch_msssim (given the
float64 window) agreed with the numpy values to 5e-15 on the three even-sided cases.

The images come from the same formulas as ssim_reference.py, which test_metrics.cpp reproduces.
"""
import importlib.util
import pathlib

import numpy as np

spec = importlib.util.spec_from_file_location("ssim_reference", pathlib.Path(__file__).with_name("ssim_reference.py"))
# ssim_reference.py imports scikit-image at the top; only its image builders are needed here.
source = pathlib.Path(spec.origin).read_text()
source = source.replace("import skimage\n", "").replace("from skimage.metrics import structural_similarity\n", "")
ref = {}
exec(compile(source.split("def ssim(a, b):")[0], spec.origin, "exec"), ref)
make, noisy, random_image, linear, quadratic = ref["make"], ref["noisy"], ref["random_image"], ref["linear"], ref["quadratic"]

WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]


def window():
    g = np.exp(-0.5 * np.arange(-5, 6) ** 2 / 1.5**2)
    g /= g.sum()
    return np.outer(g, g)


def correlate_valid(z, win):
    view = np.lib.stride_tricks.sliding_window_view(z, win.shape)
    return np.einsum("ijkl,kl->ij", view, win)


def ssim_terms(x, y, win):
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    ux, uy = correlate_valid(x, win), correlate_valid(y, win)
    vx = correlate_valid(x * x, win) - ux * ux
    vy = correlate_valid(y * y, win) - uy * uy
    vxy = correlate_valid(x * y, win) - ux * uy
    cs = (2 * vxy + c2) / (vx + vy + c2)
    lum = (2 * ux * uy + c1) / (ux * ux + uy * uy + c1)
    return (lum * cs).mean(), cs.mean()


def down2(z):
    h, w = z.shape
    z = np.pad(z, ((0, h % 2), (0, w % 2)), mode="edge")
    return 0.25 * (z[0::2, 0::2] + z[0::2, 1::2] + z[1::2, 0::2] + z[1::2, 1::2])


def ms_ssim_numpy(a, b):
    win = window()
    per_channel = []
    for k in range(a.shape[2]):
        x, y = a[:, :, k].astype(np.float64), b[:, :, k].astype(np.float64)
        value = 1.0
        for s, wgt in enumerate(WEIGHTS):
            ssim, cs = ssim_terms(x, y, win)
            value *= max(0.0, cs if s < len(WEIGHTS) - 1 else ssim) ** wgt
            x, y = down2(x), down2(y)
        per_channel.append(value)
    return float(np.mean(per_channel))


def ms_ssim_torch(a, b):
    try:
        import torch
        from pytorch_msssim import ms_ssim
    except ImportError:
        return None
    t = lambda z: torch.from_numpy(z.astype(np.float64)).permute(2, 0, 1).unsqueeze(0)
    # pytorch_msssim builds its default window in float32; the same taps in float64 compare the
    # methods rather than the rounding of the taps (its default window differs by up to ~3e-6 here).
    g = np.exp(-0.5 * np.arange(-5, 6) ** 2 / 1.5**2)
    win = torch.from_numpy(g / g.sum()).reshape(1, 1, 1, 11).repeat(a.shape[2], 1, 1, 1)
    return float(ms_ssim(t(a), t(b), data_range=255, size_average=True, win=win))


def even_to_scale5(a):
    return all(side % 16 == 0 for side in a.shape[:2])


CASES = [
    ("quadratic 176x176x3 vs noisy(seed 5, +-20)", lambda: (make(176, 176, 3, quadratic), None, (5, 20))),
    ("linear 192x176x3 vs noisy(seed 9, +-40)", lambda: (make(192, 176, 3, linear), None, (9, 40))),
    ("random(seed 11) 176x176x3 vs random(seed 12)", lambda: (random_image(176, 176, 3, 11), random_image(176, 176, 3, 12), None)),
    ("quadratic 161x170x1 vs noisy(seed 2, +-25)", lambda: (make(161, 170, 1, quadratic), None, (2, 25))),
]

if __name__ == "__main__":
    print(f"# numpy {np.__version__}")
    try:
        import torch, pytorch_msssim
        from importlib.metadata import version
        print(f"# torch {torch.__version__}, pytorch_msssim {version('pytorch-msssim')}")
    except ImportError:
        print("# torch / pytorch_msssim not installed: numpy only")
    for name, build in CASES:
        a, b, noise = build()
        if b is None:
            b = noisy(a, *noise)
        mine = ms_ssim_numpy(a, b)
        theirs = ms_ssim_torch(a, b) if even_to_scale5(a) else None
        note = "" if theirs is None else f"  (pytorch_msssim {theirs!r}, diff {abs(theirs - mine):.1e})"
        print(f"{mine!r:>22},  // {name}{note}")
