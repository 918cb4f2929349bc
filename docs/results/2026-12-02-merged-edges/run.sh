#!/bin/bash
# Merged edge against grid edges, per edge width r, on VAL15 (15 imagenette/val, every 20th) crops
# of 128 + r; the binary merges every partial edge (threshold experiment). Default encode otherwise.
M=/work/exp/msinr-mergeall; V=/work/val15
for r in ${RS:-8 24 40 56 72 88}; do
  C=$((128 + r))
  for mode in merge grid; do
    d=rd-c$C-$mode
    [ -f $d/summary.csv ] || $M rd --images $V --crop $C --levels 0,2,4,6,8 --bits 0 --edge-tiles $mode \
      --out $d --threads 2 --jpeg-qualities none --no-bd > $d.log 2>&1
  done
  echo "c$C done $(date +%T)"
done
