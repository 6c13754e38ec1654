#!/usr/bin/env bash
# `assignment test` and `doctor` on a real fleet (tests/lab/fleet.sh: a Samba
# AD DC, four web servers, each with its own krbfleetd and an Apache +
# mod_auth_gssapi vhost). A healthy site passes; then each failure the
# diagnosis claims to detect is made for real - a stale keytab, a missing
# SPN, a duplicate SPN, a world-readable keytab, an agent down, a wrong
# enctype - and must be reported as the right FAIL with the command that
# repairs it; running that command must make the site pass again. The HTML
# report is opened in a real headless browser (Debian's chromium): the
# rendered DOM must show every server and verdict, and a screenshot is kept.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd -P)
FLEET=$HERE/../lab/fleet.sh
trap '"$FLEET" down >/dev/null 2>&1; rm -rf "$T"' EXIT
ART=${KF_ARTIFACT_DIR:-$T}
mkdir -p "$ART" 2>/dev/null || ART=$T

"$FLEET" up "$HERE/../data/fleet-2sites.json" 2>"$T/fleet.log" || { cat "$T/fleet.log"; exit 1; }
TOPO=$LAB_DIR/fleet/topology.json
addr_of() { jq -r --arg f "$1" '.. | objects | select(.fqdn? == $f and has("address")) | .address' "$TOPO"; }
kt() { echo "$LAB_DIR/fleet/$1/http.keytab"; }
ACCT_DN="CN=kerbauth,CN=Computers,$LAB_BASE_DN"
ldapmod() { ldapmodify -Q -Y GSSAPI -H "$LAB_LDAP_URI" >/dev/null 2>"$T/ldap.err"; }

# run_rc CODE "what" CMD...: CMD must exit CODE; stdout in $T/out.
run_rc() {
  local code=$1 what=$2 rc=0; shift 2
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" = "$code" ]; then ok "$what (exit $rc)"
  else not_ok "$what: exit $rc, wanted $code (stderr: $(head -c 300 "$T/err"); stdout: $(head -c 600 "$T/out"))"; fi
}
# finding RESULT OBJECT CHECK "detail substring" ["fix"]: the last JSON
# output has that finding (and, when given, exactly that fix).
finding() {
  local v=$1 obj=$2 chk=$3 sub=$4 fix=${5:-}
  if jq -e --arg v "$v" --arg o "$obj" --arg c "$chk" --arg s "$sub" --arg f "$fix" \
       '[.findings[] | select(.result == $v and .object == $o and .check == $c and
          (.detail | contains($s)) and ($f == "" or .fix == $f))] | length > 0' "$T/out" >/dev/null
  then ok "$v $obj $chk: '$sub'${fix:+ -> $fix}"
  else not_ok "$v $obj $chk '$sub' ${fix:+-> $fix} not found in: $(jq -c '[.findings[] | select(.result != "PASS")]' "$T/out" 2>/dev/null | head -c 1500)"; fi
}
# cell SERVER CHECK VERDICT: the server x check matrix of the last JSON.
cell() {
  if jq -e --arg s "$1" --arg c "$2" --arg v "$3" '.servers[] | select(.server == $s) | (.checks[$c] // "null") == $v' "$T/out" >/dev/null
  then ok "$1: $2 is $3"; else not_ok "$1: $2 is not $3 ($(jq -c --arg s "$1" '.servers[] | select(.server == $s)' "$T/out"))"; fi
}
# healthy SITE: the whole site passes again, every server and check PASS.
healthy() {
  run_rc 0 "assignment test --site $1 passes again" kf assignment test --site "$1" --json
  if jq -e '.result == "pass" and ([.servers[].checks[] | select(. != "PASS")] | length == 0)' "$T/out" >/dev/null
  then ok "site $1: every server and check PASS"; else not_ok "site $1 not all PASS: $(jq -c '[.findings[] | select(.result == "FAIL")]' "$T/out")"; fi
}
# browser HTML NAME WORD...: chromium renders HTML; its DOM must contain
# every WORD; a screenshot NAME.png is kept in $ART.
browser() {
  local html=$1 name=$2 prof dom=$T/$2.dom; shift 2
  if ! command -v chromium >/dev/null; then not_ok "chromium is not installed (scripts/install-deps.sh)"; return; fi
  prof=$(mktemp -d "$T/chromium.XXXXXX")
  local flags=(--headless --no-sandbox --disable-gpu --disable-background-networking
               --disable-component-update --disable-sync --no-first-run --no-default-browser-check
               --user-data-dir="$prof" --window-size=1400,1600)
  timeout 90 chromium "${flags[@]}" --dump-dom "file://$html" >"$dom" 2>"$T/chromium.err"
  for w in "$@"; do
    if grep -qF -- "$w" "$dom"; then ok "$name: the rendered page shows '$w'"
    else not_ok "$name: '$w' is not in the rendered DOM ($(wc -c <"$dom") bytes; $(tail -c 300 "$T/chromium.err"))"; fi
  done
  timeout 90 chromium "${flags[@]}" --screenshot="$ART/$name.png" "file://$html" >/dev/null 2>>"$T/chromium.err"
  if [ -s "$ART/$name.png" ] && [ "$(head -c 4 "$ART/$name.png" | tail -c 3)" = PNG ]
  then ok "$name: screenshot kept: $ART/$name.png"; else not_ok "$name: no screenshot ($(tail -c 300 "$T/chromium.err"))"; fi
  rm -rf "$prof"
}

