#!/usr/bin/env bash
# `account set --enctypes` on a real fleet (tests/lab/fleet.sh): RC4 added
# (a rotation stages keys of the old and new types on every server first,
# then msDS-SupportedEncryptionTypes changes) and removed again (the
# attribute first, no rotation; the RC4 keys stay for grace, then sync
# prunes them), with alice logging in throughout - with AES tickets, and
# with an RC4 session key from a client that asks for RC4 only. Bad input
# changes nothing; `topology test` names the command.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"

DN="CN=kerbauth,CN=Computers,$LAB_BASE_DN"
attr() { ldap_attr "$DN" msDS-SupportedEncryptionTypes; }
ldapmod() { ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null; }
set_attr() {
  printf 'dn: %s\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: %s\n' "$DN" "$1" | ldapmod
}
# entries SERVER ENCTYPE-WORD [KVNO]: how many keytab entries of that type (at KVNO)
entries() {
  klist -ke "$(kt "$1")" 2>/dev/null |
    awk -v e="$2" -v k="${3:-}" '$0 ~ e && (k == "" || $1 == k) { n++ } END { print n + 0 }'
}
md5s() { local s; for s in $SERVERS; do md5sum <"$(kt "$s")"; done; }

# A client that asks the KDC for RC4 only (an old client): its session keys
# are RC4, and the KDC refuses it unless the account announces RC4.
sed 's/^\[libdefaults\]$/[libdefaults]\n\tdefault_tgs_enctypes = arcfour-hmac\n\tdefault_tkt_enctypes = arcfour-hmac aes256-cts\n\tpermitted_enctypes = aes256-cts aes128-cts arcfour-hmac/' \
  "$LAB_DIR/krb5.conf" >"$T/rc4.conf"
grep -q 'default_tgs_enctypes = arcfour-hmac' "$T/rc4.conf" || not_ok "no RC4 client configuration"
rc4_alice() { rm -f "$1"; KRB5_CONFIG=$T/rc4.conf KRB5CCNAME=$1 kinit "$LAB_USER_PRINCIPAL" <"$LAB_SECRETS/$LAB_USER" >/dev/null 2>&1; }
# rc4_login SERVER CCACHE: that client logs in; prints the HTTP status
rc4_login() {
  local pool; pool=$(pool_of "$1")
  KRB5_CONFIG=$T/rc4.conf KRB5CCNAME=$2 curl -sS --negotiate -u : --max-time 15 \
    --resolve "$pool:8080:$(addr_of "$1")" -o /dev/null -w '%{http_code}' "http://$pool:8080/" 2>/dev/null
}
rc4_all() { # CCACHE: every server answers it with 200
  local s bad=0
  for s in $SERVERS; do [ "$(rc4_login "$s" "$1")" = 200 ] || { bad=1; echo "  rc4 login to $s failed" >&2; }; done
  return $bad
}
# skey_rc4 CCACHE: its HTTP/ tickets have an RC4 session key
skey_rc4() { KRB5CCNAME=$1 klist -e 2>/dev/null | grep -A1 'HTTP/' | grep -q 'skey, tkt): [A-Z:]*arcfour-hmac'; }

fleet_setup
K=$(dir_kvno)
[ "$(attr)" = 24 ] && ok "the account starts with aes256,aes128 (24)" || not_ok "attribute: $(attr)"

