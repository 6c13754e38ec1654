#!/usr/bin/env bash
# A first deployment and two rotations by a delegated ordinary user
# (issue 10, items 2 and 5): the admin only runs `permission grant` on a
# dedicated OU for a group; `webop`, a member, does everything else with
# its own ticket on a real fleet (four web servers, each with krbfleetd and
# Apache), and alice logs in throughout. alice, in no delegated group (the
# agents admit her, the directory does not), is refused at each step with a
# message naming the right, the object and the `permission grant` to run;
# the store, the directory and every keytab unchanged. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
# the agents admit the delegated user and alice: the directory tells them apart
export FLEET_ALLOW="webop@$LAB_REALM $LAB_USER_PRINCIPAL"
. "$(dirname "$0")/fleet_lib.sh"
BASE=$LAB_BASE_DN
OU="OU=WebFleet,$BASE"   # delegation_setup creates it
# the account lives in the OU (fleet_lib's keytabs_match asks dir_kvno)
dir_kvno() { ldap_attr "CN=${1:-kerbauth},$OU" msDS-KeyVersionNumber; }
acct_kvno() { dir_kvno kerbauth; }
# keytab_sums: every server's keytab, as bytes (a refused run changes none)
keytab_sums() { local s; for s in $SERVERS; do sha256sum <"$(kt "$s")"; done; }
# refused WHAT RIGHT OBJECT CMD...: alice's CMD exits 1 naming RIGHT on OBJECT
# and the grant of its container; store (expect_fail), keytabs and OBJECT's
# uSNChanged unchanged
refused() {
  local what=$1 right=$2 obj=$3 u k; shift 3
  u=$(ldap_attr "$obj" uSNChanged); k=$(keytab_sums)
  expect_fail 1 "may not $right" "${A[@]}" "$@"
  grep -qF "krbfleet permission grant --container '$OU' --group 'LAB\\GROUP'" "$T/err" &&
    ok "alice's $what names the grant that would allow it" || not_ok "alice's $what: $(head -c 400 "$T/err")"
  [ "$(ldap_attr "$obj" uSNChanged)" = "$u" ] && [ "$(keytab_sums)" = "$k" ] &&
    ok "alice's refused $what: directory object and every keytab unchanged" || not_ok "alice's $what wrote"
}

# -- the admin: an OU, a user in a group, the grant -----------------------------
delegation_setup
run_ok "admin: permission grant" kf permission grant --container "$OU" --group 'LAB\webadmins'

# From here the admin's ticket is not used.
# webop's own store; the refusals of alice are checked against it.
export KRBFLEET_STORE="$T/webop.db"
W=(env KRB5CCNAME="$WEBOP_CC" "$KRBFLEET")
A=(env KRB5CCNAME="$LAB_USER_CCACHE" "$KRBFLEET")

# -- the first deployment, as webop ------------------------------------------------
run_ok "webop: import the fleet's topology" "${W[@]}" topology import "$TOPO"
u=$(ldap_attr "$OU" uSNChanged)
expect_fail 1 "may not create computer objects in $OU" "${A[@]}" account new 'LAB\kerbauth' --container "$OU"
grep -qF "krbfleet permission grant --container '$OU' --group 'LAB\\GROUP'" "$T/err" &&
  ok "alice's account new names the grant" || not_ok "account new message: $(cat "$T/err")"
[ -z "$(ldap_attr "CN=kerbauth,$OU" cn)" ] && [ "$(ldap_attr "$OU" uSNChanged)" = "$u" ] &&
  ok "alice's refused account new wrote nothing" || not_ok "kerbauth exists"
run_ok "webop: account new in the OU" "${W[@]}" account new 'LAB\kerbauth' --container "$OU"
run_ok "webop: assignment redmond" "${W[@]}" assignment new --site redmond --account kerbauth
run_ok "webop: assignment dublin" "${W[@]}" assignment new --site dublin --account kerbauth
K0=$(acct_kvno)
run_ok "webop: first password set" "${W[@]}" password set --account kerbauth
K1=$(acct_kvno)
[ "$K1" = $((K0 + 1)) ] && ok "kvno $K0 -> $K1, set by webop" || not_ok "kvno $K0 -> $K1 ($(head -c 300 "$T/err"))"
refused "password set" "reset the password on CN=kerbauth,$OU" "CN=kerbauth,$OU" password set --account kerbauth
refused "password set --dry-run" "reset the password on CN=kerbauth,$OU" "CN=kerbauth,$OU" password set --account kerbauth --dry-run
refused "topology enable" "write servicePrincipalName on CN=kerbauth,$OU" "CN=kerbauth,$OU" topology enable
run_ok "webop: topology enable" "${W[@]}" topology enable
keytabs_match kerbauth && ok "alice logs in to every server; every keytab at kvno $K1" || not_ok "logins after the first deployment"

