# lib.sh - helpers for integration tests that drive the built krbfleet CLI.
# Source it; it sets up a private temporary directory removed on exit.
# Every check prints "ok N - what" or "not ok N - what" and the test exits
# non-zero if any failed (see finish).
set -uo pipefail

: "${KRBFLEET:?set KRBFLEET to the krbfleet binary}"
. "$(dirname "${BASH_SOURCE[0]}")/wrap.sh"   # make memcheck: programs under valgrind
. "$(dirname "${BASH_SOURCE[0]}")/wait.sh"   # readiness checks, never a fixed sleep
T=$(mktemp -d /tmp/kf-it.XXXXXX)
trap 'rm -rf "$T"' EXIT
export KRBFLEET_STORE="$T/store.db"
# the agents' tickets of this test only, never /var/cache/krbfleet's
export KRBFLEET_TICKET_CACHE="$T/tickets"
unset KRBFLEET_CONFIG
# Outside a lab no ticket is used; inside one (LAB_DIR set) the lab's admin
# ticket is the credential.
[ -n "${LAB_DIR:-}" ] || export KRB5CCNAME="FILE:$T/no-ccache"
N=0 FAILED=0

ok()     { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }

kf() { "$KRBFLEET" "$@"; }

# in_lab "$0" "$@": re-run this script inside a fresh lab (tests/lab) unless
# already inside one; skip (exit 77) when not root.
in_lab() {
  [ -n "${LAB_DIR:-}" ] && return 0
  if [ "$(id -u)" -ne 0 ]; then echo "SKIP: needs root for the lab (Samba AD DC)"; exit 77; fi
  local root
  root=$(cd "$(dirname "$1")/../.." && pwd -P)
  rm -rf "$T"
  exec "$root/tests/lab/with-lab.sh" bash "$@"
}

# ldap_attr DN ATTR: the value(s) of ATTR of DN, as the lab DC holds them.
ldap_attr() {
  ldapsearch -Q -LLL -o ldif-wrap=no -Y GSSAPI -H "$LAB_LDAP_URI" -b "$1" -s base "$2" 2>/dev/null |
    sed -n "s/^$2: //p"
}

# ldif: apply the LDIF on stdin to the lab DC with the admin's ticket
ldif() { ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>"$T/ldif.err"; }

# delegation_setup: what the admin prepares in a delegation test (issue 10),
# before `permission grant`: the dedicated OU $OU (OU=WebFleet; not
# CN=Computers, where ms-DS-MachineAccountQuota is another path), an
# ordinary user webop (its password in a file, never on argv) in a group
# webadmins, and webop's ticket in $WEBOP_CC.
delegation_setup() {
  local upw
  OU="OU=WebFleet,$LAB_BASE_DN"
  WEBOP_CC=$T/webop.ccache
  printf 'dn: %s\nchangetype: add\nobjectClass: organizationalUnit\nou: WebFleet\n' "$OU" | ldif &&
    ok "OU=WebFleet created" || not_ok "OU: $(cat "$T/ldif.err")"
  ( umask 077; head -c 24 /dev/urandom | base64 | tr -d '/+=\n' >"$T/webop.pw" )
  upw=$(python3 -c 'import base64,sys; p=open(sys.argv[1]).read(); print(base64.b64encode(("\"%s\"" % p).encode("utf-16-le")).decode())' "$T/webop.pw")
  printf 'dn: CN=webop,CN=Users,%s\nchangetype: add\nobjectClass: user\nsAMAccountName: webop\nuserPrincipalName: webop@%s\nunicodePwd:: %s\nuserAccountControl: 512\n' \
    "$LAB_BASE_DN" "$LAB_REALM" "$upw" | ldif && ok "user webop created over LDAP" || not_ok "webop: $(cat "$T/ldif.err")"
  samba-tool group add webadmins -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
    samba-tool group addmembers webadmins webop -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
    ok "group webadmins with member webop" || not_ok "group webadmins"
  KRB5CCNAME=$WEBOP_CC kinit "webop@$LAB_REALM" <"$T/webop.pw" >/dev/null 2>&1 &&
    ok "kinit webop (password from a file)" || not_ok "kinit webop"
}

