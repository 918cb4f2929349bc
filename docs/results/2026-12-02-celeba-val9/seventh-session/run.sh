M=/work/main/build/msinr
$M rd --images /work/fval --levels 0,1,2,4,6,8 --bits 0 --out rd-faces-frozen --model /work/exp/faces/faces-frozen.msm --quiet --no-bd --jpeg-qualities none
$M rd --images /work/fval --levels 0,1,2,4,6,8 --bits 0 --out rd-natural --quiet --no-bd --jpeg-qualities none
$M rd --images /work/fval --levels 0,1,2,4,6,8 --bits 0 --out rd-faces-old --model /work/main/codec/models/faces.msm --quiet --no-bd --jpeg-qualities none
# Table and BD-rates (analysis.txt): the sixth session's script, run from this folder:
#   python3 ../../2026-12-02-imagenette-val15-biases/analyze.py natural faces-frozen faces-old
