#!/usr/bin/env bash
# memcheck.sh BUILD [TEST...] - the CLI and agent integration tests with every
# krbfleet, krbfleetd and kf-agent-probe they run under valgrind memcheck.
#
# Wrappers named like the programs go to BUILD/memcheck/bin; the tests swap
# them in through KF_WRAP_DIR (tests/integration/wrap.sh). Each process
# writes its own report to BUILD/memcheck/logs. With KF_MEMCHECK_NAME=N the
# directory is BUILD/memcheck-N and meson's log meson-logs/memcheck-N, so two
# runs on one build can go side by side (scripts/check.sh does). Passes only if the tests pass
# and no report has an error or a definitely lost block. Suppressions:
# tests/valgrind.supp (one-time allocations inside system libraries only).
# Prints one closing line "memcheck: N runs, N errors, N definitely lost".
set -uo pipefail
build=${1:?usage: memcheck.sh BUILD [TEST...]}
shift
cd "$(dirname "$0")/.."
root=$PWD
tests=("$@")
[ ${#tests[@]} -gt 0 ] || tests=(cli_topology ad_enable agent rotation sync diagnose)
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 1; }

name=${KF_MEMCHECK_NAME:+-$KF_MEMCHECK_NAME}
W=$root/$build/memcheck$name
rm -rf "$W"
mkdir -p "$W/bin" "$W/logs"
chmod 0755 "$W" "$W/bin"
# --errors-for-leak-kinds=definite: a definite leak is an error (exit 97);
# possible/indirect leaks of libraries' caches are not.
vg=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite
    --errors-for-leak-kinds=definite --error-exitcode=97 --num-callers=40
    --suppressions="$root/tests/valgrind.supp" --gen-suppressions=all)
for b in tools/krbfleet daemon/krbfleetd tests/integration/kf-agent-probe; do
  n=${b##*/}
  [ -x "$root/$build/$b" ] || { echo "memcheck: no $build/$b (build first)" >&2; exit 1; }
  {
    printf '#!/bin/sh\n# %s under valgrind (scripts/memcheck.sh)\n' "$n"
    printf 'exec'
    printf ' %q' "${vg[@]}" "--log-file=$W/logs/$n.%p.log" "$root/$build/$b"
    printf ' "$@"\n'
  } >"$W/bin/$n"
  chmod 0755 "$W/bin/$n"
done

t0=$(date +%s)
KF_WRAP_DIR=$W/bin meson test -C "$build" --print-errorlogs --num-processes 1 \
  --timeout-multiplier 4 --no-rebuild --logbase "memcheck$name" "${tests[@]}"
rc=$?
runs=0 errors=0 leaked=0 bad=()
for f in "$W"/logs/*.log; do
  [ -f "$f" ] || continue
  runs=$((runs + 1))
  e=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$f" | tail -1 | tr -d ,)
  d=$(sed -n 's/.*definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -1 | tr -d ,)
  # a process killed before valgrind's exit summary (SIGKILL) has no summary
  errors=$((errors + ${e:-0}))
  leaked=$((leaked + ${d:-0}))
  if [ "${e:-0}" != 0 ] || [ "${d:-0}" != 0 ]; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "memcheck: reports with errors or definite leaks (first lines of each):"
  for f in "${bad[@]}"; do
    echo "== $f"
    grep -E '^==[0-9]+== ( [a-zA-Z]|[A-Z]|   (at|by) )' "$f" | head -40
  done
fi
echo "memcheck: ${#tests[@]} tests (meson: exit $rc), $runs runs under valgrind," \
     "$errors errors, $leaked bytes definitely lost, $(( $(date +%s) - t0 )) s; reports in $W/logs"
[ "$rc" = 0 ] && [ ${#bad[@]} -eq 0 ]
