#!/usr/bin/env bash
# Integration test of tests/lab/web.sh: private Apache + mod_auth_gssapi web
# servers of a lab, each on its own address with its own keytab, logged in to
# with real SPNEGO (curl --negotiate) as alice against the lab's Samba AD DC.
# Run as root:
#     bash tests/integration/test_web.sh
# It runs its checks inside tests/lab/with-lab.sh, leaves one web instance
# running, and checks afterwards that with-lab.sh's teardown (lab.sh down)
# stopped it. Exit 77 (skip) when not root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
WITH_LAB=$ROOT/tests/lab/with-lab.sh
WEB=$ROOT/tests/lab/web.sh
POOL=web.lab.test
URL=http://$POOL:8080/

fails=0
pass() { printf 'PASS: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; fails=$((fails + 1)); }
check() { # DESCRIPTION CMD... -> PASS/FAIL, output of CMD shown on failure
  local desc=$1 out
  shift
  if out=$("$@" 2>&1); then pass "$desc"; else fail "$desc"; printf '%s\n' "$out" | sed 's/^/    /'; fi
}
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
start_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }

# PID START -> true while that very process runs (a zombie counts as gone)
running() {
  local st
  [ -e "/proc/$1" ] || return 1
  [ "$(start_of "$1")" = "$2" ] || return 1
  st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
  [ "$st" != Z ] && [ -n "$st" ]
}

# ---------------------------------------------------------------------------
# inside the lab (run by with-lab.sh: lab.env exported, lab /etc/hosts)

# A computer account made over sealed LDAP with kfadmin's ticket (the way
# LAB.md verified): enabled (UAC 4096), AES only, a random password that
# never appears on a command line. `samba-tool computer create` would make a
# disabled account without keys, from which exportkeytab silently exports
# nothing.
# shellcheck disable=SC2317  # called through check
new_computer() { # NAME SPN
  local pw
  pw=$(head -c 48 /dev/urandom | base64 -w0)
  printf 'dn: CN=%s,CN=Computers,%s\nobjectClass: computer\nsAMAccountName: %s$\nuserAccountControl: 4096\nmsDS-SupportedEncryptionTypes: 24\nservicePrincipalName: %s\nunicodePwd:: %s\n' \
    "$1" "$LAB_BASE_DN" "$1" "$2" \
    "$(printf '"%s"' "$pw" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)" |
    ldapadd -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null
}

# Put SRC at the server's keytab path the way krbfleetd does: a temporary
# file in the same directory, owner root, group www-data, mode 0640 (or
# MODE), then rename over the old one.
install_kt() { # SRC FQDN [MODE]
  local d=$LAB_DIR/kt/$2
  mkdir -p "$d"
  chmod 0755 "$LAB_DIR/kt" "$d"
  cp "$1" "$d/.http.keytab.tmp"
  chown root:www-data "$d/.http.keytab.tmp"
  chmod "${3:-0640}" "$d/.http.keytab.tmp"
  mv -f "$d/.http.keytab.tmp" "$d/http.keytab"
}
kt() { printf '%s/kt/%s/http.keytab' "$LAB_DIR" "$1"; }

LOGIN_OUT=''
login() { # ADDR -> LOGIN_OUT, the status and body from web.sh login as alice
  LOGIN_OUT=$("$WEB" login "$LAB_DIR" "$URL" "$1" 2>&1) || true
}
status_of() { printf '%s\n' "${LOGIN_OUT%%$'\n'*}"; }

expect_ok() { # DESC ADDR FQDN: 200, body names alice and that server
  login "$2"
  if [ "$(status_of)" = "HTTP 200" ] &&
     grep -qx "user=$LAB_USER_PRINCIPAL" <<<"$LOGIN_OUT" &&
     grep -qx "server=$3" <<<"$LOGIN_OUT"; then
    pass "$1"
  else
    fail "$1"; printf '%s\n' "$LOGIN_OUT" | sed 's/^/    /'
  fi
}
expect_status() { # DESC ADDR REGEX
  login "$2"
  if [[ "$(status_of)" =~ ^HTTP\ ($3)$ ]]; then pass "$1 ($(status_of))"
  else fail "$1"; printf '%s\n' "$LOGIN_OUT" | head -n 3 | sed 's/^/    /'; fi
}

http_code() { # ADDR -> HTTP status of an anonymous GET (000: nothing answers)
  curl -s -o /dev/null --max-time 3 -w '%{http_code}' "http://$1:8080/" || true
}

servers_line() { printf '%s %s 8080 %s\n' "$1" "$2" "$(kt "$1")"; }

