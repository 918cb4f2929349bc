# Per-tile levels (--tile-levels adaptive) against one level per image, on the same images in one run:
# per-level means, paired PSNR and bpp changes, encode-time ratio, and BD-rate (piecewise log-linear).
# python3 analyze.py val30   |   python3 analyze.py kodak   |   python3 analyze.py BASE_DIR OTHER_DIR
# (any two rd folders: OTHER against BASE, printed under the same column names)
import collections, csv, math, sys
import numpy as np
prefix = sys.argv[1] if len(sys.argv) > 1 else 'val30'
base_dir, other_dir = (sys.argv[1], sys.argv[2]) if len(sys.argv) > 2 else (f'{prefix}-rd-uniform', f'{prefix}-rd-adaptive')
U = {(r['image'], r['setting']): r for r in csv.DictReader(open(f'{base_dir}/rd.csv'))}
A = {(r['image'], r['setting']): r for r in csv.DictReader(open(f'{other_dir}/rd.csv'))}
by = collections.defaultdict(list)
for k, a in A.items():
    u = U[k]
    by[k[1]].append([float(u['bpp']), float(u['psnr']), float(a['bpp']), float(a['psnr']),
                     float(u['encode_seconds']), float(a['encode_seconds'])])
print('| level | images | uniform bpp / dB | adaptive bpp / dB | PSNR change | bpp ratio | encode time ratio |')
print('|---|---|---|---|---|---|---|')
cu, ca = [], []
for s, v in sorted(by.items(), key=lambda kv: int(kv[0][5:])):
    v = np.array(v)
    print(f'| {s[5:]} | {len(v)} | {v[:,0].mean():.3f} / {v[:,1].mean():.2f} | {v[:,2].mean():.3f} / {v[:,3].mean():.2f} | '
          f'{(v[:,3]-v[:,1]).mean():+.3f} dB | {v[:,2].mean()/v[:,0].mean():.3f} | {v[:,5].sum()/v[:,4].sum():.2f} |')
    cu.append((v[:,1].mean(), math.log(v[:,0].mean()))); ca.append((v[:,3].mean(), math.log(v[:,2].mean())))
cu.sort(); ca.sort()
lo, hi = max(cu[0][0], ca[0][0]), min(cu[-1][0], ca[-1][0])
x = np.linspace(lo, hi, 200)
d = np.interp(x, [p for p, _ in ca], [r for _, r in ca]) - np.interp(x, [p for p, _ in cu], [r for _, r in cu])
print(f'adaptive against uniform: BD-rate {(math.exp(d.mean())-1)*100:+.1f}% over {lo:.2f}-{hi:.2f} dB')