# dump_store FILE: every table's rows (schema included), to compare states;
# "no store" when there is none (the sqlite3 shell would create an empty one).
dump_store() {
  if [ -e "$KRBFLEET_STORE" ]; then sqlite3 -readonly "$KRBFLEET_STORE" .dump >"$1" 2>/dev/null || : >"$1"
  else echo "no store" >"$1"; fi
}

# run_ok "what" CMD...: CMD must exit 0. Its stdout is in $T/out.
run_ok() {
  local what=$1; shift
  if "$@" >"$T/out" 2>"$T/err"; then ok "$what"
  else not_ok "$what (exit $?; stderr: $(head -c 400 "$T/err"))"; fi
}

# expect_fail CODE "stderr substring" CMD...: CMD must exit CODE, print one
# line naming the problem on stderr, and leave the store exactly as it was.
expect_fail() {
  local code=$1 msg=$2; shift 2
  local rc=0
  dump_store "$T/before"
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  dump_store "$T/after"
  if [ "$rc" -ne "$code" ]; then
    not_ok "$* exits $code (got $rc; stderr: $(head -c 300 "$T/err"))"; return
  fi
  if ! grep -qF -- "$msg" "$T/err"; then
    not_ok "$* says '$msg' (stderr: $(head -c 300 "$T/err"))"; return
  fi
  if ! cmp -s "$T/before" "$T/after"; then
    not_ok "$* leaves the store unchanged"; diff "$T/before" "$T/after" | head -5; return
  fi
  ok "$* -> exit $code, '$msg', store unchanged"
}

# expect_out "what" "substring" : the last command's stdout contains it.
expect_out() {
  if grep -qF -- "$2" "$T/out"; then ok "$1"; else not_ok "$1 (stdout: $(head -c 400 "$T/out"))"; fi
}

# json_valid DEF: $T/out is exactly one JSON document valid for DEF (a
# command name with '_' for spaces) in docs/krbfleet-output.schema.json, or an
# error document - the --json contract of docs/json.md.
KF_SCHEMA="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)/docs/krbfleet-output.schema.json"
json_valid() {
  local why
  if why=$(python3 "$(dirname "${BASH_SOURCE[0]}")/json_check.py" "$KF_SCHEMA" "$1" "$T/out" 2>&1)
  then ok "--json output of ${1//_/ } matches its schema"
  else not_ok "--json output of ${1//_/ } matches its schema: $why"; fi
}

# same_output "what" CMD1 ARGS... -- CMD2 ARGS...: `krbfleet CMD1` and
# `krbfleet CMD2` (a Lync cmdlet and its command) give the same stdout,
# stderr and exit status, and CMD1 changes no store when it fails. CMD1's
# stdout is left in $T/out.
same_output() {
  local what=$1; shift
  local -a a=() b=()
  local ra=0 rb=0
  while [ "$1" != "--" ]; do a+=("$1"); shift; done
  shift
  b=("$@")
  dump_store "$T/s0"
  kf "${a[@]}" >"$T/a.out" 2>"$T/a.err" || ra=$?
  dump_store "$T/s1"
  kf "${b[@]}" >"$T/b.out" 2>"$T/b.err" || rb=$?
  cp "$T/a.out" "$T/out"
  if [ "$ra" -ne "$rb" ]; then
    not_ok "$what: exit $ra, the other form $rb (stderr: $(head -c 300 "$T/a.err"))"
  elif ! cmp -s "$T/a.out" "$T/b.out"; then
    not_ok "$what: stdout differs"; diff "$T/a.out" "$T/b.out" | head -5
  elif ! cmp -s "$T/a.err" "$T/b.err"; then
    not_ok "$what: stderr differs"; diff "$T/a.err" "$T/b.err" | head -5
  elif [ "$ra" -ne 0 ] && ! cmp -s "$T/s0" "$T/s1"; then
    not_ok "$what: failed and changed the store"
  else
    ok "$what (exit $ra, the same output)"
  fi
}

finish() {
  echo "$((N - FAILED)) passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
