#!/usr/bin/env bash
# check-stress.sh BUILD ASAN - the integration and lab tests twice, while
# stress-ng keeps 4 CPU hogs busy: once with BUILD, once with ASAN (the
# AddressSanitizer + UndefinedBehaviorSanitizer build, where the load once
# made a test fail). A test that waits for a helper by sleeping, or depends
# on timing it does not control, fails here. stress-ng is started here and
# always stopped, whatever happens (also on Ctrl-C; and it ends by itself
# after 4 h should this script be killed with SIGKILL).
# Prints one closing line "check-stress: N passed, N failed".
set -uo pipefail
build=${1:?usage: check-stress.sh BUILD ASAN} asan=${2:?usage: check-stress.sh BUILD ASAN}
cd "$(dirname "$0")/.."
command -v stress-ng >/dev/null || { echo "check-stress: stress-ng is missing: run scripts/install-deps.sh" >&2; exit 1; }

stress_pid=''
stop_stress() {
  [ -n "$stress_pid" ] || return 0
  kill -TERM -- "-$stress_pid" 2>/dev/null
  wait "$stress_pid" 2>/dev/null
  stress_pid=''
}
trap 'stop_stress' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# its own process group, so stopping it stops every worker it forked
setsid stress-ng --cpu 4 --timeout 4h --quiet </dev/null >/dev/null 2>&1 &
stress_pid=$!
for _ in $(seq 100); do
  [ "$(pgrep -c -g "$stress_pid" 2>/dev/null || echo 0)" -ge 5 ] && break
  sleep 0.1
done
kill -0 "$stress_pid" 2>/dev/null || { echo "check-stress: stress-ng did not start" >&2; exit 1; }
echo "== stress-ng --cpu 4 running (process group $stress_pid); load $(cut -d' ' -f1-3 /proc/loadavg)"

passed=0 failed=0
count() {  # the Ok/Fail totals of the last meson test run in $1
  local log=$1/meson-logs/testlog.json ok fail
  [ -f "$log" ] || return 0
  ok=$(grep -c '"result": "OK"' "$log" || true)
  fail=$(grep -Ec '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" || true)
  passed=$((passed + ok)); failed=$((failed + fail))
}
# meson's per-test timeouts are guards against hangs; the load slows every
# step, so they get a multiplier. The tests' own deadlines stay as they are.
run() { # DIR [ENV...]
  local dir=$1; shift
  echo "== integration and lab tests ($dir) under load"
  env "$@" meson test -C "$dir" --suite integration --print-errorlogs --num-processes 2 \
    --timeout-multiplier 3
  count "$dir"
  echo "   load $(cut -d' ' -f1-3 /proc/loadavg)"
}
run "$build"
run "$asan" ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
stop_stress
echo "check-stress: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
