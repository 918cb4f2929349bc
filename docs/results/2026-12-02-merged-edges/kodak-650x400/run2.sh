#!/bin/bash
# The grid at sparser levels (2, 3) beside merged level 1 (the default) on the same 650x400 cuts.
M=/work/main/build/msinr
for L in 2 3; do for k in 01 03 05 13 19 23; do
  $M encode k$k.png k$k-grid-L$L.msinr -f --edge-tiles grid --level $L --json --quiet > k$k-grid-L$L.json
done; done
python3 - <<'PY'
import json, statistics as s
for tag in ['merge','grid','grid-L2','grid-L3']:
    r=[json.load(open(f'k{k}-{tag}.json')) for k in ['01','03','05','13','19','23']]
    print(f"{tag}: {s.mean(x['bpp'] for x in r):.3f} bpp {s.mean(x['psnr'] for x in r):.2f} dB (levels {sorted(set(x['level'] for x in r))})")
PY
