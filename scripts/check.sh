#!/usr/bin/env bash
# Run every test: the normal build, the ASan+UBSan build, the CLI and agent
# tests under valgrind (scripts/memcheck.sh), bounded fuzzing, then the
# Debian packages (built in build-deb and checked: tests/integration/test_deb.sh).
# Prints one closing line "check: N passed, N failed".
set -uo pipefail
build=$1 asan=$2 fuzzb=$3 fuzz_seconds=$4
cd "$(dirname "$0")/.."
passed=0 failed=0

count() {  # add the Ok/Fail totals of the last meson test run in $1
  local log=$1/meson-logs/testlog.json
  [ -f "$log" ] || return 0
  local ok fail
  ok=$(grep -c '"result": "OK"' "$log" || true)
  fail=$(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + ok)); failed=$((failed + fail))
}

echo "== tests ($build)"
meson test -C "$build" --print-errorlogs --num-processes 2; count "$build"

echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer ($asan)"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C "$asan" --print-errorlogs --num-processes 2; count "$asan"

echo "== CLI and agent integration tests under valgrind memcheck ($build)"
if ./scripts/memcheck.sh "$build"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "== fuzzing, ${fuzz_seconds}s per target ($fuzzb)"
if ./scripts/run-fuzz.sh "$fuzzb" "$fuzz_seconds"; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "== Debian packages (build-deb)"
if ./tests/integration/test_deb.sh build-deb; then
  passed=$((passed + 1))
else
  failed=$((failed + 1))
fi

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