# -- the command line: refused, nothing changed ------------------------------------
run_ok "help account set" kf help account set
expect_out "help says a rotation comes first" "stages keys of the old and new"
md5s >"$T/md5.before"
expect_fail 2 'unknown encryption type "aes512"' kf account set 'LAB\kerbauth' --enctypes aes256,aes512
expect_fail 2 'DES ("des-cbc-md5") is broken' kf account set 'LAB\kerbauth' --enctypes aes256,des-cbc-md5
expect_fail 2 "name at least one encryption type" kf account set 'LAB\kerbauth' --enctypes ''
expect_fail 2 "name at least one encryption type" kf account set 'LAB\kerbauth' --enctypes ' , '
expect_fail 2 "RC4 alone is refused" kf account set 'LAB\kerbauth' --enctypes rc4
expect_fail 2 "nothing to set: give --enctypes LIST" kf account set 'LAB\kerbauth'
expect_fail 2 "option '--bogus' is unknown" kf account set 'LAB\kerbauth' --enctypes aes256 --bogus
expect_fail 2 "missing argument" kf account set --enctypes aes256
expect_fail 2 "--concurrency must be a number" kf account set kerbauth --enctypes aes256,aes128,rc4 --concurrency 0
expect_fail 1 'is not managed by krbfleet' kf account set nobody --enctypes aes256,aes128,rc4
expect_fail 1 "is in domain LAB, not OTHER" kf account set 'OTHER\kerbauth' --enctypes aes256,aes128,rc4
kf account set kerbauth --enctypes rc4 --json >"$T/out" 2>"$T/err"
[ $? = 2 ] && json_valid error_document || not_ok "--json usage error: $(cat "$T/out")"
# another run holds the account's lock: neither path goes past it
sqlite3 "$KRBFLEET_STORE" "INSERT INTO rotation_lock(account_id, holder, host, pid, since) SELECT id, 'bob', '$(hostname)', $$, 'now' FROM account WHERE name = 'kerbauth'"
expect_fail 1 "account kerbauth is being rotated by bob" kf account set kerbauth --enctypes aes256,aes128,rc4
expect_fail 1 "msDS-SupportedEncryptionTypes was not changed: account kerbauth is being rotated by bob" \
  kf account set kerbauth --enctypes aes256
sqlite3 "$KRBFLEET_STORE" "DELETE FROM rotation_lock"
[ "$(attr)" = 24 ] && [ "$(dir_kvno)" = "$K" ] && ok "refusals left the attribute (24) and kvno ($K) alone" ||
  not_ok "after refusals: attribute $(attr), kvno $(dir_kvno)"
md5s | cmp -s - "$T/md5.before" && ok "refusals left every keytab byte-identical" || not_ok "a keytab changed"

# -- nothing to do ---------------------------------------------------------------------
run_ok "the set it has already" kf account set 'LAB\kerbauth' --enctypes aes128,aes256
expect_out "nothing to change" "account:LAB\\kerbauth already announces aes256,aes128; nothing to change"
[ "$(dir_kvno)" = "$K" ] && ok "no rotation for the same set" || not_ok "kvno $K -> $(dir_kvno)"

# -- dry run ---------------------------------------------------------------------------
run_ok "add rc4 --dry-run" kf account set 'LAB\kerbauth' --enctypes aes256,aes128,rc4 --dry-run
expect_out "the plan: rotation with the union first" "a rotation stages keys of aes256,aes128,rc4 (the old and new types)"
expect_out "then the attribute" "msDS-SupportedEncryptionTypes becomes 28"
expect_out "every agent reached" "fe02.dublin.lab.test   web.dublin.lab.test   READY"
grep -q "RC4 is weak" "$T/err" && ok "adding RC4 is warned" || not_ok "no RC4 warning: $(cat "$T/err")"
run_ok "add rc4 --dry-run --json" kf account set 'LAB\kerbauth' --enctypes aes256,aes128,rc4 --dry-run --json
json_valid account_set
jq -e '.dry_run and .rotate and .added == ["rc4-hmac"] and .rotation.dry_run and (.rotation.servers | length == 4)' "$T/out" >/dev/null &&
  ok "dry run JSON: rc4 added, a rotation over 4 servers" || not_ok "dry run JSON: $(cat "$T/out")"
[ "$(attr)" = 24 ] && [ "$(dir_kvno)" = "$K" ] && md5s | cmp -s - "$T/md5.before" &&
  ok "the dry run changed nothing (attribute, kvno, keytabs)" || not_ok "the dry run changed something"

# before: an RC4-only client gets no ticket for the pools
rc4_alice "$T/rc4-before.cc"
if KRB5_CONFIG=$T/rc4.conf KRB5CCNAME=$T/rc4-before.cc kvno HTTP/web.redmond.lab.test >/dev/null 2>"$T/kvno.err"
then not_ok "the KDC gave an RC4-only client a ticket while the account announces AES only"
else grep -q "encryption type" "$T/kvno.err" && ok "before: the KDC refuses an RC4-only client ($(cat "$T/kvno.err"))" ||
  not_ok "RC4-only client: $(cat "$T/kvno.err")"; fi

# -- add rc4, alice logging in throughout ---------------------------------------------------
start_loops
run_ok "account set --enctypes aes256,aes128,rc4 (logins running)" \
  kf account set 'LAB\kerbauth' --enctypes aes256,aes128,rc4 --json
