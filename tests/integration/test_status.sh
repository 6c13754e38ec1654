#!/usr/bin/env bash
# `krbfleet status` on a real fleet (tests/lab/fleet.sh): a healthy fleet is
# all current (exit 0) and its Prometheus metrics parse; an agent stopped is
# counted unreachable and a server that missed a rotation stale (exit 1,
# with the failed rotation in the journal); --json matches its schema; the
# metrics file is replaced whole; status reads and never writes the store.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"

# prom_ok FILE: every line is a # HELP, # TYPE or sample line of the text
# exposition format (label values escaped: \\ \" \n only).
prom_ok() {
  python3 - "$1" <<'PY'
import re, sys
name = r'[a-zA-Z_:][a-zA-Z0-9_:]*'
val = r'"(?:[^"\\\n]|\\[\\"n])*"'
lab = r'[a-zA-Z_][a-zA-Z0-9_]*=' + val
pats = [re.compile(r'# HELP ' + name + r' [^\n]*'),
        re.compile(r'# TYPE ' + name + r' (counter|gauge|histogram|summary|untyped)'),
        re.compile(name + r'(\{' + lab + r'(,' + lab + r')*\})? -?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?( -?[0-9]+)?')]
text = open(sys.argv[1], encoding='utf-8').read()
if not text.endswith('\n'):
    sys.exit('the text does not end with a newline')
typed = set()
for n, line in enumerate(text.split('\n')[:-1], 1):
    if not any(p.fullmatch(line) for p in pats):
        sys.exit(f'line {n} is not exposition format: {line!r}')
    if line.startswith('# TYPE '):
        typed.add(line.split()[2])
    elif not line.startswith('#'):
        metric = re.match(name, line).group(0)
        if metric not in typed:
            sys.exit(f'line {n}: {metric} has no # TYPE before it')
        if 'account="LAB\\\\kerbauth"' not in line:
            sys.exit(f'line {n}: no account label LAB\\\\kerbauth: {line!r}')
PY
}
metric() { grep -F "$1" "$T/out" | awk '{ print $NF }'; }

fleet_setup

# -- the command line --------------------------------------------------------------
run_ok "help status" kf help status
expect_out "help names the exit status" "Exit status 0 when every server is current, 1 when any is stale or"
expect_fail 2 "--prometheus and --json are two output formats" kf --json status --prometheus
expect_fail 2 "option '--bogus' is unknown" kf status --bogus
expect_fail 2 "--prometheus-file needs an absolute path" kf status --prometheus-file rel.prom
expect_fail 1 "is not managed by krbfleet" kf status --account nobody
expect_fail 2 "--if-older-than goes with --all" kf password set --account kerbauth --if-older-than 30d
expect_fail 2 "--if-older-than needs a duration of at least 1s" kf password set --all --if-older-than 30x
expect_fail 2 "--all rotates every managed account" kf password set --all --account kerbauth
rc=0; KRBFLEET_STORE=$T/none.db kf status >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "there is no store at $T/none.db" "$T/err" && [ ! -e "$T/none.db" ] &&
  ok "a missing store is an error naming it, and is not created" || not_ok "exit $rc: $(cat "$T/err")"

# -- a healthy fleet ------------------------------------------------------------------
K=$(dir_kvno)
dump_store "$T/store.before"
run_ok "status of a healthy fleet exits 0" kf status
expect_out "every server current" "servers: 4 current, 0 stale, 0 unreachable"
expect_out "the kvno from the directory" "account LAB\\kerbauth: kvno $K, password "
expect_out "the first rotation ended well" "last rotation: "
grep -q "^last rotation: .* ok (run " "$T/out" && ok "last rotation ok" || not_ok "$(cat "$T/out")"
run_ok "status --json" kf --json status
json_valid status
jq -e --argjson k "$K" '.result == "ok" and (.accounts | length) == 1 and
    (.accounts[0] | .account == "LAB\\kerbauth" and .kvno == $k and .servers_current == 4 and
     .servers_stale == 0 and .servers_unreachable == 0 and .password_age >= 0 and
     .password_age < 3600 and .due == false and .last_rotation.result == "ok" and
     ([.servers[] | select(.state == "current" and .kvno == $k and .committed_kvno == $k)] | length) == 4)' "$T/out" >/dev/null &&
  ok "--json: kvno $K (committed on every agent), 4 current, password fresh, last rotation ok" || not_ok "json: $(head -c 600 "$T/out")"
# pwdLastSet as the DC has it, to the second
pls=$(ldap_attr "CN=kerbauth,CN=Computers,$LAB_BASE_DN" pwdLastSet)
want=$(( pls / 10000000 - 11644473600 ))
got=$(jq -r '.accounts[0].password_last_set' "$T/out")
[ "$(date -u -d "@$want" +%Y-%m-%dT%H:%M:%SZ)" = "$got" ] && ok "password_last_set is the DC's pwdLastSet ($got)" ||
  not_ok "password_last_set $got, DC says $pls"
