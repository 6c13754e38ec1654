#!/usr/bin/env bash
# `password set --from A --to B` on a real fleet (tests/lab/fleet.sh): a copy
# can only improve a server. A stale source or one holding a wrong key at
# the directory's kvno is refused (naming a server that holds the right
# keys) and the destination's keytab stays byte-identical; a good copy onto
# a stale server is verified with a fresh ticket and a real login; entries
# of other principals are never spread, and kept where they are;
# --dry-run changes nothing; refused runs say "not started" for servers
# they never touched; a dry run with an agent down says it is unreachable;
# the copy and sync run non-dumpable.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"
: "${KF_AGENT_PROBE:?set KF_AGENT_PROBE to the kf-agent-probe binary}"
probe() { local s=$1; shift; "$KF_AGENT_PROBE" "$(addr_of "$s")" 7390 "$s" "$@"; }
md5() { md5sum <"$(kt "$1")"; }
R=$LAB_REALM
MANAGED="HTTP/web.redmond.lab.test@$R HTTP/lb.redmond.lab.test@$R HTTP/web.dublin.lab.test@$R kerbauth\$@$R"
# plant PRINCIPAL KVNO SERVER: append an entry of PRINCIPAL (a random
# password) to SERVER's keytab by hand, as an admin might (ktutil)
plant() {
  printf 'addent -password -p %s -k %s -e aes256-cts-hmac-sha1-96\n%s\nwkt %s\nq\n' \
    "$1" "$2" "Pw-$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)" "$(kt "$3")" | ktutil >/dev/null 2>&1
}
has_princ() { klist -k "$(kt "$2")" 2>/dev/null | grep -qF " $1"; }
D1=fe01.dublin.lab.test D2=fe02.dublin.lab.test R1=fe01.redmond.lab.test R2=fe02.redmond.lab.test

fleet_setup
K=$(dir_kvno)

# -- the command line -----------------------------------------------------------------
run_ok "help password set" kf help password set
expect_out "help says a copy can only improve the destination" "a copy can only improve the destination"
expect_fail 2 "--force and --concurrency go with --account" kf password set --from $D1 --to $D2 --force

# -- dry run of a copy onto a healthy server: nothing to copy, nothing changed ----------------
before=$(md5 $D2)
run_ok "password set --from --to --dry-run" kf password set --from $D1 --to $D2 --dry-run
expect_out "says the destination holds the keys already" "dry run: $D2 already holds kvno $K of account kerbauth"
[ "$(md5 $D2)" = "$before" ] && [ "$(dir_kvno)" = "$K" ] && ok "dry run: keytab and directory unchanged" || not_ok "dry run changed something"

# -- two servers miss a rotation ------------------------------------------------------------------
"$FLEET" stop-agent $D1
"$FLEET" stop-agent $D2
rc=0; kf password set --account kerbauth --force >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && ok "password set --force skips the two stopped servers" || not_ok "--force exit $rc: $(cat "$T/err")"
"$FLEET" start-agent $D1
"$FLEET" start-agent $D2
K=$(dir_kvno)
[ "$(top_kvno $D1)" = $((K - 1)) ] && [ "$(top_kvno $D2)" = $((K - 1)) ] && ok "$D1 and $D2 missed kvno $K" ||
  not_ok "$D1: $(kvnos $D1), $D2: $(kvnos $D2)"

# stale source onto a healthy destination: refused, the destination names itself
before=$(md5 $R1)
expect_fail 1 "$D1 cannot be the source: its keys labelled kvno $K (the directory's) do not accept a fresh ticket" \
  kf password set --from $D1 --to $R1
grep -qF "$R1, the destination, holds the right keys already: to repair $D1, run \`krbfleet password set --from $R1 --to $D1\`" "$T/err" &&
  ok "the refusal names the healthy server and the repair" || not_ok "refusal: $(cat "$T/err")"
