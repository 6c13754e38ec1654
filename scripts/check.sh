#!/usr/bin/env bash
# Run every test: the normal build, the ASan+UBSan build, the agent test
# under valgrind (scripts/memcheck.sh), bounded fuzzing, and the Debian
# packages (built in build-deb and checked: tests/integration/test_deb.sh).
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

logs=$(mktemp -d /tmp/kf-check.XXXXXX)
trap 'rm -rf "$logs"' EXIT

step() { # step NAME LOG CMD...: run CMD, output to LOG, one pass or fail
  local name=$1 log=$2; shift 2
  if "$@" >"$log" 2>&1; then echo pass >"$log.rc"; else echo fail >"$log.rc"; fi
}
tally() { # tally TITLE LOG: show a step's output, count its result
  echo "== $1"; cat "$2"
  if [ "$(cat "$2.rc" 2>/dev/null)" = pass ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# Two chains side by side, one per core; most of a lab test's time is spent
# waiting on its DC, agents and Apache (each test has its own lab on its own
# loopback /24). The sanitizer suite is the longer one (the pause and crash
# points exist only in its build), so the plain suite's chain also runs the
# bounded fuzzing and valgrind over the agent test (the network-facing
# daemon, and the client side of its protocol); the package check follows
# the sanitizer suite. `make memcheck` runs valgrind over the longer list
# (scripts/memcheck.sh's default). Each step's output is shown whole.
echo "== tests ($build) and, side by side, under AddressSanitizer + UndefinedBehaviorSanitizer ($asan)"
(
  meson test -C "$build" --print-errorlogs --num-processes 2 >"$logs/plain" 2>&1
  step fuzz "$logs/fuzz" ./scripts/run-fuzz.sh "$fuzzb" "$fuzz_seconds"
  KF_MEMCHECK_NAME=check step memcheck "$logs/memcheck" ./scripts/memcheck.sh "$build" agent
) &
plain_pid=$!
(
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    meson test -C "$asan" --print-errorlogs --num-processes 2 >"$logs/asan" 2>&1
  step deb "$logs/deb" ./tests/integration/test_deb.sh build-deb
) &
asan_pid=$!
wait "$plain_pid"; wait "$asan_pid"
echo "== tests ($build)"; cat "$logs/plain"; count "$build"
echo "== tests under AddressSanitizer + UndefinedBehaviorSanitizer ($asan)"; cat "$logs/asan"; count "$asan"
tally "agent under valgrind memcheck ($build)" "$logs/memcheck"
tally "fuzzing, ${fuzz_seconds}s per target ($fuzzb)" "$logs/fuzz"
tally "Debian packages (build-deb)" "$logs/deb"

echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
