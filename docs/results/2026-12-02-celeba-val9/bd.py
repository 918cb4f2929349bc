# Piecewise log-linear BD-rate of the face model against the natural and scratch curves (same images).
import csv, math, numpy as np
def curve(d, extra=None):
    pts=[(float(r['psnr_mean']),math.log(float(r['bpp']))) for r in csv.DictReader(open(f'{d}/summary.csv')) if r['codec']=='msinr']
    if extra: pts+=[(float(r['psnr_mean']),math.log(float(r['bpp']))) for r in csv.DictReader(open(f'{extra}/summary.csv')) if r['codec']=='msinr']
    return sorted(pts)
def bd(a,b):  # mean log-rate difference of b against a over the PSNR overlap
    lo=max(a[0][0],b[0][0]); hi=min(a[-1][0],b[-1][0]); x=np.linspace(lo,hi,200)
    ra=np.interp(x,[p for p,_ in a],[r for _,r in a]); rb=np.interp(x,[p for p,_ in b],[r for _,r in b])
    return (math.exp(np.mean(rb-ra))-1)*100, lo, hi
f=curve('rd-faces','rd-faces57'); n=curve('rd-natural'); s=curve('rd-scratch')
print('face model vs natural: BD-rate %+.1f%% over %.2f-%.2f dB' % bd(n,f))
print('face model vs scratch: BD-rate %+.1f%% over %.2f-%.2f dB' % bd(s,f))
print('natural vs scratch: BD-rate %+.1f%% over %.2f-%.2f dB' % bd(s,n))
