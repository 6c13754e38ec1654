#!/usr/bin/env bash
# Unattended runs (issue 10, item 3): krbfleet's own credentials from a
# computer account's keytab ([directory] client_keytab, client_principal)
# when the ticket cache is empty, into a private memory cache; with a bad
# keytab a clear error and nothing written. Needs root.
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
sanitizer_clean
finish
