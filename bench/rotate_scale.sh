#!/usr/bin/env bash
# bench/rotate_scale.sh - `krbfleet password set` across a fleet of N=1,000
# real krbfleetd agents in a fresh lab: each agent its own host computer
# account in the lab DC and its own host keytab; one Apache serving every
# server's keytab as its own vhost, so each rotation is verified by a real
# SPNEGO login per server. Prints the setup costs (accounts, agents, Apache,
# memory), the wall time of the rotation with where it goes (phases), the
# KDC requests it made, the ratio against --concurrency 1, and the same with
# DELAY_MS of latency added each way between the admin host and every
# server (kf-delayproxy; this kernel has no netem). Needs root (the lab).
#
#   bench/rotate_scale.sh [BUILD_DIR]
#     N=1000        servers (agents), 5 per lab address (ports 7390..7394)
#     POOL_SIZE=100 servers per pool (P = N / POOL_SIZE pools, one HTTP SPN each)
#     RUNS=5        timed rotations per setting (the median is reported)
#     DELAY_MS=50   added one-way latency of the second part (0: skip it)
#     SAMPLE=50     servers rotated one at a time under latency (--concurrency 1
#                   over 1,000 servers 50 ms away would take ~10 minutes)
#     SEQ_FULL=1    the loopback --concurrency 1 run covers all N servers
#     PROFILE=1     one more rotation under `perf record -a`: CPU share by process
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${1:-build}
N=${N:-1000}
POOL_SIZE=${POOL_SIZE:-100}
RUNS=${RUNS:-5}
DELAY_MS=${DELAY_MS:-50}
SAMPLE=${SAMPLE:-50}
SEQ_FULL=${SEQ_FULL:-1}
PROFILE=${PROFILE:-1}

