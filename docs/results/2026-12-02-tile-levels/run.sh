M=/work/main/build/msinr
$M rd --images /work/val30 --levels 1,2,4,6 --bits 0 --out /work/exp/tl/rd-adaptive --tile-levels adaptive --quiet --no-bd --jpeg-qualities none
$M rd --images /work/shared/data/kodak --levels 1,2,4,6 --bits 0 --out /work/exp/tlk/rd-adaptive --tile-levels adaptive --quiet --no-bd --jpeg-qualities none
