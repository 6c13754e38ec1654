# fleet_lib.sh - helpers for tests on a lab fleet (tests/lab/fleet.sh): a
# Samba AD DC, four web servers, each with its own krbfleetd and an Apache
# + mod_auth_gssapi vhost, and alice logging in for real. Source it after
# lib.sh and in_lab; it brings the fleet up and down.
FL_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
FLEET=$FL_HERE/../lab/fleet.sh
WEB=$FL_HERE/../lab/web.sh
SERVERS="fe01.redmond.lab.test fe02.redmond.lab.test fe01.dublin.lab.test fe02.dublin.lab.test"

fleet_down() { touch "$T/stop-loops" 2>/dev/null; wait 2>/dev/null; "$FLEET" down >/dev/null 2>&1; }
trap 'fleet_down; rm -rf "$T"' EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

"$FLEET" up "$FL_HERE/../data/fleet-2sites.json" 2>"$T/fleet.log" || { cat "$T/fleet.log"; exit 1; }
TOPO=$LAB_DIR/fleet/topology.json
# Sanitizer reports of the krbfleet runs from here on (ASan/UBSan builds) go
# to files, which sanitizer_clean checks at the end: a report in a run whose
# failure a test expects would otherwise pass unseen (ASan exits 1 too).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T/sanitizer"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T/sanitizer"
sanitizer_clean() { # (a file with only LSan's "Suppressions used" is no report)
  local f
  f=$(grep -lE 'ERROR: |runtime error' "$T"/sanitizer.* 2>/dev/null | head -1)
  if [ -z "$f" ]; then ok "no sanitizer report from any krbfleet run"
  else not_ok "sanitizer reports in $(grep -lE 'ERROR: |runtime error' "$T"/sanitizer.* | wc -l) runs; first: $(head -c 1500 "$f")"; fi
}

addr_of() { jq -r --arg f "$1" '.. | objects | select(.fqdn? == $f and has("address")) | .address' "$TOPO"; }
pool_of() { case "$1" in *.redmond.*) echo web.redmond.lab.test ;; *) echo web.dublin.lab.test ;; esac; }
kt() { echo "$LAB_DIR/fleet/$1/http.keytab"; }
# the kvnos a server's keytab holds for the pools' SPNs, ascending, space-separated
kvnos() { klist -k "$(kt "$1")" 2>/dev/null | awk '/HTTP\/web/ { print $1 }' | sort -un | tr '\n' ' '; }
top_kvno() { kvnos "$1" | awk '{ print $NF }'; }
# dir_kvno [ACCOUNT]: msDS-KeyVersionNumber of ACCOUNT (default kerbauth)
dir_kvno() { ldap_attr "CN=${1:-kerbauth},CN=Computers,$LAB_BASE_DN" msDS-KeyVersionNumber; }
# holders K [SERVER...]: how many of the servers (default all) hold kvno K
holders() {
  local k=$1 s n=0; shift
  for s in ${*:-$SERVERS}; do case " $(kvnos "$s")" in *" $k "*) n=$((n + 1)) ;; esac; done
  echo $n
}

# a ticket cache with only alice's TGT: its logins get new service tickets
fresh_alice() { KRB5CCNAME=$1 kinit "$LAB_USER_PRINCIPAL" <"$LAB_SECRETS/$LAB_USER" >/dev/null 2>&1; }

# login SERVER [CCACHE]: alice logs in to SERVER's pool at SERVER's address;
# prints the HTTP status line
login() { "$WEB" login "$LAB_DIR" "http://$(pool_of "$1"):8080/" "$(addr_of "$1")" ${2:+"$2"} 2>/dev/null | head -1; }

# all_logins [CCACHE]: every server answers alice with 200
all_logins() {
  local s bad=0 r
  for s in $SERVERS; do
    r=$(login "$s" "${1:-}")
    [ "$r" = "HTTP 200" ] || { bad=1; echo "$(date +%T.%N) login to $s: ${r:-no answer}" >&2; }
  done
  return $bad
}

# fresh_logins: a new TGT, then every server answers its new service tickets
fresh_logins() { fresh_alice "$T/fresh.ccache" && all_logins "$T/fresh.ccache"; }

# keytabs_match [ACCOUNT SERVER...]: the newest kvno of every keytab (of
# the account's servers; default kerbauth, all) is the account's kvno in the
# directory, and a login with a brand-new ticket works on every server
keytabs_match() {
  local s k bad=0 acct=${1:-kerbauth}
  shift || true
  k=$(dir_kvno "$acct")
  for s in ${*:-$SERVERS}; do
    [ "$(top_kvno "$s")" = "$k" ] || { bad=1; echo "  $s holds kvnos $(kvnos "$s"), directory has $k" >&2; }
  done
  fresh_logins || bad=1
  return $bad
}

