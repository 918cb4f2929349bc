#!/bin/bash
# Split of the outer steps (issue 15): the frozen pair's 6,600 steps as 1,200 dense + 5,400 in the rounds (450 -> 900), against 3,000 + 3,600 (frozen.msm).
D=/work/shared/data
resume=""; [ -f split.ckpt ] && resume="--resume split.ckpt"
./msinr train --data $D/imagenette/train --crop 128 --width 48 --layers 3 --w0 30 --dense-steps 1200 --rounds 8 --round-steps 450 --last-round-steps 900 --inner-lr 0.1 --outer-lr 1e-4 --tasks 3 --pixel-fraction 0.25 --seed 1 --freeze-biases --val-data $D/imagenette/val --val-count 8 --fit-lrs 3e-3 --default-level 1 --checkpoint-every 180 --threads 1 --out split.msm --checkpoint split.ckpt $resume > split.log 2>&1
./msinr rd --images /work/val15 --levels 0,1,2,4,6,8 --bits 0 --model split.msm --out rd-split --threads 2 --jpeg-qualities none --no-bd > rd-split.log 2>&1
