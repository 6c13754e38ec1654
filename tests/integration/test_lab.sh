#!/usr/bin/env bash
# Smoke test of the lab (tests/lab): a fresh Samba AD DC comes up, answers
# Kerberos and sealed LDAP, and leaves nothing behind. Run as root:
#     bash tests/integration/test_lab.sh
# Scenario 1 runs the checks inside tests/lab/with-lab.sh; scenario 2 sends
# SIGTERM to with-lab.sh while its command runs and checks the clean-up.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
. "$HERE/wait.sh"   # readiness checks, never a fixed sleep
ROOT=$(cd "$HERE/../.." && pwd -P)
WITH_LAB=$ROOT/tests/lab/with-lab.sh
REGISTRY=${LAB_REGISTRY:-/run/krbfleet-lab}

fails=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
skip() { printf 'SKIP: %s\n' "$*"; }
check() { # DESCRIPTION CMD... -> PASS/FAIL, output of CMD shown on failure
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}

# ---------------------------------------------------------------------------
# inside the lab (run by with-lab.sh, lab.env exported, lab /etc/hosts)

inside() {
  local facts=$1 start ldif pw
  start=$(awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[20] }' "/proc/$LAB_SAMBA_PID/stat")
  {
    printf 'LAB_DIR=%s\n' "$LAB_DIR"
    printf 'LAB_NET=%s\n' "$LAB_NET"
    printf 'LAB_DC_ADDR=%s\n' "$LAB_DC_ADDR"
    printf 'LAB_SAMBA_PID=%s\n' "$LAB_SAMBA_PID"
    printf 'SAMBA_START=%s\n' "$start"
  } >"$facts"

  check "lab.env has the documented values" test \
    "$LAB_REALM/$LAB_DOMAIN/$LAB_NETBIOS/$LAB_DC_NAME/$LAB_BASE_DN" = \
    "LAB.TEST/lab.test/LAB/dc1.lab.test/DC=lab,DC=test"
  check "KRB5_CONFIG and KRB5CCNAME point into the lab" test \
    "$KRB5_CONFIG:$KRB5CCNAME" = "$LAB_DIR/krb5.conf:$LAB_DIR/admin.ccache"
  check "/etc/hosts is the lab's (dc1.lab.test -> $LAB_DC_ADDR)" \
    sh -c "getent hosts dc1.lab.test | grep -qw '$LAB_DC_ADDR'"
  check "secrets are mode 0600" sh -c \
    "[ \"\$(stat -c %a '$LAB_SECRETS/administrator' '$LAB_SECRETS/kfadmin' '$LAB_SECRETS/alice' | sort -u)\" = 600 ]"
  check "klist: kfadmin has a TGT in the admin ccache" sh -c \
    'klist -s && klist | grep -q "Default principal: kfadmin@LAB.TEST"'
  check "klist: alice has a TGT in her ccache" sh -c \
    'klist -s -c "$LAB_USER_CCACHE" && klist -c "$LAB_USER_CCACHE" | grep -q "alice@LAB.TEST"'
  check "ldapsearch -Y GSSAPI (sealed) finds alice" sh -c \
    "ldapsearch -LLL -Y GSSAPI -H ldap://dc1.lab.test -b DC=lab,DC=test '(sAMAccountName=alice)' dn 2>&1 |
       grep -q '^dn: CN=alice,CN=Users,DC=lab,DC=test'"
  check "kfadmin is a Domain Admin" sh -c \
    "ldapsearch -LLL -Q -Y GSSAPI -H ldap://dc1.lab.test -b DC=lab,DC=test '(sAMAccountName=kfadmin)' memberOf |
       grep -q 'memberOf: CN=Domain Admins,CN=Users,DC=lab,DC=test'"
  check "global catalog (3268) answers" sh -c \
    "ldapsearch -LLL -Q -Y GSSAPI -H ldap://dc1.lab.test:3268 -b DC=lab,DC=test '(sAMAccountName=alice)' dn |
       grep -q '^dn: CN=alice'"
  check "LDAPS with LAB_CA + GSSAPI without security layer works" sh -c \
    "LDAPTLS_CACERT='$LAB_CA' ldapsearch -LLL -Q -Y GSSAPI -O maxssf=0 -H ldaps://dc1.lab.test \
       -b DC=lab,DC=test '(sAMAccountName=alice)' dn | grep -q '^dn: CN=alice'"
  check "kvno ldap/dc1.lab.test and host/dc1.lab.test" \
    kvno ldap/dc1.lab.test host/dc1.lab.test
  check "password policy: min age 0, no complexity, no history" sh -c \
    "ldapsearch -LLL -Q -Y GSSAPI -H ldap://dc1.lab.test -s base -b DC=lab,DC=test \
       minPwdAge pwdProperties pwdHistoryLength | tr '\n' ' ' |
       grep -q 'minPwdAge: 0 pwdProperties: 0 pwdHistoryLength: 0'"
  # Reset alice's password twice in a row to the same value over sealed
  # LDAP (needs min age 0 and no history), then log in with it.
  pw=$(head -n 1 "$LAB_SECRETS/alice")
  ldif=$(printf 'dn: CN=alice,CN=Users,DC=lab,DC=test\nchangetype: modify\nreplace: unicodePwd\nunicodePwd:: %s\n' \
    "$(printf '"%s"' "$pw" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)")
  check "alice's password can be reset twice at once and used" sh -c \
    "printf '%s\n' '$ldif' | ldapmodify -Q -Y GSSAPI -H ldap://dc1.lab.test >/dev/null &&
     printf '%s\n' '$ldif' | ldapmodify -Q -Y GSSAPI -H ldap://dc1.lab.test >/dev/null &&
     KRB5CCNAME=MEMORY:t kinit alice@LAB.TEST <'$LAB_SECRETS/alice' >/dev/null"
  if command -v host >/dev/null; then
    check "lab DNS serves _ldap._tcp.lab.test SRV" sh -c \
      "host -t SRV _ldap._tcp.lab.test | grep -q 'dc1.lab.test'"
  else
    skip "lab DNS SRV (no 'host' command)"
  fi
  check "lab.sh addr adds extra address 1 ($LAB_NET.21) on lo" sh -c \
    "[ \"\$('$LAB_SH' addr '$LAB_DIR' 1)\" = '$LAB_NET.21' ] &&
     ip -4 -o addr show dev lo | grep -qw '$LAB_NET.21/32'"
  [ "$fails" = 0 ]
}

