#!/usr/bin/env bash
# The Active Directory backend (lib/dir_ad.c) against a real Samba AD DC
# (tests/lab), through kf-dir-probe: discovery, bind, accounts, SPNs in one
# write, SPN owners, passwords, and the errors a person has to act on
# (no ticket, dead server, TLS, rights). Needs root; skipped (77) otherwise.
#     KF_DIR_PROBE=build/tests/integration/kf-dir-probe bash tests/integration/test_directory_ad.sh
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
: "${KF_DIR_PROBE:=$ROOT/build/tests/integration/kf-dir-probe}"
export KF_DIR_PROBE

if [ -z "${LAB_DIR:-}" ]; then
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for the lab (Samba AD DC)"; exit 77; fi
  [ -x "$KF_DIR_PROBE" ] || { echo "no kf-dir-probe at $KF_DIR_PROBE (build first)"; exit 1; }
  exec "$ROOT/tests/lab/with-lab.sh" bash "${BASH_SOURCE[0]}" "$@"
fi

. "$HERE/wait.sh"
T=$(mktemp -d /tmp/kf-dir.XXXXXX)
LISTENER=''
cleanup() {
  [ -n "$LISTENER" ] && kill "$LISTENER" 2>/dev/null
  rm -rf "$T"
}
trap cleanup EXIT
unset KRBFLEET_CONFIG
# Under AddressSanitizer: known leaks of system libraries are suppressed
# (tests/lsan.supp); the suppressions match only with full stack unwinding.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$ROOT/tests/lsan.supp"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
N=0 FAILED=0
ok()     { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
# check WHAT 'SHELL CONDITION': the condition (eval'd here) must hold.
check()  { if eval "$2"; then ok "$1"; else not_ok "$1"; fi; }

CN="CN=Computers,$LAB_BASE_DN"
PW_SEEN=$T/passwords  # every password this test chose, to look for later
: >"$PW_SEEN"

# conf NAME KEY=VALUE...: write $T/NAME.conf with a [directory] section.
conf() {
  local name=$1; shift
  { echo '[directory]'; for kv in "$@"; do echo "${kv%%=*} = ${kv#*=}"; done; } >"$T/$name.conf"
}
conf srv                                  # nothing set: DC found through DNS SRV
conf uri "ldap_uri=$LAB_LDAP_URI"

# probe CONF ARGS...: run kf-dir-probe; sets RC, OUT ($T/out), ERR ($T/err)
# and SECS (wall time).
probe() {
  local c=$1 t0 t1; shift
  t0=$(date +%s.%N)
  "$KF_DIR_PROBE" -c "$T/$c.conf" "$@" >"$T/out" 2>"$T/err"
  RC=$?
  t1=$(date +%s.%N)
  SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  cat "$T/out" "$T/err" >>"$T/all-output"
}
val() { sed -n "s/^$1=//p" "$T/out" | head -n 1; }           # key=value from the output
counter() { sed -n "s/.*$1=\([0-9]*\).*/\1/p" "$T/out" | head -n 1; }
ms() { sed -n "s/.*$1_ms=\([0-9.]*\).*/\1/p" "$T/out" | head -n 1; }
err_has() { grep -qF -- "$1" "$T/err"; }

# expect RC "stderr text" CONF ARGS...: the probe fails with status RC
# (the negated kf_status) and says the text.
expect() {
  local rc=$1 text=$2; shift 2
  probe "$@"
  if [ "$RC" -ne "$rc" ]; then
    not_ok "$* -> exit $rc (got $RC: $(head -c 400 "$T/err"))"
  elif ! err_has "$text"; then
    not_ok "$* says '$text' (got: $(head -c 400 "$T/err"))"
  else
    ok "$* -> exit $rc, '$text'"
  fi
}
run_ok() {
  local what=$1; shift
  probe "$@"
  if [ "$RC" -eq 0 ]; then ok "$what"; else not_ok "$what (exit $RC: $(head -c 400 "$T/err"))"; fi
}
ldap_attr() { # DN ATTR: values as the DC holds them (ldapsearch, not our code)
  ldapsearch -Q -LLL -o ldif-wrap=no -Y GSSAPI -H "$LAB_LDAP_URI" -b "$1" -s base "$2" 2>/dev/null |
    sed -n "s/^$2: //p"
}
highest_usn() {
  ldapsearch -Q -LLL -o ldif-wrap=no -Y GSSAPI -H "$LAB_LDAP_URI" -b '' -s base \
    highestCommittedUSN 2>/dev/null | sed -n 's/^highestCommittedUSN: //p'
}
spns_of() { probe uri get "$1"; sed -n 's/^spn=//p' "$T/out" | sort | tr '\n' ' '; }
kinit_works() { # NAME PASSWORD: the DC's KDC accepts PASSWORD for NAME$
  # (a second try: on a loaded 2-core machine the KDC may miss kinit's timeout)
  local i
  for i in 1 2; do
    printf '%s\n' "$2" | KRB5CCNAME="FILE:$T/kinit.cc" kinit "$1\$@$LAB_REALM" >"$T/kinit.out" 2>&1 && return 0
    sleep 1
  done
  sed 's/^/    kinit: /' "$T/kinit.out" >&2
  return 1
}
secs_between() { awk -v s="$SECS" -v lo="$1" -v hi="$2" 'BEGIN { exit !(s >= lo && s < hi) }'; }
new_password() { # a password this test chose, remembered
  local p
  p="Kf-$(head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 24)"
  echo "$p" >>"$PW_SEEN"
  printf '%s\n' "$p"
}

echo "# lab: $LAB_DC_NAME at $LAB_DC_ADDR"

# -- discovery and bind ------------------------------------------------------
probe srv info
if [ "$RC" -eq 0 ] && [ "$(val server)" = "$LAB_DC_NAME" ] && [ "$(val realm)" = "$LAB_REALM" ] &&
   [ "$(val domain)" = "$LAB_DOMAIN" ] && [ "$(val netbios)" = LAB ] &&
   [ "$(val base_dn)" = "$LAB_BASE_DN" ]; then
  ok "info through DNS SRV: server $LAB_DC_NAME, realm LAB.TEST, NetBIOS LAB, base DN (bind $(ms open) ms)"
else
  not_ok "info through DNS SRV: $(cat "$T/out" "$T/err")"
fi
T_BIND=$(ms open)
probe uri info
check "info through ldap_uri names the same DC" \
  '[ "$RC" = 0 ] && [ "$(val server)" = "$LAB_DC_NAME" ]'
check "opening reads the root DSE and the crossRef only (reads=2 writes=0)" \
  '[ "$(counter reads)" = 2 ] && [ "$(counter writes)" = 0 ]'

# -- what decides whether an account may carry web keys -------------------------
probe uri traits dc1
check "traits of the DC: class computer, SERVER_TRUST_ACCOUNT, primary group 516, its SPNs" \
  '[ "$RC" = 0 ] && [ "$(sed -n "s/^class=//p" "$T/out" | tail -1)" = computer ] &&
   [ $(( $(val uac) & 0x2000 )) != 0 ] && [ "$(val primary_group)" = 516 ] &&
   grep -qx "spn=ldap/dc1.lab.test" "$T/out" && [ "$(val rbcd)" = no ]'
check "... and its tokenGroups (a base-scope read: reads=4) hold Domain Controllers" \
  'grep -qE "^group=S-1-5-21-[0-9]+-[0-9]+-[0-9]+-516$" "$T/out" && [ "$(counter reads)" = 4 ] &&
   [ "$(counter writes)" = 0 ]'
expect 3 'no account nosuch$' uri traits nosuch

# -- accounts -----------------------------------------------------------------
probe uri create kfweb1
T_CREATE=$(ms op)
check "create kfweb1 (one write)" \
  '[ "$RC" = 0 ] && [ "$(counter writes)" = 1 ]'
probe uri get kfweb1
if [ "$RC" = 0 ] && [ "$(val dn)" = "CN=kfweb1,$CN" ] && [ "$(val enctypes)" = 24 ] &&
   [ "$(val kvno)" = 1 ] && [ "$(val disabled)" = no ] && [ "$(val expired)" = no ] &&
   [ "$(val n_spns)" = 0 ]; then
  ok "get kfweb1: DN in the Computers container, enctypes 24, kvno 1, enabled"
else
  not_ok "get kfweb1: $(cat "$T/out" "$T/err")"
fi
check "the DC holds userAccountControl 4096 and sAMAccountName kfweb1\$" \
  '[ "$(ldap_attr "CN=kfweb1,$CN" userAccountControl)" = 4096 ] && [ "$(ldap_attr "CN=kfweb1,$CN" sAMAccountName)" = '\''kfweb1$'\'' ]'
