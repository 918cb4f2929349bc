import sys, math, glob, subprocess, numpy as np
files = sorted(glob.glob(sys.argv[1] + '/*.msinr'))
out = subprocess.run([sys.argv[2]] + files, capture_output=True, text=True).stdout.split('\n')
data = []
for i in range(0, len(out) - 1, 3):
    _, name, nbytes, tiles = out[i].split()
    groups = [int(x) for x in out[i + 1].split()]
    syms = np.array([int(x) for x in out[i + 2].split()], dtype=np.int64)
    data.append((name, int(nbytes), int(tiles), groups, syms))
L2 = [math.log2(x / 65536) for x in range(1, 65536)]
class Ctx:
    __slots__ = ('f', 's', 'n')
    def __init__(self): self.f = 32768; self.s = 32768; self.n = 0
def code(ctx, bit):
    p = (ctx.f + ctx.s) >> 1
    cost = -(math.log2(p / 65536) if bit == 0 else math.log2(1 - p / 65536))
    L = int(math.log2(ctx.n + 4)); sf = min(6, L); ss = min(10, L)
    if bit == 0: ctx.f += (65536 - ctx.f) >> sf; ctx.s += (65536 - ctx.s) >> ss
    else: ctx.f -= ctx.f >> sf; ctx.s -= ctx.s >> ss
    ctx.n = min(ctx.n + 1, 1020)
    return cost
def sym_cost(cs, s):
    c = code(cs['NZ'], 1 if s else 0)
    if not s: return c
    c += code(cs['SIGN'], 1 if s < 0 else 0)
    a = abs(s); k = a.bit_length() - 1
    for j in range(k): c += code(cs['P', j], 1)
    if k < 23: c += code(cs['P', k], 0)
    for r in range(k):
        bit = (a >> (k - 1 - r)) & 1
        c += code(cs['S', k, r], bit) if r < 3 else 1.0
    return c
class Set(dict):
    def __missing__(self, key): v = Ctx(); self[key] = v; return v
def bucket(m):
    return 0 if m == 0 else 1 if m == 1 else 2 if m <= 2 else 3 if m <= 4 else 4 if m <= 8 else 5
def run(variant):
    total = 0.0
    for name, nbytes, tiles, groups, syms in data:
        n = sum(groups); sets = {}
        gof = np.concatenate([np.full(g, i) for i, g in enumerate(groups)])
        for t in range(tiles):
            prev = None; prev2 = None
            for j in range(n):
                s = int(syms[t * n + j]); g = int(gof[j])
                if j == 0 or gof[j - 1] != g: prev = None; prev2 = None
                if variant == 'base': key = (g,)
                elif variant == 'prev': key = (g, -1 if prev is None else bucket(abs(prev)))
                elif variant == 'prev2': key = (g, -1 if prev is None else bucket((abs(prev) + abs(prev2 if prev2 is not None else prev) + 1) // 2))
                elif variant == 'lasttile': key = (g, -1 if t == 0 else bucket(abs(int(syms[(t - 1) * n + j]))))
                elif variant == 'both': key = (g, -1 if prev is None else bucket(abs(prev)), -1 if t == 0 else min(3, bucket(abs(int(syms[(t - 1) * n + j])))))
                cs = sets.get(key)
                if cs is None: cs = sets[key] = Set()
                total += sym_cost(cs, s)
                prev2 = prev; prev = s
    return total
payload = sum(d[1] for d in data)
print('files', len(data), 'total file bytes', payload)
for v in sys.argv[3:]:
    bits = run(v); print(v, round(bits / 8), 'bytes')
emp = 0.0
for name, nbytes, tiles, groups, syms in data:
    n = sum(groups); off = 0
    S = syms.reshape(tiles, n)
    for g in groups:
        v = S[:, off:off + g].ravel(); off += g
        _, c = np.unique(v, return_counts=True); p = c / c.sum()
        emp += -(c * np.log2(p)).sum()
    
print('order-0 empirical (counts known):', round(emp / 8), 'bytes')
