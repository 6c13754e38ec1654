#!/usr/bin/env bash
# Unattended runs (issue 10, item 3): krbfleet's own credentials from a
# computer account's keytab ([directory] client_keytab, client_principal)
# when the ticket cache is empty, into a private memory cache; with a bad
# keytab a clear error and nothing written; krbfleet-rotate.service run
# through its own Environment= and ExecStart= lines, the units verified by
# systemd-analyze. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
# the agents admit the lab's admin and the admin host's machine account
export FLEET_ALLOW="$LAB_ADMIN_PRINCIPAL ADMINHOST\$@$LAB_REALM"
. "$(dirname "$0")/fleet_lib.sh"

fleet_setup
K=$(dir_kvno)

# -- the admin host's machine account and its keytab ---------------------------------
# (a member of Domain Admins here: what it may do is test_delegation's subject)
samba-tool computer create ADMINHOST -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool user setpassword 'ADMINHOST$' --random-password -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool group addmembers "Domain Admins" 'ADMINHOST$' -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool domain exportkeytab "$T/adminhost.keytab" --principal='ADMINHOST$' -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  klist -k "$T/adminhost.keytab" | grep -q 'ADMINHOST\$@' &&
  ok "computer ADMINHOST\$ with its keytab" || not_ok "ADMINHOST\$ and its keytab"
printf '[directory]\nclient_keytab = %s\nclient_principal = ADMINHOST$\n' "$T/adminhost.keytab" >"$T/kt.conf"
EMPTY=FILE:$T/empty.ccache

# -- no ticket, no keytab: refused ---------------------------------------------------
rc=0; KRB5CCNAME=$EMPTY kf status --account kerbauth >"$T/out" 2>"$T/err" || rc=$?
[ $rc != 0 ] && ok "with an empty cache and no client_keytab, status fails (exit $rc)" || not_ok "status worked without a ticket"

# -- the keytab ------------------------------------------------------------------------
run_ok "with client_keytab and an empty cache, status exits 0" env KRB5CCNAME="$EMPTY" "$KRBFLEET" --config "$T/kt.conf" status --account kerbauth
expect_out "the directory was read as ADMINHOST\$ (kvno from LDAP)" "account LAB\\kerbauth: kvno $K, password "
expect_out "and the agents admitted it" "servers: 4 current, 0 stale, 0 unreachable"
[ ! -e "$T/empty.ccache" ] && ok "the ticket was kept in memory: no cache file written" || not_ok "$T/empty.ccache was created"
printf '[rotation]\nmax_age = 1s\n' >>"$T/kt.conf"
sleep 2
run_ok "password set --all from the keytab rotates (KDC requests too)" env KRB5CCNAME="$EMPTY" "$KRBFLEET" --config "$T/kt.conf" password set --all
[ "$(dir_kvno)" = $((K + 1)) ] && ok "rotated as ADMINHOST\$: kvno $K -> $((K + 1))" || not_ok "kvno $(dir_kvno): $(cat "$T/out" "$T/err")"
K=$((K + 1))
all_logins && ok "alice logs in to every server after it" || not_ok "logins after the keytab rotation"
kf audit list >"$T/out" 2>&1 || true
grep -q 'ADMINHOST\$@' "$T/out" && ok "the audit log names ADMINHOST\$ as the principal" || not_ok "audit: $(tail -3 "$T/out")"

# -- a bad keytab: a clear error, nothing written -------------------------------------
: >"$T/bad.keytab"
printf '[directory]\nclient_keytab = %s\nclient_principal = ADMINHOST$\n' "$T/bad.keytab" >"$T/bad.conf"
u=$(ldap_attr "CN=kerbauth,CN=Computers,$LAB_BASE_DN" uSNChanged)
KRB5CCNAME=$EMPTY expect_fail 1 "none for ADMINHOST\$@$LAB_REALM from [directory] client_keytab $T/bad.keytab" kf --config "$T/bad.conf" password set --all
[ "$(ldap_attr "CN=kerbauth,CN=Computers,$LAB_BASE_DN" uSNChanged)" = "$u" ] && ok "the directory is unchanged" || not_ok "uSNChanged moved"
printf '[directory]\nclient_keytab = %s\n' "$T/adminhost.keytab" >"$T/noprinc.conf"
KRB5CCNAME=$EMPTY expect_fail 1 "needs [directory] client_principal" kf --config "$T/noprinc.conf" status
# -- krbfleet-rotate.service, run as its unit file says -------------------------------
# systemd-analyze verify: the units in a root holding the built krbfleet at
# the unit's path and the host's own units (sysinit.target, ...)
UNITS=$(cd "$(dirname "$0")/../../tools/systemd" && pwd -P)
VR=$T/vroot
mkdir -p "$VR/usr/bin" "$VR/etc/systemd/system" "$VR/lib/systemd"
cp -r /lib/systemd/system "$VR/lib/systemd/" && cp "$KRBFLEET" "$VR/usr/bin/krbfleet" &&
  cp "$UNITS/krbfleet-rotate.service" "$UNITS/krbfleet-rotate.timer" "$VR/etc/systemd/system/"
