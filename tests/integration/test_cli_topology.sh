#!/usr/bin/env bash
# The topology commands through the built CLI on a temporary store:
# every command of the contract, --json, export/import round trip, and every
# bad input (clear message, exit status, store unchanged).
. "$(dirname "$0")/lib.sh"
DATA="$(dirname "$0")/../data"

# -- no store yet: reading commands fail and create nothing ------------------
for c in "site list" "pool list" "server list" "service list --webserver" "audit list" \
         "assignment get" "account list" "account show kerbauth" "topology test" \
         "assignment test --site redmond" "topology export $T/never.json"; do
  # shellcheck disable=SC2086
  expect_fail 1 "there is no store at $KRBFLEET_STORE (chosen by \$KRBFLEET_STORE)" kf $c
  [ ! -e "$KRBFLEET_STORE" ] && ok "$c creates no store" || { not_ok "$c created $KRBFLEET_STORE"; rm -f "$KRBFLEET_STORE"; }
done
[ ! -e "$T/never.json" ] && ok "export from no store writes no file" || not_ok "export wrote $T/never.json"
expect_fail 1 'a command that changes something (e.g. `krbfleet topology import FILE`) creates it' kf site list
expect_fail 1 "--store PATH, else \$KRBFLEET_STORE, else [store] path in the configuration file, else /var/lib/krbfleet/krbfleet.db" kf site list
expect_fail 1 "there is no store at $T/typo.db (chosen by --store)" kf --store "$T/typo.db" topology export "$T/backup.json"
[ ! -e "$T/typo.db" ] && [ ! -e "$T/backup.json" ] && ok "export with a mistyped --store creates neither store nor backup" \
  || not_ok "export with a mistyped --store left files behind"
printf '[store]\npath = %s/cfg-typo.db\n' "$T" >"$T/typo.conf"
expect_fail 1 "there is no store at $T/cfg-typo.db (chosen by [store] path in $T/typo.conf)" \
  env -u KRBFLEET_STORE "$KRBFLEET" --config "$T/typo.conf" audit list
[ ! -e "$T/cfg-typo.db" ] && ok "audit list with a configured missing store creates nothing" || not_ok "configured store was created"
expect_fail 1 "there is no store at $T/doc.db (chosen by --store)" kf --store "$T/doc.db" doctor http://web.example.invalid/
[ ! -e "$T/doc.db" ] && ok "doctor with a named missing store creates nothing" || not_ok "doctor created a store"

# -- building a topology by hand ---------------------------------------------
run_ok "site add redmond (the first write creates the store)" kf site add redmond
if grep -qxF "krbfleet: created store $KRBFLEET_STORE" "$T/err"; then ok "the first write says it created the store"
else not_ok "no 'created store' note (stderr: $(cat "$T/err"))"; fi
[ "$(stat -c %a "$KRBFLEET_STORE")" = 600 ] && ok "a new store is mode 0600" || not_ok "new store mode $(stat -c %a "$KRBFLEET_STORE")"
run_ok "site add dublin" kf site add dublin
if grep -q "created store" "$T/err"; then not_ok "'created store' said twice"; else ok "an existing store is not 'created'"; fi
run_ok "pool add with web FQDNs and probe URL" kf pool add WEB.Redmond.example.com. --site redmond \
  --web-fqdn lb.redmond.example.com --web-fqdn ext.example.com --probe-url https://web.redmond.example.com/login
run_ok "pool add (store lower-cases)" kf pool add web.dublin.example.com --site Dublin
run_ok "server add" kf server add fe01.redmond.example.com --pool web.redmond.example.com --address 192.0.2.11 --agent-port 7391
run_ok "server add (IPv6)" kf server add fe02.redmond.example.com --pool web.redmond.example.com --address 2001:DB8::12
run_ok "server named like its own pool" kf server add web.dublin.example.com --pool web.dublin.example.com

run_ok "site list" kf site list
expect_out "site list shows counts" "redmond  1      2"
run_ok "pool list" kf pool list
expect_out "pool list shows web FQDNs" "lb.redmond.example.com,ext.example.com"
expect_out "pool list shows the default probe URL" "https://web.dublin.example.com/"
run_ok "server list" kf server list
expect_out "server list shows canonical IPv6" "2001:db8::12"
run_ok "service list --webserver" kf service list --webserver
expect_out "service list names the service" "WebServer:web.redmond.example.com  fe01.redmond.example.com  web.redmond.example.com  redmond"

run_ok "server list --json" kf server list --json
if jq -e '.servers | length == 3 and .[0].agent_port == 7391 and .[1].agent_port == null and .[2].address == null' "$T/out" >/dev/null
then ok "server list --json schema"; else not_ok "server list --json schema: $(cat "$T/out")"; fi
run_ok "site list --json (global option first)" kf --json site list
if jq -e '.sites[0] == {"name":"redmond","pools":1,"servers":2}' "$T/out" >/dev/null
then ok "site list --json schema"; else not_ok "site list --json schema: $(cat "$T/out")"; fi
run_ok "pool list --json" kf pool list --json
if jq -e '.pools[0].web_fqdns == ["lb.redmond.example.com","ext.example.com"] and .pools[1].web_fqdns == [] and .pools[1].probe_url == null' "$T/out" >/dev/null
then ok "pool list --json schema"; else not_ok "pool list --json schema: $(cat "$T/out")"; fi
run_ok "service list --json" kf service list --webserver --json
if jq -e '.services | length == 3 and .[2].identity == "WebServer:web.dublin.example.com"' "$T/out" >/dev/null
then ok "service list --json schema"; else not_ok "service list --json: $(cat "$T/out")"; fi

