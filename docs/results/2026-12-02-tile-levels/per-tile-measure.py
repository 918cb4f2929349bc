# Per-tile rate and distortion at every level: each 128-px tile of a validation image encoded alone.
import json, os, subprocess, sys, tempfile
from PIL import Image
msinr = '/work/main/build/msinr'
d = sys.argv[1]; step = int(sys.argv[2]); out = sys.argv[3]; levels = range(9)
files = sorted(os.listdir(d))[::step]
tmp = tempfile.mkdtemp()
rows = []
for f in files:
    im = Image.open(os.path.join(d, f)).convert('RGB'); W, H = im.size
    for ty, y in enumerate(range(0, H, 128)):
        for tx, x in enumerate(range(0, W, 128)):
            crop = im.crop((x, y, min(x+128, W), min(y+128, H)))
            p = os.path.join(tmp, 't.png'); crop.save(p)
            for L in levels:
                r = subprocess.run([msinr, 'encode', p, os.path.join(tmp, 't.msinr'), '--level', str(L), '--json', '--quiet', '-f'], capture_output=True, text=True)
                j = json.loads(r.stdout)
                rows.append(dict(image=f, tx=tx, ty=ty, w=crop.size[0], h=crop.size[1], level=L, bytes=j['bytes'], psnr=j['psnr']))
    print(f, flush=True)
json.dump(rows, open(out, 'w'))