expect 4 "an account kfweb1\$ exists already: CN=kfweb1,$CN" uri create kfweb1
check "create of an existing account writes nothing" \
  '[ "$(counter writes)" = 0 ]'
expect 3 "no account nosuch\$" uri get nosuch
expect 3 'no account kfweb*$' uri get 'kfweb*'   # the filter value is escaped, not a wildcard
expect 3 'no account kfweb1)(cn=*$' uri get 'kfweb1)(cn=*'

# an explicit container (made with ldapadd, not with our code)
ldapadd -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>&1 <<EOF
dn: OU=WebAccounts,$LAB_BASE_DN
objectClass: organizationalUnit
ou: WebAccounts
EOF
run_ok "create kfweb2 in OU=WebAccounts with enctypes 16" uri create kfweb2 "OU=WebAccounts,$LAB_BASE_DN" --enctypes 16
probe uri get kfweb2
check "kfweb2 lives in OU=WebAccounts with enctypes 16" \
  '[ "$(val dn)" = "CN=kfweb2,OU=WebAccounts,$LAB_BASE_DN" ] && [ "$(val enctypes)" = 16 ]'
expect 3 "the container OU=Nowhere,$LAB_BASE_DN does not exist" uri create kfweb3 "OU=Nowhere,$LAB_BASE_DN"
run_ok "delete kfweb2" uri delete kfweb2
expect 3 "no account kfweb2\$" uri get kfweb2