# -- changing a pool ------------------------------------------------------------
run_ok "pool set --web-fqdn replaces the extra names" kf pool set web.redmond.example.com --web-fqdn LB2.redmond.example.com
run_ok "pool list after pool set" kf pool list --json
if jq -e '.pools[0].web_fqdns == ["lb2.redmond.example.com"] and .pools[0].probe_url == "https://web.redmond.example.com/login"' "$T/out" >/dev/null
then ok "pool set changed only the web FQDNs"; else not_ok "pool set: $(cat "$T/out")"; fi
run_ok "pool set --default-probe-url --no-web-fqdns" kf pool set web.redmond.example.com --default-probe-url --no-web-fqdns
run_ok "pool list again" kf pool list --json
if jq -e '.pools[0].web_fqdns == [] and .pools[0].probe_url == null' "$T/out" >/dev/null
then ok "pool set cleared both"; else not_ok "pool set: $(cat "$T/out")"; fi
run_ok "pool set back" kf pool set web.redmond.example.com --web-fqdn lb.redmond.example.com --web-fqdn ext.example.com --probe-url https://web.redmond.example.com/login
expect_fail 2 'nothing to change' kf pool set web.redmond.example.com
expect_fail 2 'exclude each other' kf pool set web.redmond.example.com --web-fqdn a.example.com --no-web-fqdns
expect_fail 1 'pool "nosuch.example.com" does not exist' kf pool set nosuch.example.com --no-web-fqdns
expect_fail 1 '"web.dublin.example.com" is already the FQDN of pool "web.dublin.example.com"' kf pool set web.redmond.example.com --web-fqdn web.dublin.example.com
expect_fail 2 'is not a valid probe URL' kf pool set web.redmond.example.com --probe-url gopher://x/

# -- bad input: message, exit status, store unchanged -------------------------
expect_fail 1 'site "REDMOND" exists already' kf site add REDMOND
expect_fail 2 '"bad site/name" is not a valid site name' kf site add "bad site/name"
expect_fail 2 'missing argument' kf site add
expect_fail 2 'unexpected argument "b"' kf site add a b
expect_fail 2 "option '--frobnicate' is unknown" kf site add x --frobnicate
expect_fail 2 'unknown command "site frob"' kf site frob
expect_fail 2 '--site is required' kf pool add web.x.example.com
expect_fail 2 '"bad_name..x" is not a valid DNS name' kf pool add bad_name..x --site redmond
expect_fail 1 'site "nowhere" does not exist' kf pool add web.x.example.com --site nowhere
expect_fail 1 '"web.redmond.example.com" is already the FQDN of pool "web.redmond.example.com"' kf pool add web.redmond.example.com --site dublin
expect_fail 1 '"lb.redmond.example.com" is already a web FQDN of pool "web.redmond.example.com"' kf pool add lb.redmond.example.com --site dublin
expect_fail 1 '"web.dublin.example.com" is already the FQDN of pool "web.dublin.example.com"' kf pool add web.y.example.com --site dublin --web-fqdn web.dublin.example.com
expect_fail 1 'is the pool'"'"'s own FQDN' kf pool add web.z.example.com --site dublin --web-fqdn WEB.z.example.com
expect_fail 1 'is listed twice' kf pool add web.z.example.com --site dublin --web-fqdn a.example.com --web-fqdn a.example.com
expect_fail 2 'is not a valid probe URL' kf pool add web.z.example.com --site dublin --probe-url ftp://web.z.example.com/
expect_fail 2 '--web-fqdn: "-lb.example.com" is not a valid DNS name' kf pool add web.z.example.com --site dublin --web-fqdn -lb.example.com
expect_fail 2 '--pool is required' kf server add fe09.example.com
expect_fail 2 '"300.1.1.1" is not a valid IPv4 or IPv6 address' kf server add fe09.example.com --pool web.dublin.example.com --address 300.1.1.1
expect_fail 2 '"0" is not a valid port (1-65535)' kf server add fe09.example.com --pool web.dublin.example.com --agent-port 0
expect_fail 2 '"70000" is not a valid port (1-65535)' kf server add fe09.example.com --pool web.dublin.example.com --agent-port 70000
expect_fail 1 'pool "web.nowhere.example.com" does not exist' kf server add fe09.example.com --pool web.nowhere.example.com
expect_fail 1 '"fe01.redmond.example.com" is already the FQDN of a server of pool "web.redmond.example.com"' kf server add FE01.redmond.example.com --pool web.dublin.example.com
expect_fail 1 '"web.redmond.example.com" is already the FQDN of pool "web.redmond.example.com"' kf server add web.redmond.example.com --pool web.dublin.example.com
expect_fail 1 'site "redmond" still has 1 pool(s)' kf site remove redmond
expect_fail 1 'pool "web.redmond.example.com" still has 2 server(s)' kf pool remove web.redmond.example.com
expect_fail 1 'server "fe99.example.com" does not exist' kf server remove fe99.example.com
expect_fail 1 'site "nowhere" does not exist' kf site remove nowhere
expect_fail 2 "option '--store' needs a value" kf site list --store