stop_loops "adding rc4"
json_valid account_set
K1=$(dir_kvno)
[ "$K1" = $((K + 1)) ] && ok "a rotation: kvno $K -> $K1" || not_ok "kvno $K -> $K1"
[ "$(attr)" = 28 ] && ok "msDS-SupportedEncryptionTypes is 28 (aes256,aes128,rc4)" || not_ok "attribute: $(attr)"
jq -e --argjson k "$K1" '.result == "ok" and .rotate and .changed and .kvno == $k and .enctypes_mask == 28 and
      .rotation.new_kvno == $k and ([.rotation.servers[] | select(.result == "OK")] | length == 4)' "$T/out" >/dev/null &&
  ok "JSON: rotated to $K1 on 4 servers, then 28" || not_ok "JSON: $(cat "$T/out")"
for s in $SERVERS; do
  r=$(entries "$s" arcfour "$K1") a=$(entries "$s" aes256 "$K1") o=$(entries "$s" aes "$K")
  [ "$r" -ge 4 ] && [ "$r" = "$a" ] && [ "$o" -ge 8 ] && [ "$(entries "$s" arcfour "$K")" = 0 ] &&
    ok "$s: kvno $K1 has RC4 keys beside AES ($r + $a), kvno $K keeps its AES keys" ||
    not_ok "$s: rc4@$K1=$r aes256@$K1=$a aes@$K=$o; $(klist -ke "$(kt "$s")" | tail -n +4 | tr '\n' ';')"
done
# the order: the keys were staged before the attribute changed
jq -r '.audit[] | .object + " " + (.detail // "")' <(kf audit list --json) >"$T/audit"
grep -n 'kvno '"$K"' -> '"$K1" "$T/audit" | head -1 >"$T/a1"
grep -n 'enctypes aes256,aes128 -> aes256,aes128,rc4 after a rotation' "$T/audit" | head -1 >"$T/a2"
[ -s "$T/a1" ] && [ -s "$T/a2" ] && [ "$(cut -d: -f1 "$T/a1")" -lt "$(cut -d: -f1 "$T/a2")" ] &&
  ok "audit: the rotation, then the attribute" || not_ok "audit order: $(cat "$T/audit")"
rc4_alice "$T/rc4.cc"
rc4_all "$T/rc4.cc" && ok "an RC4-only client logs in to every server" || not_ok "RC4-only logins after adding rc4"
skey_rc4 "$T/rc4.cc" && ok "its tickets carry an RC4 session key" || not_ok "session keys: $(KRB5CCNAME=$T/rc4.cc klist -e)"
fresh_logins && ok "AES clients with new tickets still log in everywhere" || not_ok "AES logins after adding rc4"
run_ok "adding it again changes nothing" kf account set kerbauth --enctypes aes256,aes128,rc4
[ "$(dir_kvno)" = "$K1" ] && ok "no second rotation" || not_ok "kvno $K1 -> $(dir_kvno)"

# -- remove rc4: the attribute first, no rotation, keys kept for grace -------------------------
md5s >"$T/md5.before"
start_loops
run_ok "account set --enctypes aes256,aes128 (logins running)" kf account set kerbauth --enctypes aes256,aes128
stop_loops "removing rc4"
expect_out "no rotation for a removal" "no rotation: a type is only removed (rc4)"
expect_out "the keys stay for grace" "keys of rc4 stay in the keytabs for [rotation] grace (10h"
[ "$(attr)" = 24 ] && ok "msDS-SupportedEncryptionTypes is 24 again" || not_ok "attribute: $(attr)"
[ "$(dir_kvno)" = "$K1" ] && ok "no rotation: kvno stays $K1" || not_ok "kvno $K1 -> $(dir_kvno)"
md5s | cmp -s - "$T/md5.before" && ok "every keytab unchanged: its RC4 keys stay" || not_ok "a keytab changed"
rc4_all "$T/rc4.cc" && ok "the RC4-only client's tickets from before still work everywhere" ||
  not_ok "tickets from before the removal refused"
rc4_alice "$T/rc4-after.cc"
if KRB5_CONFIG=$T/rc4.conf KRB5CCNAME=$T/rc4-after.cc kvno HTTP/web.dublin.lab.test >/dev/null 2>&1
then not_ok "the KDC still gives an RC4-only client new tickets"; else ok "new RC4 tickets are no longer issued"; fi
fresh_logins && ok "AES clients log in everywhere" || not_ok "AES logins after removing rc4"
[ "$(sqlite3 "$KRBFLEET_STORE" "SELECT enctype FROM enctype_retired")" = 4 ] &&
  ok "the store records when rc4 was removed" || not_ok "enctype_retired: $(sqlite3 "$KRBFLEET_STORE" 'SELECT * FROM enctype_retired')"

