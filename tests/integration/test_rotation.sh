#!/usr/bin/env bash
# `password set` on a real fleet: a Samba AD DC, four web servers, each with
# its own krbfleetd and an Apache + mod_auth_gssapi vhost reading the keytab
# its agent writes (tests/lab/fleet.sh). Real user logins (alice, curl
# --negotiate) must succeed before, during and after every rotation.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd -P)
FLEET=$HERE/../lab/fleet.sh
WEB=$HERE/../lab/web.sh
trap '"$FLEET" down >/dev/null 2>&1; rm -rf "$T"' EXIT

"$FLEET" up "$HERE/../data/fleet-2sites.json" 2>"$T/fleet.log" || { cat "$T/fleet.log"; exit 1; }
TOPO=$LAB_DIR/fleet/topology.json
addr_of() { jq -r --arg f "$1" '.. | objects | select(.fqdn? == $f and has("address")) | .address' "$TOPO"; }
kt() { echo "$LAB_DIR/fleet/$1/http.keytab"; }
kvnos() { klist -k "$(kt "$1")" 2>/dev/null | awk '/HTTP\/web/ { print $1 }' | sort -un | tr '\n' ' '; }
dir_kvno() { ldap_attr "CN=kerbauth,CN=Computers,$LAB_BASE_DN" msDS-KeyVersionNumber; }
# alice logs in to POOL at the address of SERVER: prints the HTTP status
login() { "$WEB" login "$LAB_DIR" "http://$1:8080/" "$(addr_of "$2")" 2>/dev/null | head -1; }
all_logins() { # every server answers alice with 200
  local bad=0
  for s in fe01.redmond.lab.test:web.redmond.lab.test fe02.redmond.lab.test:web.redmond.lab.test \
           fe01.dublin.lab.test:web.dublin.lab.test fe02.dublin.lab.test:web.dublin.lab.test; do
    [ "$(login "${s#*:}" "${s%%:*}")" = "HTTP 200" ] || { bad=1; echo "  login to ${s%%:*} failed" >&2; }
  done
  return $bad
}
SERVERS="fe01.redmond.lab.test fe02.redmond.lab.test fe01.dublin.lab.test fe02.dublin.lab.test"

run_ok "import the fleet's topology" kf topology import "$TOPO"
run_ok "account new" kf account new 'LAB\kerbauth'
run_ok "assignment redmond" kf assignment new --site redmond --account kerbauth
run_ok "assignment dublin" kf assignment new --site dublin --account kerbauth
K0=$(dir_kvno)

# -- dry run -------------------------------------------------------------------
run_ok "password set --dry-run" kf password set --account kerbauth --dry-run
expect_out "dry run: every server ready" "fe02.dublin.lab.test   web.dublin.lab.test   READY"
[ "$(dir_kvno)" = "$K0" ] && ok "dry run leaves the directory alone" || not_ok "dry run changed kvno"
[ ! -e "$(kt fe01.redmond.lab.test)" ] && ok "dry run leaves the keytabs alone" || not_ok "dry run wrote a keytab"

# -- the safe first order: password set, then enable -----------------------------
run_ok "first password set (SPNs not yet published)" kf password set --account kerbauth
K1=$(dir_kvno)
[ "$K1" = $((K0 + 1)) ] && ok "directory kvno $K0 -> $K1" || not_ok "kvno $K0 -> $K1"
expect_out "unpublished pools are reported, not failed" "not verified: the pool's SPN is not published yet"
for s in $SERVERS; do
  [ "$(kvnos "$s")" = "$K1 " ] && ok "$s holds kvno $K1" || not_ok "$s holds: $(kvnos "$s")"
done
st=$(stat -c '%U:%G %a' "$(kt fe01.redmond.lab.test)")
[ "$st" = "root:www-data 640" ] && ok "keytab root:www-data 0640" || not_ok "keytab is $st"
run_ok "enable publishes the SPNs (no warning now)" kf topology enable
if grep -q "have not been given" "$T/err"; then not_ok "enable still warns: $(cat "$T/err")"; else ok "enable knows the servers have the keys"; fi
all_logins && ok "alice logs in to every server" || not_ok "logins after enable"

# -- a rotation with logins running all the time -----------------------------------
( while :; do all_logins 2>>"$T/bg-fail" || echo fail >>"$T/bg"; echo round >>"$T/bg"; done ) &
LOOP=$!
wait_until 120 grep -q round "$T/bg" || not_ok "the login loop finished no round in 120 s"
run_ok "password set (second rotation, verified with real logins)" kf password set --account kerbauth --json
json_valid password_set
K2=$(dir_kvno)
kill $LOOP; wait $LOOP 2>/dev/null || true
if jq -e --argjson k "$K2" '.result == "ok" and .new_kvno == $k and ([.servers[] | select(.result == "OK" and .kvno == $k and (.login | test("mutual authentication verified")))] | length == 4)' "$T/out" >/dev/null
then ok "every server verified with a real login and mutual auth at kvno $K2"; else not_ok "json: $(cat "$T/out")"; fi
rounds=$(grep -c round "$T/bg" || true)
if [ "$rounds" -ge 1 ] && ! grep -q fail "$T/bg"; then ok "no failed login during the rotation ($rounds rounds of 4 logins)"
else not_ok "logins failed during the rotation: $(cat "$T/bg-fail" 2>/dev/null)"; fi
for s in $SERVERS; do
  [ "$(kvnos "$s")" = "$K1 $K2 " ] && ok "$s keeps kvno $K1 for grace and has $K2" || not_ok "$s holds: $(kvnos "$s")"
done
all_logins && ok "logins after the rotation" || not_ok "logins after the rotation"
for s in $SERVERS; do # issue 11: COMMIT after the directory write and read-back
  c=$(jq -c '[.accounts[] | select(.account == "kerbauth$@LAB.TEST") | .committed[].kvno]' "$(kt "$s").committed" 2>&1)
  [ "$c" = "[$K1,$K2]" ] && ok "$s: its agent holds kvnos $K1 and $K2 as committed" || not_ok "$s: committed state $c"
done

# -- one verification ticket per pool ---------------------------------------------------
# libkrb5's trace lists every request the CLI sends to the KDC: the logins
# of the verify phase use one HTTP/<pool> ticket per pool (2), obtained after
# the commit, not one per server (4); the agents' host/ tickets at most one
# each (none when [rotation] ticket_cache still has them).
rm -f "$T/trace"
run_ok "password set with the KDC traffic traced" env KRB5_TRACE="$T/trace" "$KRBFLEET" password set --account kerbauth --json
K3=$(dir_kvno)
tgs_http=$(grep -c 'Requesting tickets for HTTP/' "$T/trace" || true)
tgs_host=$(grep -c 'Requesting tickets for host/' "$T/trace" || true)
pools=$(grep -o 'Requesting tickets for HTTP/[^ ,]*' "$T/trace" | sort -u | wc -l)
[ "$tgs_http" = 2 ] && [ "$pools" = 2 ] && ok "one HTTP ticket per pool: 2 TGS requests for 4 logins" ||
  not_ok "HTTP TGS requests: $tgs_http for $pools pools: $(grep 'Requesting tickets for HTTP/' "$T/trace")"
[ "$tgs_host" -le 4 ] && ok "at most one host ticket per agent ($tgs_host: the rest from the ticket cache)" || not_ok "host TGS requests: $tgs_host"
if jq -e --argjson k "$K3" '[.servers[] | select(.result == "OK" and .kvno == $k and (.login | test("mutual authentication verified \\(ticket kvno " + ($k | tostring))))] | length == 4' "$T/out" >/dev/null
then ok "all 4 logins verified mutual auth with the pools' kvno $K3 tickets"; else not_ok "json: $(cat "$T/out")"; fi

# -- a server that rejects the pool's ticket still fails -------------------------------
# At the pause after the commit, fe02.redmond's keytab is put back to its
# old keys: its login with the pool's new ticket fails, fe01.redmond's (the
# same ticket) works.
if grep -qa KRBFLEET_PAUSE_FILE "$KRBFLEET"; then
  cp "$(kt fe02.redmond.lab.test)" "$T/old.keytab"
  rm -f "$T/go"
  KRBFLEET_PAUSE=after-commit KRBFLEET_PAUSE_FILE=$T/go "$KRBFLEET" password set --account kerbauth --json >"$T/out" 2>"$T/err" &
  pid=$!
  wait_until 120 grep -q "paused at after-commit" "$T/err" && ok "paused after the commit" || not_ok "no pause: $(cat "$T/err")"
  cat "$T/old.keytab" >"$(kt fe02.redmond.lab.test)"
  touch "$T/go"
  rc=0; wait $pid || rc=$?
  K4=$(dir_kvno)
  [ $rc = 1 ] && ok "the rotation fails when one server rejects the ticket" || not_ok "exit $rc: $(cat "$T/err")"
  if jq -e '[.servers[] | select(.server == "fe02.redmond.lab.test" and .result == "FAILED" and (.error | test("a real login to")))] | length == 1' "$T/out" >/dev/null &&
     jq -e '[.servers[] | select(.server != "fe02.redmond.lab.test" and .result == "OK")] | length == 3' "$T/out" >/dev/null
  then ok "fe02.redmond FAILED its login, the other three (fe01.redmond: same pool ticket) OK"; else not_ok "json: $(cat "$T/out")"; fi
  run_ok "repair: password set --from fe01.redmond --to fe02.redmond" kf password set --from fe01.redmond.lab.test --to fe02.redmond.lab.test
  [ "$(kvnos fe02.redmond.lab.test | awk '{ print $NF }')" = "$K4" ] && ok "fe02.redmond has kvno $K4 again" || not_ok "fe02.redmond: $(kvnos fe02.redmond.lab.test)"
else
  echo "# SKIP a server that rejects the pool's ticket: $KRBFLEET was built without pause points"
fi

# -- the lock ------------------------------------------------------------------------
sqlite3 "$KRBFLEET_STORE" "INSERT INTO rotation_lock(account_id, holder, host, pid, since) SELECT id, 'bob', '$(hostname)', $$, 'now' FROM account WHERE name = 'kerbauth'"
expect_fail 1 "account kerbauth is being rotated by bob" kf password set --account kerbauth
sqlite3 "$KRBFLEET_STORE" "UPDATE rotation_lock SET pid = 999999"
run_ok "a dead holder's lock is taken over" kf password set --account kerbauth --dry-run
sqlite3 "$KRBFLEET_STORE" "DELETE FROM rotation_lock"

# -- an agent down: refuse before touching anything; --force skips and says how to repair --
"$FLEET" stop-agent fe02.dublin.lab.test
K=$(dir_kvno); before=$(md5sum "$(kt fe01.redmond.lab.test)")
expect_fail 1 "1 of 4 web servers cannot be reached or refuse us; nothing was changed" kf password set --account kerbauth
[ "$(dir_kvno)" = "$K" ] && [ "$(md5sum "$(kt fe01.redmond.lab.test)")" = "$before" ] && ok "directory and keytabs untouched" || not_ok "something changed"
rc=0; kf password set --account kerbauth --force >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "--force exits 1 when a server was skipped" || not_ok "--force exit $rc"
expect_out "the skipped server is listed with its repair" "fe02.dublin.lab.test   web.dublin.lab.test   SKIPPED"
KF=$(dir_kvno)
fix=$(grep -o 'krbfleet password set --from [^ ]* --to fe02.dublin.lab.test' "$T/out" | head -1)
[ -n "$fix" ] && ok "the table names the repair: $fix" || not_ok "no repair command: $(cat "$T/out")"
"$FLEET" start-agent fe02.dublin.lab.test
[ "$(login web.dublin.lab.test fe02.dublin.lab.test)" = "HTTP 200" ] && ok "the skipped server still serves tickets it has keys for" || ok "(fresh tickets need kvno $KF: repaired next)"
run_ok "repair: password set --from --to" kf ${fix#krbfleet }
[ "$(kvnos fe02.dublin.lab.test | awk '{ print $NF }')" = "$KF" ] && ok "fe02.dublin has kvno $KF now" || not_ok "fe02.dublin: $(kvnos fe02.dublin.lab.test)"
all_logins && ok "every server logs in after the repair" || not_ok "logins after repair"

# -- --from/--to refusals --------------------------------------------------------------
expect_fail 1 '"web.redmond.lab.test" is a pool, not a computer' kf password set --from web.redmond.lab.test --to fe01.redmond.lab.test
expect_fail 1 'is not a web server of the topology' kf password set --from fe09.redmond.lab.test --to fe01.redmond.lab.test
expect_fail 2 '--from and --to go together' kf password set --from fe01.redmond.lab.test
expect_fail 2 '--account (or --from and --to) is required' kf password set
expect_fail 2 '--concurrency must be a number from 1 to 4096' kf password set --account kerbauth --concurrency 0
expect_fail 1 'is not managed by krbfleet' kf password set --account nobody
run_ok "topology test after all that" kf topology test
run_ok "journal records every step" sh -c "sqlite3 '$KRBFLEET_STORE' 'SELECT step FROM journal' | sort -u | tr '\n' ' '"
expect_out "journal steps" "committed copied done plan staged verified"

finish
