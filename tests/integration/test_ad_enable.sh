#!/usr/bin/env bash
# Accounts, assignments, `topology enable`, `spn list` and `topology test`
# against a real Samba AD DC (tests/lab), started for this test and torn
# down afterwards. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
DATA="$(cd "$(dirname "$0")/../data" && pwd)"
BASE=$LAB_BASE_DN
CN="CN=Computers,$BASE"

usn() { ldap_attr "CN=$1,$CN" uSNChanged; }
spns() { ldap_attr "CN=$1,$CN" servicePrincipalName | sort | tr '\n' ' '; }

# -- accounts ----------------------------------------------------------------
run_ok "account new LAB\\kerbauth (DC found through DNS SRV)" kf account new 'LAB\kerbauth'
expect_out "account new names the DN" "CN=kerbauth,$CN"
[ "$(ldap_attr "CN=kerbauth,$CN" userAccountControl)" = 4096 ] && ok "userAccountControl 4096" || not_ok "userAccountControl"
[ "$(ldap_attr "CN=kerbauth,$CN" msDS-SupportedEncryptionTypes)" = 24 ] && ok "enctypes 24 (AES)" || not_ok "enctypes"
[ "$(ldap_attr "CN=kerbauth,$CN" sAMAccountName)" = 'kerbauth$' ] && ok "sAMAccountName kerbauth\$" || not_ok "sAMAccountName"
run_ok "account new LAB\\kerbauth2 --enctypes aes256,rc4" kf account new 'lab\KerbAuth2' --enctypes aes256,rc4
if grep -q "RC4 is weak" "$T/err"; then ok "rc4 warns"; else not_ok "rc4 warning missing"; fi
[ "$(ldap_attr "CN=kerbauth2,$CN" msDS-SupportedEncryptionTypes)" = 20 ] && ok "enctypes 20 (AES256+RC4)" || not_ok "enctypes rc4"
expect_fail 1 'already managed' kf account new 'LAB\kerbauth'
samba-tool computer create handmade -s "$LAB_SMB_CONF" >/dev/null 2>&1
expect_fail 1 'handmade' kf account new 'LAB\handmade'
expect_fail 1 "create computer objects in CN=Computers,$BASE" env KRB5CCNAME="$LAB_USER_CCACHE" "$KRBFLEET" account new 'LAB\kerbauth3'
expect_fail 1 'is not the directory' kf account new 'CONTOSO\kerbauth3'
expect_fail 2 'write the account as DOMAIN\name' kf account new kerbauth3
expect_fail 2 'not a valid account name' kf account new 'LAB\bad name'
expect_fail 2 'DES' kf account new 'LAB\kerbauth3' --enctypes des-cbc-crc
expect_fail 2 "option '--frob' is unknown" kf account new 'LAB\kerbauth3' --frob
run_ok "account adopt a hand-made account" kf account adopt 'LAB\handmade' --json
json_valid account_adopt
if jq -e '.changes == [{"action":"adopted","object":"account:LAB\\handmade"}] and .account.account == "LAB\\handmade"' "$T/out" >/dev/null
then ok "account adopt --json says what it adopted"; else not_ok "adopt --json: $(cat "$T/out")"; fi
run_ok "account list" kf account list
expect_out "account list shows adopted" "LAB\\handmade"
run_ok "account show --json" kf account show kerbauth --json
json_valid account_show
if jq -e '.kvno >= 1 and .enctypes_mask == 24 and .enctypes == ["aes256-cts-hmac-sha1-96","aes128-cts-hmac-sha1-96"] and .account == "LAB\\kerbauth" and .disabled == false and .dn == "CN=kerbauth,'"$CN"'"' "$T/out" >/dev/null
then ok "account show --json reads the directory"; else not_ok "account show: $(cat "$T/out")"; fi
expect_fail 1 'is not managed by krbfleet' kf account show nosuch
# --json of the account commands (docs/json.md): what was done, one shape
run_ok "account new --json" kf --json account new 'LAB\jsonacct' --enctypes aes256,rc4
json_valid account_new
if jq -e '.changes == [{"action":"created","object":"account:LAB\\jsonacct"}] and .account.account == "LAB\\jsonacct" and .account.enctypes == ["aes256-cts-hmac-sha1-96","rc4-hmac"] and .account.enctypes_mask == 20 and .account.kvno >= 1' "$T/out" >/dev/null
then ok "account new --json says what it created"; else not_ok "account new --json: $(cat "$T/out")"; fi
if grep -q "RC4 is weak" "$T/err"; then ok "the warning still goes to stderr"; else not_ok "rc4 warning with --json"; fi
run_ok "account list --json" kf --json account list
json_valid account_list
if jq -e '[.accounts[] | select(.name == "handmade")] == [.accounts[] | select(.account == "LAB\\handmade" and .origin == "adopted" and (.enctypes | type) == "array")]' "$T/out" >/dev/null
then ok "account list --json: DOMAIN\\name and enctype names"; else not_ok "account list --json: $(cat "$T/out")"; fi
run_ok "account remove --delete-from-directory --json" kf --json account remove jsonacct --delete-from-directory
json_valid account_remove
if jq -e '.changes == [{"action":"removed","object":"account:LAB\\jsonacct"},{"action":"deleted","object":"dn:CN=jsonacct,'"$CN"'"}]' "$T/out" >/dev/null
then ok "account remove --json names both changes"; else not_ok "account remove --json: $(cat "$T/out")"; fi
expect_fail 1 'is not managed by krbfleet' kf --json account show nosuch
json_valid account_show
if jq -e '.error.code == "not_found" and .error.object == "account:nosuch"' "$T/out" >/dev/null
then ok "account show --json failure is an error document"; else not_ok "account show error: $(cat "$T/out")"; fi