if [ -z "${LAB_DIR:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "bench/rotate_scale.sh needs root (it starts a lab DC)" >&2; exit 1; }
  B=$(cd "$ROOT/$BUILD" && pwd -P)
  for f in tools/krbfleet daemon/krbfleetd tests/integration/kf-lab-hosts bench/kf-delayproxy; do
    [ -x "$B/$f" ] || { echo "bench: no $B/$f (ninja -C $BUILD)" >&2; exit 1; }
  done
  exec "$ROOT/tests/lab/with-lab.sh" env KRBFLEET="$B/tools/krbfleet" \
    KRBFLEETD="$B/daemon/krbfleetd" KF_LAB_HOSTS="$B/tests/integration/kf-lab-hosts" \
    KF_DELAYPROXY="$B/bench/kf-delayproxy" N="$N" POOL_SIZE="$POOL_SIZE" RUNS="$RUNS" DELAY_MS="$DELAY_MS" \
    SAMPLE="$SAMPLE" SEQ_FULL="$SEQ_FULL" PROFILE="$PROFILE" bash "$0" "$BUILD"
fi

SLOTS=$(( (N + 199) / 200 ))        # agents per address (lab.sh addr gives 200)
[ "$SLOTS" -le 20 ] || { echo "bench: N must be at most 4000" >&2; exit 1; }
NADDR=$(( (N + SLOTS - 1) / SLOTS ))
F=$LAB_DIR/scale                     # agents' files (www-data must read the keytabs)
T=$(mktemp -d /tmp/kf-bench.XXXXXX)
export KRBFLEET_STORE=$T/store.db
# the agents' tickets kept between runs ([rotation] ticket_cache): a cold run
# (COLD=1 in rotate) starts with it empty, as the issue's goals ask
export KRBFLEET_TICKET_CACHE=$T/tickets
PROXY_PID=''
ulimit -n "$(ulimit -Hn)"

cleanup() {
  trap '' INT TERM
  [ -n "$PROXY_PID" ] && kill "$PROXY_PID" 2>/dev/null
  if [ -f "$T/agent.pids" ]; then
    xargs kill <"$T/agent.pids" 2>/dev/null || true
    for _ in $(seq 100); do
      xargs -r ps -o pid= -p <"$T/agent.pids" >/dev/null 2>&1 || break
      sleep 0.1
    done
    xargs kill -9 <"$T/agent.pids" 2>/dev/null || true
  fi
  "$ROOT/tests/lab/web.sh" down "$LAB_DIR" >/dev/null 2>&1 || true
  rm -rf "$T" "$F"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
say() { printf '%s\n' "$*"; }
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
fqdn() { printf 's%04d.scale.lab.test' "$1"; }
mem_of() { # PIDs on stdin -> "RSS_MB PSS_MB"
  while read -r p; do cat "/proc/$p/smaps_rollup" 2>/dev/null; done |
    awk '/^Rss:/ { r += $2 } /^Pss:/ { p += $2 } END { printf "%.0f %.0f\n", r / 1024, p / 1024 }'
}

# ---- the fleet ---------------------------------------------------------------
say "rotate_scale: N=$N servers ($SLOTS agents on each of $NADDR lab addresses), DC $LAB_DC_NAME," \
    "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at start"
for k in $(seq 1 "$NADDR"); do "$LAB_SH" addr "$LAB_DIR" "$k"; done >"$T/addrs"
mapfile -t ADDR <"$T/addrs"
mkdir -p "$F"
chmod 0711 "$F"                      # Apache's workers (www-data) read the web keytabs
: >"$T/servers"
for i in $(seq 1 "$N"); do   # server i: address (i-1)/SLOTS, slot (i-1)%SLOTS
  k=$(( (i - 1) / SLOTS )) j=$(( (i - 1) % SLOTS ))
  echo "$(fqdn "$i") ${ADDR[k]} $j" >>"$T/servers"
done

t=$(now)
awk -v f="$F" '{ print $1, f "/" $1 ".host.keytab" }' "$T/servers" |
  "$KF_LAB_HOSTS" >"$T/hosts.out" || { echo "bench: creating host accounts failed" >&2; exit 1; }
SETUP_ACCOUNTS=$(since "$t")

t=$(now)
while read -r name addr j; do
  mkdir -m 0711 -p "$F/$name"
  "$KRBFLEETD" --listen "$addr:$((7390 + j))" --principal "host/$name" \
    --host-keytab "$F/$name.host.keytab" --keytab "$F/$name/http.keytab" --keytab-group www-data \
    --allow "$LAB_ADMIN_PRINCIPAL" --foreground >"$F/$name/agent.log" 2>&1 </dev/null &
  echo $! >>"$T/agent.pids"
done <"$T/servers"
for _ in $(seq 1800); do
  [ "$(grep -l listening "$F"/*/agent.log 2>/dev/null | wc -l)" -ge "$N" ] && break
  sleep 0.1
done
if [ "$(grep -l listening "$F"/*/agent.log | wc -l)" -lt "$N" ]; then
  echo "bench: only $(grep -l listening "$F"/*/agent.log | wc -l) of $N agents started; one that did not:" >&2
  tail -3 "$(grep -L listening "$F"/*/agent.log | head -1)" >&2
  exit 1
fi
SETUP_AGENTS=$(since "$t")
read -r AG_RSS AG_PSS < <(mem_of <"$T/agent.pids")

# topology: pools of POOL_SIZE servers sharing a slot (so one web port per pool)
topology() { # AGENT_PORT_BASE WEB_PORT_BASE [ONLY_FIRST_M_SERVERS]
  python3 - "$T/servers" "$1" "$2" "$POOL_SIZE" "${3:-0}" <<'PY'
import json, sys
path, abase, wbase, size, only = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
rows = [l.split() for l in open(path)]
if only:
    rows = rows[:only]
byslot = {}
for name, addr, j in rows:
    byslot.setdefault(int(j), []).append((name, addr))
pools = []
for j in sorted(byslot):
    s = byslot[j]
    for c in range(0, len(s), size):
        p = len(pools)
        pools.append({"fqdn": "pool%02d.scale.lab.test" % p,
                      "probe_url": "http://pool%02d.scale.lab.test:%d/" % (p, wbase + j),
                      "servers": [{"fqdn": n, "address": a, "agent_port": abase + j} for n, a in s[c:c + size]]})
json.dump({"sites": [{"name": "scale", "pools": pools}]}, sys.stdout, indent=1)
PY
}
topology 7390 8080 >"$T/topo.json"
NPOOLS=$(jq '.sites[0].pools | length' "$T/topo.json")

t=$(now)
mkdir -p "$LAB_DIR/web"
awk -v f="$F" '{ print $1, $2, 8080 + $3, f "/" $1 "/http.keytab" }' "$T/servers" >"$LAB_DIR/web/servers"
"$ROOT/tests/lab/web.sh" up "$LAB_DIR" 2>"$T/web.log" || { cat "$T/web.log" >&2; exit 1; }
SETUP_WEB=$(since "$t")
web_pid=$(sed -n 's/^PID=//p' "$LAB_DIR/web/web.state")
read -r WEB_RSS WEB_PSS < <(pgrep -s "$web_pid" | mem_of)

kf() { "$KRBFLEET" "$@"; }
kf topology import "$T/topo.json" >/dev/null
kf account new 'LAB\kfscale' >/dev/null
kf assignment new --site scale --account kfscale >/dev/null
kf topology enable >/dev/null 2>&1

say ""
say "setup (not part of the rotation):"
printf '  %-44s %7.1f s  (%.0f ms each; the DC hashes every password: Samba'"'"'s LDAP worker is CPU-bound)\n' \
  "$N host accounts + host keytabs (kf-lab-hosts)" "$SETUP_ACCOUNTS" "$(awk -v s="$SETUP_ACCOUNTS" -v n="$N" 'BEGIN { print s * 1000 / n }')"
printf '  %-44s %7.1f s\n' "$N krbfleetd started and listening" "$SETUP_AGENTS"
printf '  %-44s %7.1f s\n' "one Apache, $N vhosts (each its own keytab)" "$SETUP_WEB"
printf '  %-44s %7s MB RSS summed, %s MB PSS (%.1f MB / %.2f MB per agent)\n' "memory of the $N agents" \
  "$AG_RSS" "$AG_PSS" "$(awk -v r="$AG_RSS" -v n="$N" 'BEGIN { print r / n }')" "$(awk -v r="$AG_PSS" -v n="$N" 'BEGIN { print r / n }')"
printf '  %-44s %7s MB RSS summed, %s MB PSS\n' "memory of Apache" "$WEB_RSS" "$WEB_PSS"
say "  topology: 1 site, $NPOOLS pools of $POOL_SIZE servers, account LAB\\kfscale ($((NPOOLS)) HTTP SPNs published)"

# ---- one rotation, timed by phase -------------------------------------------
# connect: from the start of the command (store, lock, LDAP bind, plan) until
# every agent answered STATUS; stage: the new keys on every agent; verify:
# the password set in the directory and read back (~0.1 s), then a real login
# on every server; after: records, audit, exit.
# The CLI draws its progress line ("\rPHASE done/total servers") only on a
# terminal: run it on a pty and note when each phase starts and ends.
cat >"$T/phases.py" <<'PY'
import os, pty, re, sys, time
t0 = time.time()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out, marks, last = b"", {}, None
while True:
    try:
        d = os.read(fd, 65536)
    except OSError:
        break
    if not d:
        break
    out += d
    now = time.time() - t0
    for m in re.finditer(rb"\r(\S+)\s+(\d+)/(\d+) servers", d):
        ph = m.group(1).decode()
        if ph != last:
            marks.setdefault(ph, [now, now])
            last = ph
        marks[ph][1] = now
_, status = os.waitpid(pid, 0)
end = time.time() - t0
ok = len(re.findall(rb"\s OK\s", out))
# a phase ends with its last progress line and the next one starts there
# (its own first line only comes when its first server is done)
ends = [marks[p][1] if p in marks else None for p in ("connect", "stage", "verify")]
if None in ends:
    ends = [0.0, 0.0, 0.0]
print("%.3f %.3f %.3f %.3f %.3f %d %d" % (end, ends[0], ends[1] - ends[0], ends[2] - ends[1],
      end - ends[2], os.waitstatus_to_exitcode(status), ok))
PY

HDR=$(printf '  %-26s %8s %8s %8s %8s %8s  %s' "" wall connect stage verify after "servers OK")
rotate() { # LABEL EXPECTED [ARGS...] -> one line; the wall time in $T/last
  local label=$1 want=$2 r
  shift 2
  [ "${COLD:-0}" = 1 ] && rm -rf "$T/tickets"
  r=$(python3 "$T/phases.py" "$KRBFLEET" password set --account kfscale "$@")
  set -- $r
  printf '  %-26s %7.2fs %7.2fs %7.2fs %7.2fs %7.2fs  %s/%s%s\n' "$label" "$1" "$2" "$3" "$4" "$5" \
    "$7" "$want" "$([ "$6" = 0 ] || echo "  (exit $6)")"
  echo "$1" >"$T/last"
  [ "$6" = 0 ] && [ "$7" = "$want" ] || FAILED=1
}
FAILED=0

say ""
say "password set --account kfscale on plain loopback (default --concurrency 64):"
say "$HDR"
rotate "first rotation" "$N"
: >"$T/walls"
for r in $(seq 1 "$RUNS"); do rotate "run $r" "$N"; cat "$T/last" >>"$T/walls"; done
LOOP=$(median <"$T/walls")
# the same with an empty ticket cache each time: one host/ ticket per agent
: >"$T/walls"
for r in $(seq 1 "$RUNS"); do COLD=1 rotate "run $r, empty ticket cache" "$N"; cat "$T/last" >>"$T/walls"; done
LOOP_COLD=$(median <"$T/walls")
goal() { # WALL GOAL_S -> "met"/"MISSED"
  awk -v w="$1" -v g="$2" 'BEGIN { print w <= g ? "met" : "MISSED" }'
}
case $N in # issue 12's goals (medians of first runs, empty ticket cache)
  1000) GOAL_LOOP=2.5 GOAL_LAT=4 ;;
  100) GOAL_LOOP=0.4 GOAL_LAT='' ;;
  *) GOAL_LOOP='' GOAL_LAT='' ;;