# -- export / import ----------------------------------------------------------
run_ok "topology export to stdout" kf topology export
cp "$T/out" "$T/export1.json"
run_ok "topology export FILE" kf topology export "$T/export1b.json"
if cmp -s "$T/export1.json" "$T/export1b.json"; then ok "export FILE = export stdout"; else not_ok "export FILE differs"; fi
echo "precious" >"$T/target"
ln -s "$T/target" "$T/link.json"
run_ok "topology export over a symbolic link" kf topology export "$T/link.json"
[ "$(cat "$T/target")" = precious ] && ok "export does not follow a link at FILE" || not_ok "export wrote through the link"
[ -f "$T/link.json" ] && [ ! -L "$T/link.json" ] && cmp -s "$T/link.json" "$T/export1.json" \
  && ok "the link is replaced by the document" || not_ok "link.json is not the document"
echo old >"$T/export1c.json"
run_ok "topology export over an existing file" kf topology export "$T/export1c.json"
cmp -s "$T/export1c.json" "$T/export1.json" && ok "the old file is replaced whole" || not_ok "export1c differs"
[ -z "$(find "$T" -maxdepth 1 -name '*.tmp.*')" ] && ok "export leaves no temporary file" || not_ok "temporary files left: $(ls "$T")"
mkdir "$T/adir"
expect_fail 1 "cannot write the topology document $T/adir" kf topology export "$T/adir"
expect_fail 1 "cannot write the topology document $T/nodir/x.json" kf topology export "$T/nodir/x.json"
if jq -e '.sites[0].pools[0] | keys_unsorted == ["fqdn","web_fqdns","probe_url","servers"]' "$T/export1.json" >/dev/null
then ok "export keeps the key order"; else not_ok "export key order: $(head -c 600 "$T/export1.json")"; fi
if jq -e '.sites[1].pools[0] | has("web_fqdns") or has("probe_url") | not' "$T/export1.json" >/dev/null
then ok "export leaves out fields never set"; else not_ok "export writes unset fields"; fi
rm -f "$KRBFLEET_STORE"
run_ok "import into a new store" kf topology import "$T/export1.json"
expect_out "import reports counts" "imported 2 sites, 2 pools, 3 servers"
run_ok "export again" kf topology export
if cmp -s "$T/export1.json" "$T/out"; then ok "export -> import -> export is byte-identical"
else not_ok "round trip differs"; diff "$T/export1.json" "$T/out" | head; fi
run_ok "import the same document again" kf topology import "$T/export1.json"
run_ok "export after re-import" kf topology export
if cmp -s "$T/export1.json" "$T/out"; then ok "re-import is stable"; else not_ok "re-import changes export"; fi
run_ok "import from stdin" sh -c "\"$KRBFLEET\" topology import - < '$DATA/topology-2sites.json'"
run_ok "export sample" kf topology export
if cmp -s "$DATA/topology-2sites.json" "$T/out"; then ok "sample topology round-trips"; else not_ok "sample differs"; diff "$DATA/topology-2sites.json" "$T/out" | head; fi

# import --dry-run: the difference, and nothing changed
jq '.sites[0].pools[0].servers[0].address = "192.0.2.99" | .sites[0].pools[0].servers[1].agent_port = 7400
    | .sites[0].pools[0].probe_url = "https://web.redmond.lab.test/login"
    | .sites[1].pools[0].web_fqdns = ["lb.dublin.lab.test"] | del(.sites[1].pools[0].servers[1])
    | .sites[0].pools[0].web_fqdns = [] | .sites += [{"name": "paris", "pools": [{"fqdn": "web.paris.lab.test",
      "servers": [{"fqdn": "fe02.dublin.lab.test"}]}]}]' "$DATA/topology-2sites.json" >"$T/changed.json"
dump_store "$T/dry-before"
run_ok "import --dry-run" kf topology import --dry-run "$T/changed.json"
dump_store "$T/dry-after"
cmp -s "$T/dry-before" "$T/dry-after" && ok "import --dry-run changes nothing" || not_ok "import --dry-run changed the store"
for line in "+ site paris (1 pool(s))" "+ pool web.paris.lab.test (site paris)" \
            "+ web FQDN lb.dublin.lab.test (pool web.dublin.lab.test)" \
            "- web FQDN lb.redmond.lab.test (pool web.redmond.lab.test)" \
            "~ pool web.redmond.lab.test: probe URL http://web.redmond.lab.test:8080/ -> https://web.redmond.lab.test/login" \
            "~ server fe01.redmond.lab.test: address 127.77.1.11 -> 192.0.2.99" \
            "~ server fe02.redmond.lab.test: agent port 7390 -> 7400" \
            "~ server fe02.dublin.lab.test: pool web.dublin.lab.test -> web.paris.lab.test" \
            "~ server fe02.dublin.lab.test: address 127.77.1.22 -> (default)" \
            "~ server fe02.dublin.lab.test: agent port 7390 -> (default)" \
            "dry run: 10 change(s) to the store; nothing was changed"; do
  grep -qxF -- "$line" "$T/out" && ok "dry run shows: $line" || not_ok "dry run lacks '$line': $(cat "$T/out")"
