#!/usr/bin/env bash
# `krbfleet sync` on a real fleet (tests/lab/fleet.sh): what it finds and
# what it does, case by case - a server that missed a rotation, keys under a
# wrong kvno label (found by asking the agents which key really accepts a
# fresh ticket), a web FQDN added to a pool, an unreachable agent, a DC
# behind the store, lost keys, the lock, pruning by grace, usage errors.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"
: "${KF_AGENT_PROBE:?set KF_AGENT_PROBE to the kf-agent-probe binary}"
probe() { local s=$1; shift; "$KF_AGENT_PROBE" "$(addr_of "$s")" 7390 "$s" "$@"; }
md5s() { local s; for s in $SERVERS; do md5sum <"$(kt "$s")"; done; }

fleet_setup

# -- the command line ---------------------------------------------------------------
run_ok "help sync" kf help sync
expect_out "help sync explains the algorithm" "ask every agent which key of its keytab accepts it"
expect_fail 2 "option '--bogus' is unknown" kf sync --bogus
expect_fail 2 'unexpected argument "kerbauth"' kf sync kerbauth
expect_fail 1 'is not managed by krbfleet' kf sync --account nobody

# -- nothing to do ----------------------------------------------------------------------
K=$(dir_kvno)
run_ok "sync of a healthy fleet" kf sync
expect_out "every server had the directory's kvno" "in sync: every server holds kvno $K"
[ "$(grep -c "had kvno $K" "$T/out")" = 4 ] && ok "4 servers: had kvno $K" || not_ok "$(cat "$T/out")"

# -- the lock --------------------------------------------------------------------------
sqlite3 "$KRBFLEET_STORE" "INSERT INTO rotation_lock(account_id, holder, host, pid, since) SELECT id, 'bob', '$(hostname)', $$, 'now' FROM account WHERE name = 'kerbauth'"
expect_fail 1 "account kerbauth is being rotated by bob" kf sync --account kerbauth
sqlite3 "$KRBFLEET_STORE" "DELETE FROM rotation_lock"
# the holder is its PID *and* that process's start time (field 22 of
# /proc/PID/stat): with its real start time this shell holds the lock; a
# lock naming this shell's PID with another start time is a reused PID
start=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
lock() { sqlite3 "$KRBFLEET_STORE" "INSERT OR REPLACE INTO rotation_lock(account_id, holder, host, pid, since, pid_start) SELECT id, 'bob', '$(hostname)', $$, 'now', $1 FROM account WHERE name = 'kerbauth'"; }
lock "$start"
expect_fail 1 "account kerbauth is being rotated by bob" kf sync --account kerbauth
lock $((start + 1))
run_ok "a lock whose PID was reused (another start time) is not held" kf sync --account kerbauth
[ -z "$(sqlite3 "$KRBFLEET_STORE" "SELECT pid FROM rotation_lock")" ] &&
  ok "the stale lock was taken over and released" || not_ok "lock row left: $(sqlite3 "$KRBFLEET_STORE" "SELECT * FROM rotation_lock")"
sqlite3 "$KRBFLEET_STORE" "DELETE FROM rotation_lock"

# -- a server that missed a rotation --------------------------------------------------------
"$FLEET" stop-agent fe02.dublin.lab.test
rc=0; kf password set --account kerbauth --force >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "password set --force skips the stopped server" || not_ok "--force exit $rc"
"$FLEET" start-agent fe02.dublin.lab.test
K=$(dir_kvno)
[ "$(top_kvno fe02.dublin.lab.test)" = $((K - 1)) ] && ok "fe02.dublin missed kvno $K" || not_ok "fe02.dublin: $(kvnos fe02.dublin.lab.test)"
[ "$(committed fe02.dublin.lab.test)" = $((K - 1)) ] && ok "... its agent holds kvno $((K - 1)) as committed, not $K" ||
  not_ok "fe02.dublin committed: $(committed fe02.dublin.lab.test)"
run_ok "sync gives it the keys" kf sync --account kerbauth
expect_out "fe02.dublin is given them" "given kvno $K (it held no key the directory uses)"
keytabs_match 2>"$T/m" && ok "every keytab matches kvno $K; new tickets log in" || not_ok "$(cat "$T/m")"
committed_match "$K" 2>"$T/m" && ok "sync COMMITs kvno $K on every agent (fe02.dublin included)" || not_ok "$(cat "$T/m")"