esac
say "  median of $RUNS: $LOOP s with the agents' tickets cached, $LOOP_COLD s with an empty cache" \
    "(ratio $(awk -v a="$LOOP_COLD" -v b="$LOOP" 'BEGIN { printf "%.2f", a / b }'))" \
    "${GOAL_LOOP:+; goal <= $GOAL_LOOP s: $(goal "$LOOP_COLD" "$GOAL_LOOP")}"

# KDC requests of one rotation, from libkrb5's own trace (a separate, untimed
# run: tracing costs time). Every request the CLI sends to the KDC is there.
# First with an empty ticket cache, then a second run reusing its tickets.
kdc_requests() { # LABEL GOAL
sends=$(grep -c 'Sending request' "$T/trace" || true)
tgs_host=$(grep -c 'Requesting tickets for host/' "$T/trace" || true)
tgs_http=$(grep -c 'Requesting tickets for HTTP/' "$T/trace" || true)
tgs_all=$(grep -c 'Requesting tickets for ' "$T/trace" || true)
as_req=$(grep -c 'Getting initial credentials' "$T/trace" || true)
too_big=$(grep -ci 'response too big' "$T/trace" || true)
rm -f "$T/trace"
say "  KDC requests of one rotation, $1 (libkrb5 trace): $sends sent = $tgs_all TGS" \
    "($tgs_host host/<server>; $tgs_http HTTP/<pool>: one per pool;" \
    "$((tgs_all - tgs_host - tgs_http)) other) + $as_req etype-info lookups + $too_big UDP replies" \
    "'too big', re-sent over TCP; goal <= $2 ($N servers, $NPOOLS pools):" \
    "$([ "$sends" -le "$2" ] && echo met || echo MISSED)"
}
rm -rf "$T/tickets"
KRB5_TRACE=$T/trace "$KRBFLEET" password set --account kfscale >/dev/null 2>&1 || FAILED=1
kdc_requests "empty ticket cache" $((N + NPOOLS + 3))
KRB5_TRACE=$T/trace "$KRBFLEET" password set --account kfscale >/dev/null 2>&1 || FAILED=1
kdc_requests "second run, tickets cached" $((NPOOLS + 3))

