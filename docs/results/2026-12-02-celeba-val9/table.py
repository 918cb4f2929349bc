import csv, os
def summ(d):
    p=f'{d}/summary.csv'
    if not os.path.exists(p): return {}
    return {r['setting']:(float(r['bpp']),float(r['psnr_mean']),float(r['ssim'])) for r in csv.DictReader(open(p)) if r['codec']=='msinr'}
f=summ('rd-faces'); f.update(summ('rd-faces57')); n=summ('rd-natural'); s=summ('rd-scratch')
print('| level | face model bpp / PSNR | built-in natural model | scratch (same network, no meta-learning) | face - natural | face - scratch |')
print('|---|---|---|---|---|---|')
for L in range(9):
    k=f'level{L}'
    if k not in f: continue
    def c(m): return f'{m[k][0]:.3f} / {m[k][1]:.2f}' if k in m else '-'
    dn=f'{f[k][1]-n[k][1]:+.2f} dB' if k in n else ''
    ds=f'{f[k][1]-s[k][1]:+.2f} dB' if k in s else ''
    print(f'| {L} | {c(f)} | {c(n)} | {c(s)} | {dn} | {ds} |')
