#!/bin/bash
# RD on 15 imagenette/val whole images (every 20th file), real files, default payload, 100 steps.
# Same binary, same images, one model after another.
M=./msinr; V=/work/val15
rd() { name=$1; model=$2; shift 2
  [ -f rd-$name/summary.csv ] && return
  $M rd --images $V --levels 0,1,2,4,6,8 --bits 0 --model $model --out rd-$name --threads 2 "$@" > rd-$name.log 2>&1; }
# scratch floors: the same shapes and masks from the standard init (no meta-learning)
D=/work/shared/data
[ -f scratch-fitted.msm ] || $M train --data $D/imagenette/train --count 4 --crop 128 --width 48 --layers 3 --w0 30 --dense-steps 0 --rounds 8 --round-steps 0 --seed 1 --out scratch-fitted.msm --quiet
[ -f scratch-frozen.msm ] || $M train --data $D/imagenette/train --count 4 --crop 128 --width 48 --layers 3 --w0 30 --dense-steps 0 --rounds 8 --round-steps 0 --seed 1 --freeze-biases --out scratch-frozen.msm --quiet
rd fitted fitted.msm
rd frozen frozen.msm --jpeg-qualities none --no-bd
rd scratch-fitted scratch-fitted.msm --jpeg-qualities none --no-bd
rd scratch-frozen scratch-frozen.msm --jpeg-qualities none --no-bd
# The shipped natural model as is, and with its biases frozen at their (fitted-mode) meta-learned init, no retraining
rd natural /work/main/codec/models/natural.msm --jpeg-qualities none --no-bd
rd natural-frozen natural-frozen.msm --jpeg-qualities none --no-bd
# Dense-narrow networks (one level each) at the sparse model's weight counts of levels 1, 4, 8
while [ ! -f narrow816.msm ]; do sleep 20; done
for n in narrow3879 narrow1988 narrow816; do
  [ -f rd-$n/summary.csv ] || $M rd --images $V --levels 0 --bits 0 --model $n.msm --out rd-$n --threads 2 --jpeg-qualities none --no-bd > rd-$n.log 2>&1
done
