#!/usr/bin/env bash
# scripts/model-search on its tiny grid (two 16-pixel configurations, 5 encoder steps, one
# validation image): it must write search.csv with a row per configuration and learning rate, and a
# table that marks a front. Seconds; it checks the script's plumbing, not the search's answers.
set -euo pipefail
msinr="$1" root="$2"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
data="$root/../shared/data/celeba89"
python3 "$root/scripts/model-search" --grid tiny --msinr "$msinr" --val "$data" --train-data "$data" \
  --val-count 1 --steps 5 --lrs 1e-3,1e-2 --out "$out" --work "$out/work"
rows=$(($(wc -l < "$out/search.csv") - 1))
[ "$rows" -eq 4 ] || { echo "expected 4 rows (2 configurations x 2 rates), got $rows" >&2; exit 1; }
grep -q '^| scratch | 16 | 8x2 | 30 / 30 | fitted ' "$out/table.md" || { echo "table.md lacks the 8x2 row" >&2; exit 1; }
# Frozen biases are a dimension of their own: new rows, fewer values per tile (8x2: 123 with its
# 19 biases, 104 without), the fitted rows kept.
python3 "$root/scripts/model-search" --grid tiny --msinr "$msinr" --val "$data" --train-data "$data" \
  --val-count 1 --steps 5 --lrs 1e-3,1e-2 --biases fitted,frozen --out "$out" --work "$out/work"
rows=$(($(wc -l < "$out/search.csv") - 1))
[ "$rows" -eq 8 ] || { echo "expected 8 rows with frozen biases, got $rows" >&2; exit 1; }
grep -q '^scratch,16,8,2,30.0,30.0,frozen,0,-,104,' "$out/search.csv" || { echo "no frozen 8x2 row of 104 values" >&2; exit 1; }
grep -q '^scratch,16,8,2,30.0,30.0,fitted,0,-,123,' "$out/search.csv" || { echo "no fitted 8x2 row of 123 values" >&2; exit 1; }
grep -q ' \* |' "$out/table.md" || { echo "table.md marks no front" >&2; exit 1; }
# A rerun measures nothing again (resumable) and a Kodak validation folder is refused.
python3 "$root/scripts/model-search" --grid tiny --msinr "$msinr" --val "$data" --train-data "$data" \
  --val-count 1 --steps 5 --lrs 1e-3,1e-2 --out "$out" --work "$out/work"
[ "$(($(wc -l < "$out/search.csv") - 1))" -eq 8 ] || { echo "the rerun measured again" >&2; exit 1; }
if python3 "$root/scripts/model-search" --grid tiny --msinr "$msinr" --val "$root/../shared/data/kodak" \
     --out "$out/k" 2>/dev/null; then
  echo "a Kodak validation folder was accepted" >&2; exit 1
fi
echo "model-search smoke test passed"
