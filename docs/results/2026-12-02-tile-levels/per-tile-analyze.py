# Rate-neutral per-tile level choice vs one level per image, from measure.py's per-tile encodes.
import json, sys, math, collections
import numpy as np
rows = json.load(open(sys.argv[1])); overhead = float(sys.argv[2]) if len(sys.argv) > 2 else 0
cands = sys.argv[3] if len(sys.argv) > 3 else "all"
OFFS = [int(x) for x in cands.split(",")] if cands != "all" else []
T = collections.defaultdict(dict)
for r in rows:
    n = r['w'] * r['h'] * 3
    sse = n * 255.0**2 / 10 ** (r['psnr'] / 10)
    T[(r['image'], r['tx'], r['ty'])][r['level']] = (8 * (r['bytes'] - overhead), sse, n)
imgs = sorted(set(k[0] for k in T))
def image_stats(choice):  # choice: tile key -> level; returns per image (bits, psnr)
    out = []
    for im in imgs:
        bits = sse = n = 0
        px = 0
        for k, lv in T.items():
            if k[0] != im: continue
            b, s, nn = lv[choice[k]]; bits += b; sse += s; n += nn; px += nn // 3
        out.append((bits / px, 10 * math.log10(255**2 * n / sse)))
    return out
def adaptive(L, lam_scale):
    ch = {}
    for k, lv in T.items():
        allowed = [l for l in lv if cands == "all" or (l - L) in OFFS] or [L]
        ch[k] = min(allowed, key=lambda l: lv[l][1] + lam_scale * lv[l][0])
    return ch
print('level | fixed bpp / dB | adaptive (same bits per image set) bpp / dB | gain dB | levels used')
for L in range(9):
    fixed = {k: L for k in T}
    fs = image_stats(fixed); fb = np.mean([a for a, _ in fs]); fp = np.mean([b for _, b in fs])
    # lambda so that mean bpp matches
    lo, hi = 1e-3, 1e6
    for _ in range(60):
        mid = math.sqrt(lo * hi)
        a = image_stats(adaptive(L, mid)); ab = np.mean([x for x, _ in a])
        if ab > fb: lo = mid
        else: hi = mid
    ch = adaptive(L, hi); a = image_stats(ch)
    ab = np.mean([x for x, _ in a]); ap = np.mean([y for _, y in a])
    used = collections.Counter(ch.values())
    print(f'{L} | {fb:.3f} / {fp:.2f} | {ab:.3f} / {ap:.2f} | {ap-fp:+.2f} | {dict(sorted(used.items()))}')