# -- topology and assignments -------------------------------------------------
run_ok "import the sample topology" kf topology import "$DATA/topology-2sites.json"
run_ok "assignment new redmond -> kerbauth" kf assignment new --site redmond --account kerbauth --json
json_valid assignment_new
if jq -e '.changes == [{"action":"added","object":"assignment:redmond"}] and .site == "redmond" and .account == "LAB\\kerbauth"' "$T/out" >/dev/null
then ok "assignment new --json"; else not_ok "assignment new --json: $(cat "$T/out")"; fi
run_ok "assignment new dublin -> kerbauth2 (name\$ form)" kf assignment new --site dublin --account 'kerbauth2$'
expect_fail 1 'already has a Kerberos account assignment' kf assignment new --site redmond --account kerbauth2
run_ok "a site without pools" kf site add lonely
expect_fail 1 'has no Kerberos account assignment yet' kf assignment set --site lonely --account kerbauth
expect_fail 1 'site "nosite" does not exist' kf assignment new --site nosite --account kerbauth
expect_fail 1 'is not managed by krbfleet' kf assignment new --site redmond --account nobody
expect_fail 1 'is in domain LAB, not OTHER' kf assignment set --site redmond --account 'OTHER\kerbauth'
expect_fail 2 '--account is required' kf assignment new --site redmond
run_ok "assignment get" kf assignment get
expect_out "assignment get shows dublin" "dublin   LAB\\kerbauth2"
run_ok "assignment get --site --json" kf assignment get --site redmond --json
json_valid assignment_get
if jq -e '.assignments == [{"site":"redmond","account":"LAB\\kerbauth"}]' "$T/out" >/dev/null
then ok "assignment get --json"; else not_ok "assignment get json: $(cat "$T/out")"; fi
expect_fail 1 'is assigned to site(s) redmond' kf account remove kerbauth
dump_store "$T/before"
run_ok "assignment set to the account the site has" kf assignment set --site redmond --account 'LAB\kerbauth'
expect_out "a no-op set says nothing changed" "site redmond already uses LAB\\kerbauth; nothing changed"
dump_store "$T/after"
cmp -s "$T/before" "$T/after" && ok "a no-op assignment set records nothing (audit, pending enable)" \
  || { not_ok "a no-op assignment set changed the store"; diff "$T/before" "$T/after" | head -5; }