run_ok "import the fleet's topology" kf topology import "$TOPO"
run_ok "account new" kf account new 'LAB\kerbauth'
run_ok "assignment redmond" kf assignment new --site redmond --account kerbauth
run_ok "assignment dublin" kf assignment new --site dublin --account kerbauth
run_ok "password set" kf password set --account kerbauth
run_ok "topology enable" kf topology enable

# -- usage -------------------------------------------------------------------------
expect_fail 2 "--site is required" kf assignment test
expect_fail 1 'site "atlantis" does not exist' kf assignment test --site atlantis
expect_fail 2 "the URL is missing" kf doctor
expect_fail 2 "is not a valid" kf doctor 'ftp://web.redmond.lab.test/'

# -- a healthy site ----------------------------------------------------------------
run_rc 0 "healthy site: assignment test --site redmond" kf assignment test --site redmond --report "$T/healthy.html"
expect_out "the text has the server x check matrix" "SERVER                 agent  kvno  spns  enctypes  mode  clock  key   login"
expect_out "fe01 passes every check" "fe01.redmond.lab.test  PASS   PASS  PASS  PASS      PASS  PASS   PASS  PASS"
expect_out "fe02 passes every check" "fe02.redmond.lab.test  PASS   PASS  PASS  PASS      PASS  PASS   PASS  PASS"
expect_out "says so" "assignment test --site redmond: all checks passed"
expect_out "the hosts-file alias lb -> web is reported as an alias whose SPN works" "lb.redmond.lab.test is an alias (CNAME) of web.redmond.lab.test"
# on a terminal (script(1) gives it one): a progress line per phase with the
# count of servers and the slowest still pending; never with --json
on_tty() { script -qec "$(printf '%q ' "$@")" /dev/null </dev/null >"$T/tty" 2>&1; }
on_tty "$KRBFLEET" assignment test --site redmond
grep -aq 'check *2/2 servers' "$T/tty" && ok "assignment test on a terminal: progress 'check 2/2 servers'" ||
  not_ok "no progress line on a terminal: $(head -c 300 "$T/tty" | cat -v)"
grep -aq 'check *1/2 servers, waiting for fe0[12].redmond.lab.test' "$T/tty" &&
  ok "the progress names the server still pending" || not_ok "no pending server: $(head -c 300 "$T/tty" | cat -v)"
