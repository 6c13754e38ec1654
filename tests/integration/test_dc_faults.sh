#!/usr/bin/env bash
# Faults around the DC during `password set`, on a real fleet
# (tests/lab/fleet.sh; account kerbauth serves site redmond, kerbauth2 dublin):
#   1. the DC stops between staging and the directory write, and between
#      the write and its read-back (lab.sh stop-dc at a KRBFLEET_PAUSE
#      point), and starts again;
#   2. a slow DC (tests/lab/slowproxy.py in front of its LDAP port, with
#      [directory] timeout = 2s): slow within the timeout (works, slower),
#      slower than it from the start (refused, nothing touched), stalling
#      after the staging (the write times out);
#   3. the admin's ticket ends mid-way: so close to its end that Samba's KDC
#      refuses it (less than 2 minutes left: the write works, verification
#      cannot get tickets), and expired for real (Samba drops the LDAP
#      session: the write fails).
# Each ends with a clear message naming the repair, and a state that
# `krbfleet sync` and, separately, a re-run of `password set` repair: every
# keytab's newest kvno is then the directory's and new tickets log in.
# Alice's logins with cached tickets keep working throughout, the DC's
# outages included. Cases needing a pause point (KRBFLEET_PAUSE, compiled in
# with -Dfault_injection=true, as build-asan is) are skipped elsewhere.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"
REDMOND="fe01.redmond.lab.test fe02.redmond.lab.test"
DUBLIN="fe01.dublin.lab.test fe02.dublin.lab.test"

run_ok "import the fleet's topology" kf topology import "$TOPO"
run_ok "account new kerbauth" kf account new 'LAB\kerbauth'
run_ok "account new kerbauth2" kf account new 'LAB\kerbauth2'
run_ok "kerbauth serves redmond" kf assignment new --site redmond --account kerbauth
run_ok "kerbauth2 serves dublin" kf assignment new --site dublin --account kerbauth2
run_ok "password set kerbauth" kf password set --account kerbauth
run_ok "password set kerbauth2" kf password set --account kerbauth2
run_ok "enable" kf topology enable
all_logins && ok "alice logs in to every server (her tickets are cached now)" || not_ok "logins after enable"
PAUSE=1
has_pause_points || { PAUSE=0; echo "# SKIP the cases that need KRBFLEET_PAUSE: $KRBFLEET was built without fault points"; }
start_loops cached
T0=$(now)

# expect_msg NAME "what" "substring"...: NAME's stderr says all of them
expect_msg() {
  local name=$1 what=$2 s miss=''
  shift 2
  for s in "$@"; do grep -qF -- "$s" "$T/$name.err" || miss+=" [$s]"; done
  if [ -z "$miss" ]; then ok "$what: says so ($(grep '^krbfleet: ' "$T/$name.err" | grep -v 'fault injection' | head -c 160)...)"
  else not_ok "$what: message lacks$miss: $(cat "$T/$name.err")"; fi
}

# repair HOW "what" [ACCOUNT]: sync or re-run, then the account's servers
# match the directory
repair() {
  local how=$1 what=$2 acct=${3:-kerbauth} servers t0
  [ "$acct" = kerbauth ] && servers=$REDMOND || servers=$DUBLIN
  t0=$(now)
  if [ "$how" = sync ]; then run_ok "$what: krbfleet sync repairs" kf sync --account "$acct"
  else run_ok "$what: password set again repairs" kf password set --account "$acct"; fi
  echo "  $what: $how took $(since "$t0") s" >>"$T/timings"
  # shellcheck disable=SC2086
  if keytabs_match "$acct" $servers 2>"$T/match.err"; then
    ok "$what: every keytab's newest kvno is the directory's ($(dir_kvno "$acct")); new tickets log in"
  else not_ok "$what: after $how: $(cat "$T/match.err")"; fi
}

# ---- 1. the DC stops mid-rotation --------------------------------------------------
dc_stop() { # POINT REPAIR
  local point=$1 how=$2 k0 rc what="DC stopped at $1, repaired by $2"
  k0=$(dir_kvno)
  if ! start_paused run "$point" password set --account kerbauth; then
    not_ok "$what: never paused: $(cat "$T/run.err")"; return
  fi
  "$LAB_SH" stop-dc "$LAB_DIR" 2>>"$T/dc.log"
  resume run
  [ "$RC" = 1 ] && ok "$what: password set fails (exit 1)" || not_ok "$what: exit $RC"
  if [ "$point" = before-commit ]; then
    expect_msg run "$what" "whether it changed is unknown" "stay staged" \
      "krbfleet sync --account kerbauth" "dc1.lab.test"
  else
    expect_msg run "$what" "the password was changed but its kvno could not be read back" \
      "krbfleet sync --account kerbauth" "dc1.lab.test"
  fi
  # shellcheck disable=SC2086
  [ "$(holders $((k0 + 1)) $REDMOND)" = 2 ] && ok "$what: kvno $((k0 + 1)) stays staged on both servers" ||
    not_ok "$what: kvno $((k0 + 1)) on $(holders $((k0 + 1)) $REDMOND) servers"
  "$LAB_SH" start-dc "$LAB_DIR" 2>>"$T/dc.log" || { not_ok "$what: the DC did not start again"; return; }
  if [ "$point" = before-commit ]; then
    [ "$(dir_kvno)" = "$k0" ] && ok "$what: the directory kept kvno $k0" || not_ok "$what: kvno $(dir_kvno)"
  else
    [ "$(dir_kvno)" = $((k0 + 1)) ] && ok "$what: the directory has kvno $((k0 + 1))" || not_ok "$what: kvno $(dir_kvno)"
  fi
  repair "$how" "$what"
}
if [ $PAUSE = 1 ]; then
  for point in before-commit after-commit; do
    dc_stop "$point" sync
    dc_stop "$point" rerun
  done
