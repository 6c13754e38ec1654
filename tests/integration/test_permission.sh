#!/usr/bin/env bash
# `permission grant / revoke / list / test` (issue 10) against a real Samba
# AD DC: a dedicated OU (not CN=Computers, where ms-DS-MachineAccountQuota
# is a different path), an ordinary user `webop` in a group `webadmins`,
# and `alice`, who is in no such group. The DACL is read back with the
# LDAP_SERVER_SD_FLAGS control and decoded by kf-sd-dump (lib/secdesc).
# Every "may" of `permission test` is proven by doing it as webop, every
# "may not" by a refusal. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
: "${KF_SD_DUMP:?}" "${KF_DIR_PROBE:?}"
BASE=$LAB_BASE_DN
G_COMPUTER=bf967a86-0de6-11d0-a285-00aa003049e2
DATA="$(cd "$(dirname "$0")/../data" && pwd)"

# sd DN FLAGS_B64: the parts of DN's descriptor the SD-flags control asks
# for (MAMCAQQ= is SEQUENCE { INTEGER 4 }: the DACL), decoded.
sd() {
  ldapsearch -Q -LLL -o ldif-wrap=no -Y GSSAPI -H "$LAB_LDAP_URI" -b "$1" -s base \
    -E "!1.2.840.113556.1.4.801=::$2" nTSecurityDescriptor 2>/dev/null |
    sed -n 's/^nTSecurityDescriptor:: //p' | "$KF_SD_DUMP"
}
dacl() { sd "$1" MAMCAQQ=; }
owner() { sd "$1" MAMCAQE= | sed -n 's/^owner //p'; }
usn() { ldap_attr "$1" uSNChanged; }
sid_of() {  # the string SID of sAMAccountName $1
  ldapsearch -Q -LLL -o ldif-wrap=no -Y GSSAPI -H "$LAB_LDAP_URI" -b "$BASE" "(sAMAccountName=$1)" objectSid 2>/dev/null |
    sed -n 's/^objectSid:: //p' | base64 -d | python3 -c '
import sys, struct
b = sys.stdin.buffer.read()
n = b[1]
auth = int.from_bytes(b[2:8], "big")
subs = struct.unpack("<%dI" % n, b[8:8 + 4 * n])
print("S-%d-%d" % (b[0], auth) + "".join("-%d" % s for s in subs))'
}

# -- the OU, an ordinary user webop (password in a file, never on argv) and a group
delegation_setup
GSID=$(sid_of webadmins); WSID=$(sid_of webop); ASID=$(sid_of alice)
DOMSID=${GSID%-*}
case "$GSID" in S-1-5-21-*) ok "webadmins has SID $GSID";; *) not_ok "webadmins SID: '$GSID'";; esac

# webop and alice use their own stores: they are not the admin.
as_webop() { env KRB5CCNAME="$WEBOP_CC" KRBFLEET_STORE="$T/webop.db" "$@"; }
as_alice() { env KRB5CCNAME="$LAB_USER_CCACHE" KRBFLEET_STORE="$T/alice.db" "$@"; }
probe_as() { local who=$1; shift; "as_$who" "$KF_DIR_PROBE" "$@"; }

# An ACE nobody from krbfleet wrote: alice may read the OU's properties.
samba-tool dsacl set --objectdn="$OU" --sddl="(A;;RP;;;$ASID)" -H "$LAB_DIR/samba/private/sam.ldb" \
  -s "$LAB_SMB_CONF" >/dev/null 2>&1 && ok "an unrelated ACE for alice on the OU" || not_ok "dsacl set"
dacl "$OU" >"$T/dacl.before"
grep -q " $ASID\$" "$T/dacl.before" && ok "the DACL reads back with the SD-flags control ($(grep -c '^ace ' "$T/dacl.before") ACEs)" ||
  not_ok "DACL readback: $(head -c 300 "$T/dacl.before")"

# -- before the grant ---------------------------------------------------------------
# The OU's default ACEs give Account Operators (S-1-5-32-548) create and
# delete of computers: one of krbfleet's set, so listed, incomplete.
run_ok "permission list before the grant" kf permission list --container "$OU" --json
json_valid permission_list
if jq -e '[.trustees[] | select(.sid == "S-1-5-32-548")] | length == 1 and (.[0].complete | not) and
          (.[0].missing | length == 4)' "$T/out" >/dev/null &&
   jq -e '[.trustees[] | select(.complete)] | length == 0' "$T/out" >/dev/null
