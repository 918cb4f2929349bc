#!/bin/bash
# Test set, after the choice: the new default (frozen biases) and the previous one, same binary, same images.
M=/work/main/build/msinr; K=/work/shared/data/kodak; N=${N:-12}
cd /work/exp/kodak
$M rd --images $K --count $N --levels 1,2,4,8 --bits 0 --model /work/main/codec/models/natural.msm --out rd-new --threads 2 > rd-new.log 2>&1
$M rd --images $K --count $N --levels 1,2,4,8 --bits 0 --model /work/main/codec/models/natural-2026-12-01.msm --out rd-old --threads 2 --jpeg-qualities none --no-bd > rd-old.log 2>&1