on_tty "$KRBFLEET" assignment test --site redmond --json
grep -aEq 'check *[0-9]+/[0-9]+ servers' "$T/tty" && not_ok "--json on a terminal shows progress" ||
  { jq -e .result "$T/tty" >/dev/null 2>&1 && ok "--json on a terminal: no progress line, one JSON document" ||
    not_ok "--json on a terminal: $(head -c 300 "$T/tty" | cat -v)"; }
on_tty "$KRBFLEET" doctor http://web.redmond.lab.test:8080/
grep -aq 'doctor *5/5 steps' "$T/tty" && grep -aq 'doctor *4/5 steps, waiting for login' "$T/tty" &&
  ok "doctor on a terminal: its steps as progress" || not_ok "doctor progress: $(head -c 300 "$T/tty" | cat -v)"
run_rc 0 "healthy site, --json" kf assignment test --site redmond --json
json_valid assignment_test
if jq -e '.result == "pass" and .facts.account == "LAB\\kerbauth" and (.servers | length == 2)
          and ([.servers[].checks[] | select(. != "PASS")] | length == 0)' "$T/out" >/dev/null
then ok "json: pass, 2 servers, every check PASS"; else not_ok "json: $(head -c 800 "$T/out")"; fi
finding PASS server:fe01.redmond.lab.test login "mutual authentication verified"
finding PASS server:fe02.redmond.lab.test key "is accepted by the keytab's kvno"
finding PASS account:LAB\\kerbauth spn-unique "none of its 3 SPN(s) is registered on another object"
if grep -Eqi '<script|<link|<img|<iframe|<object|src=|href=|url\(|@import' "$T/healthy.html"
then not_ok "the report loads nothing: $(grep -Eoi '<script|<link|<img|<iframe|<object|src=|href=|url\(|@import' "$T/healthy.html" | head -3)"
else ok "the report is self-contained (no script, link, src, href, url() or @import)"; fi
grep -q "default-src 'none'" "$T/healthy.html" && ok "and says so to the browser (CSP default-src 'none')" || not_ok "no CSP"
browser "$T/healthy.html" report-healthy "krbfleet assignment test --site redmond" \
  fe01.redmond.lab.test fe02.redmond.lab.test PASS WARN "LAB\\kerbauth"

# -- doctor on a healthy pool ------------------------------------------------------
run_rc 0 "doctor on the healthy pool URL" kf doctor http://web.redmond.lab.test:8080/
expect_out "names the SPN the client asks for" "the client asks for HTTP/web.redmond.lab.test"
expect_out "names the account that holds it" "HTTP/web.redmond.lab.test is registered on $ACCT_DN (account kerbauth\$"
expect_out "the KDC issues a ticket" "the KDC issues a ticket for HTTP/web.redmond.lab.test@LAB.TEST"
expect_out "mutual authentication verified" "with a verified mutual-authentication token"
expect_out "a working login names the browser settings that could still stop a browser" \
  "a browser that still prompts here asked for no ticket: it must trust web.redmond.lab.test for Negotiate (Chrome, Edge: AuthServerAllowlist, or without it on Windows the Local intranet zone; Firefox: network.negotiate-auth.trusted-uris)"
expect_out "the URL's port: the SPN a browser asks for with EnableAuthNegotiatePort" \
  "with EnableAuthNegotiatePort it asks for HTTP/web.redmond.lab.test:8080, which krbfleet does not publish"
run_rc 0 "doctor through the alias lb (browsers canonicalise to web)" kf doctor --json http://lb.redmond.lab.test:8080/
json_valid doctor
finding WARN dns cname "browsers canonicalise it and ask for HTTP/web.redmond.lab.test"
jq -e '.login == true and .facts.spn == "HTTP/web.redmond.lab.test@LAB.TEST"' "$T/out" >/dev/null &&
  ok "doctor json: login true, spn of the canonical name" || not_ok "doctor json: $(head -c 400 "$T/out")"
finding PASS browser settings "with DisableAuthNegotiateCnameLookup a browser asks for HTTP/lb.redmond.lab.test instead"