done
jq 'del(.sites[1])' "$DATA/topology-2sites.json" >"$T/less.json"
run_ok "import --dry-run of a smaller topology" kf topology import --dry-run "$T/less.json"
for line in "- site dublin (1 pool(s))" "- pool web.dublin.lab.test (site dublin)" \
            "- server fe01.dublin.lab.test (pool web.dublin.lab.test)" "- server fe02.dublin.lab.test (pool web.dublin.lab.test)"; do
  grep -qxF -- "$line" "$T/out" && ok "dry run shows: $line" || not_ok "dry run lacks '$line': $(cat "$T/out")"
done
run_ok "import --dry-run of the same document" kf topology import --dry-run "$DATA/topology-2sites.json"
expect_out "no difference, no change" "dry run: 0 change(s) to the store; nothing was changed"
run_ok "import --dry-run without a store" kf --store "$T/dry.db" topology import --dry-run "$DATA/topology-2sites.json"
expect_out "everything would be added to a new store" "dry run: 9 change(s) to a new store; nothing was changed"
[ ! -e "$T/dry.db" ] && ok "import --dry-run creates no store" || not_ok "import --dry-run created $T/dry.db"
expect_fail 2 'unexpected argument "b.json"' kf topology import a.json b.json

# bad documents: all or nothing, JSON path of the first error
bad() { printf '%s' "$2" >"$T/bad.json"; expect_fail 1 "$1" kf topology import "$T/bad.json"; }
bad 'sites[1].pools[0].fqdn: "bad_name..x" is not a valid DNS name' \
  '{"sites":[{"name":"a","pools":[]},{"name":"b","pools":[{"fqdn":"bad_name..x"}]}]}'
bad 'sites[1].pools[0]: "p.example.com" is already the FQDN of pool "p.example.com"' \
  '{"sites":[{"name":"a","pools":[{"fqdn":"p.example.com"}]},{"name":"b","pools":[{"fqdn":"p.example.com"}]}]}'
bad 'sites[1].name: site "A" is listed twice' '{"sites":[{"name":"a"},{"name":"A"}]}'
bad 'sites[0].pools[0].servers[1]: "s.example.com" is already the FQDN of a server' \
  '{"sites":[{"name":"a","pools":[{"fqdn":"p.example.com","servers":[{"fqdn":"s.example.com"},{"fqdn":"s.example.com"}]}]}]}'
bad 'line 1, column' '{"sites": [ '
bad 'unknown key "pool"' '{"sites":[{"name":"a","pool":[]}]}'
bad 'sites[0].pools[0].servers[0].agent_port: must be a port number' \
  '{"sites":[{"name":"a","pools":[{"fqdn":"p.example.com","servers":[{"fqdn":"s.example.com","agent_port":0}]}]}]}'
expect_fail 1 'cannot open' kf topology import "$T/does-not-exist.json"
head -c $((16 * 1024 * 1024 + 10)) /dev/zero | tr '\0' ' ' >"$T/huge.json"
expect_fail 1 'larger than 16 MiB; refused' kf topology import "$T/huge.json"
expect_fail 2 'missing argument' kf topology import

# -- removal with --force lists what goes --------------------------------------
run_ok "server remove" kf server remove FE01.dublin.lab.test
run_ok "server list after remove" kf server list
if grep -q fe01.dublin "$T/out"; then not_ok "server still listed"; else ok "server gone"; fi
run_ok "pool remove --force" kf pool remove web.dublin.lab.test --force
expect_out "pool remove lists its servers" "and its server fe02.dublin.lab.test"
run_ok "site remove --force" kf site remove redmond --force
expect_out "site remove lists pools" "and its pool web.redmond.lab.test"
expect_out "site remove lists servers" "and its server fe01.redmond.lab.test"