# -- topology test before enable -------------------------------------------------
expect_fail 1 'problems found' sh -c '"$KRBFLEET" topology test >&2'
run_ok "topology test --json" sh -c '"$KRBFLEET" topology test --json; [ $? -eq 1 ]'
json_valid topology_test
if jq -e '[.findings[] | select(.result == "FAIL" and .check == "spn")] | length == 3' "$T/out" >/dev/null &&
   jq -e '[.findings[] | select(.check == "published" and .fix == "krbfleet topology enable")] | length == 1' "$T/out" >/dev/null
then ok "topology test names the 3 missing SPNs and the pending enable"; else not_ok "topology test: $(cat "$T/out")"; fi

# -- enable --------------------------------------------------------------------
u1=$(usn kerbauth); u2=$(usn kerbauth2)
run_ok "enable --dry-run" kf topology enable --dry-run
expect_out "dry run names an SPN" "would add  HTTP/lb.redmond.lab.test to kerbauth"
[ "$(usn kerbauth)/$(usn kerbauth2)" = "$u1/$u2" ] && ok "dry run writes nothing" || not_ok "dry run wrote"
run_ok "enable" kf topology enable
expect_out "enable reports counts" "enabled: 3 SPN(s) added, 0 removed, 2 directory write(s)"
if grep -q "have not been given that account.s keys yet" "$T/err"; then ok "enable warns: keys not delivered yet"; else not_ok "no key warning: $(cat "$T/err")"; fi
[ "$(spns kerbauth)" = "HTTP/fe01.redmond.lab.test HTTP/fe02.redmond.lab.test HTTP/lb.redmond.lab.test HTTP/web.redmond.lab.test " ] ||
[ "$(spns kerbauth)" = "HTTP/lb.redmond.lab.test HTTP/web.redmond.lab.test " ] && ok "kerbauth holds the redmond SPNs" || not_ok "kerbauth SPNs: $(spns kerbauth)"
[ "$(spns kerbauth2)" = "HTTP/web.dublin.lab.test " ] && ok "kerbauth2 holds the dublin SPN" || not_ok "kerbauth2 SPNs: $(spns kerbauth2)"
run_ok "spn list --json" kf spn list kerbauth --json
json_valid spn_list
if jq -e '.account == "LAB\\kerbauth" and (.spns | index("HTTP/web.redmond.lab.test"))' "$T/out" >/dev/null
then ok "spn list --json: DOMAIN\\name"; else not_ok "spn list --json: $(cat "$T/out")"; fi
run_ok "spn list" kf spn list 'LAB\kerbauth'
expect_out "spn list is setspn -L" "Registered ServicePrincipalNames for CN=kerbauth,$CN:"
expect_out "spn list shows the SPN" "	HTTP/web.redmond.lab.test"
run_ok "topology test passes" kf topology test
expect_out "topology test passes" "all checks passed"

u1=$(usn kerbauth); u2=$(usn kerbauth2)
run_ok "second enable --json" kf topology enable --json
json_valid topology_enable
if jq -e '.ldap_writes == 0 and .added == 0 and .removed == 0' "$T/out" >/dev/null; then ok "second enable: 0 LDAP writes"; else not_ok "second enable: $(cat "$T/out")"; fi
[ "$(usn kerbauth)/$(usn kerbauth2)" = "$u1/$u2" ] && ok "second enable leaves uSNChanged where it was" || not_ok "uSNChanged moved"

# -- hand-added SPNs survive ----------------------------------------------------
samba-tool spn add HTTP/manual.lab.test 'kerbauth$' -s "$LAB_SMB_CONF" >/dev/null 2>&1
run_ok "enable with a hand-added SPN" kf topology enable
case "$(spns kerbauth)" in *HTTP/manual.lab.test*) ok "hand-added SPN survives enable";; *) not_ok "manual SPN removed";; esac
run_ok "topology test warns about it" kf topology test
expect_out "hand-added SPN is a warning" "WARN    account:LAB\\kerbauth"

