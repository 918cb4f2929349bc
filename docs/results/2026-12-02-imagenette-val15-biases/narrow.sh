#!/bin/bash
# Dense-narrow networks meta-trained with the same outer steps as the sparse pair (3000 dense + 3600 in rounds = 6600),
# at the weight counts of the sparse model's levels 1, 4 and 8 (issue 15: sparse vs dense-narrow at the same parameter count).
D=/work/shared/data
while [ ! -f fitted.msm ] || [ ! -f frozen.msm ]; do sleep 20; done
common="--data $D/imagenette/train --crop 128 --layers 3 --w0 30 --dense-steps 6600 --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 --pixel-fraction 0.25 --seed 1 --val-data $D/imagenette/val --val-count 8 --fit-lrs 3e-3 --checkpoint-every 180 --threads 1"
run() { name=$1; shift
  [ -f $name.msm ] && return
  resume=""; [ -f $name.ckpt ] && resume="--resume $name.ckpt"
  ./msinr train $common "$@" --out $name.msm --checkpoint $name.ckpt $resume > $name.log 2>&1; }
run narrow3879 --narrow-for 3879 &
run narrow1988 --narrow-for 1988 &
wait
run narrow816 --narrow-for 816