# -- the store and the audit log -----------------------------------------------
mode=$(stat -c %a "$KRBFLEET_STORE")
[ "$mode" = 600 ] && ok "store is mode 0600" || not_ok "store mode is $mode"
run_ok "audit list" kf audit list
expect_out "audit names the command" "site remove redmond --force"
expect_out "audit names the object" "site:redmond"
run_ok "audit list --json" kf audit list --json
if jq -e --arg u "$(id -un)" '.audit | length >= 5 and (.[-1] | .user == $u and .command == "site remove redmond --force" and .object == "site:redmond" and .principal == null and .detail == null)' "$T/out" >/dev/null
then ok "audit --json records user, command, object"; else not_ok "audit json: $(head -c 500 "$T/out")"; fi
run_ok "audit list --object site:redmond" kf audit list --object site:redmond --json
if jq -e '(.audit | length) >= 1 and all(.audit[]; .object == "site:redmond")' "$T/out" >/dev/null
then ok "--object KIND:NAME selects that object only"; else not_ok "--object site:redmond: $(head -c 500 "$T/out")"; fi
run_ok "audit list --object WEB.Dublin.lab.test" kf audit list --object WEB.Dublin.lab.test --json
if jq -e '(.audit | length) >= 1 and all(.audit[]; .object == "pool:web.dublin.lab.test")' "$T/out" >/dev/null
then ok "--object NAME selects any object of that name, case-insensitively"; else not_ok "--object NAME: $(head -c 500 "$T/out")"; fi
run_ok "audit list --object server" kf audit list --object server --json
if jq -e '(.audit | length) >= 1 and all(.audit[]; .object | startswith("server:"))' "$T/out" >/dev/null
then ok "--object KIND selects every object of that kind"; else not_ok "--object server: $(head -c 500 "$T/out")"; fi
run_ok "audit list --json (all)" kf audit list --json
all=$(jq '.audit | length' "$T/out")
run_ok "audit list --since 1h" kf audit list --since 1h --json
[ "$(jq '.audit | length' "$T/out")" = "$all" ] && ok "--since 1h keeps this run's changes" || not_ok "--since 1h: $(head -c 300 "$T/out")"
run_ok "audit list --since a future date" kf audit list --since 2999-01-01 --json
jq -e '.audit == []' "$T/out" >/dev/null && ok "--since a future date lists nothing" || not_ok "--since 2999: $(head -c 300 "$T/out")"
run_ok "audit list --since today's date, --object, as a table" kf audit list --since "$(date -u +%F)" --object site:redmond
expect_out "the table has the selected entries" "site remove redmond --force"
if grep -q "pool:" "$T/out"; then not_ok "the table has unselected entries"; else ok "the table has only the selected object"; fi
expect_fail 2 '--since: "yesterday" is neither a UTC date (2026-12-07, 2026-12-07T14:30 or 2026-12-07T14:30:00) nor a duration back from now (90m, 12h, 7d)' kf audit list --since yesterday
expect_fail 2 '--since: "2026-02-30" is neither a UTC date' kf audit list --since 2026-02-30
expect_fail 2 '--object needs a name' kf audit list --object ''
# the principal only from a valid, unexpired ticket (caches made without a KDC)
for kind in none expired valid; do
  python3 "$(dirname "$0")/mkccache.py" "$T/$kind.cc" "$kind"
  run_ok "a change with a cache that is '$kind'" env KRB5CCNAME="FILE:$T/$kind.cc" "$KRBFLEET" site add "cc$kind"
  run_ok "audit list --object cc$kind" kf audit list --object "cc$kind" --json
  want=null; [ "$kind" = valid ] && want='"alice@LAB.TEST"'
  if jq -e --argjson w "$want" '.audit | length == 1 and .[0].principal == $w' "$T/out" >/dev/null
  then ok "cache '$kind': principal recorded as $want"; else not_ok "cache '$kind': $(head -c 300 "$T/out")"; fi
done

# -- what is at the store's path ---------------------------------------------------
S=$T/shared
mkdir -p "$S"
chmod 711 "$T"; chmod 755 "$S"
expect_fail 1 "the store $S is a directory, not a store file; name a file, e.g. $S/krbfleet.db" kf --store "$S" site list
expect_fail 1 "the store $S is a directory, not a store file" kf --store "$S" site add x
[ -z "$(ls -A "$S")" ] && ok "nothing was created in the directory" || not_ok "files appeared in $S: $(ls -A "$S")"
ln -s "$KRBFLEET_STORE" "$S/link.db"
expect_fail 1 "the store $S/link.db is a symbolic link" kf --store "$S/link.db" site list
rm -f "$S/link.db"
chmod 644 "$KRBFLEET_STORE"
run_ok "a store readable by others is still read" kf site list
if grep -qF "warning: the store $KRBFLEET_STORE is mode 0644: other users may read the topology and the audit log; run \`chmod 600 $KRBFLEET_STORE\`" "$T/err"
then ok "a 0644 store is warned about, naming the chmod"; else not_ok "no 0644 warning (stderr: $(cat "$T/err"))"; fi
chmod 600 "$KRBFLEET_STORE"
run_ok "a 0600 store" kf site list
[ -s "$T/err" ] && not_ok "a 0600 store gives messages: $(cat "$T/err")" || ok "a 0600 store gives no warning"
# As another user (root runs the test as nobody; others chmod their own file).
if [ "$(id -u)" -eq 0 ] && [ -n "${KF_WRAP_DIR:-}" ]; then
  echo "# store permission checks skipped under memcheck (valgrind as nobody)"
else
  if [ "$(id -u)" -eq 0 ]; then as_other() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
  else as_other() { "$@"; }; fi
  cp "$KRBFLEET_STORE" "$S/ro.db"
  chmod 444 "$S/ro.db"
  cksum_before=$(cksum <"$S/ro.db")
  run_ok "a read-only store is read" as_other "$KRBFLEET" --store "$S/ro.db" site list
  expect_out "a read-only store lists its sites" "dublin"
  expect_fail 1 "is read-only for" as_other "$KRBFLEET" --store "$S/ro.db" site add rosite
  if grep -qF "commands that only read work, this one changes the store" "$T/err"
  then ok "the read-only refusal says reading works"; else not_ok "read-only message: $(cat "$T/err")"; fi
  [ "$(cksum <"$S/ro.db")" = "$cksum_before" ] && ok "a refused write leaves the read-only store as it was" \
    || not_ok "the read-only store changed"
  chmod 000 "$S/ro.db"
  expect_fail 1 "$S/ro.db (mode 0000" as_other "$KRBFLEET" --store "$S/ro.db" site list
  if grep -qF "is not readable by" "$T/err" && grep -qF "run krbfleet as its owner" "$T/err"
  then ok "an unreadable store is named with the fix"; else not_ok "unreadable message: $(cat "$T/err")"; fi
  rm -f "$S/ro.db"
