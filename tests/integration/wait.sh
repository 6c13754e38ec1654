# wait.sh - readiness checks for the tests (sourced): poll a condition until
# it holds or a deadline passes. A test never sleeps a fixed time hoping a
# helper is ready by then; on a loaded machine it may not be (issue 9).
# The deadlines are generous: they cost nothing when the helper is ready.

# wait_until SECONDS CMD...: 0 as soon as CMD succeeds, 1 if it still fails
# after SECONDS.
wait_until() {
  local deadline=$(($(date +%s) + $1))
  shift
  until "$@"; do
    [ "$(date +%s)" -le "$deadline" ] || return 1
    sleep 0.05
  done
}

# listening ADDR PORT...: a socket is in LISTEN state on every ADDR:PORT
# (the kernel's view: connections to it complete from now on).
listening() {
  local addr=$1 port
  shift
  for port in "$@"; do
    [ -n "$(ss -Hltn src "$addr:$port" 2>/dev/null)" ] || return 1
  done
}

# grep_count N PATTERN FILE: FILE has at least N lines matching PATTERN.
grep_count() { [ "$(grep -c -- "$2" "$3" 2>/dev/null)" -ge "$1" ]; }

# drained ADDR PORT: the server on ADDR:PORT has taken every connection from
# its accept queue and read every byte sent to it so far (no socket of that
# address has a non-empty receive queue).
drained() {
  local q
  q=$(ss -Htn state listening state established src "$1:$2" 2>/dev/null | awk '{ s += $2 } END { print s + 0 }')
  [ "$q" = 0 ]
}