[ "$(md5 $R1)" = "$before" ] && ok "the healthy destination's keytab is byte-identical" || not_ok "$R1's keytab changed"
grep -E "^$R1 .*NOT STARTED" "$T/out" >/dev/null && ok "the untouched destination is NOT STARTED, not FAILED" || not_ok "table: $(cat "$T/out")"

# stale source onto another stale server: refused, a healthy holder is named
before=$(md5 $D2)
expect_fail 1 "$D1 cannot be the source" kf password set --from $D1 --to $D2
if grep -qE "fe0[12].redmond.lab.test holds the right keys: run \`krbfleet password set --from fe0[12].redmond.lab.test --to $D2\`" "$T/err"
then ok "the refusal names a server of the account that holds the right keys"; else not_ok "refusal: $(cat "$T/err")"; fi
[ "$(md5 $D2)" = "$before" ] && ok "the destination's keytab is byte-identical" || not_ok "$D2's keytab changed"
kf --json password set --from $D1 --to $D2 >"$T/out" 2>/dev/null
json_valid password_set
jq -e --arg d $D2 '.result == "failed" and ([.servers[] | select(.server == $d and .result == "NOT STARTED")] | length == 1) and
  ([.servers[] | select(.result == "FAILED" and (.fix | test("--to fe02.dublin")))] | length == 1)' "$T/out" >/dev/null &&
  ok "--json: the source FAILED with the repair, the destination NOT STARTED" || not_ok "json: $(head -c 600 "$T/out")"

# a dry run of a good copy onto a stale server changes nothing
before=$(md5 $D2)
run_ok "dry run of a good copy" kf password set --from $R1 --to $D2 --dry-run
expect_out "says what would be copied" "dry run: would copy kvno $K of account kerbauth"
expect_out "the destination would be given the keys" "would be given kvno $K from $R1"
[ "$(md5 $D2)" = "$before" ] && [ "$(dir_kvno)" = "$K" ] && ok "dry run: keytab and directory unchanged" || not_ok "dry run changed something"

# a good copy onto a stale server: OK, verified, alice logs in through it
run_ok "a good copy onto a stale server" kf --json password set --from $R1 --to $D2
json_valid password_set
jq -e --arg d $D2 --argjson k "$K" '.result == "ok" and ([.servers[] | select(.server == $d and .result == "OK" and .kvno == $k and
  (.login | test("mutual authentication verified")))] | length == 1)' "$T/out" >/dev/null &&
  ok "the destination is OK, verified with a real login at kvno $K" || not_ok "json: $(head -c 800 "$T/out")"
[ "$(top_kvno $D2)" = "$K" ] && ok "$D2 holds kvno $K" || not_ok "$D2: $(kvnos $D2)"
fresh_alice "$T/a.ccache"
[ "$(login $D2 "$T/a.ccache")" = "HTTP 200" ] && ok "alice logs in through $D2 with a fresh ticket" || not_ok "login through $D2"

# -- a source with a wrong key at the current kvno ----------------------------------------------
# (D1 is still stale: give it a wrong set labelled K)
probe $D1 stage-random "$K" $MANAGED >/dev/null 2>&1
before=$(md5 $D2)
expect_fail 1 "$D1 cannot be the source: its keys labelled kvno $K (the directory's) do not accept a fresh ticket" \
  kf password set --from $D1 --to $D2
grep -qF "$D2, the destination, holds the right keys already" "$T/err" && ok "the refusal says the destination has the right keys" || not_ok "$(cat "$T/err")"
[ "$(md5 $D2)" = "$before" ] && ok "the destination's good keys were not overwritten" || not_ok "$D2's keytab changed"
fresh_alice "$T/b.ccache"
[ "$(login $D2 "$T/b.ccache")" = "HTTP 200" ] && ok "alice still logs in through $D2" || not_ok "login through $D2 after the refusal"
run_ok "the repair the message names" kf password set --from $D2 --to $D1
[ "$(login $D1 "$T/b.ccache")" = "HTTP 200" ] && ok "alice logs in through $D1 after the repair" || not_ok "login through $D1"

