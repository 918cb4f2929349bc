# Dense-narrow (frozen biases) against the sparse family (frozen biases), same recipe and outer steps,
# on VAL15: the narrow point against the sparse curve at its bpp (log-rate interpolation).
import csv, math
import numpy as np
def summ(d):
    return {r['setting']:(float(r['bpp']),float(r['psnr_mean'])) for r in csv.DictReader(open(f'{d}/summary.csv')) if r['codec']=='msinr'}
sp=summ('rd-sparse-frozen')
print('sparse frozen: ' + '; '.join(f'{k} {b:.3f}/{p:.2f}' for k,(b,p) in sorted(sp.items(), key=lambda x: -x[1][0])))
pts=sorted((math.log(b),p) for b,p in sp.values())
for n in ('narrow1988-frozen','narrow816-frozen'):
    b,p=summ('rd-'+n)['level0']
    q=float(np.interp(math.log(b),[x for x,_ in pts],[y for _,y in pts]))
    print(f'{n}: {b:.3f} bpp / {p:.2f} dB; sparse frozen at that bpp {q:.2f} dB; narrow - sparse {p-q:+.2f} dB')
