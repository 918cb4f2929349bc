# Frozen vs fitted biases and dense-narrow vs sparse, on 15 imagenette/val whole images (same images, same binary).
import csv, math, os, sys
import numpy as np
def summ(d):
    p=f'{d}/summary.csv'
    if not os.path.exists(p): return {}
    return {r['setting']:(float(r['bpp']),float(r['psnr_mean'])) for r in csv.DictReader(open(p)) if r['codec']=='msinr'}
def curve(d):
    return sorted((p,math.log(b)) for b,p in summ(d).values())
def bd(a,b):  # piecewise log-linear BD-rate of b against a over the PSNR overlap
    lo=max(a[0][0],b[0][0]); hi=min(a[-1][0],b[-1][0])
    if hi<=lo: return None
    x=np.linspace(lo,hi,200)
    ra=np.interp(x,[p for p,_ in a],[r for _,r in a]); rb=np.interp(x,[p for p,_ in b],[r for _,r in b])
    return (math.exp(np.mean(rb-ra))-1)*100, lo, hi
names=sys.argv[1:] or ['fitted','frozen','scratch-fitted','scratch-frozen','natural','natural-frozen']
S={n:summ('rd-'+n) for n in names}
print('| level | '+' | '.join(names)+' |'); print('|---'*(len(names)+1)+'|')
for L in (0,1,2,4,6,8):
    k=f'level{L}'
    print(f'| {L} | '+' | '.join(f'{S[n][k][0]:.3f} / {S[n][k][1]:.2f}' if k in S[n] else '-' for n in names)+' |')
if sys.argv[1:]:  # named curves: each against the first
    for n in names[1:]:
        r=bd(curve('rd-'+names[0]),curve('rd-'+n)) if S.get(n) and S.get(names[0]) else None
        print(f'{n} against {names[0]}: ' + ('BD-rate %+.1f%% over %.2f-%.2f dB' % r if r else 'not measured or no overlap'))
    sys.exit(0)
pairs=[('fitted','frozen'),('scratch-fitted','scratch-frozen'),('scratch-fitted','fitted'),('scratch-frozen','frozen'),('natural','natural-frozen'),('natural','fitted'),('natural','frozen')]
for a,b in pairs:
    if S.get(a) and S.get(b):
        r=bd(curve('rd-'+a),curve('rd-'+b))
        print(f'{b} against {a}: ' + ('BD-rate %+.1f%% over %.2f-%.2f dB' % r if r else 'no overlap'))
# Dense-narrow points against the sparse curves at the same bpp (log-rate interpolation between levels).
def psnr_at(d, bpp):
    pts=sorted((math.log(b),p) for b,p in summ(d).values())
    return float(np.interp(math.log(bpp),[x for x,_ in pts],[y for _,y in pts]))
for n in ('narrow3879','narrow1988','narrow816'):
    s=summ('rd-'+n)
    if not s: continue
    b,p=s['level0']
    print(f'{n}: {b:.3f} bpp / {p:.2f} dB; sparse fitted at that bpp {psnr_at("rd-fitted",b):.2f} ({p-psnr_at("rd-fitted",b):+.2f}), '
          f'sparse frozen {psnr_at("rd-frozen",b):.2f} ({p-psnr_at("rd-frozen",b):+.2f}), shipped natural {psnr_at("rd-natural",b):.2f} ({p-psnr_at("rd-natural",b):+.2f})')