# -- foreign entries: never spread, kept where they are, warned about ---------------------------
plant "host/x.lab.test@$R" "$K" $R1
plant "HTTP/evil.lab.test@$R" "$K" $R1
has_princ "HTTP/evil.lab.test@$R" $R1 && ok "planted host/x and HTTP/evil.lab.test on $R1" || not_ok "planting failed"
# the destination has a wrong set at K and an entry of its own to keep
probe $R2 stage-random "$K" $MANAGED "host/keep.lab.test@$R" >/dev/null 2>&1
run_ok "copy from a source with foreign entries" kf password set --from $R1 --to $R2
expect_out "the summary says they were not copied" "2 entries of other principals on $R1 (host/x.lab.test@$R, HTTP/evil.lab.test@$R) were not copied"
! has_princ "HTTP/evil.lab.test@$R" $R2 && ! has_princ "host/x.lab.test@$R" $R2 &&
  ok "host/x and HTTP/evil.lab.test were not copied to $R2" || not_ok "$R2: $(klist -k "$(kt $R2)")"
has_princ "host/keep.lab.test@$R" $R2 && ok "$R2's own host/keep entry is kept" || not_ok "$R2 lost host/keep"
[ "$(login $R2 "$T/b.ccache")" = "HTTP 200" ] && ok "alice logs in through $R2" || not_ok "login through $R2"
rc=0; kf assignment test --site redmond >"$T/out" 2>"$T/err" || rc=$?
if grep -E "^WARN +server:$R1 +key " "$T/out" | grep -qF "krbfleet does not manage for kerbauth: host/x.lab.test@$R, HTTP/evil.lab.test@$R" &&
   grep -qF "move those entries out of" "$T/out"
then ok "assignment test WARNs about the foreign entries, with the fix"; else not_ok "assignment test (exit $rc): $(grep -i key "$T/out" | head -5)"; fi
# sync spreads none of them and keeps them where they are, even where it restages
probe $D1 stage-random "$K" $MANAGED "host/keep.lab.test@$R" >/dev/null 2>&1
run_ok "sync with foreign entries about" kf sync --account kerbauth
n=0; for s in $R2 $D1 $D2; do has_princ "HTTP/evil.lab.test@$R" $s || has_princ "host/x.lab.test@$R" $s || n=$((n + 1)); done
[ $n = 3 ] && ok "sync copied no foreign entry to another server" || not_ok "foreign entries spread"
has_princ "HTTP/evil.lab.test@$R" $R1 && has_princ "host/keep.lab.test@$R" $D1 && has_princ "host/keep.lab.test@$R" $R2 &&
  ok "sync left every foreign entry where it was (also on $D1, which it restaged)" || not_ok "foreign entries lost"
keytabs_match 2>"$T/m" && ok "every keytab matches kvno $K; new tickets log in" || not_ok "$(cat "$T/m")"

# -- an agent down: dry runs say so; refused runs say "not started" -------------------------------
"$FLEET" stop-agent $D2
rc=0; kf password set --account kerbauth --dry-run >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF "dry run: 1 of 4 web servers cannot be reached or refuse us, so \`password set\` would refuse to start" "$T/err" &&
  ok "dry run with an agent down says it is unreachable and the run would not start" || not_ok "exit $rc: $(cat "$T/err")"
grep -q "would become -1" "$T/out" && not_ok "dry run says 'would become -1'" || ok "no 'kvno $K would become -1'"
grep -E "^$D2 .*FAILED" "$T/out" >/dev/null && [ "$(grep -c READY "$T/out")" = 3 ] &&
  ok "the unreachable server FAILED with the reason, the three others READY" || not_ok "table: $(cat "$T/out")"
