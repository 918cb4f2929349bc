# Emulates a merged (stretched) edge tile with today's codec: the CxC crop resized to 128 (Lanczos) is
# encoded as one tile and decoded at CxC (the network evaluated on a finer grid), against the crop
# encoded as it is (1 whole + 3 edge tiles). Validation images only.
import subprocess, sys, os, glob, json, math
import numpy as np
from PIL import Image
M='/work/main/build/msinr'
imgs=sorted(glob.glob('/work/shared/data/imagenette/val/*'))[:6]
def psnr(a,b):
    mse=np.mean((a.astype(np.float64)-b.astype(np.float64))**2); return 10*math.log10(255**2/mse)
def run(args): subprocess.run(args,check=True,stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL)
for C in [int(c) for c in sys.argv[1].split(',')]:
  for L in [int(l) for l in sys.argv[2].split(',')]:
    res={'direct':[], 'merged':[]}
    for f in imgs:
        im=Image.open(f).convert('RGB'); w,h=im.size
        crop=im.crop(((w-C)//2,(h-C)//2,(w-C)//2+C,(h-C)//2+C)); crop.save('c.png')
        ref=np.asarray(crop)
        run([M,'encode','c.png','d.msinr','-f','--level',str(L),'--threads','2'])
        run([M,'decode','d.msinr','d.png','-f'])
        res['direct'].append((os.path.getsize('d.msinr')*8/C/C, psnr(np.asarray(Image.open('d.png').convert('RGB')),ref)))
        crop.resize((128,128),Image.LANCZOS).save('s.png')
        run([M,'encode','s.png','m.msinr','-f','--level',str(L),'--threads','2'])
        run([M,'decode','m.msinr','m.png','-f','--width',str(C),'--height',str(C)])
        res['merged'].append((os.path.getsize('m.msinr')*8/C/C, psnr(np.asarray(Image.open('m.png').convert('RGB')),ref)))
    for k,v in res.items():
        print(f'C={C} level={L} {k}: {np.mean([b for b,_ in v]):.3f} bpp / {np.mean([p for _,p in v]):.2f} dB', flush=True)
