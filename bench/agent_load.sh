#!/usr/bin/env bash
# bench/agent_load.sh - one krbfleetd under hostile load in a fresh lab:
# 1,000 concurrent clients that connect and stay silent, that trickle a
# byte a second into a frame (slowloris), or that send part of a frame and
# go quiet — each reconnecting as soon as the agent closes it — while a
# legitimate admin client (the krbfleet client API, a real ticket) connects,
# authenticates and asks STATUS every LEGIT_MS ms. Prints, per scenario, how
# many legitimate requests completed and their latency, the agent's RSS
# before, at most during and after, and how many attacker connections the
# agent closed. Needs root (the lab).
#   bench/agent_load.sh [BUILD_DIR]      SECONDS_EACH=15 CLIENTS=1000 LEGIT_MS=200
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${1:-build}
SECONDS_EACH=${SECONDS_EACH:-15}
CLIENTS=${CLIENTS:-1000}
LEGIT_MS=${LEGIT_MS:-200}

if [ -z "${LAB_DIR:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "bench/agent_load.sh needs root (it starts a lab DC)" >&2; exit 1; }
  B=$(cd "$ROOT/$BUILD" && pwd -P)
  exec "$ROOT/tests/lab/with-lab.sh" env KRBFLEETD="$B/daemon/krbfleetd" \
    KF_LAB_HOSTS="$B/tests/integration/kf-lab-hosts" KF_AGENT_LOAD="$B/bench/kf-agent-load" \
    SECONDS_EACH="$SECONDS_EACH" CLIENTS="$CLIENTS" LEGIT_MS="$LEGIT_MS" bash "$0" "$BUILD"
fi

T=$(mktemp -d /tmp/kf-bench.XXXXXX)
AGENT_PID=''
cleanup() {
  [ -n "$AGENT_PID" ] && kill "$AGENT_PID" 2>/dev/null && wait "$AGENT_PID" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"

ADDR=$("$LAB_SH" addr "$LAB_DIR" 1)
FQDN=fe01.load.lab.test
echo "$FQDN $T/host.keytab" | "$KF_LAB_HOSTS" >/dev/null
"$KRBFLEETD" --listen "$ADDR:7390" --principal "host/$FQDN" --host-keytab "$T/host.keytab" \
  --keytab "$T/http.keytab" --allow "$LAB_ADMIN_PRINCIPAL" --foreground 2>"$T/agent.log" &
AGENT_PID=$!
for _ in $(seq 100); do grep -q listening "$T/agent.log" && break; sleep 0.05; done
grep -q listening "$T/agent.log" || { cat "$T/agent.log" >&2; exit 1; }

echo "agent_load: one krbfleetd (cap 64 connections, 10 s to authenticate), $CLIENTS hostile" \
     "clients per scenario for ${SECONDS_EACH} s, a legitimate STATUS every ${LEGIT_MS} ms;" \
     "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '\n%-34s %11s %8s %8s %8s   %-24s %s\n' scenario "legit ok" p50 p90 max "agent RSS before/max/after" \
  "closed by agent"
FAILED=0
run() { # LABEL ARGS...
  local label=$1 out lines
  shift
  out=$("$KF_AGENT_LOAD" "$ADDR" 7390 "$FQDN" --seconds "$SECONDS_EACH" --legit-ms "$LEGIT_MS" \
          --pid "$AGENT_PID" "$@")
  lines=$(grep -c . "$T/agent.log")
  # legit N ok M failed K p50 X p90 Y max Z ms
  set -- $(grep '^legit ' <<<"$out")
  local total=$2 ok=$4 p50=$8 p90=${10} max=${12}
  set -- $(grep '^agent RSS' <<<"$out")
  local before=${5%,} during=${8%,} after=${10}
  set -- $(grep '^attacker connections' <<<"$out")
  printf '%-34s %11s %6.1fms %6.1fms %6.1fms   %5.1f / %5.1f / %5.1f MB   %s\n' "$label" "$ok/$total" \
    "$p50" "$p90" "$max" "$(awk -v k="$before" 'BEGIN { print k / 1024 }')" \
    "$(awk -v k="$during" 'BEGIN { print k / 1024 }')" "$(awk -v k="$after" 'BEGIN { print k / 1024 }')" "$9"
  grep '^first error' <<<"$out" | grep -v ': none$' | sed 's/^/    /' || true
  [ "$ok" = "$total" ] || FAILED=1
  echo "$label: agent log now $lines lines" >>"$T/loglines"
}
run "no attack"
run "$CLIENTS idle, held (no reconnect)" --idle "$CLIENTS" --no-churn
run "$CLIENTS idle, reconnecting" --idle "$CLIENTS"
run "$CLIENTS slow (a byte a second)" --slow "$CLIENTS"
run "$CLIENTS partial frame, then silent" --partial "$CLIENTS"
run "mixed: $((CLIENTS * 4 / 10)) / $((CLIENTS * 3 / 10)) / $((CLIENTS * 3 / 10))" \
  --idle $((CLIENTS * 4 / 10)) --slow $((CLIENTS * 3 / 10)) --partial $((CLIENTS * 3 / 10))
echo ""
echo "the agent's log: $(grep -c . "$T/agent.log") lines in all (the cap is reported once a second), e.g.:"
grep -m1 'connections: closed' "$T/agent.log" | sed 's/^/  /' || true
kill -0 "$AGENT_PID" && echo "the agent is still running" || { echo "the agent died" >&2; FAILED=1; }
[ "$FAILED" = 0 ] || { echo "bench: some legitimate requests failed" >&2; exit 1; }
