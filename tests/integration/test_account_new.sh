#!/usr/bin/env bash
# A first deployment in one command on a real fleet (tests/lab/fleet.sh):
# `krbfleet account new 'LAB\kerbauth' --site redmond` creates the account
# with the password whose keys every web server of the site already holds,
# publishes its SPNs and logs in to every server; alice then logs in through
# Apache by pool name. Bad input (an unknown site, a site that uses another
# account, a name the directory has that krbfleet does not manage) exits
# non-zero with a clear message and changes neither the store, nor the
# directory, nor a keytab. In builds with fault points (build-asan) the
# deployment of a second account is killed after staging, after creating
# the account and after publishing its SPNs; a re-run (and, after the
# creation, `sync`) completes it.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
. "$(dirname "$0")/fleet_lib.sh"

REDMOND="fe01.redmond.lab.test fe02.redmond.lab.test"
DUBLIN="fe01.dublin.lab.test fe02.dublin.lab.test"
dn_of() { echo "CN=$1,CN=Computers,$LAB_BASE_DN"; }
in_dir() { [ -n "$(ldap_attr "$(dn_of "$1")" sAMAccountName)" ]; }
keytab_sums() { local s; for s in $SERVERS; do md5sum "$(kt "$s")" 2>/dev/null || echo "$s none"; done; }

# refused ACCOUNT CODE "message" ARGS...: `krbfleet ARGS` exits CODE saying
# it, and leaves the store, the directory (no ACCOUNT$) and every keytab as
# they were
refused() {
  local acct=$1 code=$2 msg=$3; shift 3
  keytab_sums >"$T/kt.before"
  expect_fail "$code" "$msg" kf "$@"
  keytab_sums >"$T/kt.after"
  if in_dir "$acct"; then not_ok "$*: the directory has $acct\$ now"
  elif ! cmp -s "$T/kt.before" "$T/kt.after"; then not_ok "$*: a keytab changed"
  else ok "$*: no $acct\$ in the directory, every keytab unchanged"; fi
}

# deployed ACCOUNT SERVER...: each server's newest kvno is the account's in
# the directory, and alice logs in to each with brand-new tickets
deployed() {
  local acct=$1 s k bad=0; shift
  k=$(dir_kvno "$acct")
  fresh_alice "$T/fresh.ccache" || bad=1
  for s in "$@"; do
    [ "$(top_kvno "$s")" = "$k" ] || { bad=1; echo "$s holds kvnos $(kvnos "$s"), directory $k" >&2; }
    [ "$(login "$s" "$T/fresh.ccache")" = "HTTP 200" ] || { bad=1; echo "login to $s failed" >&2; }
  done
  return $bad
}

run_ok "import the fleet's topology" kf topology import "$TOPO"
run_ok "another account" kf account new 'LAB\other'
run_ok "dublin uses it" kf assignment new --site dublin --account other
run_ok "a stray account" kf account new 'LAB\stray'
run_ok "forgotten by krbfleet, kept in the directory" kf account remove stray

# ---- bad input: clear message, nothing changed ----
refused kerbauth 1 'site "nowhere" does not exist' account new 'LAB\kerbauth' --site nowhere
refused kerbauth 1 'site dublin already uses account LAB\other' \
  account new 'LAB\kerbauth' --site redmond --site dublin
refused kerbauth 1 'which krbfleet does not manage' account new 'LAB\stray' --site redmond
refused kerbauth 2 'site' account new 'LAB\kerbauth' --site 'bad site!'
refused kerbauth 2 '--dry-run goes with --site' account new 'LAB\kerbauth' --dry-run
kf --json account new 'LAB\kerbauth' --site nowhere >"$T/out" 2>/dev/null
json_valid account_new

# ---- dry run: every agent reached, nothing changed ----
dump_store "$T/before"
keytab_sums >"$T/kt.before"
run_ok "account new --site redmond --dry-run" kf --json account new 'LAB\kerbauth' --site redmond --dry-run
dump_store "$T/after"
keytab_sums >"$T/kt.after"
json_valid account_new
if jq -e '.dry_run and .result == "ok" and ([.servers[] | select(.result == "READY")] | length == 2)
          and (.spns | sort == ["HTTP/lb.redmond.lab.test", "HTTP/web.redmond.lab.test"])' \
      "$T/out" >/dev/null; then ok "dry run: both redmond servers READY, the two SPNs named"
else not_ok "dry run: $(head -c 600 "$T/out")"; fi
cmp -s "$T/before" "$T/after" && cmp -s "$T/kt.before" "$T/kt.after" && ! in_dir kerbauth &&
  ok "dry run: store, directory and keytabs unchanged" ||
  not_ok "dry run changed something: $(diff "$T/before" "$T/after" | head -5) $(diff "$T/kt.before" "$T/kt.after" | head -3)"

# ---- the deployment in one command ----
T1=$(now)
run_ok "account new 'LAB\\kerbauth' --site redmond" kf --json account new 'LAB\kerbauth' --site redmond
echo "# one-command deployment of 2 servers: $(since "$T1") s; warnings: $(jq -c .warnings "$T/out")"
json_valid account_new
if jq -e '.result == "ok" and .kvno == 1 and (.changes | length == 2) and
          ([.servers[] | select(.result == "OK" and .kvno == 1 and .published)] | length == 2)' \
      "$T/out" >/dev/null; then ok "--json: created, assigned, kvno 1, both servers OK by a login"