# -- SPNs: one write each ---------------------------------------------------------
probe uri spn-mod kfweb1 +HTTP/a.lab.test +HTTP/b.lab.test
check "add two SPNs in one write" \
  '[ "$RC" = 0 ] && [ "$(counter writes)" = 1 ]'
probe uri get kfweb1; usn0=$(val usn_changed)
h0=$(highest_usn)
probe uri spn-mod kfweb1 -HTTP/a.lab.test +HTTP/c.lab.test +http/D.lab.test
T_SPN=$(ms op)
w=$(counter writes)
h1=$(highest_usn)
probe uri get kfweb1; usn1=$(val usn_changed)
if [ "$w" = 1 ] && [ "$(spns_of kfweb1)" = "HTTP/b.lab.test HTTP/c.lab.test http/D.lab.test " ] &&
   [ "$usn1" -gt "$usn0" ] && [ "$((h1 - h0))" = 1 ] && [ "$usn1" = "$h1" ]; then
  ok "remove 1 + add 2 SPNs: one write, the DC's USN moved by exactly 1 ($h0 -> $h1)"
else
  not_ok "spn-mod: writes=$w spns=[$(spns_of kfweb1)] usn $usn0->$usn1 highest $h0->$h1"
fi
probe uri spn-mod kfweb1
w=$(counter writes)
probe uri get kfweb1
check "an empty change writes nothing (writes=0, uSNChanged still $usn1)" \
  '[ "$w" = 0 ] && [ "$(val usn_changed)" = "$usn1" ] && [ "$(highest_usn)" = "$h1" ]'
expect 2 'is both added and removed' uri spn-mod kfweb1 +HTTP/x.lab.test -HTTP/X.lab.test
expect 3 'a value to remove is not there' uri spn-del kfweb1 HTTP/never.lab.test
check "...and nothing changed" \
  '[ "$(spns_of kfweb1)" = "HTTP/b.lab.test HTTP/c.lab.test http/D.lab.test " ]'

