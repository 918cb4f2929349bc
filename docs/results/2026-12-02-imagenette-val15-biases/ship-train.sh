#!/bin/bash
# The shipped natural model's recipe (docs/training.md) with --freeze-biases. THREADS from the environment (default 1).
D=/work/shared/data
resume=""; [ -f natural-frozen.ckpt ] && resume="--resume natural-frozen.ckpt"
exec ./msinr train --data $D/imagenette/train --crop 128 --width 48 --layers 3 --w0 30 \
  --dense-steps 12000 --rounds 8 --round-steps 1500 --last-round-steps 3000 \
  --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 --pixel-fraction 0.25 --seed 1 --freeze-biases \
  --val-data $D/imagenette/val --val-count 8 --fit-lrs 1e-3,3e-3,1e-2 --default-level 1 \
  --checkpoint natural-frozen.ckpt --checkpoint-every 120 --threads ${THREADS:-1} $resume --out natural-frozen.msm
