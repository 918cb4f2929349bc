# Validation of the predicted per-tile levels (every 10th imagenette/val image: VAL30, symlinks made
# with `ls | sort`, keeping indices 0, 10, ..., 290). Same binary for both runs.
M=build/msinr
$M rd --images VAL30 --levels 1,2,4,6 --bits 0 --out val30-rd-uniform --tile-levels uniform --quiet --no-bd --jpeg-qualities none
$M rd --images VAL30 --levels 1,2,4,6 --bits 0 --out val30-rd-adaptive --tile-levels adaptive --quiet --no-bd --jpeg-qualities none
# python3 ../2026-12-02-tile-levels/analyze.py val30-rd-uniform val30-rd-adaptive              (against uniform)
# python3 ../2026-12-02-tile-levels/analyze.py ../2026-12-02-tile-levels/val30-rd-adaptive val30-rd-adaptive
#                                                     (against the seventh session's full search)
