# Odd sizes with per-tile levels: the fifth session's crops, uniform and adaptive in one run.
while pgrep -f run3.sh > /dev/null; do sleep 20; done
M=/work/main/build/msinr
for c in 200 136; do
  $M rd --images /work/shared/data/imagenette/val --count 6 --crop $c --levels 1 --bits 0 --jpeg-qualities none --no-bd --quiet --out crop-$c-uniform
  $M rd --images /work/shared/data/imagenette/val --count 6 --crop $c --levels 1 --bits 0 --jpeg-qualities none --no-bd --quiet --out crop-$c-adaptive --tile-levels adaptive
done