if [ "${1:-}" = --inside ]; then
  inside "$2"
  exit
fi

# ---------------------------------------------------------------------------
# outside: run the lab, then check that nothing is left

[ "$(id -u)" = 0 ] || { echo "test_lab.sh: needs root" >&2; exit 1; }

no_process() { ! pgrep -a -f -- "$1"; }   # (runs here: no sh -c naming the dir)

nothing_left() { # FACTS-FILE LABEL
  local LAB_DIR='' LAB_NET='' LAB_SAMBA_PID='' SAMBA_START='' LAB_DC_ADDR='' key val
  while IFS='=' read -r key val; do printf -v "$key" '%s' "$val"; done <"$1"
  if [ -z "$LAB_DIR" ]; then fail "$2: the lab reported its facts"; return; fi
  check "$2: samba pid $LAB_SAMBA_PID is gone" sh -c \
    "! [ -e /proc/$LAB_SAMBA_PID ] ||
     [ \"\$(sed 's/.*) //' /proc/$LAB_SAMBA_PID/stat | cut -d' ' -f20)\" != '$SAMBA_START' ] ||
     [ \"\$(sed 's/.*) //' /proc/$LAB_SAMBA_PID/stat | cut -d' ' -f1)\" = Z ]"
  check "$2: no process mentions $LAB_DIR" no_process "$LAB_DIR/"
  check "$2: no address of $LAB_NET.0/24 on lo" sh -c \
    "! ip -4 -o addr show dev lo | grep -F ' $LAB_NET.'"
  check "$2: no network namespace of the lab" sh -c \
    "! ip netns list 2>/dev/null | grep -E 'kflab'"
  check "$2: registry entry removed" sh -c \
    "! grep -rlsx 'S_DIR=$LAB_DIR' '$REGISTRY'"
  check "$2: lab directory removed" test ! -e "$LAB_DIR"
}

timing() { # STDERR-FILE -> "up X s, down Y s"
  local up down
  up=$(sed -n 's/.* in \([0-9.]*\) s; env:.*/\1/p' "$1" | tail -n 1)
  down=$(sed -n 's/.*down: .* removed in \([0-9.]*\) s/\1/p' "$1" | tail -n 1)
  printf 'up %s s, down %s s' "${up:-?}" "${down:-?}"
}

work=$(mktemp -d /tmp/kflab-test.XXXXXXXX)
trap 'rm -rf "$work"' EXIT

echo "== scenario 1: checks inside with-lab.sh"
t0=$(date +%s.%N)
rc=0
"$WITH_LAB" bash "$HERE/test_lab.sh" --inside "$work/facts1" 2>"$work/err1" || rc=$?
t1=$(date +%s.%N)
cat "$work/err1"
if [ "$rc" = 0 ]; then pass "with-lab.sh ran the checks and exited 0"; else fail "with-lab.sh exited $rc"; fi
nothing_left "$work/facts1" "after with-lab.sh"
echo "timing: $(timing "$work/err1"); whole run $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s"

echo "== scenario 2: SIGTERM to with-lab.sh while its command runs"
rc=0
"$WITH_LAB" sh -c 'printf "LAB_DIR=%s\nLAB_NET=%s\nLAB_DC_ADDR=%s\nLAB_SAMBA_PID=%s\n" \
    "$LAB_DIR" "$LAB_NET" "$LAB_DC_ADDR" "$LAB_SAMBA_PID" >"$1.tmp"
  sed "s/.*) //" "/proc/$LAB_SAMBA_PID/stat" | cut -d" " -f20 | sed "s/^/SAMBA_START=/" >>"$1.tmp"
  mv "$1.tmp" "$1"; exec sleep 120' sh "$work/facts2" 2>"$work/err2" &
wl=$!
facts_or_gone() { [ -s "$work/facts2" ] || ! kill -0 "$wl" 2>/dev/null; }
wait_until 120 facts_or_gone
if [ -s "$work/facts2" ]; then
  kill -TERM "$wl"
  wait "$wl" || rc=$?
  if [ "$rc" = 143 ]; then pass "with-lab.sh exited 143 on SIGTERM"; else fail "with-lab.sh exited $rc on SIGTERM (want 143)"; fi
  nothing_left "$work/facts2" "after SIGTERM"
  echo "timing: $(timing "$work/err2")"
else
  fail "scenario 2: the lab did not come up"
  sed 's/^/    /' "$work/err2"
  kill -TERM "$wl" 2>/dev/null || true
  wait "$wl" || true
fi

if [ "$fails" = 0 ]; then echo "test_lab: ALL PASSED"; exit 0; fi
echo "test_lab: $fails check(s) FAILED"
exit 1
