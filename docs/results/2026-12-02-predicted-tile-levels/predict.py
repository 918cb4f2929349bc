# Can a tile's own fit at level L predict whether it gains by moving to L-1 or L+1? Uses the seventh
# session's crop-by-crop measurement (every 128-px tile of VAL30 encoded alone at all 9 levels).
# For each image, the rate-neutral choice (lambda so that the image's bits stay those of level L):
#   oracle  every tile's measured error and bits at every candidate level
#   pred    error and bits predicted from level L's with one factor per round, then the final choice
#           made on measured values between L and the predicted level only (what the encoder does)
# python3 predict.py [per-tile json]
import json, sys, math, collections
import numpy as np
rows = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "../2026-12-02-tile-levels/per-tile-val30.json"))
T = collections.defaultdict(dict)  # tile -> level -> (bits, sse, values)
for r in rows:
    n = r['w'] * r['h'] * 3
    T[(r['image'], r['tx'], r['ty'])][r['level']] = (8 * r['bytes'], n * 255.0**2 / 10 ** (r['psnr'] / 10), n)
imgs = sorted(set(k[0] for k in T))
by_img = {im: [k for k in T if k[0] == im] for im in imgs}

def stats(keys, choice):
    b = s = n = 0
    for k in keys:
        bb, ss, nn = T[k][choice[k]]; b += bb; s += ss; n += nn
    return b, 10 * math.log10(255**2 * n / s)

def neutral(keys, L, est):  # est: tile -> level -> (bits, sse); the smallest lambda within level L's bits
    choose = lambda lam: {k: min(est[k], key=lambda l: est[k][l][1] + lam * est[k][l][0]) for k in keys}
    budget = sum(est[k][L][0] for k in keys)
    lo, hi = 1e-4, 1e7
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        (lo, hi) = (mid, hi) if sum(est[k][c][0] for k, c in choose(mid).items()) > budget else (lo, mid)
    return choose(hi)

def mean_point(results, L):
    px = {im: sum(T[k][L][2] // 3 for k in by_img[im]) for im in imgs}
    return (np.mean([b / px[im] for (b, _), im in zip(results, imgs)]), np.mean([p for _, p in results]))

def evaluate(L, span, sse_factor, bits_factor=0.8):
    """Oracle and predicted choice among levels L-span..L+span (one factor per round)."""
    levels = [l for l in range(L - span, L + span + 1) if 0 <= l <= 8]
    oracle, pred, moved = [], [], 0
    for im in imgs:
        keys = by_img[im]
        oracle.append(stats(keys, neutral(keys, L, {k: {l: T[k][l][:2] for l in levels} for k in keys})))
        guess = neutral(keys, L, {k: {l: (T[k][L][0] * bits_factor ** (l - L), T[k][L][1] * sse_factor ** (l - L))
                                      for l in levels} for k in keys})
        moved += sum(guess[k] != L for k in keys)
        pred.append(stats(keys, neutral(keys, L, {k: {l: T[k][l][:2] for l in {L, guess[k]}} for k in keys})))
    return mean_point(oracle, L), mean_point(pred, L), moved / len(T)

print("1. +-1 level, error factor per round 1.2 (0.8 dB), bits 0.8: bpp / dB; tiles fitted twice")
for L in range(1, 8):
    fixed = mean_point([stats(by_img[im], {k: L for k in by_img[im]}) for im in imgs], L)
    o, p, m = evaluate(L, 1, 1.2)
    print(f"  L{L}: one level {fixed[0]:.3f}/{fixed[1]:.2f} | oracle {o[0]:.3f}/{o[1]:.2f} | predicted {p[0]:.3f}/{p[1]:.2f}, {m:.0%} refitted")
print("2. the factor: predicted choice with 0.6 / 0.85 / 1.1 dB per round")
for L in (1, 2, 4, 6):
    print(f"  L{L}: " + " | ".join(f"{db} dB {p[0]:.3f}/{p[1]:.2f}" for db in (0.6, 0.85, 1.1)
                                   for p in [evaluate(L, 1, 10 ** (db / 10))[1]]))
print("3. wider choice: +-1, +-2, +-3 levels (oracle / predicted)")
for L in (2, 4, 6):
    print(f"  L{L}: " + " | ".join(f"+-{s} {o[0]:.3f}/{o[1]:.2f} / {p[0]:.3f}/{p[1]:.2f}"
                                   for s in (1, 2, 3) for o, p, _ in [evaluate(L, s, 1.2)]))
