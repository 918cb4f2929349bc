#!/bin/bash
# Reported after the choice (Kodak is the test set): six Kodak images cut to 650x400 (650 = 5 x 128 + 10,
# 400 = 3 x 128 + 16: both edges thin), encoded with the defaults, merged edges against --edge-tiles grid.
M=/work/main/build/msinr
for k in 01 03 05 13 19 23; do
  python3 -c "from PIL import Image; im=Image.open('/work/shared/data/kodak/kodim$k.png'); im.crop((0,0,650,400) if im.size[0]>im.size[1] else (0,0,400,650)).save('k$k.png')"
  for e in merge grid; do
    $M encode k$k.png k$k-$e.msinr -f --edge-tiles $e --json --quiet > k$k-$e.json
  done
done
python3 - <<'PY'
import json
rows=[]
for k in ['01','03','05','13','19','23']:
    m=json.load(open(f'k{k}-merge.json')); g=json.load(open(f'k{k}-grid.json'))
    rows.append((k,m,g)); print(f"kodim{k}: merged {m['bpp']:.3f} bpp {m['psnr']:.2f} dB ({m['tiles']} tiles); grid {g['bpp']:.3f} bpp {g['psnr']:.2f} dB ({g['tiles']} tiles)")
import statistics as s
print('mean: merged %.3f bpp %.2f dB; grid %.3f bpp %.2f dB' % (s.mean(r[1]['bpp'] for r in rows), s.mean(r[1]['psnr'] for r in rows), s.mean(r[2]['bpp'] for r in rows), s.mean(r[2]['psnr'] for r in rows)))
PY