# -- who holds an SPN -----------------------------------------------------------
samba-tool computer create handmade -s "$LAB_SMB_CONF" >/dev/null 2>&1
ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>&1 <<EOF
dn: CN=handmade,$CN
changetype: modify
add: servicePrincipalName
servicePrincipalName: HTTP/elsewhere.lab.test
EOF
probe uri owner HTTP/ELSEWHERE.lab.test
check "owner of an SPN another object holds (asked in other case): CN=handmade" \
  '[ "$RC" = 0 ] && [ "$(val owner_dn)" = "CN=handmade,$CN" ] && [ "$(val owner_name)" = handmade ]'
probe uri owner HTTP/c.lab.test
check "owner of our own SPN: kfweb1" \
  '[ "$(val owner_name)" = kfweb1 ]'
probe uri owner ldap/dc1.lab.test
check "owner of the DC's ldap/ SPN: the DC (DC1)" \
  '[ "$(val owner_dn)" = "CN=DC1,OU=Domain Controllers,$LAB_BASE_DN" ]'
probe uri owner HTTP/nobody.lab.test
check "an SPN nobody holds: none" \
  '[ "$RC" = 0 ] && [ "$(val owner)" = none ]'
expect 5 'samldb: spn[HTTP/elsewhere.lab.test] would cause a conflict' uri spn-add kfweb1 HTTP/elsewhere.lab.test
check "the conflict names the holder" \
  'err_has "HTTP/elsewhere.lab.test is held by CN=handmade,$CN"'
expect 5 'would cause a conflict' uri spn-mod kfweb1 -HTTP/b.lab.test +HTTP/elsewhere.lab.test
check "a refused change is atomic: HTTP/b.lab.test still there" \
  '[ "$(spns_of kfweb1)" = "HTTP/b.lab.test HTTP/c.lab.test http/D.lab.test " ]'
run_ok "spn-mod-dn moves an SPN off an object we do not manage" \
  uri spn-mod-dn "CN=handmade,$CN" -HTTP/elsewhere.lab.test
probe uri owner HTTP/elsewhere.lab.test
check "...it is free now" \
  '[ "$(val owner)" = none ]'

# -- passwords ------------------------------------------------------------------
probe uri get kfweb1; k0=$(val kvno)
pw=$(new_password)
probe uri set-password kfweb1 <<<"$pw"
w=$(counter writes)
probe uri get kfweb1
check "set-password (unicodePwd, one write) bumps msDS-KeyVersionNumber $k0 -> $((k0 + 1))" \
  '[ "$w" = 1 ] && [ "$(val kvno)" = "$((k0 + 1))" ]'
check "the new password works: kinit kfweb1\$" \
  'kinit_works kfweb1 "$pw"'
pw="Kf-ünïcødé-€-𝄞-$(head -c 6 /dev/urandom | base64 | tr -dc 'A-Za-z0-9')"   # 2-, 3- and 4-byte UTF-8
echo "$pw" >>"$PW_SEEN"
probe uri set-password kfweb1 <<<"$pw"
check "a non-ASCII password (UTF-16 surrogate pair) is set and works: kinit kfweb1\$" \
  '[ "$RC" = 0 ] && kinit_works kfweb1 "$pw"'
expect 2 'not valid UTF-8' uri set-password kfweb1 <<<"$(printf 'Kf-\xff\xfe-bad')"
probe uri get kfweb1; k0=$(val kvno)
conf kpasswd "ldap_uri=$LAB_LDAP_URI" password_method=kpasswd
pw=$(new_password)
probe kpasswd set-password kfweb1 <<<"$pw"
rc=$RC
probe uri get kfweb1
check "set-password through kpasswd bumps the kvno to $((k0 + 1))" \
  '[ "$rc" = 0 ] && [ "$(val kvno)" = "$((k0 + 1))" ]'