web_facts() { # -> "PID START" of httpd and of each of its processes, one a line
  local pid p
  pid=$(cat "$LAB_DIR/web/run/httpd.pid")
  for p in $(pgrep -s "$pid"); do printf '%s %s\n' "$p" "$(start_of "$p")"; done
}

timed_up() { # N -> up with fe01..feN on addresses 1..N, all logged in to; prints the time
  local n=$1 i t0 t1
  : >"$LAB_DIR/web/servers"
  for ((i = 1; i <= n; i++)); do
    install_kt "$KEYS/web.keytab" "fe$(printf %02d "$i").$LAB_DOMAIN"
    servers_line "fe$(printf %02d "$i").$LAB_DOMAIN" "${A[i]}" >>"$LAB_DIR/web/servers"
  done
  t0=$(now)
  "$WEB" up "$LAB_DIR" 2>>"$LAB_DIR/web-test.log" || { fail "web.sh up with $n server(s)"; return 1; }
  t1=$(now)
  local bad=0
  for ((i = 1; i <= n; i++)); do
    login "${A[i]}"
    grep -qx "server=fe$(printf %02d "$i").$LAB_DOMAIN" <<<"$LOGIN_OUT" || bad=$((bad + 1))
  done
  if [ "$bad" = 0 ]; then pass "up with $n server(s): alice logs in to each, the right one answers"
  else fail "up with $n server(s): $bad of $n logins failed"; fi
  "$WEB" down "$LAB_DIR" 2>>"$LAB_DIR/web-test.log"
  UP_TIME=$(secs "$t0" "$t1")
}