# Where the CPU goes: one more rotation under `perf record -a` (the whole
# machine, so other work running beside it shows up as "other").
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
  perf record -a -F 999 -o "$T/perf.data" -- "$KRBFLEET" password set --account kfscale \
    >/dev/null 2>"$T/perf.err" || FAILED=1
  perf report -i "$T/perf.data" --no-children --sort comm -g none -q 2>/dev/null |
    awk '{ p = $1; sub(/%/, "", p); c = $2
           if (c ~ /^kdc/) k = "Samba KDC (TGS requests)"
           else if (c == "krbfleetd") k = "the 1,000 agents (accept, STATUS, keytab write+fsync)"
           else if (c == "apache2") k = "Apache (1,000 SPNEGO accepts)"
           else if (c == "krbfleet") k = "the CLI (krb5/GSSAPI, sealing, probes)"
           else if (c ~ /^ldap/) k = "Samba LDAP (password set, reads)"
           else if (c == "swapper") k = "idle"
           else k = "other"
           s[k] += p }
       END { for (k in s) printf "    %5.1f%%  %s\n", s[k], k }' | sort -rn >"$T/profile"
  say "  where the CPU went in one rotation (perf record -a, $(nproc) cores):"
  cat "$T/profile"
  perf report -i "$T/perf.data" --no-children --sort comm,dso -g none -q 2>/dev/null |
    awk '$2 == "krbfleet" { p = $1; sub(/%/, "", p); v[$3] = p; t += p }
         END { for (d in v) if (t > 0) printf "%5.1f%% %s\n", 100 * v[d] / t, d }' |
    sort -rn | head -5 | awk 'BEGIN { printf "    the CLI'"'"'s own time by library:" }
                              { printf "  %s %s", $2, $1 } END { print "" }'
  rm -f "$T/perf.data"