run_ok "status --prometheus exits 0" kf status --prometheus
cp "$T/out" "$T/healthy.prom"
why=$(prom_ok "$T/healthy.prom" 2>&1) && ok "every line is exposition format, labelled account" || not_ok "$why"
for m in krbfleet_account_password_age_seconds krbfleet_servers krbfleet_last_rotation_success \
         krbfleet_last_rotation_timestamp_seconds; do
  grep -q "^# HELP $m " "$T/out" && grep -q "^# TYPE $m gauge$" "$T/out" &&
    ok "$m has # HELP and # TYPE" || not_ok "$m: $(head -c 600 "$T/out")"
done
[ "$(metric 'krbfleet_servers{account="LAB\\kerbauth",state="current"}')" = 4 ] &&
[ "$(metric 'krbfleet_servers{account="LAB\\kerbauth",state="unreachable"}')" = 0 ] &&
[ "$(metric 'krbfleet_last_rotation_success{account="LAB\\kerbauth"}')" = 1 ] &&
  ok "4 current, 0 unreachable, last rotation 1" || not_ok "$(cat "$T/out")"
ts=$(metric 'krbfleet_last_rotation_timestamp_seconds{account="LAB\\kerbauth"}')
[ -n "$ts" ] && [ $(( $(date +%s) - ts )) -lt 3600 ] && ok "last rotation timestamp $ts is recent" || not_ok "timestamp '$ts'"

# -- the metrics file ----------------------------------------------------------------------
mkdir -p "$T/textfile"
run_ok "status --prometheus --prometheus-file" kf status --prometheus --prometheus-file "$T/textfile/krbfleet.prom"
[ ! -s "$T/out" ] && prom_ok "$T/textfile/krbfleet.prom" && grep -q 'state="current"} 4$' "$T/textfile/krbfleet.prom" &&
  ok "the metrics went to the file, not stdout" || not_ok "stdout $(head -c 200 "$T/out"); file $(head -c 300 "$T/textfile/krbfleet.prom" 2>&1)"
[ "$(ls "$T/textfile")" = krbfleet.prom ] && ok "no temporary file left beside it" || not_ok "$(ls "$T/textfile")"
printf '[status]\nprometheus_file = %s\n[rotation]\nmax_age = 1s\n' "$T/textfile/cfg.prom" >"$T/status.conf"
sleep 2
run_ok "status with [status] prometheus_file and [rotation] max_age = 1s" kf --config "$T/status.conf" --json status
json_valid status
jq -e '.max_age == 1 and .accounts[0].due == true' "$T/out" >/dev/null && ok "--json: rotation due with max_age 1s" || not_ok "$(head -c 400 "$T/out")"
prom_ok "$T/textfile/cfg.prom" && ok "the config's prometheus_file is written beside the JSON" || not_ok "cfg.prom: $(ls "$T/textfile")"
dump_store "$T/store.after"
cmp -s "$T/store.before" "$T/store.after" && ok "status never changed the store" || not_ok "store changed"

# -- an agent stopped: unreachable, exit 1 ---------------------------------------------------
"$FLEET" stop-agent fe02.dublin.lab.test
rc=0; kf status >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "status with an agent down exits 1" || not_ok "exit $rc: $(cat "$T/err")"
expect_out "it is counted unreachable" "servers: 3 current, 0 stale, 1 unreachable"
grep -q "^fe02.dublin.lab.test .* unreachable " "$T/out" && ok "fe02.dublin is named unreachable" || not_ok "$(cat "$T/out")"
rc=0; kf status --prometheus >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && [ "$(metric 'krbfleet_servers{account="LAB\\kerbauth",state="unreachable"}')" = 1 ] &&
  ok "--prometheus: unreachable 1, exit 1" || not_ok "exit $rc: $(cat "$T/out")"
rc=0; kf --json status >"$T/out" 2>"$T/err" || rc=$?
json_valid status
[ $rc = 1 ] && jq -e '.result == "fail" and (has("error") | not) and .accounts[0].servers_unreachable == 1 and
    ([.accounts[0].servers[] | select(.state == "unreachable") | .server] == ["fe02.dublin.lab.test"]) and
    ([.accounts[0].servers[] | select(.state == "unreachable") | .error | length > 0] == [true])' "$T/out" >/dev/null &&
  ok "--json: result fail (not an error), fe02.dublin unreachable with the reason" || not_ok "exit $rc: $(head -c 600 "$T/out")"

# unattended, with a server down: nothing due, the sync fails -> exit 1
K=$(dir_kvno)
rc=0; kf password set --all --if-older-than 30d >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -q "^account kerbauth: not in sync: " "$T/out" && [ "$(dir_kvno)" = "$K" ] &&
  grep -q "accounts did not end with every web server healthy" "$T/err" &&
  ok "password set --all with an agent down: not rotated, sync fails, exit 1" || not_ok "exit $rc: $(cat "$T/out" "$T/err")"

