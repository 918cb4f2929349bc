# The new default (frozen biases) against the previous one on Kodak, same run: levels and BD-rate.
import csv, math, numpy as np
def summ(d): return {r['setting']:(float(r['bpp']),float(r['psnr_mean']),float(r['ssim'])) for r in csv.DictReader(l for l in open(f'{d}/summary.csv') if not l.startswith('#')) if r['codec']=='msinr'}
def curve(d): return sorted((p,math.log(b)) for b,p,_ in summ(d).values())
def bd(a,b):
    lo=max(a[0][0],b[0][0]); hi=min(a[-1][0],b[-1][0]); x=np.linspace(lo,hi,200)
    ra=np.interp(x,[p for p,_ in a],[r for _,r in a]); rb=np.interp(x,[p for p,_ in b],[r for _,r in b])
    return (math.exp(np.mean(rb-ra))-1)*100, lo, hi
n=summ('rd-new'); o=summ('rd-old')
for L in (1,2,4,8):
    k=f'level{L}'; print(L, 'new %.3f bpp / %.2f dB / SSIM %.3f' % n[k], '| previous %.3f / %.2f / %.3f' % o[k])
print('new against previous: BD-rate %+.1f%% over %.2f-%.2f dB' % bd(curve('rd-old'), curve('rd-new')))