then ok "before the grant: nobody holds the complete set (Account Operators: create/delete only)"
else not_ok "list before: $(cat "$T/out")"; fi
cp "$T/out" "$T/list.before"
run_ok "permission test as webop before the grant" as_webop "$KRBFLEET" permission test --container "$OU" --json
json_valid permission_test
if jq -e '[.operations[] | select(.may)] | length == 0' "$T/out" >/dev/null &&
   jq -e '.principal == "webop"' "$T/out" >/dev/null
then ok "before the grant webop may do nothing there"; else not_ok "test before: $(cat "$T/out")"; fi
expect_fail 1 "create computer objects in $OU" as_webop "$KRBFLEET" account new 'LAB\web1' --container "$OU"
[ -z "$(ldap_attr "CN=web1,$OU" cn)" ] && ok "the refused account new created nothing" || not_ok "web1 exists"

# -- grant ---------------------------------------------------------------------------
expect_fail 1 "may not change permissions (WRITE_DAC) of $OU" as_alice "$KRBFLEET" permission grant --container "$OU" --group 'LAB\webadmins'
[ "$(dacl "$OU")" = "$(cat "$T/dacl.before")" ] && ok "alice's refused grant changed no ACE" || not_ok "DACL changed by a refused grant"
u0=$(usn "$OU")
run_ok "permission grant" kf permission grant --container "$OU" --group 'LAB\webadmins'
expect_out "grant says what it added" "granted LAB\\webadmins ($GSID) krbfleet's permissions on $OU: 5 ACE(s) added"
dacl "$OU" >"$T/dacl.granted"
# ace TYPE FLAGS MASK OBJECT INHERITED SID
for want in \
  "ace 05 00 00000003 $G_COMPUTER - $GSID" \
  "ace 05 0a 00000100 00299570-246d-11d0-a768-00aa006e0529 $G_COMPUTER $GSID" \
  "ace 05 0a 00000030 f3a64788-5306-11d1-a9c5-0000f80367c1 $G_COMPUTER $GSID" \
  "ace 05 0a 00000020 bf967a68-0de6-11d0-a285-00aa003049e2 $G_COMPUTER $GSID" \
  "ace 05 0a 00000020 20119867-1d04-4ab7-9371-cfc3d5df0afd $G_COMPUTER $GSID"; do
  grep -qxF "$want" "$T/dacl.granted" && ok "DACL holds: ${want#ace }" || not_ok "DACL lacks: $want"
done
[ "$(grep -c " $GSID\$" "$T/dacl.granted")" = 5 ] && ok "exactly 5 ACEs for webadmins, no other" ||
  not_ok "ACEs for webadmins: $(grep " $GSID\$" "$T/dacl.granted")"
[ "$(grep -v " $GSID\$" "$T/dacl.granted" | grep '^ace ')" = "$(grep '^ace ' "$T/dacl.before")" ] &&
  ok "every other ACE is as it was, in its order" ||
  { not_ok "other ACEs changed"; diff <(grep -v " $GSID\$" "$T/dacl.granted" | grep '^ace ') <(grep '^ace ' "$T/dacl.before") | head; }
# flags: the INHERITED bit 0x10 is set when the first hex digit is odd
last_explicit=$(awk '$1=="ace" && $3 ~ /^[02468ace]/ {n=NR} END {print n+0}' "$T/dacl.granted")
first_inherited=$(awk '$1=="ace" && $3 ~ /^[13579bdf]/ {print NR; exit}' "$T/dacl.granted")
{ [ -z "$first_inherited" ] || [ "$last_explicit" -lt "$first_inherited" ]; } &&
  ok "canonical order: explicit ACEs before inherited ones" || not_ok "order: $(cat "$T/dacl.granted")"
[ "$(sqlite3 "$KRBFLEET_STORE" "SELECT count(*) FROM permission_ace WHERE trustee_sid = '$GSID' AND container = '$OU'")" = 5 ] &&
  ok "the store records the 5 ACEs grant added" || not_ok "store rows"
[ "$(usn "$OU")" != "$u0" ] && ok "the grant wrote the OU (uSNChanged moved)" || not_ok "uSNChanged did not move"