fi
chmod 700 "$T"

# -- configuration ---------------------------------------------------------------
printf '[store]\npath = %s/from-config.db\n' "$T" >"$T/k.conf"
run_ok "[store] path from --config" env -u KRBFLEET_STORE "$KRBFLEET" --config "$T/k.conf" site add cfgsite
[ -f "$T/from-config.db" ] && ok "the configured store was created" || not_ok "configured store missing"
run_ok "\$KRBFLEET_CONFIG is read" env -u KRBFLEET_STORE KRBFLEET_CONFIG="$T/k.conf" "$KRBFLEET" site list
expect_out "same store through the environment" "cfgsite"
run_ok "--store wins over the configuration" kf --config "$T/k.conf" site list
if grep -q cfgsite "$T/out"; then not_ok "--store ignored"; else ok "--store wins"; fi
printf '[store]\npath = /x.db\n[rotation]\ngrace = 10 hours\n' >"$T/bad.conf"
expect_fail 1 "bad.conf:4:" kf --config "$T/bad.conf" site list
printf '[stor]\n' >"$T/bad2.conf"
expect_fail 1 "bad2.conf:1: unknown section [stor]; the sections are [directory], [store], [agent], [rotation], [probe], [status] or [permission]; did you mean [store]?" kf --config "$T/bad2.conf" site list
printf '[store]\npaht = /x.db\n' >"$T/bad3.conf"
expect_fail 1 "bad3.conf:2: unknown key 'paht' in section [store]; did you mean 'path'?" kf --config "$T/bad3.conf" site list
expect_fail 1 "$T/missing.conf" kf --config "$T/missing.conf" site list
expect_fail 1 "$T/missing.conf" env KRBFLEET_CONFIG="$T/missing.conf" "$KRBFLEET" site list

# -- output an attacker cannot shape (issue 14) -----------------------------------
# Control characters and bidi overrides in echoed input are shown escaped,
# never raw; names and probe URLs refuse them.
no_raw() { # no_raw "what" FILE...: no ESC, CR or U+202E in FILE
  local what=$1; shift
  if LC_ALL=C grep -q $'\e\|\r\|\xe2\x80\xae' "$@"; then not_ok "$what: a raw control character got out"
  else ok "$what: nothing raw"; fi
}
expect_fail 2 'site name "evil\x1b[2J" contains a control character (\x1b at byte 5)' kf site add $'evil\e[2J'
no_raw "site add ESC" "$T/err" "$T/out"
expect_fail 2 'name "web\u202elpt.example.com" contains a control or bidi character (\u202e at byte 4)' \
  kf pool add $'web\u202elpt.example.com' --site dublin
expect_fail 2 'probe URL "https://web.q.example.com/\x0d" contains a control character' \
  kf pool add web.q.example.com --site dublin --probe-url $'https://web.q.example.com/\r'
expect_fail 2 'probe URL "https://web.q.example.com/\u202etxt" contains a control or bidi' \
  kf pool add web.q.example.com --site dublin --probe-url $'https://web.q.example.com/\u202etxt'
expect_fail 2 'account name "LAB\x\x1b" contains a control character' kf assignment new --site dublin --account $'LAB\\x\e'
expect_fail 2 'unknown command "site \x1b]0;pwned\x07"' kf site $'\e]0;pwned\a'
no_raw "unknown command" "$T/err"
expect_fail 2 "option '--\x1b[8m' is unknown" kf site add x $'--\e[8m'
no_raw "unknown option" "$T/err"
# a store written by something else: tables escape what they show
cp "$KRBFLEET_STORE" "$T/tampered.db"
sqlite3 "$T/tampered.db" "UPDATE site SET name = 'dub' || char(27) || '[31m' || char(8238) || 'lin' WHERE name = 'dublin'"
run_ok "site list of a tampered store" kf --store "$T/tampered.db" site list
expect_out "table shows ESC and U+202E escaped" 'dub\x1b[31m\u202elin'
no_raw "site list table" "$T/out"
run_ok "assignment get of a tampered store" kf --store "$T/tampered.db" assignment get
expect_out "every table escapes" 'dub\x1b[31m\u202elin'
no_raw "assignment get table" "$T/out"

