#!/usr/bin/env bash
# Multi-process msinr on this machine: 2 ranks under mpirun, loopback only.
# Usage: test_mpi.sh CASE MSINR MPIRUN SOURCE_DIR   (CASE: train, resume, failure, rd, encode)
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
  [ $rc -ne 0 ] && echo "$out" | grep -q "only 'msinr train', 'msinr rd' and a batch 'msinr encode" || fail "info under mpirun: exit $rc"
  set +e
  out=$(mpi2 "$msinr" encode "$src/samples/kodim03.png" "$tmp/k.msinr" 2>&1)
  rc=$?
  set -e
  [ $rc -ne 0 ] && echo "$out" | grep -q "one image is encoded by one process" || fail "one-image encode under mpirun: exit $rc"
  [ ! -e "$tmp/k.msinr" ] || fail "a one-image encode under mpirun wrote its output"
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
encode)  # a batch shared by 2 ranks: the 1-rank files and JSON lines; a killed or damaged batch resumes; a bad image fails the job
  mkdir "$tmp/imgs"
  # Five small images (the samples decoded 96 and 160 pixels wide: 1 and 2 tiles), so 2 ranks get 3 and 2.
  i=0
  for w in 96 160; do
    for n in kodim03 kodim05 kodim23; do
      [ $i -lt 5 ] && "$msinr" decode "$src/samples/$n.msinr" "$tmp/imgs/$n-$w.png" --width $w --quiet
      i=$((i + 1))
    done
  done
  enc=(encode "$tmp/imgs" --steps 3 --refit-steps 2 --threads 1)
  same() {  # folder $1 holds exactly the 1-rank run's five outputs, byte for byte
    for f in "$tmp"/one/*.msinr; do cmp "$f" "$1/$(basename "$f")" || fail "$1/$(basename "$f") differs from 1 rank's"; done
    [ "$(ls -A "$1" | wc -l)" -eq 5 ] || fail "$1 holds $(ls -A "$1" | wc -l) files, expected 5: $(ls -A "$1")"
  }
  normal() { sed -e "s#$tmp/[a-z]*/#OUT/#g" -e 's/"seconds": [-0-9.e+]*/"seconds": T/g' "$1"; }
  "$msinr" "${enc[@]}" -o "$tmp/one/" --json > "$tmp/one.json"
  mpi2 "$msinr" "${enc[@]}" -o "$tmp/two/" --json > "$tmp/two.json"
  [ "$(ls "$tmp/one" | wc -l)" -eq 5 ] || fail "1 rank wrote $(ls "$tmp/one" | wc -l) files"
  same "$tmp/two"
  [ "$(grep -c '"input"' "$tmp/two.json")" -eq 5 ] || fail "expected 5 JSON lines of images"
  diff <(normal "$tmp/one.json") <(normal "$tmp/two.json") || fail "2-rank JSON lines differ from 1 rank's (timings aside)"
  # Resuming: a missing output and a cut-short one (left by something other than msinr's atomic
  # writes) are encoded again, the complete ones skipped.
  rm "$tmp/two/kodim05-96.msinr"
  head -c 100 "$tmp/one/kodim23-96.msinr" > "$tmp/two/kodim23-96.msinr"
  out=$(mpi2 "$msinr" "${enc[@]}" -o "$tmp/two/" 2>&1)
  echo "$out" | tail -n 4
  echo "$out" | grep -q "5 images: 2 encoded, 3 skipped, 0 failed" || fail "resume did not redo exactly the 2 unfinished images"
  echo "$out" | grep -q "kodim23-96.msinr is incomplete" || fail "no note about the damaged output"
  same "$tmp/two"
  # A job killed part-way: the files it finished are whole, and a rerun completes the rest.
  mkdir "$tmp/three"
  timeout 120 "$mpirun" --oversubscribe --allow-run-as-root -np 2 "$msinr" "${enc[@]}" -o "$tmp/three/" --quiet &
  job=$!
  for _ in $(seq 600); do [ -n "$(ls "$tmp/three")" ] && break; sleep 0.05; done
  kill -TERM $job 2>/dev/null || true
  wait $job || true
  echo "killed after $(ls "$tmp/three" | grep -c msinr) of 5 outputs"
  for f in "$tmp"/three/*.msinr; do [ -e "$f" ] && { cmp "$f" "$tmp/one/$(basename "$f")" || fail "killed job left a partial $f"; }; done
  mpi2 "$msinr" "${enc[@]}" -o "$tmp/three/" --quiet
  same "$tmp/three"
  # An image that cannot be read: the others are encoded, the job exits non-zero naming it, and it has no output.
  printf 'not a png' > "$tmp/imgs/bad.png"
  set +e
  out=$(mpi2 "$msinr" "${enc[@]}" -o "$tmp/four/" 2>&1)
  rc=$?
  set -e
  echo "$out" | tail -n 3
  [ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "a bad image: exit $rc, expected non-zero"
  echo "$out" | grep -q "msinr: error: $tmp/imgs/bad.png" || fail "the error does not name the bad image"
  echo "$out" | grep -q "6 images: 5 encoded, 0 skipped, 1 failed" || fail "no summary counting the failure"
  [ ! -e "$tmp/four/bad.msinr" ] || fail "the bad image has an output"
  same "$tmp/four"
  ;;
*) fail "unknown case $case_name" ;;
esac
echo "ok: $case_name"