# -- two rotations, alice logging in throughout ------------------------------------------
( while [ ! -e "$T/stop-loops" ]; do all_logins 2>>"$T/bg-fail" || echo fail >>"$T/bg"; echo round >>"$T/bg"; done ) &
for i in 1 2; do
  k=$(acct_kvno)
  run_ok "webop: rotation $i" "${W[@]}" password set --account kerbauth
  [ "$(acct_kvno)" = $((k + 1)) ] && ok "rotation $i: kvno $k -> $((k + 1))" || not_ok "rotation $i: kvno $(acct_kvno)"
done
k=$(acct_kvno)
refused "password set during the rotations" "reset the password on CN=kerbauth,$OU" "CN=kerbauth,$OU" password set --account kerbauth
[ "$(acct_kvno)" = "$k" ] && ok "alice's refused password set left kvno $k" || not_ok "alice changed the kvno"
touch "$T/stop-loops"; wait
[ ! -s "$T/bg" ] || ! grep -q fail "$T/bg" && ok "no login failed during the rotations ($(grep -c round "$T/bg" 2>/dev/null || echo 0) rounds)" ||
  not_ok "logins failed: $(head -c 300 "$T/bg-fail")"
keytabs_match kerbauth && ok "after two rotations every keytab is at the directory's kvno" || not_ok "keytabs after rotations"
run_ok "webop: sync" "${W[@]}" sync --account kerbauth
expect_out "sync as webop: every server in sync" "in sync"

# -- account set --enctypes: a type removed (a write), then added back (a
# rotation to keys of both types, then the write), as webop; alice refused
refused "account set" "write msDS-SupportedEncryptionTypes on CN=kerbauth,$OU" "CN=kerbauth,$OU" account set kerbauth --enctypes aes256
run_ok "webop: account set --enctypes aes256" "${W[@]}" account set kerbauth --enctypes aes256
[ "$(ldap_attr "CN=kerbauth,$OU" msDS-SupportedEncryptionTypes)" = 16 ] && ok "webop wrote msDS-SupportedEncryptionTypes 16" ||
  not_ok "enctypes $(ldap_attr "CN=kerbauth,$OU" msDS-SupportedEncryptionTypes)"
refused "account set adding a type" "write msDS-SupportedEncryptionTypes on CN=kerbauth,$OU" "CN=kerbauth,$OU" account set kerbauth --enctypes aes256,aes128
k=$(acct_kvno)
run_ok "webop: account set --enctypes aes256,aes128 (rotates first)" "${W[@]}" account set kerbauth --enctypes aes256,aes128
[ "$(ldap_attr "CN=kerbauth,$OU" msDS-SupportedEncryptionTypes)" = 24 ] && [ "$(acct_kvno)" = $((k + 1)) ] &&
  ok "webop: enctypes 24 after a rotation to kvno $((k + 1))" || not_ok "enctypes $(ldap_attr "CN=kerbauth,$OU" msDS-SupportedEncryptionTypes), kvno $(acct_kvno)"
keytabs_match kerbauth && ok "after account set every keytab is at the directory's kvno, logins work" || not_ok "keytabs after account set"

# -- account adopt: an account the admin made in the OU ----------------------------------
samba-tool computer create kerbadopt --computerou="OU=WebFleet" -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  [ -n "$(ldap_attr "CN=kerbadopt,$OU" cn)" ] && ok "the admin created kerbadopt in the OU" || not_ok "kerbadopt"
refused "account adopt" "write servicePrincipalName on CN=kerbadopt,$OU" "CN=kerbadopt,$OU" account adopt 'LAB\kerbadopt'
run_ok "webop: account adopt in the OU" "${W[@]}" account adopt 'LAB\kerbadopt'
grep -q "kerbadopt" <("${W[@]}" account list 2>/dev/null) && ok "kerbadopt is managed in webop's store" || not_ok "kerbadopt not listed"
finish