# -- doctor: a URL whose SPN is registered nowhere ---------------------------------
"$LAB_SH" add-host "$LAB_DIR" "$(addr_of fe01.redmond.lab.test)" intranet.lab.test
run_rc 1 "doctor on a name with no SPN exits 1" kf doctor http://intranet.lab.test:8080/ --json
json_valid doctor
finding FAIL directory owner "no object in dc1.lab.test holds the SPN HTTP/intranet.lab.test: its web server is in a site of account kerbauth" \
  'krbfleet pool set web.redmond.lab.test --web-fqdn lb.redmond.lab.test --web-fqdn intranet.lab.test; krbfleet topology enable'
finding FAIL kdc ticket "the KDC issues no ticket for HTTP/intranet.lab.test@LAB.TEST"
finding FAIL login negotiate "no login was tried"
jq -e '[.findings[] | select(.object == "browser")] | length == 0' "$T/out" >/dev/null &&
  ok "a failed login names no browser setting (the fault is found elsewhere)" || not_ok "browser finding on a failed login"

# -- a stale keytab: one server missed a rotation ----------------------------------
"$FLEET" stop-agent fe02.dublin.lab.test
kf password set --account kerbauth --force >/dev/null 2>&1
"$FLEET" start-agent fe02.dublin.lab.test
run_rc 1 "stale keytab on fe02.dublin: assignment test fails" kf assignment test --site dublin --json --report "$T/stale.html"
json_valid assignment_test
FROMTO="krbfleet password set --from fe01.dublin.lab.test --to fe02.dublin.lab.test"
finding FAIL server:fe02.dublin.lab.test kvno "but the directory is at kvno" "$FROMTO"
finding FAIL server:fe02.dublin.lab.test key "is refused by this keytab" "$FROMTO"
finding FAIL server:fe02.dublin.lab.test login "its keytab has no key for the ticket" "$FROMTO"
cell fe01.dublin.lab.test kvno PASS
cell fe01.dublin.lab.test login PASS
cell fe02.dublin.lab.test kvno FAIL
browser "$T/stale.html" report-stale fe01.dublin.lab.test fe02.dublin.lab.test FAIL PASS "$FROMTO"
run_rc 1 "doctor at the stale server exits 1" kf doctor --json --address "$(addr_of fe02.dublin.lab.test)" http://web.dublin.lab.test:8080/
finding FAIL server:fe02.dublin.lab.test key "is refused" "$FROMTO"
finding FAIL login negotiate "refused the ticket" "$FROMTO"
run_ok "the fix: $FROMTO" kf ${FROMTO#krbfleet }
healthy dublin

# -- a missing SPN -----------------------------------------------------------------
samba-tool spn delete HTTP/web.dublin.lab.test 'kerbauth$' -s "$LAB_SMB_CONF" >/dev/null 2>&1
run_rc 1 "missing SPN: assignment test fails" kf assignment test --site dublin --json
finding FAIL "account:LAB\\kerbauth" spn "HTTP/web.dublin.lab.test is missing" "krbfleet topology enable"
finding FAIL server:fe01.dublin.lab.test login "HTTP/web.dublin.lab.test is registered on no object" "krbfleet topology enable"
finding FAIL server:fe02.dublin.lab.test key "the KDC issues no ticket for HTTP/web.dublin.lab.test" "krbfleet topology enable"
run_rc 1 "doctor: the missing SPN" kf doctor --json http://web.dublin.lab.test:8080/
finding FAIL directory owner "the topology implies it for account kerbauth" "krbfleet topology enable"
run_ok "the fix: krbfleet topology enable" kf topology enable
healthy dublin

# -- a duplicate SPN on another computer object ------------------------------------
# Samba 4.17 checks SPN uniqueness only on the first servicePrincipalName
# element of a modify: a delete first lets the duplicate add through.
samba-tool computer create dupholder -s "$LAB_SMB_CONF" >/dev/null 2>&1
printf 'dn: CN=dupholder,CN=Computers,%s\nchangetype: modify\nadd: servicePrincipalName\nservicePrincipalName: HOST/dupholder.lab.test\n' "$LAB_BASE_DN" | ldapmod
printf 'dn: CN=dupholder,CN=Computers,%s\nchangetype: modify\ndelete: servicePrincipalName\nservicePrincipalName: HOST/dupholder.lab.test\n-\nadd: servicePrincipalName\nservicePrincipalName: HTTP/web.redmond.lab.test\n' "$LAB_BASE_DN" | ldapmod ||
  not_ok "could not make a duplicate SPN: $(cat "$T/ldap.err")"
run_rc 1 "duplicate SPN: assignment test fails" kf assignment test --site redmond --json
DUPFIX="setspn -D HTTP/web.redmond.lab.test dupholder"
finding FAIL "account:LAB\\kerbauth" spn-unique "HTTP/web.redmond.lab.test is registered on 2 objects" "$DUPFIX"
finding FAIL server:fe01.redmond.lab.test login "registered on 2 objects" "$DUPFIX"
run_rc 1 "doctor: the duplicate SPN" kf doctor --json http://web.redmond.lab.test:8080/
finding FAIL directory owner "is registered on 2 objects" "$DUPFIX"
samba-tool spn delete HTTP/web.redmond.lab.test 'dupholder$' -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  ok "the fix, the Samba way: samba-tool spn delete HTTP/web.redmond.lab.test dupholder\$" || not_ok "samba-tool spn delete"
healthy redmond

# -- a keytab every local user can read ----------------------------------------------
chmod 0644 "$(kt fe01.redmond.lab.test)"
run_rc 1 "keytab mode 0644: assignment test fails" kf assignment test --site redmond --json
finding FAIL server:fe01.redmond.lab.test mode "is mode 0644 (group www-data): every local user can read the keys" \
  "ssh fe01.redmond.lab.test chmod 0640 $(kt fe01.redmond.lab.test)"
cell fe02.redmond.lab.test mode PASS
chmod 0640 "$(kt fe01.redmond.lab.test)" && ok "the fix (without ssh, this is the server): chmod 0640"
healthy redmond

# -- an agent down -------------------------------------------------------------------
"$FLEET" stop-agent fe02.redmond.lab.test
run_rc 1 "agent down: assignment test fails" kf assignment test --site redmond --json
finding FAIL server:fe02.redmond.lab.test agent "is unreachable" "ssh fe02.redmond.lab.test systemctl restart krbfleetd"
cell fe02.redmond.lab.test login PASS
cell fe02.redmond.lab.test kvno null
"$FLEET" start-agent fe02.redmond.lab.test && ok "the fix: the agent started again"
healthy redmond

# -- a wrong enctype: the account announces RC4 only -----------------------------------
printf 'dn: %s\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 4\n' "$ACCT_DN" | ldapmod
run_rc 1 "account enctypes RC4 only: assignment test fails" kf assignment test --site redmond --json
finding FAIL server:fe01.redmond.lab.test enctypes "kerbauth announces rc4 (msDS-SupportedEncryptionTypes 4) but the keytab has no kvno" \
  "krbfleet password set --account kerbauth"
finding FAIL server:fe02.redmond.lab.test key "rc4-hmac) is refused by this keytab" "krbfleet password set --account kerbauth"
finding FAIL "account:LAB\\kerbauth" enctypes "has no AES encryption type" \
  "krbfleet account set 'LAB\\kerbauth' --enctypes aes256,aes128,rc4"
run_rc 1 "doctor: the ticket's enctype against the keytab's" kf doctor --json http://web.redmond.lab.test:8080/
finding FAIL server:fe01.redmond.lab.test key "(aes256-cts,aes128-cts), but the ticket (kvno"
printf 'dn: %s\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n' "$ACCT_DN" | ldapmod &&
  ok "the right repair here: AES back on the account (24)"
healthy redmond
healthy dublin

finish