# -- a site moved between managed accounts ----------------------------------------
run_ok "assignment set dublin -> kerbauth" kf assignment set --site dublin --account kerbauth --json
json_valid assignment_set
run_ok "enable moves the SPN" kf topology enable
expect_out "enable reports the move" "moved  HTTP/web.dublin.lab.test from kerbauth2 to kerbauth"
case "$(spns kerbauth)" in *HTTP/web.dublin.lab.test*) ok "kerbauth holds dublin now";; *) not_ok "move failed: $(spns kerbauth)";; esac
[ -z "$(spns kerbauth2)" ] && ok "kerbauth2 no longer holds it" || not_ok "kerbauth2: $(spns kerbauth2)"

# -- a duplicate SPN held by an object krbfleet does not manage ---------------------
samba-tool computer create legacy -s "$LAB_SMB_CONF" >/dev/null 2>&1
samba-tool spn add HTTP/lb.dublin.lab.test 'legacy$' -s "$LAB_SMB_CONF" >/dev/null 2>&1
run_ok "pool gets a web FQDN someone registered by hand" kf pool add web2.dublin.lab.test --site dublin --web-fqdn lb.dublin.lab.test
u1=$(usn kerbauth); ul=$(usn legacy)
expect_fail 1 "HTTP/lb.dublin.lab.test is already registered on CN=legacy,$CN" kf topology enable --json
json_valid topology_enable
if jq -e '.result == "conflict" and .error.code == "refused" and .conflicts == [{"spn":"HTTP/lb.dublin.lab.test","from":"CN=legacy,'"$CN"'","to":"LAB\\kerbauth"}]' "$T/out" >/dev/null
then ok "a refused enable --json: its plan and the error in one document"; else not_ok "enable refused --json: $(cat "$T/out")"; fi
[ "$(usn kerbauth)/$(usn legacy)" = "$u1/$ul" ] && ok "the refusal writes nothing" || not_ok "refusal wrote"
run_ok "enable --take-over" kf topology enable --take-over
expect_out "take-over is reported" "took over  HTTP/lb.dublin.lab.test from CN=legacy,$CN to kerbauth"
[ -z "$(spns legacy)" ] && ok "legacy lost the SPN" || not_ok "legacy: $(spns legacy)"
case "$(spns kerbauth)" in *HTTP/lb.dublin.lab.test*) ok "kerbauth has it";; *) not_ok "take-over failed";; esac

# -- removing a pool removes the SPNs krbfleet added -----------------------------------
run_ok "pool remove" kf pool remove web2.dublin.lab.test
run_ok "enable after pool remove" kf topology enable
case "$(spns kerbauth)" in *web2.dublin*|*lb.dublin*) not_ok "SPNs left: $(spns kerbauth)";; *) ok "removed pool's SPNs are gone";; esac
case "$(spns kerbauth)" in *HTTP/manual.lab.test*) ok "manual SPN still there";; *) not_ok "manual SPN removed";; esac

# -- an import cannot silently drop what is in use --------------------------------------
run_ok "export the live topology" kf topology export "$T/live.json"
jq 'del(.sites[] | select(.name == "redmond"))' "$T/live.json" >"$T/no-redmond.json"
u1=$(usn kerbauth)
expect_fail 1 "no-redmond.json would remove 2 thing(s) in use (listed above); nothing was changed" \
  kf topology import "$T/no-redmond.json"
for line in "  would remove site redmond, assigned to account LAB\\kerbauth" \
            "  would remove pool web.redmond.lab.test of site redmond, whose SPN HTTP/web.redmond.lab.test is published on account LAB\\kerbauth"; do
  grep -qxF -- "$line" "$T/err" && ok "the refusal lists: $line" || not_ok "refusal lacks '$line': $(cat "$T/err")"