u1=$(usn "$OU"); dump_store "$T/s1"
run_ok "a second grant" kf permission grant --container "$OU" --group 'lab\WebAdmins'
expect_out "second grant says nothing written" "already holds krbfleet's permissions on $OU; nothing written"
dump_store "$T/s2"
[ "$(usn "$OU")" = "$u1" ] && ok "second grant writes nothing (uSNChanged $u1 unchanged)" || not_ok "second grant wrote"
cmp -s "$T/s1" "$T/s2" && ok "second grant leaves the store as it was" || not_ok "second grant changed the store"
run_ok "a third grant --json" kf --json permission grant --container "$OU" --group 'LAB\webadmins'
json_valid permission_grant
if jq -e '.written == false and .changes == [] and .added == 0' "$T/out" >/dev/null
then ok "grant --json: nothing written, no changes"; else not_ok "grant --json: $(cat "$T/out")"; fi
# the cmdlet form: its trustee is [permission] group; without it, exit 2
printf '[permission]\ngroup = LAB\\webadmins\n' >"$T/group.conf"
run_ok "Grant-CsSetupPermission -ComputerOU with [permission] group" kf --config "$T/group.conf" Grant-CsSetupPermission -ComputerOU "$OU"
expect_out "the cmdlet grants to [permission] group (already there)" "LAB\\webadmins already holds krbfleet's permissions on $OU; nothing written"
[ "$(usn "$OU")" = "$u1" ] && ok "the cmdlet's grant wrote nothing either" || not_ok "the cmdlet wrote"
printf '[rotation]\nmax_age = 30d\n' >"$T/nogroup.conf"
expect_fail 2 "or set [permission] group in the configuration" kf --config "$T/nogroup.conf" Grant-CsSetupPermission -ComputerOU "$OU"
[ "$(usn "$OU")" = "$u1" ] && ok "without [permission] group nothing is written" || not_ok "the refused cmdlet wrote"

run_ok "permission list" kf permission list --container "$OU" --json
if jq -e --arg s "$GSID" '[.trustees[] | select(.sid == $s)] == [{"trustee":"webadmins","sid":$s,"complete":true,"missing":[]}]' "$T/out" >/dev/null
then ok "list: webadmins holds the complete set"; else not_ok "list: $(cat "$T/out")"; fi

# -- what webop may do now, each proven ------------------------------------------------
run_ok "permission test as webop after the grant" as_webop "$KRBFLEET" permission test --container "$OU" --json
if jq -e '[.operations[] | select(.may | not)] | length == 0' "$T/out" >/dev/null
then ok "after the grant webop may do all six"; else not_ok "test after: $(cat "$T/out")"; fi
run_ok "webop: account new in the OU" as_webop "$KRBFLEET" account new 'LAB\web1' --container "$OU"
[ "$(ldap_attr "CN=web1,$OU" sAMAccountName)" = 'web1$' ] && ok "web1\$ exists in the OU" || not_ok "web1 missing"
[ "$(owner "CN=web1,$OU")" = "$WSID" ] && ok "its owner is webop, the creator" || not_ok "owner of web1: $(owner "CN=web1,$OU")"
# What krbfleet reads of an account needs no right beyond Authenticated
# Users: alice, in no group of ours, reads every attribute of web1 it reads.
KRB5CCNAME=$LAB_USER_CCACHE ldapsearch -Q -LLL -o ldif-wrap=no -Y GSSAPI -H "$LAB_LDAP_URI" -b "CN=web1,$OU" -s base \
  sAMAccountName objectClass userAccountControl primaryGroupID msDS-KeyVersionNumber \
  msDS-SupportedEncryptionTypes accountExpires uSNChanged tokenGroups >"$T/alice-read" 2>/dev/null
missing=""
for a in sAMAccountName objectClass userAccountControl primaryGroupID msDS-KeyVersionNumber \
         msDS-SupportedEncryptionTypes accountExpires uSNChanged tokenGroups; do
  grep -q "^$a::\? " "$T/alice-read" || missing="$missing $a"
done
[ -z "$missing" ] && ok "an ordinary user reads every attribute krbfleet reads of web1, tokenGroups included" ||
  not_ok "alice cannot read:$missing"