# -- keys under a wrong label: don't trust labels -------------------------------------------
if has_pause_points; then
  K=$(dir_kvno)
  # The password changes out of band between staging and our write (the
  # directory then says K+2 for our keys, staged as K+1); the run is
  # killed before it can restamp.
  if KRBFLEET_FAULT=commit start_paused run before-commit password set --account kerbauth; then
    samba-tool user setpassword 'kerbauth$' --newpassword="Kf-$(head -c 18 /dev/urandom | base64 | tr -dc A-Za-z0-9)9a" \
      -H "ldap://$LAB_DC_NAME" --use-kerberos=required >"$T/st.out" 2>&1 || not_ok "samba-tool setpassword: $(cat "$T/st.out")"
    resume run
    [ "$RC" = 137 ] && ok "killed after the write, before the restamp" || not_ok "exit $RC: $(cat "$T/run.err")"
    K2=$(dir_kvno)
    [ "$K2" = $((K + 2)) ] && [ "$(top_kvno fe01.redmond.lab.test)" = $((K + 1)) ] &&
      ok "directory at kvno $K2, keytabs label its keys $((K + 1))" ||
      not_ok "directory $K2, fe01.redmond: $(kvnos fe01.redmond.lab.test)"
    fresh_logins 2>/dev/null && ok "logins work anyway (the acceptor ignores labels): a 200 proves no label" ||
      not_ok "logins with mislabelled keys failed"
    run_ok "sync restamps" kf --json sync --account kerbauth
    json_valid sync
    if jq -e --argjson k "$K2" --argjson l $((K + 1)) '[.accounts[0].servers[] |
          select(.result == "OK" and .kvno == $k and
                 (.action | contains("restamped: the keys of kvno \($k) were labelled \($l)")) and
                 (.action | contains("withdrew kvno \($l) (a wrong label)")))] | length == 4' "$T/out" >/dev/null
    then ok "every server restamped $((K + 1)) -> $K2, the wrong label withdrawn"
    else not_ok "restamp: $(head -c 800 "$T/out")"; fi
    keytabs_match 2>"$T/m" && ok "keytabs match kvno $K2; new tickets log in" || not_ok "$(cat "$T/m")"
    [ "$(holders $((K + 1)))" = 0 ] && ok "no keytab keeps the wrong label $((K + 1))" || not_ok "label $((K + 1)) left"
  else
    not_ok "never paused: $(cat "$T/run.err")"
  fi
else
  echo "# SKIP the wrong-label case: $KRBFLEET has no fault points (build-asan has)"
fi

# -- a web FQDN added to a pool: keys for it without a rotation -------------------------------
K=$(dir_kvno)
kf topology export >"$T/topo.json"
jq '(.sites[] | select(.name == "dublin") | .pools[0].web_fqdns) += ["lb2.dublin.lab.test"]' "$T/topo.json" >"$T/topo2.json"
run_ok "import the topology with lb2.dublin.lab.test" kf topology import "$T/topo2.json"
run_ok "sync completes the key sets" kf sync --account kerbauth
[ "$(grep -c "kvno $K completed (entries were missing)" "$T/out")" = 4 ] && ok "4 servers: kvno $K completed" || not_ok "$(cat "$T/out")"
n=0; for s in $SERVERS; do klist -k "$(kt "$s")" | grep -q " $K HTTP/lb2.dublin.lab.test@" && n=$((n + 1)); done
[ $n = 4 ] && ok "every keytab has HTTP/lb2.dublin.lab.test at kvno $K" || not_ok "lb2 keys on $n servers"
[ "$(dir_kvno)" = "$K" ] && ok "no rotation: still kvno $K" || not_ok "kvno $(dir_kvno)"
run_ok "enable publishes it" kf topology enable
"$LAB_SH" add-host "$LAB_DIR" "$(addr_of fe01.dublin.lab.test)" lb2.dublin.lab.test
fresh_alice "$T/lb2.ccache"
r=$("$WEB" login "$LAB_DIR" "http://lb2.dublin.lab.test:8080/" "$(addr_of fe02.dublin.lab.test)" "$T/lb2.ccache" 2>/dev/null | head -1)
[ "$r" = "HTTP 200" ] && ok "alice logs in through lb2.dublin.lab.test" || not_ok "lb2 login: $r"

