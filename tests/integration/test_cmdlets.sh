#!/usr/bin/env bash
# The Lync cmdlets through the built CLI, without a lab: each cmdlet line
# prints the same and exits the same as the krbfleet command it stands for
# (against a store made by `topology import`; commands that need the
# directory fail the same way without a ticket), every refused parameter
# exits 2 naming it with the store unchanged, and `help cmdlets` matches
# krbfleet(1). test_cmdlets_lab.sh runs the directory cmdlets on a real DC.
. "$(dirname "$0")/lib.sh"
DATA="$(dirname "$0")/../data"
MAN="$(dirname "$0")/../../man/krbfleet.1"

# -- the table: help cmdlets, help CMDLET, krbfleet(1) -----------------------
run_ok "help cmdlets" kf help cmdlets
cp "$T/out" "$T/table"
mapfile -t names < <(sed -n 's/^  \([A-Za-z]*-Cs[A-Za-z]*\).*/\1/p' "$T/table")
[ "${#names[@]}" -eq 11 ] && ok "help cmdlets lists 11 cmdlets" || not_ok "help cmdlets lists ${#names[@]}: ${names[*]}"
for c in New-CsKerberosAccount New-CsKerberosAccountAssignment Set-CsKerberosAccountAssignment \
         Get-CsKerberosAccountAssignment Remove-CsKerberosAccountAssignment \
         Set-CsKerberosAccountPassword Test-CsKerberosAccountAssignment Test-CsTopology \
         Enable-CsTopology Get-CsService Grant-CsSetupPermission; do
  grep -q "^  $c " "$T/table" || grep -qx "  $c" "$T/table" && ok "help cmdlets has $c" || not_ok "help cmdlets lacks $c"