# -- malformed values on the command line exit 2; every failure with --json is
#    one {"error": ...} document on stdout, the message still on stderr -------
expect_fail 2 '"x1" is not a valid port' kf server add fe09.example.com --pool web.dublin.example.com --agent-port x1
expect_fail 2 '"7390x" is not a valid port' kf server add fe09.example.com --pool web.dublin.example.com --agent-port 7390x
expect_fail 2 'must be a number from 1 to 4096' kf password set --account x --concurrency many
json_err() { # json_err CODE "message substring": $T/out is exactly one error document
  if jq -e --arg c "$1" --arg m "$2" '(keys == ["error"]) and .error.code == $c and (.error.message | contains($m)) and (.error | has("object"))' "$T/out" >/dev/null &&
     [ "$(jq -s length "$T/out")" = 1 ]
  then ok "--json error document: $1"; else not_ok "--json error $1: $(head -c 400 "$T/out")"; fi
}
expect_fail 1 'site "nowhere" does not exist' kf --json pool add web.x.example.com --site nowhere
json_err not_found 'site "nowhere" does not exist'
expect_fail 1 'site "DUBLIN" exists already' kf site add DUBLIN --json
json_err exists 'exists already'
if jq -e '.error.object == "site:DUBLIN"' "$T/out" >/dev/null; then ok "error names its object"
else not_ok "error object: $(cat "$T/out")"; fi
expect_fail 2 "option '--frobnicate' is unknown" kf --json site add x --frobnicate
json_err usage "option '--frobnicate' is unknown"
expect_fail 2 'unknown command "site frob"' kf site frob --json
json_err usage 'unknown command'
expect_fail 2 '"0" is not a valid port' kf --json server add fe09.example.com --pool web.dublin.example.com --agent-port 0
json_err usage '"0" is not a valid port'
expect_fail 2 'contains a control character' kf --json site add $'a\eb'
json_err usage 'site name "a\x1bb" contains a control character'
expect_fail 2 "needs a value" kf site list --json --store
json_err usage "needs a value"
expect_fail 1 "bad.conf:4:" kf --json --config "$T/bad.conf" site list
json_err config "bad.conf:4:"
expect_fail 1 'cannot open' kf --json topology import "$T/does-not-exist.json"
json_err io 'cannot open'

# -- topology parser messages in our words; a UTF-8 BOM is skipped -----------------
printf '\xef\xbb\xbf{"sites":[{"name":"bomsite"}]}\n' >"$T/bom.json"
run_ok "import a document with a UTF-8 BOM" kf --store "$T/bom.db" topology import "$T/bom.json"
run_ok "export after a BOM import" kf --store "$T/bom.db" topology export "$T/bom-out.json"
if [ "$(head -c 3 "$T/bom-out.json" | od -An -tx1 | tr -d ' ')" = "7b0a20" ] && grep -q '"bomsite"' "$T/bom-out.json"
then ok "export writes no BOM"; else not_ok "export starts with: $(head -c 3 "$T/bom-out.json" | od -An -tx1)"; fi
bad 'line 1, column 28: a string holds \u0000 (a NUL character)' '{"sites":[{"name":"a\u0000b"}]}'
bad 'the same key appears twice in one object' '{"sites":[],"sites":[]}'
bad 'the document is empty' '  '
bad 'the document ends too early' '{"sites":['
if grep -q 'JSON_ALLOW_NUL\|jansson' "$T/err"; then not_ok "a library name in the message"; else ok "no library names in parser messages"; fi
printf '{"sites":[{"name":"a\xff"}]}' >"$T/bad.json"
expect_fail 1 'the document is not UTF-8 (unable to decode byte 0xff); save it as UTF-8' kf topology import "$T/bad.json"