# -- an unreachable agent: the others are synced, it is named ----------------------------------
"$FLEET" stop-agent fe01.redmond.lab.test
rc=0; kf sync --account kerbauth >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "sync with an agent down exits 1" || not_ok "exit $rc"
expect_out "it is named, with the repair" "start its agent (krbfleetd), then krbfleet sync --account kerbauth"
[ "$(grep -c ' OK ' "$T/out")" = 3 ] && ok "the three others are OK" || not_ok "$(cat "$T/out")"
"$FLEET" start-agent fe01.redmond.lab.test
run_ok "sync once it is back" kf sync --account kerbauth

# -- a DC behind the store: refused, nothing touched -------------------------------------------
K=$(dir_kvno)
sqlite3 "$KRBFLEET_STORE" "INSERT INTO account_kvno(account_id, kvno, committed) SELECT id, $((K + 5)), strftime('%s','now') FROM account WHERE name = 'kerbauth'"
before=$(md5s)
rc=0; kf sync --account kerbauth >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "may not have replicated the change yet, so nothing was changed" "$T/err" &&
  ok "a kvno above the DC's in the store: refused ($(head -c 120 "$T/err")...)" || not_ok "exit $rc: $(cat "$T/err")"
[ "$(md5s)" = "$before" ] && ok "keytabs untouched" || not_ok "keytabs changed"
sqlite3 "$KRBFLEET_STORE" "DELETE FROM account_kvno WHERE kvno = $((K + 5))"

# -- keys lost: said so, and password set is the repair -------------------------------------------
for s in $SERVERS; do probe "$s" withdraw "$K" >/dev/null 2>&1; done
probe fe01.redmond.lab.test stage-random "$K" "HTTP/web.redmond.lab.test@$LAB_REALM" "kerbauth\$@$LAB_REALM" >/dev/null 2>&1
rc=0; kf --json sync --account kerbauth >"$T/out" 2>"$T/err" || rc=$?
json_valid sync
[ $rc = 1 ] && grep -q "The keys are lost; run \`krbfleet password set --account kerbauth\`" "$T/err" &&
  ok "no server holds the directory's keys (one has a wrong key labelled $K): lost, says so" || not_ok "exit $rc: $(cat "$T/err")"
jq -e '.accounts[0].fix == "krbfleet password set --account kerbauth" and .result == "failed" and (.error.message | contains("The keys are lost"))' "$T/out" >/dev/null &&
  ok "--json names the repair" || not_ok "json: $(head -c 400 "$T/out")"
run_ok "password set makes new keys" kf password set --account kerbauth
keytabs_match 2>"$T/m" && ok "keytabs match kvno $(dir_kvno); new tickets log in" || not_ok "$(cat "$T/m")"

# -- every account; one with no site ----------------------------------------------------------
run_ok "account new kerbauth3 (no site)" kf account new 'LAB\kerbauth3'
run_ok "sync of every account" kf sync
expect_out "an account with no site is said so" "account kerbauth3: assigned to no site: no web server to sync"

# -- prune by grace ---------------------------------------------------------------------------------
K=$(dir_kvno)
printf '[rotation]\ngrace = 1s\n' >"$T/grace.conf"
sleep 2
run_ok "sync with [rotation] grace = 1s" kf --config "$T/grace.conf" --json sync --account kerbauth
n=0; for s in $SERVERS; do [ "$(kvnos "$s")" = "$K " ] && n=$((n + 1)); done
[ $n = 4 ] && ok "every keytab holds only kvno $K now" || not_ok "$(for s in $SERVERS; do echo "$s: $(kvnos "$s")"; done)"
jq -e '[.accounts[0].servers[] | select(.pruned > 0)] | length == 4' "$T/out" >/dev/null &&
  ok "--json reports the pruned entries" || not_ok "pruned: $(head -c 400 "$T/out")"
keytabs_match 2>"$T/m" && ok "logins with new tickets still work" || not_ok "$(cat "$T/m")"
run_ok "journal records sync runs" sh -c "sqlite3 '$KRBFLEET_STORE' \"SELECT step FROM journal WHERE step LIKE 'sync%'\" | sort -u | tr '\n' ' '"
expect_out "journal steps" "sync sync-done sync-lost"
sanitizer_clean
finish