inside() {
  local facts=$1 i out pid0 start0 procs p s listed leftover t_up1 t_up8
  KEYS=$LAB_DIR/keys
  mkdir -p "$KEYS" "$LAB_DIR/web"
  chmod 0700 "$KEYS"
  A=('')
  for ((i = 1; i <= 8; i++)); do A[i]=$("$LAB_SH" addr "$LAB_DIR" "$i"); done

  # --- accounts and keytabs
  check "computer account webpool\$ with SPN HTTP/$POOL (LDAP)" new_computer webpool "HTTP/$POOL"
  check "computer account other\$ with SPN HTTP/other.$LAB_DOMAIN (LDAP)" new_computer other "HTTP/other.$LAB_DOMAIN"
  check "samba-tool spn list shows HTTP/$POOL on webpool\$" sh -c \
    "samba-tool spn list 'webpool\$' -s '$LAB_SMB_CONF' | grep -qw 'HTTP/$POOL'"
  samba-tool domain exportkeytab "$KEYS/web.keytab" --principal="HTTP/$POOL" -s "$LAB_SMB_CONF" >/dev/null
  samba-tool domain exportkeytab "$KEYS/other.keytab" --principal="HTTP/other.$LAB_DOMAIN" -s "$LAB_SMB_CONF" >/dev/null
  samba-tool domain exportkeytab "$KEYS/account.keytab" --principal='webpool$' -s "$LAB_SMB_CONF" >/dev/null
  check "exportkeytab: HTTP/$POOL@$LAB_REALM, kvno 1, aes256 (klist -k)" sh -c \
    "klist -k -e '$KEYS/web.keytab' | grep -Eq '^ +1 HTTP/$POOL@$LAB_REALM \\(aes256-cts-hmac-sha1-96\\)'"
  check "the keytab holds only HTTP/$POOL" sh -c \
    "[ \"\$(klist -k '$KEYS/web.keytab' | awk 'NR > 3 { print \$2 }' | sort -u)\" = 'HTTP/$POOL@$LAB_REALM' ]"
  check "kvno -k on that keytab verifies a real ticket for HTTP/$POOL" \
    env KRB5CCNAME="$LAB_USER_CCACHE" kvno -k "$KEYS/web.keytab" "HTTP/$POOL"

  # --- timings: 1 and 8 servers
  timed_up 1 && t_up1=$UP_TIME
  timed_up 8 && t_up8=$UP_TIME

  # --- the main scenario
  install_kt "$KEYS/web.keytab" "fe01.$LAB_DOMAIN"
  install_kt "$KEYS/web.keytab" "fe02.$LAB_DOMAIN"
  install_kt "$KEYS/web.keytab" "fe03.$LAB_DOMAIN" 0600       # root-only
  install_kt "$KEYS/other.keytab" "fe04.$LAB_DOMAIN"          # no key for HTTP/web
  {
    echo "# FQDN ADDRESS PORT KEYTAB   (test_web.sh)"
    servers_line "fe01.$LAB_DOMAIN" "${A[1]}"
    servers_line "fe02.$LAB_DOMAIN" "${A[2]}"
    echo
    servers_line "fe03.$LAB_DOMAIN" "${A[3]}"
    servers_line "fe04.$LAB_DOMAIN" "${A[4]}"
  } >"$LAB_DIR/web/servers"
  if out=$("$WEB" up "$LAB_DIR" 2>&1); then pass "web.sh up with 4 servers"
  else fail "web.sh up with 4 servers"; printf '%s\n' "$out" | sed 's/^/    /'; return 1; fi
  check "up says www-data cannot read fe03's root-only keytab" grep -q "cannot read $(kt "fe03.$LAB_DOMAIN")" <<<"$out"
  pid0=$(cat "$LAB_DIR/web/run/httpd.pid")
  start0=$(start_of "$pid0")
  check "status lists the 4 servers" sh -c \
    "'$WEB' status '$LAB_DIR' | grep -c '^server fe0[1-4].$LAB_DOMAIN ' | grep -qx 4"
  check "web.sh up while running is refused" sh -c "! '$WEB' up '$LAB_DIR' 2>/dev/null"

  expect_ok "alice at ${A[1]}: 200, alice@$LAB_REALM, fe01 answered" "${A[1]}" "fe01.$LAB_DOMAIN"
  expect_ok "alice at ${A[2]}: 200, alice@$LAB_REALM, fe02 answered" "${A[2]}" "fe02.$LAB_DOMAIN"
  check "any Host name is served by the address's server (anonymous: 401 Negotiate)" sh -c \
    "curl -s -i -H 'Host: whatever.example' 'http://${A[1]}:8080/' | grep -qi '^WWW-Authenticate: Negotiate' &&
     . '$HERE/wait.sh' && wait_until 30 grep -q '^fe01.$LAB_DOMAIN .* \"whatever.example\" ' '$LAB_DIR/web/log/access.log'"
  procs=$(pgrep -s "$pid0" | grep -vx "$pid0" | paste -sd, || true)
  check "httpd's parent is root, its workers are www-data" sh -c \
    "[ \"\$(ps -o user= -p $pid0)\" = root ] && [ -n '$procs' ] &&
     [ \"\$(ps -o user= -p '$procs' | sort -u)\" = www-data ]"
  expect_status "fe03, keytab root-only 0600: refused" "${A[3]}" "401|500"
  expect_status "fe04, keytab without the key of HTTP/$POOL: 401" "${A[4]}" "401"

  # --- atomic keytab replacement, no reload
  install_kt "$KEYS/web.keytab" "fe04.$LAB_DOMAIN"
  expect_ok "fe04 after its keytab was replaced (tmp + mv): 200 at once" "${A[4]}" "fe04.$LAB_DOMAIN"
  install_kt "$KEYS/other.keytab" "fe01.$LAB_DOMAIN"
  expect_status "fe01 after its keytab was replaced by one without the key: 401 at once" "${A[1]}" "401"
  install_kt "$KEYS/web.keytab" "fe01.$LAB_DOMAIN"
  expect_ok "fe01 with the right keytab again: 200" "${A[1]}" "fe01.$LAB_DOMAIN"
  install_kt "$KEYS/account.keytab" "fe02.$LAB_DOMAIN"
  expect_ok "fe02, the same keys named webpool\$ only: still 200 (the acceptor tries every key)" \
    "${A[2]}" "fe02.$LAB_DOMAIN"
  install_kt "$KEYS/web.keytab" "fe03.$LAB_DOMAIN"          # now root:www-data 0640
  expect_ok "fe03 once its keytab is root:www-data 0640: 200" "${A[3]}" "fe03.$LAB_DOMAIN"
  check "no reload happened (same httpd, one generation)" sh -c \
    "[ \"\$(cat '$LAB_DIR/web/run/httpd.pid')\" = $pid0 ] && ! grep -q 'graceful restart' '$LAB_DIR/web/log/error.log'"

  # --- reload: add fe05, drop fe02
  install_kt "$KEYS/web.keytab" "fe05.$LAB_DOMAIN"
  grep -v "^fe02\." "$LAB_DIR/web/servers" >"$LAB_DIR/web/servers.new"
  servers_line "fe05.$LAB_DOMAIN" "${A[5]}" >>"$LAB_DIR/web/servers.new"
  mv "$LAB_DIR/web/servers.new" "$LAB_DIR/web/servers"
  check "web.sh reload (fe05 added, fe02 removed)" "$WEB" reload "$LAB_DIR"
  expect_ok "fe05 after reload: 200" "${A[5]}" "fe05.$LAB_DOMAIN"
  expect_ok "fe01 after reload: 200" "${A[1]}" "fe01.$LAB_DOMAIN"
  check "fe02 (${A[2]}:8080) no longer listens" test "$(http_code "${A[2]}")" = 000
  check "reload was graceful (same parent pid $pid0)" running "$pid0" "$start0"
  printf 'fe06.%s %s eighty %s\n' "$LAB_DOMAIN" "${A[6]}" "$(kt "fe06.$LAB_DOMAIN")" >>"$LAB_DIR/web/servers"
  check "reload with a bad servers line fails, naming file:line" sh -c \
    "'$WEB' reload '$LAB_DIR' 2>&1 | grep -q 'servers:[0-9]*: not a port: eighty'"
  expect_ok "... and the running instance still serves fe01" "${A[1]}" "fe01.$LAB_DOMAIN"
  sed -i '/^fe06\./d' "$LAB_DIR/web/servers"

  # --- down
  web_facts >"$LAB_DIR/web-pids"
  check "web.sh down" "$WEB" down "$LAB_DIR"
  for i in 1 3 4 5; do
    check "nothing listens on ${A[i]}:8080 after down" test "$(http_code "${A[i]}")" = 000
  done
  leftover=''
  while read -r p s; do running "$p" "$s" && leftover+=" $p"; done <"$LAB_DIR/web-pids"
  check "no httpd process of this lab is left ($(wc -l <"$LAB_DIR/web-pids") checked by pid + start time)" \
    test -z "$leftover"
  listed=$(cd "$LAB_DIR/web" && ls -A)
  check "down removed what up made; the servers file stays" test "$listed" = servers
  check "a second down is fine" "$WEB" down "$LAB_DIR"

  # --- leave one running: with-lab.sh's teardown (lab.sh down) must stop it
  servers_line "fe01.$LAB_DOMAIN" "${A[1]}" >"$LAB_DIR/web/servers"
  check "web.sh up again (left running for lab.sh down)" "$WEB" up "$LAB_DIR"
  expect_ok "alice at ${A[1]}: 200" "${A[1]}" "fe01.$LAB_DOMAIN"
  {
    printf 'LAB_DIR=%s\n' "$LAB_DIR"
    printf 'ADDR=%s\n' "${A[1]}"
    printf 'T_UP1=%s\nT_UP8=%s\n' "${t_up1:-?}" "${t_up8:-?}"
    web_facts | sed 's/^/PROC=/'
  } >"$facts.tmp"
  mv "$facts.tmp" "$facts"
  [ "$fails" = 0 ]
}

if [ "${1:-}" = --inside ]; then
  inside "$2"
  exit
fi

# ---------------------------------------------------------------------------
# outside

if [ "$(id -u)" != 0 ]; then
  echo "test_web.sh: needs root (a Samba AD DC, Apache on lab addresses): skipped" >&2
  exit 77
fi
for c in /usr/sbin/apache2 curl ldapadd samba-tool klist kvno setpriv; do
  command -v "$c" >/dev/null ||
    { echo "test_web.sh: missing $c (run scripts/install-deps.sh)" >&2; exit 1; }
done

work=$(mktemp -d /tmp/kfweb-test.XXXXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
"$WITH_LAB" bash "$HERE/test_web.sh" --inside "$work/facts" || rc=$?
if [ "$rc" = 0 ]; then pass "the checks inside with-lab.sh passed"; else fail "with-lab.sh exited $rc"; fi

if [ -s "$work/facts" ]; then
  LAB_DIR='' ADDR='' T_UP1='' T_UP8='' procs=()
  while IFS='=' read -r key val; do
    case "$key" in PROC) procs+=("$val") ;; *) printf -v "$key" '%s' "$val" ;; esac
  done <"$work/facts"
  leftover=''
  for pv in "${procs[@]}"; do
    # shellcheck disable=SC2086
    running $pv && leftover+=" ${pv%% *}"
  done
  check "with-lab.sh's teardown stopped the web instance left running (${#procs[@]} processes)" test -z "$leftover"
  check "nothing listens on $ADDR:8080 any more" test "$(http_code "$ADDR")" = 000
  check "the lab directory is gone" test ! -e "$LAB_DIR"
  echo "timing: web.sh up (until every listener answers): 1 server $T_UP1 s, 8 servers $T_UP8 s"
else
  fail "the lab reported no facts"
fi

if [ "$fails" = 0 ]; then echo "test_web: ALL PASSED"; exit 0; fi
echo "test_web: $fails check(s) FAILED"
exit 1
