#!/usr/bin/env bash
# The Lync cmdlets on a real fleet (tests/lab/fleet.sh: a Samba AD DC, four
# web servers with krbfleetd and Apache + mod_auth_gssapi), in the order the
# Lync documents deploy: New-CsKerberosAccount, New-CsKerberosAccountAssignment
# (site:Redmond is redmond), Set-CsKerberosAccountPassword -UserAccount,
# Enable-CsTopology (-WhatIf writes nothing), Test-CsKerberosAccountAssignment
# -Report -Verbose, then a server that missed a rotation repaired with
# -FromComputer/-ToComputer; alice logs in for real after each step. Where a
# krbfleet command gives the same answer, both forms are compared. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"
CN="CN=Computers,$LAB_BASE_DN"

usn() { ldap_attr "CN=$1,$CN" uSNChanged; }
spns() { ldap_attr "CN=$1,$CN" servicePrincipalName | sort | tr '\n' ' '; }
# every server's keytab holds the directory's kvno
at_dir_kvno() {
  local k s bad=0
  k=$(dir_kvno)
  for s in $SERVERS; do [ "$(top_kvno "$s")" = "$k" ] || { bad=1; echo "  $s holds $(kvnos "$s"), directory $k" >&2; }; done
  return $bad
}

# -- New-CsKerberosAccount ----------------------------------------------------
run_ok "New-CsKerberosAccount -UserAccount LAB\\kerbauth -ContainerDN" \
  kf New-CsKerberosAccount -UserAccount 'LAB\kerbauth' -ContainerDN "$CN"
expect_out "it names the DN, as account new does" "CN=kerbauth,$CN"
[ "$(ldap_attr "CN=kerbauth,$CN" sAMAccountName)" = 'kerbauth$' ] && ok "the DC holds kerbauth\$" \
  || not_ok "no kerbauth\$ in the directory"
[ "$(ldap_attr "CN=kerbauth,$CN" userAccountControl)" = 4096 ] && ok "a workstation trust account" \
  || not_ok "userAccountControl $(ldap_attr "CN=kerbauth,$CN" userAccountControl)"
run_ok "new-cskerberosaccount -u (prefix, case) a second account" kf new-cskerberosaccount -u 'LAB\kerbauth2'
expect_fail 1 'already managed' kf New-CsKerberosAccount -UserAccount 'LAB\kerbauth'

# -- the assignments -------------------------------------------------------------
run_ok "topology import" kf topology import "$TOPO"
run_ok "New-CsKerberosAccountAssignment -UserAccount LAB\\kerbauth -Identity site:Redmond" \
  kf New-CsKerberosAccountAssignment -UserAccount 'LAB\kerbauth' -Identity 'site:Redmond'
expect_out "the site is redmond" "site redmond uses LAB\\kerbauth"
run_ok "New-CsKerberosAccountAssignment site:DUBLIN -user kerbauth2 (positional, prefix)" \
  kf New-CsKerberosAccountAssignment site:DUBLIN -user kerbauth2
expect_fail 1 'already has a Kerberos account assignment' \
  kf New-CsKerberosAccountAssignment -UserAccount kerbauth2 -Identity site:redmond
run_ok "Set-CsKerberosAccountAssignment -Identity site:Dublin -UserAccount LAB\\kerbauth" \
  kf Set-CsKerberosAccountAssignment -Identity site:Dublin -UserAccount 'LAB\kerbauth'
expect_out "dublin moved to kerbauth" "site dublin uses LAB\\kerbauth"
same_output "Get-CsKerberosAccountAssignment" Get-CsKerberosAccountAssignment -- assignment get
expect_out "both sites use kerbauth" "dublin   LAB\\kerbauth"
same_output "Get-CsKerberosAccountAssignment -Identity site:Redmond" \
  Get-CsKerberosAccountAssignment -Identity site:Redmond -- assignment get --site redmond
same_output "Set-CsKerberosAccountAssignment to the account it has (no change)" \
  Set-CsKerberosAccountAssignment -Identity site:Redmond -UserAccount 'LAB\kerbauth' -- \
  assignment set --site redmond --account 'LAB\kerbauth'
expect_out "nothing changed" "site redmond already uses LAB\\kerbauth; nothing changed"

# -- the password, then the SPNs ---------------------------------------------------
k0=$(dir_kvno)
run_ok "Set-CsKerberosAccountPassword -UserAccount LAB\\kerbauth -WhatIf" \
  kf Set-CsKerberosAccountPassword -UserAccount 'LAB\kerbauth' -WhatIf
