#!/usr/bin/env bash
# A first deployment and two rotations by a delegated ordinary user
# (issue 10, items 2 and 5): the admin only runs `permission grant` on a
# dedicated OU for a group; `webop`, a member, does everything else with
# its own ticket on a real fleet (four web servers, each with krbfleetd and
# Apache), and alice logs in throughout. alice, in no delegated group, is
# refused, the store and the directory unchanged. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
export FLEET_ALLOW="webop@$LAB_REALM"   # the agents admit the delegated user
. "$(dirname "$0")/fleet_lib.sh"
BASE=$LAB_BASE_DN
OU="OU=WebFleet,$BASE"
# the account lives in the OU (fleet_lib's keytabs_match asks dir_kvno)
dir_kvno() { ldap_attr "CN=${1:-kerbauth},$OU" msDS-KeyVersionNumber; }
acct_kvno() { dir_kvno kerbauth; }
ldif() { ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>"$T/ldif.err"; }

# -- the admin: an OU, a user in a group, the grant -----------------------------
printf 'dn: %s\nchangetype: add\nobjectClass: organizationalUnit\nou: WebFleet\n' "$OU" | ldif &&
  ok "OU=WebFleet created" || not_ok "OU: $(cat "$T/ldif.err")"
umask 077
head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$T/webop.pw"
upw=$(python3 -c 'import base64,sys; p=open(sys.argv[1]).read(); print(base64.b64encode(("\"%s\"" % p).encode("utf-16-le")).decode())' "$T/webop.pw")
printf 'dn: CN=webop,CN=Users,%s\nchangetype: add\nobjectClass: user\nsAMAccountName: webop\nuserPrincipalName: webop@%s\nunicodePwd:: %s\nuserAccountControl: 512\n' \
  "$BASE" "$LAB_REALM" "$upw" | ldif && ok "user webop" || not_ok "webop: $(cat "$T/ldif.err")"
unset upw
samba-tool group add webadmins -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool group addmembers webadmins webop -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  ok "group webadmins with member webop" || not_ok "group webadmins"
WEBOP_CC=$T/webop.ccache
KRB5CCNAME=$WEBOP_CC kinit "webop@$LAB_REALM" <"$T/webop.pw" >/dev/null 2>&1 &&
  ok "kinit webop (password from a file)" || not_ok "kinit webop"
run_ok "admin: permission grant" kf permission grant --container "$OU" --group 'LAB\webadmins'

# From here the admin's ticket is not used.
# webop's own store; the refusals of alice are checked against it.
export KRBFLEET_STORE="$T/webop.db"
W=(env KRB5CCNAME="$WEBOP_CC" "$KRBFLEET")
A=(env KRB5CCNAME="$LAB_USER_CCACHE" "$KRBFLEET")

# -- the first deployment, as webop ------------------------------------------------
run_ok "webop: import the fleet's topology" "${W[@]}" topology import "$TOPO"
expect_fail 1 "create computer objects in $OU" "${A[@]}" account new 'LAB\kerbauth' --container "$OU"
[ -z "$(ldap_attr "CN=kerbauth,$OU" cn)" ] && ok "alice's refused account new wrote nothing" || not_ok "kerbauth exists"
run_ok "webop: account new in the OU" "${W[@]}" account new 'LAB\kerbauth' --container "$OU"
run_ok "webop: assignment redmond" "${W[@]}" assignment new --site redmond --account kerbauth
run_ok "webop: assignment dublin" "${W[@]}" assignment new --site dublin --account kerbauth
K0=$(acct_kvno)
run_ok "webop: first password set" "${W[@]}" password set --account kerbauth
K1=$(acct_kvno)
[ "$K1" = $((K0 + 1)) ] && ok "kvno $K0 -> $K1, set by webop" || not_ok "kvno $K0 -> $K1 ($(head -c 300 "$T/err"))"
u=$(ldap_attr "CN=kerbauth,$OU" uSNChanged)
expect_fail 1 "may not write servicePrincipalName on CN=kerbauth,$OU" "${A[@]}" topology enable
[ "$(ldap_attr "CN=kerbauth,$OU" uSNChanged)" = "$u" ] && ok "alice's refused enable wrote nothing" || not_ok "alice's enable wrote"
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
expect_fail 1 "" "${A[@]}" password set --account kerbauth
[ "$(acct_kvno)" = "$k" ] && ok "alice's refused password set left kvno $k" || not_ok "alice changed the kvno"
touch "$T/stop-loops"; wait
[ ! -s "$T/bg" ] || ! grep -q fail "$T/bg" && ok "no login failed during the rotations ($(grep -c round "$T/bg" 2>/dev/null || echo 0) rounds)" ||
  not_ok "logins failed: $(head -c 300 "$T/bg-fail")"
keytabs_match kerbauth && ok "after two rotations every keytab is at the directory's kvno" || not_ok "keytabs after rotations"
run_ok "webop: sync" "${W[@]}" sync --account kerbauth
finish