run_ok "permission test as webop, judged on web1" as_webop "$KRBFLEET" permission test --container "$OU" --json
if jq -e --arg dn "CN=web1,$OU" '.judged_on == $dn and ([.operations[] | select(.may | not)] | length == 0)' "$T/out" >/dev/null
then ok "judged on the managed account: all allowed"; else not_ok "test on web1: $(cat "$T/out")"; fi
run_ok "webop: write an HTTP/ SPN on web1" probe_as webop spn-add web1 HTTP/pool1.lab.test
k0=$(ldap_attr "CN=web1,$OU" msDS-KeyVersionNumber)
head -c 30 /dev/urandom | base64 | tr -d '/+=\n' >"$T/new.pw"
rc=0; KRB5CCNAME=$WEBOP_CC "$KF_DIR_PROBE" set-password web1 <"$T/new.pw" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 0 ] && ok "webop: reset web1's password" || not_ok "webop reset: rc $rc $(cat "$T/err")"
[ "$(ldap_attr "CN=web1,$OU" msDS-KeyVersionNumber)" -gt "$k0" ] && ok "the reset moved the kvno" || not_ok "kvno did not move"

# item 2 in part: the delegated user publishes a topology there, moving an
# SPN between two accounts it manages (the GC duplicate search included)
run_ok "webop: topology import" as_webop "$KRBFLEET" topology import "$DATA/topology-2sites.json"
run_ok "webop: account new web2 in the OU" as_webop "$KRBFLEET" account new 'LAB\web2' --container "$OU"
run_ok "webop: assignment new redmond -> web1" as_webop "$KRBFLEET" assignment new --site redmond --account web1
run_ok "webop: assignment new dublin -> web2" as_webop "$KRBFLEET" assignment new --site dublin --account web2
run_ok "webop: topology enable" as_webop "$KRBFLEET" topology enable
[ "$(ldap_attr "CN=web2,$OU" servicePrincipalName)" = "HTTP/web.dublin.lab.test" ] &&
  ok "web2 holds the dublin SPN, written by webop" || not_ok "web2 SPNs: $(ldap_attr "CN=web2,$OU" servicePrincipalName)"
run_ok "webop: assignment set dublin -> web1" as_webop "$KRBFLEET" assignment set --site dublin --account web1
run_ok "webop: topology enable moves the SPN" as_webop "$KRBFLEET" topology enable
expect_out "the move is reported" "moved  HTTP/web.dublin.lab.test from web2 to web1"
[ -z "$(ldap_attr "CN=web2,$OU" servicePrincipalName)" ] && ldap_attr "CN=web1,$OU" servicePrincipalName | grep -qx HTTP/web.dublin.lab.test &&
  ok "webop moved HTTP/web.dublin.lab.test from web2 to web1" || not_ok "move as webop"
run_ok "webop: topology test" as_webop "$KRBFLEET" topology test

# the two attribute writes no command of this version makes: by LDAP
mod() { # CCACHE DN ATTR VALUE
  printf 'dn: %s\nchangetype: modify\nreplace: %s\n%s: %s\n' "$2" "$3" "$3" "$4" |
    KRB5CCNAME=$1 ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>"$T/mod.err"
}
mod "$WEBOP_CC" "CN=web1,$OU" msDS-SupportedEncryptionTypes 16 &&
  [ "$(ldap_attr "CN=web1,$OU" msDS-SupportedEncryptionTypes)" = 16 ] &&
  mod "$WEBOP_CC" "CN=web1,$OU" msDS-SupportedEncryptionTypes 24 &&
  ok "webop writes msDS-SupportedEncryptionTypes of web1" || not_ok "webop enctypes: $(cat "$T/mod.err")"
mod "$WEBOP_CC" "CN=web1,$OU" userAccountControl 4098 &&
  [ "$(ldap_attr "CN=web1,$OU" userAccountControl)" = 4098 ] &&
  mod "$WEBOP_CC" "CN=web1,$OU" userAccountControl 4096 &&
  ok "webop disables and enables web1 (userAccountControl)" || not_ok "webop uac: $(cat "$T/mod.err")"
run_ok "webop: account remove web2 --delete-from-directory" as_webop "$KRBFLEET" account remove web2 --delete-from-directory
[ -z "$(ldap_attr "CN=web2,$OU" cn)" ] && ok "webop deleted web2 from the OU" || not_ok "web2 still there"

