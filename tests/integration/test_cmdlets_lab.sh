#!/usr/bin/env bash
# The Lync cmdlets that need the directory, against a real Samba AD DC
# (tests/lab): New-CsKerberosAccount creates the computer object,
# New-/Set-/Get-/Remove-CsKerberosAccountAssignment change and show the
# store, Enable-CsTopology -WhatIf writes nothing and Enable-CsTopology
# publishes the SPNs, Test-CsTopology says the same as `topology test`.
# Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
CN="CN=Computers,$LAB_BASE_DN"

usn() { ldap_attr "CN=$1,$CN" uSNChanged; }
spns() { ldap_attr "CN=$1,$CN" servicePrincipalName | sort | tr '\n' ' '; }


run_ok "New-CsKerberosAccount -UserAccount LAB\\kerbauth -ContainerDN" \
  kf New-CsKerberosAccount -UserAccount 'LAB\kerbauth' -ContainerDN "$CN"
expect_out "it names the DN, as account new does" "CN=kerbauth,$CN"
[ "$(ldap_attr "CN=kerbauth,$CN" sAMAccountName)" = 'kerbauth$' ] && ok "the DC holds kerbauth\$" \
  || not_ok "no kerbauth\$ in the directory"
[ "$(ldap_attr "CN=kerbauth,$CN" userAccountControl)" = 4096 ] && ok "a workstation trust account" \
  || not_ok "userAccountControl $(ldap_attr "CN=kerbauth,$CN" userAccountControl)"
run_ok "new-cskerberosaccount -u (prefix, case) a second account" \
  kf new-cskerberosaccount -u 'LAB\kerbauth2'
expect_fail 1 'already managed' kf New-CsKerberosAccount -UserAccount 'LAB\kerbauth'

run_ok "topology import" kf topology import "$DATA/topology-2sites.json"
run_ok "New-CsKerberosAccountAssignment -UserAccount LAB\\kerbauth -Identity site:Redmond" \
  kf New-CsKerberosAccountAssignment -UserAccount 'LAB\kerbauth' -Identity site:Redmond
expect_out "the site is redmond" "site redmond uses LAB\\kerbauth"
run_ok "New-CsKerberosAccountAssignment site:DUBLIN -user kerbauth2" \
  kf New-CsKerberosAccountAssignment site:DUBLIN -user kerbauth2
expect_fail 1 'already has a Kerberos account assignment' \
  kf New-CsKerberosAccountAssignment -UserAccount kerbauth2 -Identity site:redmond
same_output "Get-CsKerberosAccountAssignment" Get-CsKerberosAccountAssignment -- assignment get
expect_out "both sites assigned" "dublin   LAB\\kerbauth2"
same_output "Get-CsKerberosAccountAssignment -Identity site:Redmond" \
  Get-CsKerberosAccountAssignment -Identity site:Redmond -- assignment get --site redmond
expect_out "redmond uses kerbauth" "redmond  LAB\\kerbauth"
same_output "Set-CsKerberosAccountAssignment to the account it has (no change)" \
  Set-CsKerberosAccountAssignment -Identity site:Redmond -UserAccount 'LAB\kerbauth' -- \
  assignment set --site redmond --account 'LAB\kerbauth'
expect_out "nothing changed" "site redmond already uses LAB\\kerbauth; nothing changed"
same_output "Test-CsTopology before enabling" Test-CsTopology -Verbose -- topology test
expect_out "the missing SPNs are named" "topology test: problems found"

u=$(usn kerbauth)
same_output "Enable-CsTopology -WhatIf" Enable-CsTopology -WhatIf -- topology enable --dry-run
expect_out "the plan names an SPN" "would add  HTTP/web.redmond.lab.test to kerbauth"
[ "$(usn kerbauth)" = "$u" ] && ok "-WhatIf writes nothing (uSNChanged $u)" || not_ok "-WhatIf wrote to kerbauth"
run_ok "Enable-CsTopology" kf Enable-CsTopology
expect_out "SPNs added" "SPN(s) added"
case "$(spns kerbauth)" in
  *HTTP/web.redmond.lab.test*) ok "kerbauth holds HTTP/web.redmond.lab.test" ;;
  *) not_ok "kerbauth SPNs: $(spns kerbauth)" ;;
esac
run_ok "enable-cstopology a second time (any case)" kf enable-cstopology
same_output "Test-CsTopology after enabling" Test-CsTopology -- topology test

run_ok "Remove-CsKerberosAccountAssignment site:Dublin" kf Remove-CsKerberosAccountAssignment site:Dublin
expect_out "it says what publishes it" "site dublin has no Kerberos account now"
run_ok "Get-CsKerberosAccountAssignment site:dublin" kf Get-CsKerberosAccountAssignment site:dublin
expect_out "dublin has none" "dublin  -"
finish
