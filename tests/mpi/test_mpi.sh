#!/usr/bin/env bash
# Multi-process msinr on this machine: 2 ranks under mpirun, loopback only.
# Usage: test_mpi.sh CASE MSINR MPIRUN SOURCE_DIR   (CASE: train, resume, failure, rd)
set -euo pipefail
case_name=$1 msinr=$2 mpirun=$3 src=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Loopback TCP and shared memory only (no InfiniBand probing, no other interfaces), root allowed (CI).
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_pml=ob1 OMPI_MCA_osc=^ucx OMPI_MCA_btl_base_warn_component_unused=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Sanitized builds (MSINR_SANITIZE=ON): Open MPI's own leaks are suppressed, msinr's are not (see the file).
export LSAN_OPTIONS="suppressions=$src/tests/mpi/lsan-openmpi.supp:fast_unwind_on_malloc=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
mpi2() { timeout 120 "$mpirun" --oversubscribe --allow-run-as-root -np 2 "$@"; }
model_id() { sed -n 's/.*model id \([0-9a-f]*\).*/\1/p'; }
fail() { echo "FAIL: $*" >&2; exit 1; }

# A tiny training on the three sample photographs: 3 tasks per step (split 1 + 2 over 2 ranks),
# half of each crop's pixels per task (the per-task random subsets must stay in step across ranks).
tiny=(--crop 16 --width 16 --layers 2 --w0 30 --rounds 2 --round-steps 2 --tasks 3 --pixel-fraction 0.5
      --outer-lr 1e-4 --threads 1 --quiet -f)
train=(train --data "$src/samples" --dense-steps 3 "${tiny[@]}")
other=(train --data "$tmp/other" --dense-steps 3 "${tiny[@]}")
long=(train --data "$src/samples" --dense-steps 100000 "${tiny[@]}")

case $case_name in
train)  # 2 ranks equal 1 rank bit for bit: the model id is a hash of every level's mask and weights
  one=$("$msinr" "${train[@]}" --out "$tmp/one.msm" | model_id)
  two=$(mpi2 "$msinr" "${train[@]}" --out "$tmp/two.msm" | model_id)
  echo "1 rank: $one  2 ranks: $two"
  [ -n "$one" ] && [ "$one" = "$two" ] || fail "2-rank model differs from the 1-rank model"
  ;;
resume)  # a checkpoint resumes under another rank count, to the same model
  one=$("$msinr" "${train[@]}" --out "$tmp/one.msm" | model_id)
  mpi2 "$msinr" "${train[@]}" --out "$tmp/a.msm" --max-steps 4 | grep -q "stopped after 4 steps" || fail "no stop"
  [ -f "$tmp/a.msm.ckpt" ] && [ ! -e "$tmp/a.msm" ] || fail "stopping must leave a checkpoint and no model"
  a=$("$msinr" "${train[@]}" --out "$tmp/a.msm" --resume "$tmp/a.msm.ckpt" | model_id)
  "$msinr" "${train[@]}" --out "$tmp/b.msm" --max-steps 3 >/dev/null
  b=$(mpi2 "$msinr" "${train[@]}" --out "$tmp/b.msm" --resume "$tmp/b.msm.ckpt" | model_id)
  echo "straight: $one  2 ranks then 1: $a  1 rank then 2: $b"
  [ -n "$one" ] && [ "$one" = "$a" ] && [ "$one" = "$b" ] || fail "resumed model differs"
  ;;
failure)  # a rank that fails or dies ends the job non-zero, with no model written
  mkdir "$tmp/other" && cp "$src/samples/kodim03.png" "$tmp/other/"
  set +e
  out=$(timeout 120 "$mpirun" --oversubscribe --allow-run-as-root -np 1 "$msinr" "${train[@]}" --out "$tmp/m.msm" \
        : -np 1 "$msinr" "${other[@]}" --out "$tmp/m.msm" 2>&1)
  rc=$?
  set -e
  echo "$out" | tail -n 20
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a rank with other data: exit $rc, expected a non-zero exit from mpirun"
  echo "$out" | grep -q "every process needs the same --data" || fail "no clear message"
  [ ! -e "$tmp/m.msm" ] || fail "a model was written"
  set +e
  out=$(timeout 120 "$mpirun" --oversubscribe --allow-run-as-root -np 1 "$msinr" "${long[@]}" --out "$tmp/k.msm" : -np 1 sh -c 'sleep 2; kill -9 $$' 2>&1)
  rc=$?
  set -e
  echo "$out" | tail -n 8
  echo "$out" | grep -q "signal 9" || fail "mpirun did not report the killed rank"
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a killed rank: exit $rc, expected a non-zero exit from mpirun"
  [ ! -e "$tmp/k.msm" ] || fail "a model was written"
  # Commands that do not share their work refuse to run N times over (they would race on outputs).
  set +e
  out=$(mpi2 "$msinr" info "$src/samples/kodim03.msinr" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] && echo "$out" | grep -q "only 'msinr train' and 'msinr rd' run as several processes" || fail "info under mpirun: exit $rc"
  ;;
rd)  # 2 ranks share the images; rank 0 writes the rows, summary, deltas and plot of 1 rank
  "$msinr" "${train[@]}" --out "$tmp/m.msm" >/dev/null
  rd=(rd --images "$src/samples" --crop 32 --model "$tmp/m.msm" --levels 0,2 --bits 16 --steps 3 --threads 1 --jobs 1 --quiet --no-bd)
  rows() { cut -d, -f1-10 "$1/rd.csv" | sort; }              # without the two timing columns
  summary() { cut -d, -f1-8 "$1/summary.csv"; }
  "$msinr" "${rd[@]}" --jpeg-qualities 50,90 --out "$tmp/one"
  mpi2 "$msinr" "${rd[@]}" --jpeg-qualities 50,90 --out "$tmp/two"
  [ "$(rows "$tmp/one" | wc -l)" -eq 19 ] || fail "expected 3 images x 6 settings + header"
  diff <(rows "$tmp/one") <(rows "$tmp/two") || fail "2-rank rows differ"
  diff <(summary "$tmp/one") <(summary "$tmp/two") || fail "2-rank summary differs"
  cmp "$tmp/one/bd.csv" "$tmp/two/bd.csv" && cmp "$tmp/one/rd.svg" "$tmp/two/rd.svg" || fail "bd.csv or rd.svg differ"
  # Resuming into the folder: rows already there are kept, only the new quality is measured.
  "$msinr" "${rd[@]}" --jpeg-qualities 50,70,90 --out "$tmp/one"
  mpi2 "$msinr" "${rd[@]}" --jpeg-qualities 50,70,90 --out "$tmp/two"
  [ "$(rows "$tmp/two" | wc -l)" -eq 25 ] || fail "resumed rd.csv has $(rows "$tmp/two" | wc -l) lines, expected 25"
  diff <(rows "$tmp/one") <(rows "$tmp/two") || fail "resumed 2-rank rows differ"
  cmp "$tmp/one/rd.svg" "$tmp/two/rd.svg" || fail "resumed rd.svg differs"
  ;;
*) fail "unknown case $case_name" ;;
esac
echo "ok: $case_name"
