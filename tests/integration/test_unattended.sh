#!/usr/bin/env bash
# Unattended runs (issue 10, items 3-5): krbfleet's own credentials from a
# computer account's keytab ([directory] client_keytab, client_principal)
# when the ticket cache is empty, into a private memory cache; with a bad
# keytab a clear error and nothing written; krbfleet-rotate.service run
# through its own Environment= and ExecStart= lines, the units verified by
# systemd-analyze. The principal, ADMINHOST$, is only a member of a group
# granted a dedicated OU (`permission grant`), no admin; the service's run
# writes the Prometheus file of [status] prometheus_file. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
# the agents admit the lab's admin and the admin host's machine account
export FLEET_ALLOW="$LAB_ADMIN_PRINCIPAL ADMINHOST\$@$LAB_REALM"
. "$(dirname "$0")/fleet_lib.sh"

# -- delegation: the account in a dedicated OU granted to a group -------------------
# ADMINHOST$ is a member of that group and of no admin group: the timer's
# runs below work with the grant alone (issue 10, items 2 and 5).
delegation_setup
dir_kvno() { ldap_attr "CN=${1:-kerbauth},$OU" msDS-KeyVersionNumber; }
run_ok "admin: permission grant" kf permission grant --container "$OU" --group 'LAB\webadmins'
fleet_setup "$OU"
K=$(dir_kvno)

# -- the admin host's machine account and its keytab ---------------------------------
samba-tool computer create ADMINHOST -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool user setpassword 'ADMINHOST$' --random-password -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool group addmembers webadmins 'ADMINHOST$' -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  samba-tool domain exportkeytab "$T/adminhost.keytab" --principal='ADMINHOST$' -s "$LAB_SMB_CONF" >/dev/null 2>&1 &&
  klist -k "$T/adminhost.keytab" | grep -q 'ADMINHOST\$@' &&
  ok "computer ADMINHOST\$ in group webadmins, with its keytab" || not_ok "ADMINHOST\$ and its keytab"
# its groups, as the DC computes them (tokenGroups): webadmins, no admin group
KRB5CCNAME=FILE:$T/adminhost.ccache kinit -k -t "$T/adminhost.keytab" 'ADMINHOST$' >/dev/null 2>&1 &&
  KRB5CCNAME=FILE:$T/adminhost.ccache "$KRBFLEET" permission test --container "$OU" --json >"$T/out" 2>"$T/err" &&
  jq -e '(.principal | ascii_downcase | startswith("adminhost")) and ([.operations[] | select(.may | not)] | length == 0)' "$T/out" >/dev/null &&
  ok "permission test: ADMINHOST\$ may do all of krbfleet's work in $OU" || not_ok "permission test as ADMINHOST\$: $(cat "$T/out" "$T/err")"
for g in "Domain Admins" "Enterprise Admins" "Administrators" "Account Operators"; do
  samba-tool group listmembers "$g" -s "$LAB_SMB_CONF" 2>/dev/null | grep -qix 'ADMINHOST\$' &&
    not_ok "ADMINHOST\$ is a member of $g" || ok "ADMINHOST\$ is not a member of $g"
done
rm -f "$T/adminhost.ccache"
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
u=$(ldap_attr "CN=kerbauth,$OU" uSNChanged)
KRB5CCNAME=$EMPTY expect_fail 1 "none for ADMINHOST\$@$LAB_REALM from [directory] client_keytab $T/bad.keytab" kf --config "$T/bad.conf" password set --all
[ "$(ldap_attr "CN=kerbauth,$OU" uSNChanged)" = "$u" ] && ok "the directory is unchanged" || not_ok "uSNChanged moved"
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
mkdir -p "$T/textfile"
PROM=$T/textfile/krbfleet.prom
printf '[store]\npath = %s\n[directory]\nclient_keytab = %s\nclient_principal = ADMINHOST$\n[rotation]\nmax_age = 1s\n[status]\nprometheus_file = %s\n' \
  "$KRBFLEET_STORE" "$T/adminhost.keytab" "$PROM" >"$T/etc.conf"
metric() { grep -F "$1 " "$PROM" | awk '{ print $NF }'; }
K=$(dir_kvno)
sleep 2
rc=0; env -u KRBFLEET_STORE -u KRB5CCNAME "${envs[@]}" "${argv[@]}" >"$T/out" 2>"$T/err" </dev/null || rc=$?
[ $rc = 0 ] && ok "the service's command exits 0" || not_ok "exit $rc: $(cat "$T/out" "$T/err")"
expect_out "it rotated the due account" "account kerbauth: rotating: password "
[ "$(dir_kvno)" = $((K + 1)) ] && ok "as ADMINHOST\$ from its keytab: kvno $K -> $((K + 1))" || not_ok "kvno $(dir_kvno)"
all_logins && ok "alice logs in to every server after the timer's run" || not_ok "logins after the timer's run"
expect_out "it says where the metrics went" "metrics written to $PROM"
[ "$(stat -c %a "$PROM" 2>/dev/null)" = 644 ] && ! ls "$T/textfile" | grep -qv '^krbfleet.prom$' &&
  ok "the metrics file is there (0644, no temporary file left)" || not_ok "textfile dir: $(ls -l "$T/textfile")"
[ "$(metric 'krbfleet_account_kvno{account="LAB\\kerbauth"}')" = $((K + 1)) ] &&
  [ "$(metric 'krbfleet_servers{account="LAB\\kerbauth",state="current"}')" = 4 ] &&
  [ "$(metric 'krbfleet_last_rotation_success{account="LAB\\kerbauth"}')" = 1 ] &&
  age=$(metric 'krbfleet_account_password_age_seconds{account="LAB\\kerbauth"}') && [ "$age" -lt 60 ] &&
  ok "the metrics are those after the run: kvno $((K + 1)), 4 current, last rotation 1, password ${age}s old" ||
  not_ok "metrics: $(cat "$PROM" 2>&1 | head -c 1500)"
# a server down: the run fails (exit non-zero), so systemctl --failed sees it
"$FLEET" stop-agent fe02.dublin.lab.test
sed -i 's/^max_age = 1s$/max_age = 30d/' "$T/etc.conf"
rc=0; env -u KRBFLEET_STORE -u KRB5CCNAME "${envs[@]}" "${argv[@]}" >"$T/out" 2>"$T/err" </dev/null || rc=$?
[ $rc != 0 ] && grep -q "accounts did not end with every web server healthy" "$T/err" &&
  ok "with an agent down the service's command fails (exit $rc)" || not_ok "exit $rc: $(cat "$T/out" "$T/err")"
[ "$(metric 'krbfleet_servers{account="LAB\\kerbauth",state="unreachable"}')" = 1 ] &&
  [ "$(metric 'krbfleet_servers{account="LAB\\kerbauth",state="current"}')" = 3 ] &&
  ok "a failed run writes its metrics too: 3 current, 1 unreachable" || not_ok "metrics after the failed run: $(grep servers "$PROM")"
"$FLEET" start-agent fe02.dublin.lab.test
sanitizer_clean
finish