# -- every command's --json output against docs/krbfleet-output.schema.json -----
# One document on stdout, success or failure; changes say what they did.
export KRBFLEET_STORE="$T/json.db"
jrun() { # jrun DEF CMD...: run CMD --json (exit 0), validate its output as DEF
  local def=$1; shift
  run_ok "$* --json" kf --json "$@"
  json_valid "$def"
}
jrun site_add site add jsite
if jq -e '.changes == [{"action":"added","object":"site:jsite"}]' "$T/out" >/dev/null
then ok "site add --json says what it added"; else not_ok "site add --json: $(cat "$T/out")"; fi
jrun pool_add pool add web.jsite.example.com --site jsite --web-fqdn lb.jsite.example.com
jrun pool_set pool set web.jsite.example.com --probe-url https://web.jsite.example.com/x
jrun server_add server add fe01.jsite.example.com --pool web.jsite.example.com --agent-port 7391
jrun server_add server add fe02.jsite.example.com --pool web.jsite.example.com --address 192.0.2.7
jrun site_list site list
jrun pool_list pool list
jrun server_list server list
if jq -e '.servers == [{"fqdn":"fe01.jsite.example.com","pool":"web.jsite.example.com","site":"jsite","address":null,"agent_port":7391},{"fqdn":"fe02.jsite.example.com","pool":"web.jsite.example.com","site":"jsite","address":"192.0.2.7","agent_port":null}]' "$T/out" >/dev/null
then ok "server list --json: unset values are null"; else not_ok "server list nulls: $(cat "$T/out")"; fi
jrun service_list service list --webserver
jrun assignment_get assignment get
if jq -e '.assignments == [{"site":"jsite","account":null}]' "$T/out" >/dev/null
then ok "assignment get --json: no account is null"; else not_ok "assignment get: $(cat "$T/out")"; fi
jrun account_list account list
jrun audit_list audit list
run_ok "topology export (the document itself)" kf --json topology export
json_valid topology_export
jrun topology_export topology export "$T/j-export.json"
if jq -e --arg f "file:$T/j-export.json" '.changes == [{"action":"written","object":$f}]' "$T/out" >/dev/null
then ok "topology export FILE --json names the file"; else not_ok "export FILE --json: $(cat "$T/out")"; fi
jrun topology_import topology import "$T/j-export.json"
if jq -e '.changes == [] and .dry_run == false and .sites == 1 and .pools == 1 and .servers == 2 and .in_use == []' "$T/out" >/dev/null
then ok "topology import --json of the same topology: no changes"; else not_ok "import --json: $(cat "$T/out")"; fi
jrun topology_import --store "$T/j2.db" topology import --dry-run "$T/j-export.json"
jrun topology_import --store "$T/j2.db" topology import "$T/j-export.json"
if jq -e '(.changes | map(.action) | unique) == ["added"] and (.changes | map(.object) | sort) == ["pool:web.jsite.example.com","server:fe01.jsite.example.com","server:fe02.jsite.example.com","site:jsite","web_fqdn:lb.jsite.example.com"]' "$T/out" >/dev/null
then ok "topology import --json lists what it added"; else not_ok "import --json changes: $(cat "$T/out")"; fi
jrun server_remove server remove fe02.jsite.example.com
jrun pool_remove pool remove web.jsite.example.com --force
if jq -e '.changes == [{"action":"removed","object":"pool:web.jsite.example.com"},{"action":"removed","object":"server:fe01.jsite.example.com"}]' "$T/out" >/dev/null
then ok "pool remove --force --json lists what went"; else not_ok "pool remove --json: $(cat "$T/out")"; fi
jrun site_remove site remove jsite
run_ok "--version --json" kf --json --version
json_valid version
# failures: one error document, for each kind of failure
jfail() { # jfail EXIT CODE CMD...: CMD --json exits EXIT with an error document of CODE
  local rc_want=$1 code=$2; shift 2
  local rc=0
  "$KRBFLEET" --json "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" = "$rc_want" ] && jq -e --arg c "$code" '.error.code == $c' "$T/out" >/dev/null && [ -s "$T/err" ]
  then ok "$* --json -> exit $rc_want, error $code, message on stderr too"
  else not_ok "$* --json: exit $rc, stdout $(head -c 300 "$T/out"), stderr $(head -c 200 "$T/err")"; fi
  json_valid site_list # any DEF: an error document is valid for every command
}
jfail 2 usage site list extra
jfail 2 usage pool add web.x.example.com
jfail 1 not_found pool add web.x.example.com --site nowhere
jfail 1 not_found server remove nosuch.example.com
jfail 2 usage server add fe09.example.com --pool web.x.example.com --agent-port seven
jfail 1 io topology import "$T/nonexistent.json"
printf '{"sites": 3}' >"$T/j-bad.json"
jfail 1 invalid topology import "$T/j-bad.json"
jfail 2 usage account new 'LAB\bad name'
jfail 2 usage account new 'LAB\x' --enctypes aes512
jfail 2 usage password set --account x --concurrency 0
jfail 2 usage doctor 'ftp://x.example.com/'
jfail 2 usage frobnicate
jfail 2 usage site
jfail 2 usage audit list --since yesterday-ish
jfail 2 usage assignment test --site x --report ''
# the checker itself refuses what breaks the contract
printf '{"sites":[{"name":"a","pools":-1,"servers":0}]}\n' >"$T/out"
if ! python3 "$(dirname "$0")/json_check.py" "$KF_SCHEMA" site_list "$T/out" >/dev/null; then ok "json_check refuses a wrong type"
else not_ok "json_check accepted pools = -1"; fi
printf '{"error":{"code":"usage","message":"m","object":null}}\n{}\n' >"$T/out"
if ! python3 "$(dirname "$0")/json_check.py" "$KF_SCHEMA" site_list "$T/out" >/dev/null; then ok "json_check refuses two documents"
else not_ok "json_check accepted two documents"; fi
export KRBFLEET_STORE="$T/store.db"

# -- help and version ------------------------------------------------------------
run_ok "--help" kf --help
expect_out "--help lists commands" "topology import"
run_ok "help pool add" kf help pool add
expect_out "help pool add explains --web-fqdn" "--web-fqdn FQDN"
run_ok "pool add --help" kf pool add --help
run_ok "--version" kf --version
expect_out "version" "krbfleet "
expect_fail 2 'Usage:' kf
# a group without its subcommand lists the group's commands - every group
kf --help >"$T/help"
groups=$(sed -n 's/^  \([a-z]*\) [a-z].*/\1/p' "$T/help" | sort -u)
[ -n "$groups" ] || not_ok "no command groups found in --help"
for g in $groups; do
  expect_fail 2 "krbfleet: \"$g\" needs a subcommand, one of:" kf "$g"
  missing=""
  for sub in $(sed -n "s/^  $g \([a-z]*\) .*/\1/p" "$T/help"); do
    grep -q "^krbfleet $g $sub" "$T/err" || missing="$missing $sub"
  done
  [ -z "$missing" ] && ok "krbfleet $g lists all its subcommands" || not_ok "krbfleet $g does not list:$missing"
done
expect_fail 2 'The "site" commands are:' kf site frob
grep -q "^krbfleet site remove NAME \[--force\]" "$T/err" && ok "an unknown subcommand lists the group" || not_ok "site frob: $(cat "$T/err")"
expect_fail 2 'unknown command "frob"' kf frob
grep -q "commands are" "$T/err" && not_ok "an unknown command lists a group" || ok "an unknown command is not a group"

finish