fi

# ---- 2. a slow DC ------------------------------------------------------------------
PORT=13389
echo 0 >"$T/delay"
"$FL_HERE/../lab/slowproxy.py" --listen "$LAB_DC_ADDR:$PORT" --to "$LAB_DC_ADDR:389" \
  --delay-file "$T/delay" --ready-file "$T/proxy.ready" 2>"$T/proxy.log" &
PROXY=$!
wait_until 120 test -e "$T/proxy.ready" && listening "$LAB_DC_ADDR" "$PORT" &&
  ok "the slow proxy listens on $LAB_DC_ADDR:$PORT" || not_ok "the slow proxy did not start: $(cat "$T/proxy.log")"
printf '[directory]\nldap_uri = ldap://%s:%s\ntimeout = 2s\n' "$LAB_DC_NAME" "$PORT" >"$T/slow.conf"
slow() { kf --config "$T/slow.conf" "$@"; }

t0=$(now); run_ok "direct: password set" kf password set --account kerbauth; direct=$(since "$t0")
echo 0.25 >"$T/delay"
t0=$(now); run_ok "DC slow within the timeout (0.25 s each way): password set works" slow password set --account kerbauth
echo "  password set: $direct s direct, $(since "$t0") s with the DC 0.25 s away each way" >>"$T/timings"
keytabs_match kerbauth $REDMOND 2>"$T/match.err" && ok "slow DC: keytabs match" || not_ok "slow DC: $(cat "$T/match.err")"

echo 3 >"$T/delay"
k0=$(dir_kvno)
sums=$(for s in $REDMOND; do md5sum <"$(kt "$s")"; done)
t0=$(now); rc=0
slow password set --account kerbauth >"$T/run.out" 2>"$T/run.err" || rc=$?
took=$(since "$t0")
[ "$rc" = 1 ] && ok "DC slower than the timeout: password set fails in $took s (exit 1)" || not_ok "slower: exit $rc"
expect_msg run "DC slower than the timeout" "did not answer within 2s" "dc1.lab.test"
[ "$(dir_kvno)" = "$k0" ] && [ "$(for s in $REDMOND; do md5sum <"$(kt "$s")"; done)" = "$sums" ] &&
  ok "DC slower than the timeout: directory and keytabs untouched" || not_ok "slower: something changed"
repair sync "DC slower than the timeout (nothing to repair)"
echo 0 >"$T/delay"
repair rerun "DC slower than the timeout, fast again"

if [ $PAUSE = 1 ]; then
  stall() { # REPAIR
    local how=$1 k0 rc what="DC stalling after the staging, repaired by $1"
    echo 0 >"$T/delay"
    k0=$(dir_kvno)
    start_paused run before-commit --config "$T/slow.conf" password set --account kerbauth ||
      { not_ok "$what: never paused: $(cat "$T/run.err")"; return; }
    echo 3600 >"$T/delay"
    t0=$(now)
    resume run
    [ "$RC" = 1 ] && ok "$what: password set fails $(since "$t0") s later (exit 1)" || not_ok "$what: exit $RC"
    expect_msg run "$what" "did not answer within 2s" "stay staged" "krbfleet sync --account kerbauth"
    # shellcheck disable=SC2086
    [ "$(holders $((k0 + 1)) $REDMOND)" = 2 ] && ok "$what: kvno $((k0 + 1)) stays staged on both servers" ||
      not_ok "$what: kvno $((k0 + 1)) on $(holders $((k0 + 1)) $REDMOND) servers"
    echo 0 >"$T/delay"
    repair "$how" "$what"
  }
  stall sync
  stall rerun
fi
kill "$PROXY"; wait "$PROXY" 2>/dev/null