# kpasswd goes to the same DC even when krb5.conf names only dead KDCs
sed "s/= $LAB_DC_ADDR\$/= 127.0.0.1:9/" "$KRB5_CONFIG" >"$T/dead-kdc.conf"
cp "$KRB5CCNAME" "$T/admin.cc"   # holds the ldap/ ticket already
pw=$(new_password)
KRB5_CONFIG=$T/dead-kdc.conf KRB5CCNAME=$T/admin.cc probe kpasswd set-password kfweb1 <<<"$pw"
rc=$RC
probe uri get kfweb1
check "kpasswd is pinned to the DC (krb5.conf's KDCs dead): kvno $((k0 + 2))" \
  '[ "$rc" = 0 ] && [ "$(val kvno)" = "$((k0 + 2))" ]'
check "the kpasswd password works: kinit kfweb1\$" \
  'kinit_works kfweb1 "$pw"'

# -- credentials and rights -------------------------------------------------------
KRB5CCNAME=FILE:$T/empty.cc expect 10 "KRB5CCNAME=FILE:$T/empty.cc" uri info
check "no ticket: the message says to run kinit" \
  'err_has "run kinit"'
printf '%s\n' "$(cat "$LAB_SECRETS/kfadmin")" |
  KRB5CCNAME=FILE:$T/short.cc kinit -l 1s "$LAB_ADMIN_PRINCIPAL" >/dev/null 2>&1
sleep 2
KRB5CCNAME=FILE:$T/short.cc expect 10 "the ticket of $LAB_ADMIN_PRINCIPAL expired at" uri info
check "expired ticket: the message says kinit $LAB_ADMIN_PRINCIPAL" \
  'err_has "run kinit $LAB_ADMIN_PRINCIPAL"'
KRB5CCNAME=$LAB_USER_CCACHE expect 11 "alice@LAB.TEST may not create computer objects in $CN" uri create kfalice
KRB5CCNAME=$LAB_USER_CCACHE expect 11 "may not write servicePrincipalName on CN=kfweb1,$CN" uri spn-add kfweb1 HTTP/alice.lab.test
KRB5CCNAME=$LAB_USER_CCACHE expect 11 "may not reset the password on CN=kfweb1,$CN" uri set-password kfweb1 <<<"$(new_password)"
KRB5CCNAME=$LAB_USER_CCACHE expect 11 "may not reset the password on CN=kfweb1,$CN" kpasswd set-password kfweb1 <<<"$(new_password)"
KRB5CCNAME=$LAB_USER_CCACHE expect 11 "may not delete CN=kfweb1,$CN" uri delete kfweb1

# -- TLS ----------------------------------------------------------------------------
conf starttls tls=starttls "ca_file=$LAB_CA"
conf ldaps tls=ldaps "ca_file=$LAB_CA"
for mode in starttls ldaps; do
  probe "$mode" info
  check "tls=$mode with LAB_CA: info names $LAB_DC_NAME" \
    '[ "$RC" = 0 ] && [ "$(val server)" = "$LAB_DC_NAME" ]'
  probe "$mode" owner HTTP/c.lab.test
  check "tls=$mode: owner through the global catalog over TLS" \
    '[ "$RC" = 0 ] && [ "$(val owner_name)" = kfweb1 ]'
  probe "$mode" get kfweb1; k=$(val kvno)
  probe "$mode" set-password kfweb1 <<<"$(new_password)"
  rc=$RC
  probe "$mode" get kfweb1
  check "tls=$mode: set-password over TLS bumps the kvno" \
    '[ "$rc" = 0 ] && [ "$(val kvno)" = "$((k + 1))" ]'
done
conf ldaps-noca tls=ldaps
expect 20 "cannot set up TLS with the directory server $LAB_DC_NAME" ldaps-noca info
check "...and says what the certificate must be" \
  'err_has "certificate must be for $LAB_DC_NAME"'
conf starttls-noca tls=starttls "ca_file=/etc/ssl/certs/ca-certificates.crt"
expect 20 "cannot set up TLS with the directory server $LAB_DC_NAME" starttls-noca info
conf ldaps-plainuri tls=ldaps "ldap_uri=$LAB_LDAP_URI"
expect 6 "does not match tls = ldaps" ldaps-plainuri info
conf by-address "ldap_uri=ldap://$LAB_DC_ADDR"
expect 6 "name the directory server by its DNS name" by-address info
conf mit backend=mit
expect 6 "backend = mit is not implemented yet" mit info

