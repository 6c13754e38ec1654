#!/usr/bin/env bash
# The PostgreSQL store as several admin hosts use it: a private PostgreSQL 15
# on the lab's network (db.lab.test), `gss` authentication against the lab's
# Samba KDC with a postgres/db.lab.test key, include_realm=1. The admin's
# ticket is the only credential: with no user in the URL krbfleet connects
# as the ticket's full principal, and the audit log records the principal
# the server authenticated. Two admin hosts (two UTS namespaces with their
# own host names) importing at once run one after the other. Needs root.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
PG="$ROOT/tests/lab/pg.sh"
P=$(mktemp -d /tmp/kf-pg.XXXXXX)
trap '"$PG" stop "$P" >/dev/null 2>&1; rm -rf "$T" "$P"' EXIT
psql_() { "$PG" psql "$P" -At "$@"; }
dump_store() { "$PG" dump "$P" 2>&1 | grep -v '^\\\(un\)\?restrict ' >"$1"; }

# -- the database server: a service key of the directory, on the lab's /24 ---
ADDR=$("$LAB_SH" addr "$LAB_DIR" 7)
"$LAB_SH" add-host "$LAB_DIR" "$ADDR" db.lab.test
samba-tool user add pgsvc --random-password -s "$LAB_SMB_CONF" >/dev/null &&
  samba-tool spn add postgres/db.lab.test pgsvc -s "$LAB_SMB_CONF" &&
  samba-tool domain exportkeytab "$T/postgres.keytab" --principal=postgres/db.lab.test \
    -s "$LAB_SMB_CONF" >/dev/null || { not_ok "postgres/db.lab.test key"; exit 1; }
rc=0
"$PG" start "$P" --listen "$ADDR:5432" --gss "$T/postgres.keytab" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
# a group role owns the tables; the admin's role is its principal
psql_ -c 'CREATE ROLE krbfleet NOLOGIN' \
  -c "CREATE ROLE \"$LAB_ADMIN_PRINCIPAL\" LOGIN IN ROLE krbfleet" \
  -c 'ALTER DATABASE krbfleet OWNER TO krbfleet' -c 'ALTER SCHEMA public OWNER TO krbfleet'
export KRBFLEET_STORE="postgresql://db.lab.test/krbfleet?options=-c%20role%3Dkrbfleet"

# -- the admin's ticket is the credential -------------------------------------
run_ok "store migrate with the admin's ticket, no user in the URL" kf store migrate
run_ok "site add over gss" kf site add gsssite
who=$(kf --json audit list | jq -r '.audit[-1].principal')
if [ "$who" = "$LAB_ADMIN_PRINCIPAL" ]; then ok "the audit log names the authenticated principal"
else not_ok "audit principal: $who"; fi
# no other credential exists: without a ticket nothing connects
expect_fail 1 "cannot connect to the store" env KRB5CCNAME="FILE:$T/none" "$KRBFLEET" site list
# another principal connects as itself, and has no role here
expect_fail 1 "role \"$LAB_USER_PRINCIPAL\" does not exist" \
  env KRB5CCNAME="$LAB_USER_CCACHE" "$KRBFLEET" site list
if [ "$(psql_ -c "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'gss'")" = 1 ]
then ok "TCP logins are gss only"; else not_ok "pg_hba is not gss"; fi

# -- two admin hosts import at once: one after the other ----------------------
jq '.sites[0].name = "hosta"' "$ROOT/tests/data/topology-2sites.json" >"$T/a.json"
jq '.sites[0].name = "hostb" | .sites |= [.[0]]' "$ROOT/tests/data/topology-2sites.json" >"$T/b.json"
mkfifo "$T/fifo"
psql_ <"$T/fifo" >/dev/null 2>&1 &
holder=$!
exec 7>"$T/fifo"
echo "BEGIN; SELECT pg_advisory_xact_lock(1263686246);" >&7
held() { [ "$(psql_ -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]; }
wait_until 60 held || not_ok "the test's session holds the store's lock"
host() { # host NAME CMD...: CMD in a UTS namespace whose host name is NAME
  local name=$1; shift
  unshare -u sh -c 'hostname "$0" && exec "$@"' "$name" "$@"
}
host admin-a.lab.test "$KRBFLEET" topology import --force "$T/a.json" >"$T/ha.out" 2>&1 &
pa=$!
host admin-b.lab.test "$KRBFLEET" topology import --force "$T/b.json" >"$T/hb.out" 2>&1 &
pb=$!
waiting() { [ "$(psql_ -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'krbfleet' AND wait_event_type = 'Lock'")" = 2 ]; }
if wait_until 60 waiting; then ok "both hosts' imports wait for the store's lock"
else not_ok "the imports did not wait: $(cat "$T/ha.out" "$T/hb.out")"; fi
echo "COMMIT;" >&7
exec 7>&-
ra=0 rb=0
wait "$pa" || ra=$?
wait "$pb" || rb=$?
wait "$holder" 2>/dev/null || true
if [ "$ra" -eq 0 ] && [ "$rb" -eq 0 ]; then ok "both imports ran"
else not_ok "imports: exit $ra ($(cat "$T/ha.out")), $rb ($(cat "$T/hb.out"))"; fi
kf topology export >"$T/now.json"
if jq -S . "$T/now.json" | cmp -s - <(jq -S . "$T/a.json") || jq -S . "$T/now.json" | cmp -s - <(jq -S . "$T/b.json")
then ok "the topology is one import's document whole, never a mix"
else not_ok "mixed topology: $(head -c 300 "$T/now.json")"; fi
if [ "$(kf --json audit list --object topology | jq '[.audit[] | select(.principal == "'"$LAB_ADMIN_PRINCIPAL"'")] | length')" -ge 2 ]
then ok "both imports are in the audit log"; else not_ok "audit of the imports: $(kf audit list)"; fi

echo "$((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
