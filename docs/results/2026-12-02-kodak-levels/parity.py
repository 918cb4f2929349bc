# Issue 14 parity at levels 0 and 1 from this folder's files: python3 parity.py
import csv, json, math, sys
rows = list(csv.DictReader(open('rd.csv')))
imgs = sorted({r['image'] for r in rows if r['codec']=='msinr-fp16' and r['setting']=='level1'})
imgs = [i for i in imgs if sum(1 for r in rows if r['image']==i)==4]
def get(codec, setting):
    v = [(float(r['bpp']), float(r['psnr'])) for r in rows if r['codec']==codec and r['setting']==setting and r['image'] in imgs]
    return sum(b for b,_ in v)/len(v), sum(p for _,p in v)/len(v)
ql = {}
for L in (0,1):
    try:
        js = [json.loads(l) for l in open(f'quant-loss-0.1.jsonl') if l.strip()]
        js = [j for j in js if 'input' in j and j['level'] == L and j['input'].split('/')[-1] in imgs]
        if len(js)==len(imgs): ql[L] = (sum(j['bpp'] for j in js)/len(js), sum(j['psnr'] for j in js)/len(js))
    except FileNotFoundError: pass
print('images:', ', '.join(imgs))
d = {L: get('msinr', f'level{L}') for L in (0,1)}
f = {L: get('msinr-fp16', f'level{L}') for L in (0,1)}
def interp(target):  # bits the default curve needs for a PSNR, log-rate linear between its points
    pts = sorted(d.values())
    for (b0,p0),(b1,p1) in zip(pts, pts[1:]):
        if min(p0,p1) <= target <= max(p0,p1):
            t = (target-p0)/(p1-p0); return math.exp(math.log(b0)+t*(math.log(b1)-math.log(b0)))
    return None
print('| level | fp16 bpp / PSNR | default bpp / PSNR | default bits at fp16 PSNR - 0.1 dB | fewer bits | quant-loss 0.1 bpp / PSNR | its PSNR - fp16 | fewer bits |')
print('|---|---|---|---|---|---|---|---|')
for L in (0,1):
    fb, fp = f[L]; db, dp = d[L]
    b = interp(fp-0.1)
    s1 = f'{b:.3f}' if b else 'not reached (no denser level)'
    s2 = f'{fb/b:.2f}x' if b else '-'
    q = ql.get(L)
    s3 = f'{q[0]:.3f} / {q[1]:.2f}' if q else 'n/a'
    s4 = f'{q[1]-fp:+.2f} dB' if q else ''
    s5 = f'{fb/q[0]:.2f}x' if q else ''
    print(f'| {L} | {fb:.3f} / {fp:.2f} | {db:.3f} / {dp:.2f} | {s1} | {s2} | {s3} | {s4} | {s5} |')
