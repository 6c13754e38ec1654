#!/usr/bin/env bash
# Only a harmless account may carry web keys (issue 14, item 1), on a real
# fleet (tests/lab/fleet.sh): the DC's own account, a joined host's account
# (host/ SPNs), a delegation-trusted account and members of protected groups
# are refused at adoption, naming the property; an adopted, healthy account
# that gains TRUSTED_FOR_DELEGATION afterwards is refused by every command
# that moves keys - with msDS-KeyVersionNumber, every keytab and the store
# unchanged - reported FAIL by `assignment test` / `topology test`, and its
# keys are withdrawn by `sync`. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"

BASE=$LAB_BASE_DN
CN="CN=Computers,$BASE"
ldapmod() { ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>"$T/ldap.err" || not_ok "ldapmodify: $(cat "$T/ldap.err")"; }
stool() { samba-tool "$@" -s "$LAB_SMB_CONF" >"$T/stool.out" 2>&1 || not_ok "samba-tool $*: $(cat "$T/stool.out")"; }
# a computer account like the ones krbfleet is asked to adopt; extra LDIF lines follow
computer() {
  local name=$1; shift
  stool computer create "$name"
  [ $# -eq 0 ] || printf 'dn: CN=%s,%s\nchangetype: modify\n%s\n' "$name" "$CN" "$*" | ldapmod
}
md5s() { local s; for s in $SERVERS; do md5sum <"$(kt "$s")"; done; }
stderr_says() { if grep -qF -- "$2" "$T/err"; then ok "$1"; else not_ok "$1 (stderr: $(head -c 600 "$T/err"))"; fi; }
# run_rc CODE "what" CMD...: exit status CODE, stdout in $T/out
run_rc() {
  local code=$1 what=$2 rc=0; shift 2
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  [ "$rc" = "$code" ] && ok "$what (exit $rc)" || not_ok "$what: exit $rc, not $code ($(head -c 300 "$T/err"))"
}

fleet_setup

# -- adoption: the domain controller ---------------------------------------------------
DC_DN="CN=DC1,OU=Domain Controllers,$BASE"
dck=$(ldap_attr "$DC_DN" msDS-KeyVersionNumber)
expect_fail 1 "account LAB\\dc1 is refused: userAccountControl has SERVER_TRUST_ACCOUNT (a domain controller)" \
  kf account adopt 'LAB\dc1'
stderr_says "the refusal says what krbfleet accepts" "krbfleet only puts keys of a plain computer account on web servers"
stderr_says "and what to do instead" "krbfleet account new 'LAB\\NAME'"
expect_fail 1 "SERVER_TRUST_ACCOUNT" kf account adopt --allow-foreign-spns 'LAB\dc1'
[ "$(ldap_attr "$DC_DN" msDS-KeyVersionNumber)" = "$dck" ] && ok "the DC's kvno is unchanged ($dck)" || not_ok "DC kvno changed"
run_ok "account list" kf account list
grep -q 'dc1' "$T/out" && not_ok "dc1 was recorded" || ok "dc1 is not in the store"

# -- adoption: a joined host's account (host/, RestrictedKrbHost/ SPNs) -------------------
computer web9 "add: servicePrincipalName
servicePrincipalName: host/web9
servicePrincipalName: host/web9.lab.test
servicePrincipalName: RestrictedKrbHost/web9
servicePrincipalName: RestrictedKrbHost/web9.lab.test"
expect_fail 1 "account LAB\\web9 is refused: it holds SPNs of other services (host, RestrictedKrbHost: host/web9" \
  kf account adopt 'LAB\web9'
stderr_says "it says why foreign SPNs matter" "their keys would be shared with every web server"
stderr_says "it names the way to accept them" "krbfleet account adopt --allow-foreign-spns 'LAB\\web9'"
run_ok "adopt with --allow-foreign-spns" kf account adopt --allow-foreign-spns 'LAB\web9'
stderr_says "the warning names the services accepted" "holds SPNs of other services, accepted with --allow-foreign-spns"
stderr_says "... every one" "RestrictedKrbHost/web9.lab.test"
[ "$(sqlite3 "$KRBFLEET_STORE" "SELECT allow_foreign_spns FROM account WHERE name = 'web9'")" = 1 ] &&
  ok "the allowance is recorded on the account" || not_ok "allow_foreign_spns not recorded"
run_ok "adopt again: re-checked" kf account adopt --allow-foreign-spns 'LAB\web9'
expect_out "a second adopt says it is managed already" "is already managed; checked again"

# -- adoption: delegation -----------------------------------------------------------------
computer deleg1 "replace: userAccountControl
userAccountControl: $((0x1000 | 0x80000))"
expect_fail 1 "account LAB\\deleg1 is refused: userAccountControl has TRUSTED_FOR_DELEGATION" kf account adopt 'LAB\deleg1'
computer deleg2 "replace: userAccountControl
userAccountControl: $((0x1000 | 0x1000000))"
expect_fail 1 "userAccountControl has TRUSTED_TO_AUTH_FOR_DELEGATION" kf account adopt 'LAB\deleg2'
computer deleg3 "add: msDS-AllowedToDelegateTo
msDS-AllowedToDelegateTo: cifs/dc1.lab.test"
expect_fail 1 "msDS-AllowedToDelegateTo is set (constrained delegation to cifs/dc1.lab.test)" kf account adopt 'LAB\deleg3'

# -- adoption: protected groups, directly and nested ----------------------------------------
computer certpub1
stool group addmembers "Cert Publishers" 'certpub1$'
expect_fail 1 "it is a member (directly or nested) of Cert Publishers (S-1-5-21-" kf account adopt 'LAB\certpub1'
computer backup1
stool group add nest1
stool group addmembers nest1 'backup1$'
stool group addmembers "Backup Operators" nest1
expect_fail 1 "member (directly or nested) of Backup Operators (S-1-5-32-551)" kf account adopt 'LAB\backup1'
run_ok "account list" kf account list
grep -qE 'deleg|certpub|backup' "$T/out" && not_ok "a refused account was recorded: $(cat "$T/out")" || ok "no refused account is in the store"

# -- a managed, healthy account gains TRUSTED_FOR_DELEGATION ----------------------------------
KA_DN="CN=kerbauth,$CN"
printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: %d\n' \
  "$KA_DN" $((0x1000 | 0x80000)) | ldapmod
K=$(dir_kvno)
md5s >"$T/keytabs.before"
unchanged() { # "after what": the directory's kvno and every keytab are as they were
  [ "$(dir_kvno)" = "$K" ] && ok "$1: msDS-KeyVersionNumber still $K" || not_ok "$1: kvno $(dir_kvno), was $K"
  md5s >"$T/keytabs.after"
  cmp -s "$T/keytabs.before" "$T/keytabs.after" && ok "$1: every keytab unchanged" || not_ok "$1: a keytab changed"
}
WHY="account LAB\\kerbauth is refused: userAccountControl has TRUSTED_FOR_DELEGATION"
expect_fail 1 "$WHY" kf password set --account kerbauth
stderr_says "the repair is named: clear the flag, reset twice" "\`krbfleet password set --account kerbauth\`, twice"
unchanged "password set"
expect_fail 1 "dry run: nothing was changed, and this would be refused: $WHY" kf password set --account kerbauth --dry-run
unchanged "password set --dry-run"
expect_fail 1 "$WHY" kf password set --from fe01.redmond.lab.test --to fe02.redmond.lab.test
unchanged "password set --from --to"
expect_fail 1 "dry run: nothing was changed, and this would be refused: $WHY" \
  kf password set --from fe01.redmond.lab.test --to fe02.redmond.lab.test --dry-run
unchanged "password set --from --to --dry-run"
expect_fail 1 "nothing was written: $WHY" kf topology enable
expect_fail 1 "dry run: nothing was written, and this would be refused: $WHY" kf topology enable --dry-run
unchanged "topology enable"

run_rc 1 "assignment test --site redmond fails" kf assignment test --site redmond
expect_out "assignment test: FAIL naming the property" "TRUSTED_FOR_DELEGATION"
grep -E '^FAIL +account:LAB\\kerbauth +eligible' "$T/out" >/dev/null && ok "... as a FAIL of the account's 'eligible' check" ||
  not_ok "no eligible FAIL: $(head -c 800 "$T/out")"
expect_out "... with the fix" "reset its password twice once it is cleared"
run_rc 1 "topology test fails" kf topology test --json
jq -e '[.findings[] | select(.result == "FAIL" and .check == "eligible" and (.detail | contains("TRUSTED_FOR_DELEGATION")) and (.fix | contains("twice")))] | length == 1' \
  "$T/out" >/dev/null && ok "topology test --json: FAIL eligible, with the fix" || not_ok "topology test: $(head -c 800 "$T/out")"
unchanged "assignment test and topology test"

# sync takes the keys of such an account off every web server (and only
# them: another principal's entry at the same kvno stays)
printf 'addent -password -p host/keep.lab.test@%s -k %s -e aes256-cts-hmac-sha1-96\nPw-%s\nwkt %s\nq\n' \
  "$LAB_REALM" "$K" "$(head -c 12 /dev/urandom | base64 | tr -dc A-Za-z0-9)" "$(kt fe01.redmond.lab.test)" | ktutil >/dev/null 2>&1
dump_store "$T/store.before"
run_rc 1 "sync refuses the account" kf sync --account kerbauth
klist -k "$(kt fe01.redmond.lab.test)" | grep -qF " host/keep.lab.test@$LAB_REALM" &&
  ok "sync kept another principal's entry at kvno $K" || not_ok "host/keep was withdrawn too"
stderr_says "sync names the property" "$WHY"
stderr_says "... and says it withdrew the keys" "its keys were withdrawn from 4 of 4 web servers"
[ "$(dir_kvno)" = "$K" ] && ok "sync: msDS-KeyVersionNumber still $K" || not_ok "sync changed the kvno"
left=0; for s in $SERVERS; do klist -k "$(kt "$s")" 2>/dev/null | grep -qiE 'HTTP/web|kerbauth\$' && left=$((left + 1)); done
[ $left = 0 ] && ok "no keytab holds a key of kerbauth any more" || not_ok "$left keytabs still hold kerbauth's keys"
[ "$(sqlite3 "$KRBFLEET_STORE" "SELECT count(*) FROM server_key")" = 0 ] && ok "the store no longer records keys on the servers" ||
  not_ok "server_key rows left"
sqlite3 "$KRBFLEET_STORE" "SELECT detail FROM audit" | grep -q "withdrew the keys of kerbauth" &&
  ok "the withdrawal is audited" || not_ok "no audit record of the withdrawal"

# the repair the message names: clear the flag, reset the password twice
printf 'dn: %s\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: 4096\n' "$KA_DN" | ldapmod
run_ok "password set, once the flag is cleared" kf password set --account kerbauth
run_ok "... and a second time" kf password set --account kerbauth
keytabs_match 2>"$T/m" && ok "every server holds the new keys; logins work again" || not_ok "$(cat "$T/m")"
run_rc 0 "topology test passes again" kf topology test

# -- a managed account that gains an SPN of another service -------------------------------
printf 'dn: %s\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: cifs/kerbauth.lab.test\n' "$KA_DN" | ldapmod
K=$(dir_kvno)
md5s >"$T/keytabs.before"
expect_fail 1 "account LAB\\kerbauth is refused: it holds SPNs of other services (cifs: cifs/kerbauth.lab.test)" \
  kf password set --account kerbauth
unchanged "password set of an account with a cifs/ SPN"
run_rc 1 "topology test fails on it" kf topology test
expect_out "... naming the SPN" "cifs/kerbauth.lab.test"
expect_fail 1 "it holds SPNs of other services" kf account adopt 'LAB\kerbauth'
run_ok "account adopt --allow-foreign-spns accepts them on the managed account" kf account adopt --allow-foreign-spns 'LAB\kerbauth'
run_ok "password set goes on, respecting the recorded allowance" kf password set --account kerbauth
run_rc 0 "topology test passes, with a warning" kf topology test
expect_out "the warning says they were accepted" "accepted with --allow-foreign-spns"
sanitizer_clean
finish
