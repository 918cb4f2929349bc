#!/bin/bash
# Dense-narrow with frozen biases against the sparse family with frozen biases, same recipe and
# outer steps (6,600: the sixth session's short recipe), validation only (issue 15's open row).
D=/work/shared/data
sparse="--data $D/imagenette/train --crop 128 --width 48 --layers 3 --w0 30 --dense-steps 3000 --rounds 8 --round-steps 300 --last-round-steps 600 --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 --pixel-fraction 0.25 --seed 1 --val-data $D/imagenette/val --val-count 8 --fit-lrs 3e-3 --default-level 1 --checkpoint-every 180 --threads 1 --freeze-biases"
narrow="--data $D/imagenette/train --crop 128 --layers 3 --w0 30 --dense-steps 6600 --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 --pixel-fraction 0.25 --seed 1 --val-data $D/imagenette/val --val-count 8 --fit-lrs 3e-3 --checkpoint-every 180 --threads 1 --freeze-biases"
run() { name=$1; shift
  [ -f $name.msm ] && return
  resume=""; [ -f $name.ckpt ] && resume="--resume $name.ckpt"
  nice -n 10 ./msinr train "$@" --out $name.msm --checkpoint $name.ckpt $resume > $name.log 2>&1; }
run sparse-frozen $sparse &
( run narrow816-frozen $narrow --narrow-for 816; run narrow1988-frozen $narrow --narrow-for 1988 ) &
wait