# -- alice, not delegated: each refused, nothing written ---------------------------------
run_ok "permission test as alice" as_alice "$KRBFLEET" permission test --container "$OU" --json
if jq -e '[.operations[] | select(.may)] | length == 0' "$T/out" >/dev/null
then ok "alice may do nothing there"; else not_ok "alice: $(cat "$T/out")"; fi
uw=$(usn "CN=web1,$OU"); kw=$(ldap_attr "CN=web1,$OU" msDS-KeyVersionNumber)
expect_fail 1 "create computer objects in $OU" as_alice "$KRBFLEET" account new 'LAB\web9' --container "$OU"
grep -qF "a domain admin can delegate it: krbfleet permission grant --container '$OU' --group 'LAB\GROUP'" "$T/err" &&
  ok "the refusal names the command that delegates the right" || not_ok "no grant hint: $(cat "$T/err")"
rc=0; probe_as alice spn-add web1 HTTP/evil.lab.test >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 11 ] && grep -q "write servicePrincipalName on CN=web1,$OU" "$T/err" &&
  grep -qF "permission grant --container '$OU'" "$T/err" && ok "alice may not write SPNs (permission error naming the grant)" || not_ok "alice spn-add: rc $rc $(cat "$T/err")"
rc=0; probe_as alice set-password web1 <"$T/new.pw" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 11 ] && ok "alice may not reset the password (permission error)" || not_ok "alice set-password: rc $rc $(cat "$T/err")"
mod "$LAB_USER_CCACHE" "CN=web1,$OU" msDS-SupportedEncryptionTypes 16 && not_ok "alice wrote enctypes" ||
  ok "alice may not write msDS-SupportedEncryptionTypes"
mod "$LAB_USER_CCACHE" "CN=web1,$OU" userAccountControl 4098 && not_ok "alice wrote userAccountControl" ||
  ok "alice may not write userAccountControl"
rc=0; probe_as alice delete web1 >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 11 ] && ok "alice may not delete web1 (permission error)" || not_ok "alice delete: rc $rc $(cat "$T/err")"
[ "$(usn "CN=web1,$OU")/$(ldap_attr "CN=web1,$OU" msDS-KeyVersionNumber)" = "$uw/$kw" ] &&
  ok "alice's refusals wrote nothing (uSNChanged, kvno)" || not_ok "alice changed web1"

# -- revoke ----------------------------------------------------------------------------
# web1 managed by the admin's store too, so revoke can list it.
run_ok "the admin adopts web1" kf account adopt 'LAB\web1'
run_ok "permission revoke" kf permission revoke --container "$OU" --group 'LAB\webadmins'
expect_out "revoke removes the 5 ACEs" "revoked LAB\\webadmins on $OU: 5 of the 5 ACE(s) krbfleet wrote removed"
expect_out "revoke names what the creator still owns" "web1 (CN=web1,$OU) is owned by webop"
dacl "$OU" >"$T/dacl.revoked"
cmp -s "$T/dacl.before" "$T/dacl.revoked" && ok "the DACL is exactly as before the grant (alice's ACE kept)" ||
  { not_ok "DACL after revoke differs"; diff "$T/dacl.before" "$T/dacl.revoked" | head; }
[ "$(sqlite3 "$KRBFLEET_STORE" "SELECT count(*) FROM permission_ace")" = 0 ] && ok "the store forgot them" || not_ok "store rows left"
run_ok "permission list after revoke" kf permission list --container "$OU" --json
cmp -s "$T/out" "$T/list.before" && ok "list after revoke is the list before the grant" || not_ok "list after revoke: $(cat "$T/out")"
expect_fail 1 "create computer objects in $OU" as_webop "$KRBFLEET" account new 'LAB\web3' --container "$OU"
# what AD leaves the creator: it can still reset what it created
KRB5CCNAME=$WEBOP_CC "$KF_DIR_PROBE" set-password web1 <"$T/new.pw" >/dev/null 2>&1 &&
  ok "as seen on AD: the creator can still reset web1 after the revoke" || ok "the creator lost reset on web1 with the revoke"