rc=0; kf password set --account kerbauth >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && [ "$(grep -c 'NOT STARTED' "$T/out")" = 3 ] && ! grep -E "^fe0[12].redmond.* FAILED" "$T/out" >/dev/null &&
  ok "a refused rotation: the three servers it never touched are NOT STARTED" || not_ok "exit $rc: $(cat "$T/out")"
rc=0; kf password set --from $D1 --to $D2 --dry-run >"$T/out" 2>"$T/err" || rc=$?
[ $rc = 1 ] && grep -qF "$D2" "$T/err" && grep -E "^$D1 .*NOT STARTED" "$T/out" >/dev/null &&
  ok "a copy to an unreachable agent: refused, the source NOT STARTED" || not_ok "exit $rc: $(cat "$T/out" "$T/err")"
"$FLEET" start-agent $D2
[ "$(dir_kvno)" = "$K" ] && ok "the directory stayed at kvno $K" || not_ok "kvno $(dir_kvno)"

# -- pruning by grace removes the account's old kvnos, not other entries ------------------------
plant "host/old.lab.test@$R" $((K - 1)) $R1
[ "$(kvnos $R1)" = "$((K - 1)) $K " ] && ok "$R1 holds kvnos $((K - 1)) and $K, and host/old at $((K - 1))" || not_ok "$R1: $(kvnos $R1)"
printf '[rotation]\ngrace = 1s\n' >"$T/grace.conf"
sleep 2
run_ok "a rotation with [rotation] grace = 1s" kf --config "$T/grace.conf" password set --account kerbauth
K1=$(dir_kvno)
case " $(kvnos $R1)" in *" $((K - 1)) "*) pruned=no ;; *) pruned=yes ;; esac
[ $pruned = yes ] && has_princ "host/old.lab.test@$R" $R1 && has_princ "host/x.lab.test@$R" $R1 &&
  ok "the rotation pruned kvno $((K - 1)) of kerbauth and kept host/old at $((K - 1)) (and host/x)" || not_ok "$R1: $(klist -k "$(kt $R1)")"
sleep 2
run_ok "sync with [rotation] grace = 1s" kf --config "$T/grace.conf" sync --account kerbauth
[ "$(kvnos $R1)" = "$K1 " ] && has_princ "host/x.lab.test@$R" $R1 && has_princ "HTTP/evil.lab.test@$R" $R1 &&
  has_princ "host/keep.lab.test@$R" $R2 && has_princ "host/keep.lab.test@$R" $D1 &&
  ok "sync pruned kvno $K of kerbauth and kept the other principals' entries at $K" || not_ok "$R1: $(klist -k "$(kt $R1)")"
keytabs_match 2>"$T/m" && ok "every keytab matches kvno $K1; new tickets log in" || not_ok "$(cat "$T/m")"
K=$K1

# -- never dumpable while holding keys -------------------------------------------------------------
if command -v strace >/dev/null; then
  for c in "password set --from $R1 --to $D2" "sync --account kerbauth"; do
    # shellcheck disable=SC2086
    strace -f -o "$T/strace" -e trace=prctl,connect "$KRBFLEET" $c >/dev/null 2>&1
    first=$(grep -nE 'PR_SET_DUMPABLE, (0|SUID_DUMP_DISABLE)|sin_port=htons\(7390\)' "$T/strace" | head -1)
    case "$first" in *PR_SET_DUMPABLE*) ok "$c: non-dumpable before the first agent is reached" ;;
      *) not_ok "$c: $(grep -E 'DUMPABLE|7390' "$T/strace" | head -3)" ;; esac
  done
  strace -f -o "$T/strace" -e trace=prctl "$KRBFLEET" account new 'LAB\kerbcopy2' >/dev/null 2>&1
  grep -qE 'PR_SET_DUMPABLE, (0|SUID_DUMP_DISABLE)' "$T/strace" && ok "account new: non-dumpable before the password is made" || not_ok "account new: no prctl"
else
  echo "# SKIP the dumpable checks: no strace"
fi
sanitizer_clean
finish
