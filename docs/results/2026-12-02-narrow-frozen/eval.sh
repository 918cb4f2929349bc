#!/bin/bash
# rd on VAL15 (15 imagenette/val whole images, every 20th), one binary, uniform levels (the representation alone).
M=./msinr; V=/work/val15
rd() { name=$1; model=$2; levels=$3
  [ -f rd-$name/summary.csv ] || $M rd --images $V --levels $levels --bits 0 --tile-levels uniform --model $model --out rd-$name --threads 2 --jpeg-qualities none --no-bd > rd-$name.log 2>&1; }
while [ ! -f narrow1988-frozen.msm ] || [ ! -f sparse-frozen.msm ]; do sleep 15; done
rd narrow816-frozen narrow816-frozen.msm 0
rd narrow1988-frozen narrow1988-frozen.msm 0
rd sparse-frozen sparse-frozen.msm 0,1,2,4,6,8
echo done
