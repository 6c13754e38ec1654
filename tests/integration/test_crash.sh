#!/usr/bin/env bash
# Crash safety of `password set` on a real fleet (tests/lab/fleet.sh): the
# command is killed (SIGKILL, KRBFLEET_FAULT) after staging on some servers,
# right after the directory write (before the read-back and restamp), and
# during verification. For each point:
#   - nothing is lost: before the directory changed, the new kvno's keys
#     were on the servers;
#   - alice's real logins against every server keep succeeding throughout,
#     with old cached tickets and with brand-new ones;
#   - a re-run of `password set`, and separately `krbfleet sync`, completes,
#     after which every keytab's newest kvno is the directory's
#     msDS-KeyVersionNumber and a login with a new ticket works everywhere;
#   - the killed run's lock (a dead PID on this host) does not block them.
# The fault points exist only in builds with -Dfault_injection=true
# (build-asan); elsewhere these cases are skipped (exit 77).
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"

fleet_setup
T0=$(now)
if ! has_fault_points; then
  echo "SKIP: $KRBFLEET has no fault points (KRBFLEET_FAULT=stage:1 did not kill it);" \
       "build with -Dfault_injection=true (build-asan) to run the crash cases"
  keytabs_match && ok "(the probe run was a normal rotation) keytabs match" || not_ok "keytabs after the probe run"
  finish || exit 1
  exit 77
fi
ok "KRBFLEET_FAULT=stage:1 kills password set (exit 137): this build has fault points"
run_ok "sync repairs the probe's kill (kvno $(($(dir_kvno) + 1)) staged on one server)" kf sync --account kerbauth
keytabs_match && ok "after that sync every keytab matches the directory" || not_ok "keytabs after the first sync"

# crash POINT REPAIR: kill `password set` at POINT, check that nothing was
# lost, repair with REPAIR (sync, or rerun: password set again), check
# that every server matches the directory.
crash() {
  local point=$1 repair=$2 k0 k1 pid rc=0 t0 what="killed at $1, repaired by $2" steps
  k0=$(dir_kvno)
  KRBFLEET_FAULT=$point "$KRBFLEET" password set --account kerbauth --concurrency 1 >"$T/out" 2>"$T/err" &
  pid=$!
  wait $pid || rc=$?
  if [ $rc = 137 ] && grep -q "fault injection: killed at $point" "$T/err"; then ok "$what: killed (exit 137)"
  else not_ok "$what: not killed there (exit $rc: $(head -c 300 "$T/err"))"; fi
  k1=$(dir_kvno)
  steps=$(sqlite3 "$KRBFLEET_STORE" "SELECT step FROM journal WHERE run = (SELECT run FROM journal ORDER BY id DESC LIMIT 1) ORDER BY id" | tr '\n' ' ')
  case $point in
    stage:*)
      if [ "$k1" = "$k0" ] && [ "$(holders $((k0 + 1)))" = 2 ]; then
        ok "$what: directory untouched (kvno $k0); kvno $((k0 + 1)) staged on 2 of 4 servers"
      else not_ok "$what: directory $k0 -> $k1, kvno $((k0 + 1)) on $(holders $((k0 + 1))) servers"; fi ;;
    *)
      if [ "$k1" = $((k0 + 1)) ] && [ "$(holders "$k1")" = 4 ]; then
        ok "$what: directory at kvno $k1 and all 4 servers hold its keys (nothing lost)"
      else not_ok "$what: directory $k0 -> $k1, its keys on $(holders "$k1") servers"; fi
      case "$steps" in
        "plan staged written "*) ok "$what: journal: keys staged before the directory write ($steps)" ;;
        *) not_ok "$what: journal: $steps" ;;
      esac
      [ "$point" != commit ] || { committed_match "$k0" 2>"$T/cm.err" &&
        ok "$what: kvno $k1 is in the directory but committed on no agent (killed before COMMIT)" ||
        not_ok "$what: committed state after the kill: $(cat "$T/cm.err")"; } ;;
  esac
  if [ "$(lock_row)" = "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
    ok "$what: the lock is left behind with the dead pid $pid"
  else not_ok "$what: lock row '$(lock_row)', killed pid $pid"; fi
  fresh_logins 2>"$T/login.err" && ok "$what: logins with new tickets work right after the kill" ||
    not_ok "$what: logins right after the kill: $(cat "$T/login.err")"
  t0=$(now)
  if [ "$repair" = sync ]; then
    run_ok "$what: krbfleet sync completes" kf sync --account kerbauth
  else
    run_ok "$what: password set again completes" kf password set --account kerbauth
  fi
  echo "  $what: $repair took $(since "$t0") s" >>"$T/timings"
  if keytabs_match 2>"$T/match.err"; then ok "$what: every keytab's newest kvno is the directory's ($(dir_kvno)); new tickets log in everywhere"
  else not_ok "$what: keytabs do not match: $(cat "$T/match.err")"; fi
  committed_match 2>"$T/cm.err" && ok "$what: every agent holds the directory's kvno as committed" ||
    not_ok "$what: committed state after the repair: $(cat "$T/cm.err")"
  [ -z "$(lock_row)" ] && ok "$what: the lock is free again" || not_ok "$what: lock row $(lock_row)"
}

start_loops
for point in stage:2 commit verify:1; do
  crash "$point" sync
  crash "$point" rerun
done
stop_loops "six killed rotations and their repairs"

# sync --json after all that: one document, every server OK at the directory's kvno
run_ok "sync --json" kf --json sync
K=$(dir_kvno)
if jq -e --argjson k "$K" '.result == "ok" and (.accounts | length == 1) and
      ([.accounts[0].servers[] | select(.result == "OK" and .kvno == $k and .action == "had kvno \($k)")] | length == 4)' \
      "$T/out" >/dev/null; then ok "sync --json: every server OK, already at kvno $K"
else not_ok "sync --json: $(head -c 600 "$T/out")"; fi
run_ok "topology test after all that" kf topology test
sanitizer_clean
echo "timings (the whole test: $(since "$T0") s after setup):"
cat "$T/timings"
finish
