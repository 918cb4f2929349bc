#!/bin/bash
# Tile size on whole images, scratch floor first (issue 15 search; validation only: VAL15 =
# 15 imagenette/val images, every 20th file). Same network (SIREN 2-48x3-3, w0 30, frozen biases
# as shipped), the standard init and the pruning masks of --dense-steps 0, each level's encoder rate
# chosen by the trainer on 8 validation crops. One binary, one set of images, uniform levels so that
# the representation alone is compared.
M=/work/main/build/msinr; D=/work/shared/data; V=/work/val15
for T in ${TILES:-128 96 64 178 256}; do
  [ -f scratch-t$T.msm ] || $M train --data $D/imagenette/train --count 4 --crop $T --width 48 --layers 3 --w0 30 \
     --dense-steps 0 --rounds 8 --round-steps 0 --seed 1 --freeze-biases --val-data $D/imagenette/val --val-count 8 \
     --fit-lrs 1e-3,3e-3,1e-2 --out scratch-t$T.msm --quiet > scratch-t$T.train.log 2>&1 || { echo "train t$T failed"; continue; }
  [ -f rd-scratch-t$T/summary.csv ] || $M rd --images $V --levels 0,2,4,6,8 --bits 0 --tile-levels uniform \
     --model scratch-t$T.msm --out rd-scratch-t$T --threads 2 --jpeg-qualities none --no-bd > rd-scratch-t$T.log 2>&1
  echo "t$T done $(date +%T)"
done