[ "$(dir_kvno)" = "$k0" ] && ok "-WhatIf leaves the kvno at $k0" || not_ok "-WhatIf changed the kvno to $(dir_kvno)"
run_ok "Set-CsKerberosAccountPassword -UserAccount LAB\\kerbauth" \
  kf Set-CsKerberosAccountPassword -UserAccount 'LAB\kerbauth'
[ "$(dir_kvno)" -gt "$k0" ] && ok "the directory's kvno moved on ($k0 -> $(dir_kvno))" || not_ok "kvno still $(dir_kvno)"
at_dir_kvno && ok "every server holds the new kvno" || not_ok "a server lacks the new kvno"
same_output "Test-CsTopology before Enable-CsTopology" Test-CsTopology -Verbose -- topology test
expect_out "the missing SPNs are named" "topology test: problems found"
u=$(usn kerbauth)
same_output "Enable-CsTopology -WhatIf" Enable-CsTopology -WhatIf -- topology enable --dry-run
expect_out "the plan names an SPN" "would add  HTTP/web.redmond.lab.test to kerbauth"
[ "$(usn kerbauth)" = "$u" ] && ok "-WhatIf writes nothing (uSNChanged $u)" || not_ok "-WhatIf wrote to kerbauth"
run_ok "Enable-CsTopology" kf Enable-CsTopology
expect_out "SPNs added" "SPN(s) added"
case "$(spns kerbauth)" in
  *HTTP/lb.redmond.lab.test*HTTP/web.dublin.lab.test*HTTP/web.redmond.lab.test*) ok "kerbauth holds the pools' SPNs" ;;
  *) not_ok "kerbauth SPNs: $(spns kerbauth)" ;;
esac
all_logins && ok "alice logs in to every server" || not_ok "a login failed after Enable-CsTopology"
same_output "Test-CsTopology after Enable-CsTopology" Test-CsTopology -- topology test
expect_out "all pass" "topology test: all checks passed"
same_output "Get-CsService -WebServer" Get-CsService -WebServer -- service list --webserver
expect_out "every web server listed" "fe02.dublin.lab.test"

# -- Test-CsKerberosAccountAssignment -------------------------------------------------
rc=0; kf Test-CsKerberosAccountAssignment site:Redmond -Report "$T/redmond.html" -Verbose >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 0 ] && ok "Test-CsKerberosAccountAssignment site:Redmond -Report -Verbose passes" \
  || not_ok "Test-CsKerberosAccountAssignment: exit $rc ($(head -c 400 "$T/err"); $(tail -c 600 "$T/out"))"
expect_out "the site's test" "assignment test --site redmond: all checks passed"
expect_out "the report is named" "report written to $T/redmond.html"
grep -q "fe02.redmond.lab.test" "$T/redmond.html" 2>/dev/null && ok "the HTML report lists the servers" \
  || not_ok "no HTML report at $T/redmond.html"

# -- a server that missed a rotation, repaired as Lync does -------------------------
"$FLEET" stop-agent fe02.dublin.lab.test
kf password set --account kerbauth --force >/dev/null 2>&1
"$FLEET" start-agent fe02.dublin.lab.test
rc=0; kf test-cskerberosaccountassignment site:dublin >"$T/out" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && ok "test-cskerberosaccountassignment site:dublin finds the stale server (exit 1)" \
  || not_ok "stale server not found: exit $rc"
expect_out "and names the repair" "krbfleet password set --from fe01.dublin.lab.test --to fe02.dublin.lab.test"
run_ok "Set-CsKerberosAccountPassword -FromComputer fe01.dublin.lab.test -ToComputer fe02.dublin.lab.test" \
  kf Set-CsKerberosAccountPassword -FromComputer fe01.dublin.lab.test -ToComputer fe02.dublin.lab.test
at_dir_kvno && ok "fe02.dublin holds the directory's kvno again" || not_ok "fe02.dublin still stale"
all_logins && ok "alice logs in to every server" || not_ok "a login failed after -FromComputer/-ToComputer"
run_ok "Test-CsKerberosAccountAssignment -Identity site:Dublin passes again" \
  kf Test-CsKerberosAccountAssignment -Identity site:Dublin

# -- removing an assignment ----------------------------------------------------------
run_ok "Remove-CsKerberosAccountAssignment site:Dublin" kf Remove-CsKerberosAccountAssignment site:Dublin
expect_out "it says what withdraws the SPNs" "site dublin has no Kerberos account now"
same_output "Get-CsKerberosAccountAssignment site:dublin" \
  Get-CsKerberosAccountAssignment site:dublin -- assignment get --site dublin
expect_out "dublin has none" "dublin  -"
sanitizer_clean
finish
