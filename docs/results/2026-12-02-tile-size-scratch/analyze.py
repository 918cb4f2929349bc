# Tile size on whole validation images, scratch floor (scratch.sh): each curve, and PSNR at matched bpp
# (log-rate interpolation) against tile 128. Run from this folder.
import csv, math, os
import numpy as np
def summ(d):
    return {r['setting']:(float(r['bpp']),float(r['psnr_mean'])) for r in csv.DictReader(open(f'{d}/summary.csv')) if r['codec']=='msinr'}
S={t:summ(f'rd-scratch-t{t}') for t in (64,96,128,178) if os.path.exists(f'rd-scratch-t{t}/summary.csv')}
def psnr_at(s,b):
    pts=sorted((math.log(x),p) for x,p in s.values())
    if not pts[0][0]<=math.log(b)<=pts[-1][0]: return None
    return float(np.interp(math.log(b),[x for x,_ in pts],[y for _,y in pts]))
print('| tile | level 0 | level 2 | level 4 | level 6 | level 8 |'); print('|---|---|---|---|---|---|')
for t,s in S.items(): print(f'| {t} | '+' | '.join(f'{s[k][0]:.3f} / {s[k][1]:.2f}' for k in ('level0','level2','level4','level6','level8'))+' |')
for b in (0.5,0.75,1.0,1.5,2.0):
    row=[]
    for t,s in S.items():
        p=psnr_at(s,b); row.append(f'{t}: '+(f'{p:.2f}' if p else '-'))
    print(f'PSNR at {b} bpp: '+', '.join(row))