fi

if [ "$SEQ_FULL" = 1 ]; then
  rotate "--concurrency 1 (all $N)" "$N" --concurrency 1
  SEQ=$(cat "$T/last")
  say "  ratio --concurrency 1 / 64: $(awk -v a="$SEQ" -v b="$LOOP" 'BEGIN { printf "%.1f", a / b }')x" \
      "(median of $RUNS at 64: ${LOOP} s)"
fi

# ---- with latency ------------------------------------------------------------
if [ "$DELAY_MS" -gt 0 ]; then
  # A proxy listener beside every agent (port +10000) and web server
  # (+10000); the topology sends the CLI there. The KDC is not delayed.
  awk '{ a = 7390 + $3; w = 8080 + $3
         printf "%s:%d %s:%d\n%s:%d %s:%d\n", $2, a + 10000, $2, a, $2, w + 10000, $2, w }' \
    "$T/servers" | sort -u >"$T/proxy.map"
  "$KF_DELAYPROXY" --delay-ms "$DELAY_MS" --map "$T/proxy.map" --ready-file "$T/proxy.ready" \
    2>"$T/proxy.log" &
  PROXY_PID=$!
  for _ in $(seq 100); do [ -s "$T/proxy.ready" ] && break; sleep 0.05; done
  [ -s "$T/proxy.ready" ] || { cat "$T/proxy.log" >&2; exit 1; }
  topology 17390 18080 >"$T/topo-delay.json"
  kf topology import "$T/topo-delay.json" >/dev/null
  say ""
  say "the same with ${DELAY_MS} ms added each way to every server (round trip +$((2 * DELAY_MS)) ms," \
      "TCP connect included; KDC not delayed):"
  say "$HDR"
  : >"$T/walls"
  for r in $(seq 1 "$RUNS"); do COLD=1 rotate "run $r, empty ticket cache" "$N"; cat "$T/last" >>"$T/walls"; done
  LAT=$(median <"$T/walls")
  rotate "--concurrency 256" "$N" --concurrency 256
  C256=$(cat "$T/last")
  # one at a time on a sample: same account, a topology of the first SAMPLE servers
  topology 17390 18080 "$SAMPLE" >"$T/topo-sample.json"
  kf topology import --force "$T/topo-sample.json" >/dev/null  # drops published pools
  rotate "sample of $SAMPLE, --conc. 64" "$SAMPLE"
  S64=$(cat "$T/last")
  rotate "sample of $SAMPLE, --conc. 1" "$SAMPLE" --concurrency 1
  S1=$(cat "$T/last")
  kf topology import --force "$T/topo.json" >/dev/null
  say "  median of $RUNS at 64, empty ticket cache: $LAT s${GOAL_LAT:+ (goal <= $GOAL_LAT s: $(goal "$LAT" "$GOAL_LAT"))};" \
      "at --concurrency 256: $C256 s"
  say "  --concurrency 1, extrapolated from $SAMPLE servers to $N: $(awk -v s="$S1" -v m="$SAMPLE" -v n="$N" 'BEGIN { printf "%.0f", s * n / m }') s;" \
      "ratio against 64: $(awk -v s="$S1" -v m="$SAMPLE" -v n="$N" -v l="$LAT" 'BEGIN { printf "%.0f", s * n / m / l }')x" \
      "(measured on the sample alone: $(awk -v a="$S1" -v b="$S64" 'BEGIN { printf "%.1f", a / b }')x)"
  kill "$PROXY_PID" 2>/dev/null; wait "$PROXY_PID" 2>/dev/null || true
  PROXY_PID=''
  sed 's/^/  /' "$T/proxy.log" | tail -1
fi
say ""
say "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
[ "$FAILED" = 0 ] || { echo "bench: a rotation did not end with every server OK" >&2; exit 1; }
