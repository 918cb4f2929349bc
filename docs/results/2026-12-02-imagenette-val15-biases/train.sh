#!/bin/bash
# Frozen vs fitted biases, same recipe and budget (issue 15 search dimension), validation only.
D=/work/shared/data
common="--data $D/imagenette/train --crop 128 --width 48 --layers 3 --w0 30 --dense-steps 3000 --rounds 8 --round-steps 300 --last-round-steps 600 --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 --pixel-fraction 0.25 --seed 1 --val-data $D/imagenette/val --val-count 8 --fit-lrs 3e-3 --default-level 1 --checkpoint-every 180 --threads 1"
run() { # name extra
  name=$1; shift
  if [ -f $name.msm ]; then return; fi
  resume=""; [ -f $name.ckpt ] && resume="--resume $name.ckpt"
  ./msinr train $common "$@" --out $name.msm --checkpoint $name.ckpt $resume > $name.log 2>&1
}
run fitted &
run frozen --freeze-biases &
wait