done
grep -qF -- "--force" "$T/err" && ok "the refusal names --force" || not_ok "refusal: $(cat "$T/err")"
[ "$(usn kerbauth)" = "$u1" ] && ok "the refused import touches no directory object" || not_ok "uSNChanged moved"
dump_store "$T/before"
run_ok "import --dry-run of the smaller topology" kf topology import --dry-run "$T/no-redmond.json"
dump_store "$T/after"
cmp -s "$T/before" "$T/after" && ok "the dry run changes nothing" || not_ok "the dry run changed the store"
expect_out "the dry run shows the site going" "- site redmond (1 pool(s))"
expect_out "the dry run marks what is in use" "! would remove site redmond, assigned to account LAB\\kerbauth - refused without --force"
jq 'del(.sites[] | select(.name == "lonely"))' "$T/live.json" >"$T/no-lonely.json"
cp "$KRBFLEET_STORE" "$T/copy.db"
run_ok "a site with no assignment and no published pool goes without --force" \
  kf --store "$T/copy.db" topology import "$T/no-lonely.json"
run_ok "import --force removes what is in use, and says so" kf --store "$T/copy.db" topology import --force "$T/no-redmond.json"
expect_out "forced import lists the site" "removed (--force) site redmond, assigned to account LAB\\kerbauth"
expect_out "forced import says how to withdraw the SPNs" "run \`krbfleet topology enable\` to withdraw the SPNs"
run_ok "assignment get after the forced import" kf --store "$T/copy.db" assignment get
if grep -q redmond "$T/out"; then not_ok "redmond still assigned"; else ok "the forced import took the assignment with the site"; fi
rm -f "$T/copy.db"

# -- credentials and reachability -----------------------------------------------------
expect_fail 1 'kinit' env KRB5CCNAME="FILE:$T/empty-cc" "$KRBFLEET" spn list kerbauth --json
if jq -e '.error.code == "credentials"' "$T/out" >/dev/null; then ok "no ticket: error code credentials"
else not_ok "no ticket --json: $(cat "$T/out")"; fi
printf '[directory]\nldap_uri = ldap://dc1.lab.test:1\ntimeout = 3s\n' >"$T/dead.conf"
start=$(date +%s)
expect_fail 1 'dc1.lab.test' kf --config "$T/dead.conf" spn list kerbauth
[ $(( $(date +%s) - start )) -le 10 ] && ok "a dead DC is reported within 10 s" || not_ok "dead DC took too long"
printf '[directory]\nserver = dc1.lab.test\nfrobnicate = 1\n' >"$T/bad.conf"
expect_fail 1 'bad.conf:3: unknown key' kf --config "$T/bad.conf" spn list kerbauth
printf '[directory]\nserver = dc1.lab.test\n' >"$T/explicit.conf"
run_ok "explicit server in the configuration" kf --config "$T/explicit.conf" spn list kerbauth

# -- removal ------------------------------------------------------------------------
run_ok "assignment remove" kf assignment remove --site redmond --json
json_valid assignment_remove
run_ok "assignment remove dublin" kf assignment remove --site dublin
run_ok "enable removes what krbfleet added" kf topology enable
[ "$(spns kerbauth)" = "HTTP/manual.lab.test " ] && ok "only the manual SPN remains" || not_ok "left: $(spns kerbauth)"
run_ok "account remove (store only)" kf account remove kerbauth2
[ -n "$(ldap_attr "CN=kerbauth2,$CN" sAMAccountName)" ] && ok "directory object stays" || not_ok "object deleted"
run_ok "account remove --delete-from-directory" kf account remove handmade --delete-from-directory
[ -z "$(ldap_attr "CN=handmade,$CN" sAMAccountName)" ] && ok "directory object deleted" || not_ok "object still there"
run_ok "audit list" kf audit list
expect_out "audit has the take-over" "took over HTTP/lb.dublin.lab.test"
expect_out "audit has the principal" "kfadmin@LAB.TEST"

finish