u2=$(usn "$OU")
run_ok "revoke --reclaim" kf permission revoke --container "$OU" --group 'LAB\webadmins' --reclaim
expect_out "nothing more to remove" "krbfleet granted LAB\\webadmins nothing on $OU"
expect_out "web1 reclaimed" "reclaimed web1 (CN=web1,$OU): owner was webop, now Domain Admins"
[ "$(usn "$OU")" = "$u2" ] && ok "a revoke with nothing recorded does not write the OU" || not_ok "OU written"
[ "$(owner "CN=web1,$OU")" = "$DOMSID-512" ] && ok "web1's owner is Domain Admins" || not_ok "owner: $(owner "CN=web1,$OU")"
! dacl "CN=web1,$OU" | awk '$1=="ace" && $3 ~ /^[02468ace]/' | grep -q " $WSID\$" && ok "no explicit ACE of webop left on web1" ||
  not_ok "webop ACEs on web1: $(dacl "CN=web1,$OU" | grep " $WSID\$")"
rc=0; probe_as webop set-password web1 <"$T/new.pw" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 11 ] && ok "after --reclaim webop may not reset web1" || not_ok "webop reset after reclaim: rc $rc"

# -- one account as trustee, and an identical ACE someone wrote by hand ------------------
OU2="OU=Second,$BASE"
printf 'dn: %s\nchangetype: add\nobjectClass: organizationalUnit\nou: Second\n' "$OU2" | ldif &&
  ok "OU=Second created" || not_ok "OU2: $(cat "$T/ldif.err")"
samba-tool dsacl set --objectdn="$OU2" -H "$LAB_DIR/samba/private/sam.ldb" -s "$LAB_SMB_CONF" \
  --sddl="(OA;CIIO;WP;bf967a68-0de6-11d0-a285-00aa003049e2;$G_COMPUTER;$WSID)" >/dev/null 2>&1 &&
  ok "a hand-written ACE for webop equal to one of krbfleet's" || not_ok "dsacl set on OU2"
dacl "$OU2" >"$T/dacl2.before"
grep -qxF "ace 05 0a 00000020 bf967a68-0de6-11d0-a285-00aa003049e2 $G_COMPUTER $WSID" "$T/dacl2.before" &&
  ok "it reads back as krbfleet's userAccountControl ACE" || not_ok "hand ACE: $(grep "$WSID" "$T/dacl2.before")"
run_ok "grant to one account (webop@REALM)" kf permission grant --container "$OU2" --group "webop@$LAB_REALM"
expect_out "4 added, 1 there already" "4 ACE(s) added (the others were there already and stay when revoked)"
[ "$(sqlite3 "$KRBFLEET_STORE" "SELECT count(*) FROM permission_ace WHERE container = '$OU2'")" = 4 ] &&
  ok "the store records only the 4 it added" || not_ok "store rows for OU2"
run_ok "permission list OU2" kf permission list --container "$OU2" --json
json_valid permission_list
if jq -e --arg s "$WSID" '[.trustees[] | select(.sid == $s)] == [{"trustee":"webop","sid":$s,"complete":true,"missing":[]}]' "$T/out" >/dev/null
then ok "list: webop holds the complete set"; else not_ok "list OU2: $(cat "$T/out")"; fi
run_ok "revoke webop on OU2" kf --json permission revoke --container "$OU2" --group 'LAB\webop'
json_valid permission_revoke
if jq -e --arg o "container:$OU2" '.removed == 4 and .recorded == 4 and .changes == [{"action":"changed","object":$o}]' "$T/out" >/dev/null
then ok "4 of 4 removed (--json)"; else not_ok "revoke --json: $(cat "$T/out")"; fi
dacl "$OU2" >"$T/dacl2.after"
cmp -s "$T/dacl2.before" "$T/dacl2.after" && ok "revoke left the hand-written ACE: the DACL is as before the grant" ||
  { not_ok "OU2 DACL after revoke"; diff "$T/dacl2.before" "$T/dacl2.after" | head; }

# -- bad input ----------------------------------------------------------------------------
expect_fail 2 "--container DN is required" kf permission grant --group 'LAB\webadmins'
expect_fail 2 "no trustee: give --group 'DOMAIN\\name' (a group, or one account) or set [permission] group" kf permission grant --container "$OU"
expect_fail 2 "is not for this command" kf permission list --container "$OU" --group x
expect_fail 1 "the domain OTHER is not the directory's" kf permission grant --container "$OU" --group 'OTHER\webadmins'
expect_fail 1 "no user, group or computer nosuch" kf permission grant --container "$OU" --group 'LAB\nosuch'
expect_fail 1 "OU=Nowhere,$BASE" kf permission grant --container "OU=Nowhere,$BASE" --group 'LAB\webadmins'
finish