# -- a server that missed a rotation: stale ---------------------------------------------------
rc=0; kf password set --account kerbauth --force >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "password set --force skips the stopped server" || not_ok "--force exit $rc"
"$FLEET" start-agent fe02.dublin.lab.test
K=$(dir_kvno)
rc=0; kf status >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "status with a stale server exits 1" || not_ok "exit $rc: $(cat "$T/err")"
expect_out "it is counted stale" "servers: 3 current, 1 stale, 0 unreachable"
grep -q "^fe02.dublin.lab.test .* stale *$((K - 1)) .*krbfleet sync --account kerbauth" "$T/out" &&
  ok "fe02.dublin stale at kvno $((K - 1)), sync named" || not_ok "$(cat "$T/out")"
grep -q "^last rotation: .* FAILED " "$T/out" && ok "the last rotation (3 of 4 healthy) failed" || not_ok "$(cat "$T/out")"
rc=0; kf status --prometheus >"$T/out" 2>"$T/err" || rc=$?
prom_ok "$T/out" && [ "$(metric 'state="stale"}')" = 1 ] &&
  [ "$(metric 'krbfleet_last_rotation_success{account="LAB\\kerbauth"}')" = 0 ] &&
  ok "--prometheus: stale 1, last rotation success 0" || not_ok "exit $rc: $(cat "$T/out")"
rc=0; kf --json status >"$T/out" 2>"$T/err" || rc=$?
json_valid status
jq -e --argjson k "$K" '.accounts[0] | .kvno == $k and .servers_stale == 1 and .last_rotation.result == "failed" and
    .last_rotation.step == "done" and ([.servers[] | select(.state == "stale") | [.kvno, .committed_kvno]] == [[$k - 1, $k - 1]])' "$T/out" >/dev/null &&
  ok "--json: stale server at kvno $((K - 1)) (committed $((K - 1))), rotation failed" || not_ok "$(head -c 600 "$T/out")"

# -- unattended rotation (password set --all) ----------------------------------------------------
usn() { ldap_attr "CN=kerbauth,CN=Computers,$LAB_BASE_DN" uSNChanged; }
# a rotation running elsewhere (this shell, with its real start time): skipped, exit 0
start=$(sed 's/.*) //' /proc/$$/stat | cut -d' ' -f20)
sqlite3 "$KRBFLEET_STORE" "INSERT OR REPLACE INTO rotation_lock(account_id, holder, host, pid, since, pid_start) SELECT id, 'bob', '$(hostname)', $$, 'now', $start FROM account WHERE name = 'kerbauth'"
sleep 2
u=$(usn)
run_ok "password set --all --if-older-than 1s with the lock held elsewhere exits 0" kf password set --all --if-older-than 1s
expect_out "the account is skipped, naming the holder" "account kerbauth: skipped: account kerbauth is being rotated by bob on $(hostname) (pid $$)"
[ "$(dir_kvno)" = "$K" ] && [ "$(usn)" = "$u" ] && ok "locked: the directory is unchanged (kvno $K)" || not_ok "kvno $(dir_kvno), usn $(usn) (was $u)"
sqlite3 "$KRBFLEET_STORE" "DELETE FROM rotation_lock"
# a fresh password: not rotated, the stale server synced
run_ok "password set --all --if-older-than 30d exits 0" kf password set --all --if-older-than 30d
expect_out "one line says why it is not rotated" "account kerbauth: not rotated: password "
grep -q "^account kerbauth: not rotated: password [0-9]*s old, younger than 30d$" "$T/out" && ok "the line gives the age and the limit" || not_ok "$(cat "$T/out")"
expect_out "the server at an old kvno is synced" "account kerbauth: syncing: 1 of 4 servers not at kvno $K"
expect_out "and ends in sync" "account kerbauth: in sync: every server holds kvno $K"
[ "$(dir_kvno)" = "$K" ] && [ "$(usn)" = "$u" ] && ok "not due: no directory write (kvno $K, uSNChanged $u)" || not_ok "kvno $(dir_kvno), usn $(usn) (was $u)"
run_ok "status is all current after the unattended sync" kf status --account kerbauth
expect_out "4 current" "servers: 4 current, 0 stale, 0 unreachable"
run_ok "a second run exits 0" kf password set --all --if-older-than 30d
grep -q "syncing" "$T/out" && not_ok "synced again: $(cat "$T/out")" || ok "nothing stale: no sync"
# [rotation] max_age = 1s, and a password 2s old: rotated
printf '[rotation]\nmax_age = 1s\n' >"$T/rot.conf"
sleep 2
run_ok "password set --all with [rotation] max_age = 1s exits 0" kf --config "$T/rot.conf" password set --all
expect_out "it says why it rotates" "account kerbauth: rotating: password "
[ "$(dir_kvno)" = $((K + 1)) ] && ok "rotated: kvno $K -> $((K + 1))" || not_ok "kvno $(dir_kvno): $(cat "$T/out")"
K=$((K + 1))
kf audit list >"$T/out" 2>"$T/err" || true
grep -q "not rotated: password" "$T/out" && ok "the audit log holds the not-due line" || not_ok "audit: $(tail -5 "$T/out")"

# -- repaired ------------------------------------------------------------------------------------
run_ok "sync repairs it" kf sync --account kerbauth
run_ok "status is all current again (exit 0)" kf status --account kerbauth
expect_out "4 current" "servers: 4 current, 0 stale, 0 unreachable"
sanitizer_clean
finish
