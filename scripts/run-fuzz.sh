#!/usr/bin/env bash
# Run every libFuzzer target BUILD_DIR/tests/fuzz/fuzz_* for SECONDS each.
#
#   scripts/run-fuzz.sh BUILD_DIR SECONDS      (build with: make fuzz-build)
#
# For a target fuzz_NAME:
#  1. replay tests/fuzz/regress/NAME/* once each (inputs that once crashed);
#  2. fuzz for SECONDS from a work copy of tests/fuzz/corpus/NAME plus the
#     regression inputs, in a temporary directory: the committed corpus is
#     never modified. tests/fuzz/fuzz_NAME.dict is used if present,
#     tests/fuzz/fuzz_NAME.options may set "max_len = N" (default 4096).
# Prints one line per target. Logs and crashing inputs are kept under
# BUILD_DIR/fuzz-artifacts/NAME/. Exit 0 if nothing crashed, 1 if a target
# crashed (or none was found), 2 on a usage error.
set -uo pipefail

usage() {
  echo "usage: $0 BUILD_DIR SECONDS" >&2
  exit 2
}
[ $# -eq 2 ] || usage
[[ $2 =~ ^[1-9][0-9]{0,5}$ ]] || usage
[ -d "$1" ] || { echo "run-fuzz: no build directory $1 (run: make fuzz-build)" >&2; exit 1; }
build=$(cd "$1" && pwd)
seconds=$2
cd "$(dirname "$0")/.." || exit 1
src=$PWD/tests/fuzz

shopt -s nullglob
targets=()
for exe in "$build"/tests/fuzz/fuzz_*; do
  [ -f "$exe" ] && [ -x "$exe" ] && targets+=("$exe")
done
if [ ${#targets[@]} -eq 0 ]; then
  echo "run-fuzz: no fuzz targets in $build/tests/fuzz (run: make fuzz-build)" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/krbfleet-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# Sanitizer reports are fatal; the caller may add to these.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=0
for exe in "${targets[@]}"; do
  target=${exe##*/}
  name=${target#fuzz_}
  corpus=$src/corpus/$name
  regress=$src/regress/$name
  out=$build/fuzz-artifacts/$name
  mkdir -p "$out"
  rm -f "$out"/*.log

  # 1. regression inputs, plain execution
  regress_files=()
  if [ -d "$regress" ]; then
    while IFS= read -r -d '' f; do regress_files+=("$f"); done \
      < <(find "$regress" -type f -print0 | sort -z)
  fi
  if [ ${#regress_files[@]} -gt 0 ]; then
    if ! "$exe" -artifact_prefix="$out/" "${regress_files[@]}" >"$out/regress.log" 2>&1; then
      bad=$(grep -o 'Running: .*' "$out/regress.log" | tail -n 1 | cut -c10-)
      echo "$target: CRASH on regression input ${bad:-?} (log: $out/regress.log)"
      failed=1
      continue
    fi
  fi

  # 2. fuzzing, from a work copy of the corpus
  mkdir -p "$work/$name"
  [ -d "$corpus" ] && cp -R "$corpus"/. "$work/$name"/
  inputs=("$work/$name")
  [ -d "$regress" ] && inputs+=("$regress")
  max_len=4096
  if [ -f "$src/$target.options" ]; then
    v=$(sed -n 's/^[[:space:]]*max_len[[:space:]]*=[[:space:]]*\([0-9][0-9]*\)[[:space:]]*$/\1/p' \
          "$src/$target.options" | tail -n 1)
    [ -n "$v" ] && max_len=$v
  fi
  opts=(-max_total_time="$seconds" -max_len="$max_len" -timeout=25 -print_final_stats=1
        -artifact_prefix="$out/")
  [ -f "$src/$target.dict" ] && opts+=(-dict="$src/$target.dict")
  log=$out/fuzz.log
  "$exe" "${opts[@]}" "${inputs[@]}" >"$log" 2>&1
  rc=$?

  execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -n 1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1 | cut -d' ' -f2)
  units=$(find "$work/$name" -type f | wc -l)
  if [ $rc -eq 0 ]; then
    echo "$target: ${execs:-?} executions in ${seconds}s, coverage ${cov:-?}," \
         "corpus $units inputs, no crash"
  else
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
    reason=$(sed -n 's/^SUMMARY: //p' "$log" | head -n 1)
    echo "$target: CRASH after ${execs:-?} executions: ${reason:-exit status $rc}; input ${crash:-not saved}" \
         "(log: $log; reproduce: $exe ${crash:-INPUT})"
    failed=1
  fi
done
exit $failed