# ---- 3. the admin's ticket ends mid-way --------------------------------------------
short_ticket() { # LIFETIME [CCACHE]: the admin's ticket, for so long
  KRB5CCNAME=${2:-$T/short.ccache} kinit -l "$1" "$LAB_ADMIN_PRINCIPAL" <"$LAB_SECRETS/$LAB_ADMIN" >/dev/null
}
if [ $PAUSE = 1 ]; then
  # Samba's KDC refuses service tickets from a TGT with less than 2 minutes
  # left ("Ticket expired"); the LDAP session made earlier goes on. A run
  # gets 150 s tickets: 30 s to stage its keys (service tickets for the
  # agents), however busy the machine, before the KDC starts refusing.
  near_end() { # REPAIR
    local how=$1 k0 rc start what="admin ticket near its end, repaired by $1"
    k0=$(dir_kvno)
    short_ticket 150s; start=$(date +%s)
    KRB5CCNAME=$T/short.ccache start_paused run before-commit password set --account kerbauth ||
      { not_ok "$what: never paused: $(cat "$T/run.err")"; return; }
    # resume once the ticket has less than 2 minutes left (the KDC's rule)
    while [ $(($(date +%s) - start)) -lt 33 ]; do sleep 0.2; done
    resume run
    [ "$RC" = 1 ] && ok "$what: password set fails (exit 1)" || not_ok "$what: exit $RC"
    expect_msg run "$what" "too close to its end for the KDC" "Run kinit, then \`krbfleet sync --account kerbauth\`"
    [ "$(dir_kvno)" = $((k0 + 1)) ] && [ "$(holders $((k0 + 1)) $REDMOND)" = 2 ] &&
      ok "$what: the directory has kvno $((k0 + 1)), both servers its keys (nothing lost)" ||
      not_ok "$what: directory $(dir_kvno), kvno $((k0 + 1)) on $(holders $((k0 + 1)) $REDMOND) servers"
    short_ticket 10h
    KRB5CCNAME=$T/short.ccache repair "$how" "$what (after kinit)"
  }
  near_end sync
  near_end rerun

  # Expired for real: both accounts' rotations wait while their tickets run
  # out (the shortest ticket Samba honours at all lives a little over 2
  # minutes). Each run has its own, got just before it starts, so the
  # second does not inherit the time the first took to stage.
  what="admin ticket expired"
  k0=$(dir_kvno) k20=$(dir_kvno kerbauth2)
  # When the session's ticket expires Samba sends LDAP's Notice of
  # Disconnection, and libldap 2.5 leaks the message it read it from (inside
  # ldap_result; nothing of it reaches the caller): suppressed for these two
  # runs only (the full stack is needed to see ldap_result: libldap has no
  # frame pointers).
  echo "leak:ldap_result" >"$T/nod.supp"
  nod="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$T/nod.supp"
  nod_asan="$ASAN_OPTIONS:fast_unwind_on_malloc=0"
  short_ticket 150s
  if ASAN_OPTIONS=$nod_asan LSAN_OPTIONS=$nod KRB5CCNAME=$T/short.ccache \
       start_paused run before-commit password set --account kerbauth &&
     short_ticket 150s "$T/short2.ccache" && end=$(( $(date +%s) + 150 )) &&
     ASAN_OPTIONS=$nod_asan LSAN_OPTIONS=$nod KRB5CCNAME=$T/short2.ccache \
       start_paused run2 before-commit password set --account kerbauth2; then
    echo "# waiting $((end - $(date +%s) + 2)) s for the admin ticket to expire"
    while [ "$(date +%s)" -le $((end + 1)) ]; do sleep 1; done
    resume run; rc=$RC
    resume run2
    [ "$rc" = 1 ] && [ "$RC" = 1 ] && ok "$what: both rotations fail (exit 1)" || not_ok "$what: exits $rc $RC"
    expect_msg run "$what (kerbauth)" "expired at" "run kinit, then \`krbfleet sync --account kerbauth\`"
    expect_msg run2 "$what (kerbauth2)" "expired at" "run kinit, then \`krbfleet sync --account kerbauth2\`"
    # shellcheck disable=SC2086
    [ "$(holders $((k0 + 1)) $REDMOND)" = 2 ] && [ "$(holders $((k20 + 1)) $DUBLIN)" = 2 ] &&
      ok "$what: the new keys stay staged on every server" || not_ok "$what: new keys missing somewhere"
    short_ticket 10h
    KRB5CCNAME=$T/short.ccache repair sync "$what (after kinit)" kerbauth
    KRB5CCNAME=$T/short.ccache repair rerun "$what (after kinit)" kerbauth2
  else
    not_ok "$what: never paused: $(cat "$T/run.err" "$T/run2.err" 2>/dev/null)"
  fi
fi
stop_loops "the DC's outages, slowness and the admin ticket's end"
run_ok "topology test after all that" kf topology test
sanitizer_clean
echo "timings (after setup: $(since "$T0") s):"
cat "$T/timings"
finish