done
# krbfleet(1) lists every cmdlet and krbfleet line of the table (source with
# its escapes undone: \- is -, \fX fonts and \(aq quotes dropped)
sed -e 's/^ *//' -e 's/\\-/-/g' -e 's/\\f[BIR]//g' -e "s/\\\\(aq/'/g" -e 's/\\e/\\/g' "$MAN" >"$T/man.txt"
while IFS= read -r line; do
  line=${line#"${line%%[! ]*}"}
  if grep -qxF -- "$line" "$T/man.txt"; then ok "krbfleet(1) has: ${line:0:60}"
  else not_ok "krbfleet(1) lacks the table line: $line"; fi
done < <(grep -E '^  [A-Za-z]+-Cs|^      krbfleet ' "$T/table")
grep -q 'the trustee is \[permission\] group' "$T/table" && ok "Grant-CsSetupPermission's line names [permission] group" \
  || not_ok "Grant-CsSetupPermission's note lacks [permission] group"
run_ok "help Get-CsService (any case)" kf help get-csservice
expect_out "help CMDLET prints its line" "krbfleet service list [--webserver]"
expect_out "help CMDLET points to the command's help" "krbfleet help service list"
run_ok "New-CsKerberosAccount --help shows the cmdlet without needing its parameters" kf New-CsKerberosAccount --help
expect_out "--help on a cmdlet prints its line" "New-CsKerberosAccount -UserAccount 'DOMAIN\\name' [-ContainerDN DN]"
run_ok "help Grant-CsSetupPermission" kf help Grant-CsSetupPermission
expect_out "its line: -ComputerOU is --container" "krbfleet permission grant --container DN"
run_ok "krbfleet --help names help cmdlets" kf --help
expect_out "the overview points to the cmdlets" "krbfleet help cmdlets"

# -- no store yet: reading cmdlets fail as their commands do, creating none --
same_output "Get-CsService -WebServer, no store" Get-CsService -WebServer -- service list --webserver
same_output "Get-CsKerberosAccountAssignment, no store" Get-CsKerberosAccountAssignment -- assignment get
[ ! -e "$KRBFLEET_STORE" ] && ok "reading cmdlets create no store" || not_ok "a reading cmdlet created $KRBFLEET_STORE"

# -- on an imported topology --------------------------------------------------
run_ok "topology import" kf topology import "$DATA/topology-2sites.json"
same_output "Get-CsService -WebServer" Get-CsService -WebServer -- service list --webserver
same_output "get-csservice -web (case, prefix)" get-csservice -web -- service list --webserver
same_output "Get-CsService -WebServer:\$true" Get-CsService '-WebServer:$true' -- service list --webserver
same_output "Get-CsService" Get-CsService -- service list
same_output "--json Get-CsService -WebServer" --json Get-CsService -WebServer -- --json service list --webserver
same_output "Get-CsService -WebServer --json (global option after)" Get-CsService -WebServer --json -- service list --webserver --json
same_output "Get-CsKerberosAccountAssignment" Get-CsKerberosAccountAssignment -- assignment get
same_output "Get-CsKerberosAccountAssignment site:Redmond (positional, case)" \
  Get-CsKerberosAccountAssignment site:Redmond -- assignment get --site redmond
same_output "Get-CsKerberosAccountAssignment -Identity:SITE:DUBLIN" \
  Get-CsKerberosAccountAssignment -Identity:SITE:DUBLIN -- assignment get --site dublin
same_output "Get-CsKerberosAccountAssignment -i site:nowhere (missing site)" \
  Get-CsKerberosAccountAssignment -i site:nowhere -- assignment get --site nowhere
same_output "Get-CsKerberosAccountAssignment --json" Get-CsKerberosAccountAssignment --json -- assignment get --json
same_output "Remove-CsKerberosAccountAssignment -Identity site:Redmond (none to remove)" \
  Remove-CsKerberosAccountAssignment -Identity site:Redmond -- assignment remove --site redmond
same_output "New-CsKerberosAccountAssignment (account not managed)" \
  New-CsKerberosAccountAssignment -UserAccount 'LAB\kerbauth' -Identity site:Redmond -- \
  assignment new --account 'LAB\kerbauth' --site redmond
same_output "Set-CsKerberosAccountAssignment (account not managed)" \
  Set-CsKerberosAccountAssignment site:Redmond -user kerbauth -- \
  assignment set --account kerbauth --site redmond
# the directory commands without a ticket: the same refusal
same_output "New-CsKerberosAccount (no ticket)" \
  New-CsKerberosAccount -UserAccount 'LAB\kerbauth' -ContainerDN 'CN=Computers,DC=lab,DC=test' -- \
  account new 'LAB\kerbauth' --container 'CN=Computers,DC=lab,DC=test'
same_output "Test-CsTopology (no ticket)" Test-CsTopology -- topology test
same_output "Enable-CsTopology -WhatIf (no ticket)" Enable-CsTopology -WhatIf -- topology enable --dry-run
same_output "Test-CsKerberosAccountAssignment site:Redmond -Report -Verbose (no ticket)" \
  Test-CsKerberosAccountAssignment site:Redmond -Report "$T/r.html" -Verbose -- \
  assignment test --site redmond --report "$T/r.html"
same_output "set-cskerberosaccountpassword -user kerbauth -whatif (no ticket)" \
  set-cskerberosaccountpassword -user kerbauth -whatif -- password set --account kerbauth --dry-run
same_output "Set-CsKerberosAccountPassword -FromComputer -ToComputer (no ticket)" \
  Set-CsKerberosAccountPassword -FromComputer fe01.redmond.lab.test -ToComputer fe02.redmond.lab.test -- \
  password set --from fe01.redmond.lab.test --to fe02.redmond.lab.test
[ ! -e "$T/r.html" ] && ok "no report written when the test could not run" || not_ok "a report was written"

# -- refused: exit 2 naming the parameter, store unchanged --------------------
expect_fail 2 'Get-CsService: parameter -Frob is unknown; it takes -WebServer, -Verbose' kf Get-CsService -Frob
expect_fail 2 'Enable-CsTopology: parameter --dry-run is unknown' kf Enable-CsTopology --dry-run
expect_fail 2 'Remove-CsKerberosAccountAssignment: parameter -WhatIf is unknown' \
  kf Remove-CsKerberosAccountAssignment site:redmond -WhatIf
expect_fail 2 'New-CsKerberosAccountAssignment: parameter -UserAccount needs a value' \
  kf New-CsKerberosAccountAssignment -UserAccount -Identity site:redmond
expect_fail 2 'New-CsKerberosAccountAssignment: parameter -Identity is required' \
  kf New-CsKerberosAccountAssignment -UserAccount kerbauth
expect_fail 2 'Remove-CsKerberosAccountAssignment: parameter -Identity is "Redmond"; a Kerberos account assignment belongs to a site: write site:NAME' \
  kf Remove-CsKerberosAccountAssignment Redmond
expect_fail 2 'Get-CsKerberosAccountAssignment: parameter -Identity is given twice' \
  kf Get-CsKerberosAccountAssignment site:a -Identity site:b
expect_fail 2 'Test-CsTopology: "now" is not a parameter' kf Test-CsTopology now
expect_fail 2 'Set-CsKerberosAccountPassword: parameters -UserAccount and -FromComputer belong to different parameter sets' \
  kf Set-CsKerberosAccountPassword -UserAccount kerbauth -FromComputer fe01.redmond.lab.test
expect_fail 2 'Set-CsKerberosAccountPassword: parameter -ToComputer is required with -FromComputer' \
  kf Set-CsKerberosAccountPassword -FromComputer fe01.redmond.lab.test
expect_fail 2 'Get-CsService: parameter -WebServer is a switch' kf Get-CsService -WebServer:maybe
# without [permission] group it has no trustee: exit 2 naming the key,
# before any directory or store is opened (test_permission.sh: with it)
printf '[store]\npath = %s\n' "$KRBFLEET_STORE" >"$T/nogroup.conf"
expect_fail 2 "no trustee: give --group 'DOMAIN\\name' (a group, or one account) or set [permission] group in the configuration" \
  kf --config "$T/nogroup.conf" Grant-CsSetupPermission -ComputerOU 'OU=Web,DC=lab,DC=test'
expect_fail 2 'Grant-CsSetupPermission: parameter -ComputerOU is required' kf Grant-CsSetupPermission
# with --json a refusal is one JSON document too, as for any command
rc=0; kf --json Get-CsService -Frob >"$T/out" 2>"$T/err" || rc=$?
if [ "$rc" = 2 ] && jq -e '.error.code == "usage" and (.error.message | contains("Get-CsService: parameter -Frob is unknown"))' "$T/out" >/dev/null
then ok "--json Get-CsService -Frob: exit 2 and the error document"; else not_ok "--json refusal: exit $rc, stdout $(head -c 300 "$T/out")"; fi
# a value with a control character is escaped in the message
expect_fail 2 'parameter -Identity is "site\x1b[31m"' kf Get-CsKerberosAccountAssignment -Identity $'site\e[31m'
finish