else not_ok "--json: $(head -c 800 "$T/out")"; fi
[ "$(dir_kvno kerbauth)" = 1 ] && ok "the directory has kerbauth\$ at kvno 1: its password was set once, at creation" ||
  not_ok "kvno $(dir_kvno kerbauth)"
spns=$(ldap_attr "$(dn_of kerbauth)" servicePrincipalName | sort | tr '\n' ' ')
[ "$spns" = "HTTP/lb.redmond.lab.test HTTP/web.redmond.lab.test " ] && ok "its SPNs are published: $spns" ||
  not_ok "SPNs: $spns"
r=$(sqlite3 "$KRBFLEET_STORE" "SELECT group_concat(server || '=' || kvno || ':' || state, ' ') FROM server_key WHERE account_id = (SELECT id FROM account WHERE name = 'kerbauth') ORDER BY server")
case "$r" in *"fe01.redmond.lab.test=1:committed"*"fe02.redmond.lab.test=1:committed"*|*"fe02.redmond.lab.test=1:committed"*"fe01.redmond.lab.test=1:committed"*)
  ok "the store records kvno 1 committed on both servers" ;; *) not_ok "server_key: $r" ;; esac
[ -z "$(lock_row)" ] && ok "no lock is left" || not_ok "lock row $(lock_row)"
for s in $REDMOND; do
  [ "$(login "$s")" = "HTTP 200" ] && ok "alice logs in to $s through Apache by its pool name" ||
    not_ok "login to $s: $(login "$s")"
done
deployed kerbauth $REDMOND 2>"$T/m.err" && ok "redmond's keytabs hold kvno 1, new tickets log in" ||
  not_ok "keytabs: $(cat "$T/m.err")"
run_ok "the same command again completes nothing new" kf account new 'LAB\kerbauth' --site redmond
[ "$(dir_kvno kerbauth)" = 1 ] && ok "... and sets no password (kvno 1)" || not_ok "kvno $(dir_kvno kerbauth)"
refused dubweb 1 'site redmond already uses account LAB\kerbauth' account new 'LAB\dubweb' --site redmond

# ---- a deployment killed between its steps, completed by sync or a re-run ----
run_ok "dublin is free again" kf assignment remove --site dublin
if has_pause_points; then
  kill_at() { # POINT: `account new 'LAB\dubweb' --site dublin` killed there
    local rc=0
    KRBFLEET_FAULT=$1 "$KRBFLEET" account new 'LAB\dubweb' --site dublin >"$T/out" 2>"$T/err" || rc=$?
    [ $rc = 137 ] && grep -q "killed at $1" "$T/err" && ok "killed at $1 (exit 137)" ||
      not_ok "not killed at $1 (exit $rc: $(head -c 300 "$T/err"))"
  }
  dump_store "$T/before"
  kill_at deploy-stage:1
  dump_store "$T/after"
  cmp -s "$T/before" "$T/after" && ! in_dir dubweb &&
    ok "killed after staging on one server: nothing recorded, no dubweb\$ in the directory" ||
    not_ok "killed after staging: store or directory changed"
  kill_at deploy-create
  [ "$(dir_kvno dubweb)" = 1 ] && [ "$(holders 1 $DUBLIN)" = 2 ] &&
    ok "killed after creating it: dubweb\$ at kvno 1, both dublin servers hold its keys (nothing lost)" ||
    not_ok "after the kill: kvno $(dir_kvno dubweb), kvno 1 on $(holders 1 $DUBLIN) servers"
  [ -n "$(lock_row)" ] && ok "the killed run's lock is left behind" || not_ok "no lock row"
  run_ok "sync completes the keys" kf sync --account dubweb
  expect_out "sync: both servers had kvno 1" "had kvno 1"
  kill_at deploy-publish
  [ -n "$(ldap_attr "$(dn_of dubweb)" servicePrincipalName)" ] && ok "killed after publishing the SPNs" ||
    not_ok "no SPN published before the kill"
  run_ok "the same command again completes the deployment" kf account new 'LAB\dubweb' --site dublin
else
  echo "# no fault points in $KRBFLEET (build-asan has them): the crash cases are skipped"
  run_ok "account new 'LAB\\dubweb' --site dublin" kf account new 'LAB\dubweb' --site dublin
fi
deployed dubweb $DUBLIN 2>"$T/m.err" && ok "dublin's keytabs hold dubweb's kvno $(dir_kvno dubweb); new tickets log in" ||
  not_ok "keytabs: $(cat "$T/m.err")"
all_logins && ok "alice logs in to all four servers" || not_ok "logins"
[ -z "$(lock_row)" ] && ok "no lock is left" || not_ok "lock row $(lock_row)"
# `other`'s assignment and its removal were left pending on purpose: the
# deployments published their own SPNs only, and nothing is left to write
run_ok "topology enable after the deployments" kf topology enable
expect_out "... writes nothing: the deployments published everything" "the directory already matches the topology"
run_ok "topology test passes" kf topology test
sanitizer_clean
finish
