# Merged edge against grid edges on VAL15 crops of 128 + r (every partial edge merged in this binary):
# per r, each mode's curve and the BD-rate of merge against grid (piecewise log-linear over the PSNR overlap).
import csv, math, os, sys
import numpy as np
def summ(d):
    p=f'{d}/summary.csv'
    if not os.path.exists(p): return {}
    return {r['setting']:(float(r['bpp']),float(r['psnr_mean'])) for r in csv.DictReader(open(p)) if r['codec']=='msinr'}
def curve(s): return sorted((p,math.log(b)) for b,p in s.values())
def bd(a,b):
    lo=max(a[0][0],b[0][0]); hi=min(a[-1][0],b[-1][0])
    if hi<=lo: return None
    x=np.linspace(lo,hi,200)
    ra=np.interp(x,[p for p,_ in a],[r for _,r in a]); rb=np.interp(x,[p for p,_ in b],[r for _,r in b])
    return (math.exp(np.mean(rb-ra))-1)*100, lo, hi
print('| crop | edge r (of 128) | grid: bpp / dB per level 0,2,4,6,8 | merged: bpp / dB | BD-rate merged vs grid (overlap) |')
print('|---|---|---|---|---|')
for r in (8,24,40,56,72,88):
    C=128+r; g=summ(f'rd-c{C}-grid'); m=summ(f'rd-c{C}-merge')
    if not g or not m: continue
    fmt=lambda s:'; '.join(f'{s[k][0]:.2f}/{s[k][1]:.2f}' for k in ('level0','level2','level4','level6','level8') if k in s)
    res=bd(curve(g),curve(m))
    print(f'| {C} | {r} | {fmt(g)} | {fmt(m)} | '+('%+.1f%% (%.1f-%.1f dB)'%res if res else 'no overlap')+' |')