systemd-analyze verify --man=no --root="$VR" /etc/systemd/system/krbfleet-rotate.service \
  /etc/systemd/system/krbfleet-rotate.timer >"$T/verify" 2>&1 && [ ! -s "$T/verify" ] &&
  ok "systemd-analyze verify: both units clean" || not_ok "verify: $(cat "$T/verify")"
grep -qx 'OnCalendar=daily' "$UNITS/krbfleet-rotate.timer" && grep -q '^RandomizedDelaySec=' "$UNITS/krbfleet-rotate.timer" &&
  grep -qx 'Persistent=true' "$UNITS/krbfleet-rotate.timer" && ok "the timer: daily, randomized, persistent" || not_ok "timer settings"
# its Environment= and ExecStart= lines as they are, the installed paths
# (the binary, the configuration) mapped to this build's and this lab's
mapfile -t envs < <(sed -n 's/^Environment=//p' "$UNITS/krbfleet-rotate.service")
read -ra argv <<<"$(sed -n 's/^ExecStart=//p' "$UNITS/krbfleet-rotate.service")"
[ "${argv[0]}" = /usr/bin/krbfleet ] && printf '%s\n' "${envs[@]}" | grep -qx 'KRBFLEET_CONFIG=/etc/krbfleet/krbfleet.conf' &&
  ok "the unit runs /usr/bin/krbfleet ${argv[*]:1} with KRBFLEET_CONFIG=/etc/krbfleet/krbfleet.conf" ||
  not_ok "unit lines: ${argv[*]} / ${envs[*]}"
argv[0]=$KRBFLEET
envs=("${envs[@]/#KRBFLEET_CONFIG=\/etc\/krbfleet\/krbfleet.conf/KRBFLEET_CONFIG=$T/etc.conf}")
printf '[store]\npath = %s\n[directory]\nclient_keytab = %s\nclient_principal = ADMINHOST$\n[rotation]\nmax_age = 1s\n' \
  "$KRBFLEET_STORE" "$T/adminhost.keytab" >"$T/etc.conf"
K=$(dir_kvno)
sleep 2
rc=0; env -u KRBFLEET_STORE -u KRB5CCNAME "${envs[@]}" "${argv[@]}" >"$T/out" 2>"$T/err" </dev/null || rc=$?
[ $rc = 0 ] && ok "the service's command exits 0" || not_ok "exit $rc: $(cat "$T/out" "$T/err")"
expect_out "it rotated the due account" "account kerbauth: rotating: password "
[ "$(dir_kvno)" = $((K + 1)) ] && ok "as ADMINHOST\$ from its keytab: kvno $K -> $((K + 1))" || not_ok "kvno $(dir_kvno)"
all_logins && ok "alice logs in to every server after the timer's run" || not_ok "logins after the timer's run"
# a server down: the run fails (exit non-zero), so systemctl --failed sees it
"$FLEET" stop-agent fe02.dublin.lab.test
sed -i 's/^max_age = 1s$/max_age = 30d/' "$T/etc.conf"
rc=0; env -u KRBFLEET_STORE -u KRB5CCNAME "${envs[@]}" "${argv[@]}" >"$T/out" 2>"$T/err" </dev/null || rc=$?
[ $rc != 0 ] && grep -q "accounts did not end with every web server healthy" "$T/err" &&
  ok "with an agent down the service's command fails (exit $rc)" || not_ok "exit $rc: $(cat "$T/out" "$T/err")"
"$FLEET" start-agent fe02.dublin.lab.test
sanitizer_clean
finish