# committed SERVER [ACCOUNT]: the newest kvno the server's agent holds as
# committed for ACCOUNT (default kerbauth; its committed-state file beside
# the keytab), empty if none
committed() {
  jq -r --arg a "${2:-kerbauth}" '.accounts[] | select(.account | ascii_downcase | startswith(($a | ascii_downcase) + "$@")) | .committed[-1].kvno' \
    "$(kt "$1").committed" 2>/dev/null
}
# committed_match [KVNO]: every server's agent holds KVNO (default: the
# directory's) as kerbauth's newest committed kvno
committed_match() {
  local s k=${1:-$(dir_kvno)} bad=0
  for s in $SERVERS; do
    [ "$(committed "$s")" = "$k" ] || { bad=1; echo "  $s: committed '$(committed "$s")', want $k" >&2; }
  done
  return $bad
}

# the pause points (KRBFLEET_PAUSE) are compiled in with the fault points
has_pause_points() { grep -qa KRBFLEET_PAUSE_FILE "$KRBFLEET"; }

# start_paused NAME POINT ARG...: run krbfleet ARG... with KRBFLEET_PAUSE=POINT
# in the background; return once it waits there (1 if it never gets there)
start_paused() {
  local name=$1 point=$2 i
  shift 2
  rm -f "$T/go-$name"
  : >"$T/$name.err"
  KRBFLEET_PAUSE=$point KRBFLEET_PAUSE_FILE=$T/go-$name "$KRBFLEET" "$@" >"$T/$name.out" 2>"$T/$name.err" &
  echo $! >"$T/$name.pid"
  wait_until 120 paused_or_gone "$name" "$point" && grep -q "paused at $point" "$T/$name.err"
}
paused_or_gone() { # NAME POINT
  grep -q "paused at $2" "$T/$1.err" || ! kill -0 "$(cat "$T/$1.pid")" 2>/dev/null
}

# resume NAME: let it go on; its exit status is in $RC once it ends
resume() { RC=0; touch "$T/go-$1"; wait "$(cat "$T/$1.pid")" || RC=$?; }

# login loops in the background until stop_loops: "cached" uses alice's own
# cache (service tickets of the kvno current when it started), "fresh" a new
# TGT every round (new service tickets, the directory's kvno of the moment).
start_loops() { # [cached]: only the cached loop (when the KDC will be down)
  rm -f "$T/stop-loops" "$T/loop-"*
  LOOPS="cached fresh"
  [ "${1:-}" = cached ] && LOOPS=cached
  ( while [ ! -e "$T/stop-loops" ]; do
      all_logins 2>>"$T/loop-cached.fail" || echo fail >>"$T/loop-cached.bad"
      echo round >>"$T/loop-cached.rounds"
    done ) &
  [ "${1:-}" = cached ] && return 0
  ( while [ ! -e "$T/stop-loops" ]; do
      fresh_alice "$T/loop.ccache" && all_logins "$T/loop.ccache" 2>>"$T/loop-fresh.fail" ||
        echo fail >>"$T/loop-fresh.bad"
      echo round >>"$T/loop-fresh.rounds"
    done ) &
  loops_running
}

# loops_running: wait (up to 120 s) until every loop has finished a round,
# so what follows really happens while logins are going on
loops_running() {
  local kind
  for kind in $LOOPS; do
    wait_until 120 test -s "$T/loop-$kind.rounds" ||
      { not_ok "the $kind login loop finished no round in 120 s"; return 1; }
  done
}

# stop_loops "what": both loops ran and no login failed
stop_loops() {
  local kind r
  touch "$T/stop-loops"
  wait
  for kind in $LOOPS; do
    r=$(grep -c round "$T/loop-$kind.rounds" 2>/dev/null || echo 0)
    if [ "$r" -ge 1 ] && [ ! -s "$T/loop-$kind.bad" ]; then
      ok "$1: no failed login with $kind tickets ($r rounds of 4 logins)"
    else
      not_ok "$1: logins with $kind tickets failed ($r rounds): $(head -5 "$T/loop-$kind.fail" 2>/dev/null)"
    fi
  done
}

# lock_row: "pid" of the account's rotation lock, empty if none
lock_row() { sqlite3 "$KRBFLEET_STORE" "SELECT pid FROM rotation_lock" 2>/dev/null; }

# has_fault_points: this krbfleet was built with -Dfault_injection=true
# (build-asan is): KRBFLEET_FAULT=stage:1 kills it after staging on one
# server, exit 137. Without them the run simply completes.
has_fault_points() {
  local rc=0
  KRBFLEET_FAULT=stage:1 kf password set --account kerbauth --concurrency 1 >"$T/probe.out" 2>&1 || rc=$?
  [ "$rc" = 137 ]
}

# fleet_setup [CONTAINER]: the account (in CONTAINER, default the domain's
# Computers container), its assignments, a first rotation, the SPNs
fleet_setup() {
  run_ok "import the fleet's topology" kf topology import "$TOPO"
  run_ok "account new${1:+ in $1}" kf account new 'LAB\kerbauth' ${1:+--container "$1"}
  run_ok "assignment redmond" kf assignment new --site redmond --account kerbauth
  run_ok "assignment dublin" kf assignment new --site dublin --account kerbauth
  run_ok "first password set" kf password set --account kerbauth
  run_ok "enable publishes the SPNs" kf topology enable
  all_logins && ok "alice logs in to every server" || not_ok "logins after enable"
}