# within grace, sync keeps them
run_ok "sync within grace" kf sync --account kerbauth
for s in $SERVERS; do
  [ "$(entries "$s" arcfour)" -ge 4 ] || { not_ok "$s lost its RC4 keys within grace"; break; }
done && ok "within grace every keytab keeps its RC4 keys"
rc4_all "$T/rc4.cc" && ok "and the old RC4 tickets still work" || not_ok "old RC4 tickets after sync within grace"

# after grace (the change made 10 h ago), the daily `password set --all`
# syncs the account for them, and sync prunes them from every keytab
sqlite3 "$KRBFLEET_STORE" "UPDATE enctype_retired SET since = since - 36001"
start_loops
run_ok "password set --all after grace (the timer's run)" kf password set --all
stop_loops "pruning the rc4 keys"
expect_out "the timer syncs the account to prune" "account kerbauth: syncing: the keys of rc4 (removed from the account longer than grace ago) are to be pruned"
for s in $SERVERS; do
  [ "$(entries "$s" arcfour)" = 0 ] && [ "$(entries "$s" aes "$K1")" -ge 8 ] && [ "$(entries "$s" aes "$K")" -ge 8 ] &&
    ok "$s: no RC4 entry left; the AES keys of kvno $K1 and $K kept" ||
    not_ok "$s: $(klist -ke "$(kt "$s")" | tail -n +4 | tr '\n' ';')"
done
[ "$(dir_kvno)" = "$K1" ] && ok "no rotation for it (kvno $K1)" || not_ok "kvno $K1 -> $(dir_kvno)"
[ -z "$(sqlite3 "$KRBFLEET_STORE" "SELECT * FROM enctype_retired")" ] &&
  ok "every keytab is clean: the record is gone" || not_ok "enctype_retired still: $(sqlite3 "$KRBFLEET_STORE" 'SELECT * FROM enctype_retired')"
keytabs_match && ok "keytabs match the directory; fresh logins work" || not_ok "after pruning"
run_ok "the next timer run has nothing to do" kf password set --all
grep -q syncing "$T/out" && not_ok "it synced again: $(cat "$T/out")" || ok "no sync once pruned"

# the rotation prunes them too: rc4 added and removed again, 10 h pass, password set
run_ok "rc4 added again" kf account set kerbauth --enctypes aes256,aes128,rc4
K2=$(dir_kvno)
run_ok "and removed again" kf account set kerbauth --enctypes aes256,aes128
sqlite3 "$KRBFLEET_STORE" "UPDATE enctype_retired SET since = since - 36001"
run_ok "password set after grace" kf password set --account kerbauth --json
K3=$(dir_kvno)
jq -e '[.servers[].pruned] | all(. >= 4)' "$T/out" >/dev/null &&
  ok "password set reports the pruned entries" || not_ok "password set JSON: $(cat "$T/out")"
for s in $SERVERS; do
  [ "$(entries "$s" arcfour)" = 0 ] && [ "$(entries "$s" aes "$K3")" -ge 8 ] && [ "$(entries "$s" aes "$K2")" -ge 8 ] &&
    ok "$s: kvno $K3 (AES only), kvno $K2 kept without its RC4 keys" ||
    not_ok "$s: $(klist -ke "$(kt "$s")" | tail -n +4 | tr '\n' ';')"
done
keytabs_match && ok "after the rotation's prune, fresh logins work" || not_ok "after the rotation's prune"

# -- topology test names the command for an account without AES ------------------------------
set_attr 4 && ok "(the account set to RC4 only by hand)"
kf topology test --json >"$T/out" 2>"$T/err"
jq -e '.findings[] | select(.check == "enctypes" and .result == "FAIL" and
        .fix == "krbfleet account set '"'"'LAB\\kerbauth'"'"' --enctypes aes256,aes128,rc4")' "$T/out" >/dev/null &&
  ok "topology test names \`account set --enctypes aes256,aes128,rc4\`" || not_ok "topology test: $(cat "$T/out")"
set_attr 24 && ok "(AES back)"

sanitizer_clean
finish