# -- dead servers, within the timeout ---------------------------------------------
"$LAB_SH" add-host "$LAB_DIR" "$LAB_NET.99" dead.lab.test   # nothing there: refused
conf refused "ldap_uri=ldap://dead.lab.test" timeout=3s
expect 20 "cannot reach the directory server dead.lab.test (ldap://dead.lab.test:389): Connection refused" refused info
check "a refused connection is reported at once (${SECS}s)" \
  'secs_between 0 3'
conf refused-ldaps "ldap_uri=ldaps://dead.lab.test" tls=ldaps timeout=3s
expect 20 "cannot reach the directory server dead.lab.test (ldaps://dead.lab.test:636): Connection refused" refused-ldaps info
# A server that accepts and never answers. It needs an ldap/ SPN, else
# Kerberos fails before a byte is sent; the name goes in the lab's hosts.
addr=$("$LAB_SH" addr "$LAB_DIR" 7)
"$LAB_SH" add-host "$LAB_DIR" "$addr" silent.lab.test
probe uri create silent
probe uri spn-add silent ldap/silent.lab.test
python3 - "$addr" 389 636 <<'EOF' &
import signal, socket, sys
socks = []
for port in sys.argv[2:]:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[1], int(port)))
    s.listen(64)
    socks.append(s)
signal.pause()  # until killed; connections wait in the backlog, unanswered
EOF
LISTENER=$!
# The probes below must meet a listening socket, never a refused port (on a
# busy machine python may need seconds to get there).
check "the silent server listens on $addr:389 and :636" \
  'wait_until 60 listening "$addr" 389 636'
for mode in no starttls ldaps; do
  conf "silent-$mode" server=silent.lab.test "tls=$mode" "ca_file=$LAB_CA" timeout=3s
  expect 20 "the directory server silent.lab.test" "silent-$mode" info
  if err_has "did not answer within 3s" && secs_between 2.9 4.5; then
    ok "tls=$mode, silent server: 'did not answer within 3s' after ${SECS}s"
  else
    not_ok "tls=$mode, silent server: ${SECS}s: $(cat "$T/err")"
  fi
done
kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null; LISTENER=''

# -- no password in logs, output or argv -------------------------------------------
leaks=0
while read -r p; do
  [ -n "$p" ] || continue
  if grep -rqF -- "$p" "$LAB_DIR/log" "$T/all-output" 2>/dev/null; then leaks=$((leaks + 1)); fi
done <"$PW_SEEN"
check "no password this test set appears in the lab's logs or the probe's output ($(wc -l <"$PW_SEEN") checked)" \
  '[ "$leaks" = 0 ]'
# The 120-character passwords of created accounts are never known: look for
# any run of 100+ password characters instead.
long=$(grep -lE "[!-~]{100,}" "$LAB_DIR"/log/samba.* "$T/all-output" 2>/dev/null | tr '\n' ' ')
check "no 100+ character password-like run in the DC's log or the output (${long:-none})" \
  '[ -z "$long" ]'
# argv: set-password reads stdin; watch the probe's command line while it runs
mkfifo "$T/fifo"
"$KF_DIR_PROBE" -c "$T/uri.conf" set-password kfweb1 <"$T/fifo" >/dev/null 2>&1 &
probe_pid=$!
pw=$(new_password)
exec 9>"$T/fifo"
# read argv once the probe runs (not the shell that forked it, before exec)
wait_until 60 grep -qa set-password "/proc/$probe_pid/cmdline"
argv=$(tr '\0' ' ' <"/proc/$probe_pid/cmdline" 2>/dev/null)
printf '%s\n' "$pw" >&9
exec 9>&-
wait "$probe_pid"
check "set-password takes the password on stdin, never in argv ($argv)" \
  '[ -n "$argv" ] && [[ "$argv" != *"$pw"* ]]'

echo "# timings (ms): bind+root DSE $T_BIND, create $T_CREATE, spn modify (find + 1 write) $T_SPN"
echo "$((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
