#!/usr/bin/env bash
# The PostgreSQL store through the CLI, on a private PostgreSQL 15
# (tests/lab/pg.sh; no AD lab needed): store migrate, an empty database as a
# missing store, URLs with a password and [store] path + url refused, the
# same export as SQLite, store copy both ways, and writers serialised by the
# store-wide lock.
. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
PG="$ROOT/tests/lab/pg.sh"
DATA="$ROOT/tests/data/topology-2sites.json"
# its own directory: the server runs as nobody when we are root
P=$(mktemp -d /tmp/kf-pg.XXXXXX)
trap '"$PG" stop "$P" >/dev/null 2>&1; rm -rf "$T" "$P"' EXIT
rc=0
"$PG" start "$P" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
URL=$(cat "$P/url")
psql_() { "$PG" psql "$P" -At "$@"; }
export KRBFLEET_STORE=$URL

# dump_store for a PostgreSQL store: every row of every table
dump_store() { "$PG" dump "$P" 2>&1 | grep -v '^\\\(un\)\?restrict ' >"$1"; }

# the schema version of this build, from a new SQLite store
CUR=$(kf --json --store "$T/v.db" store migrate | jq .to)

# -- an empty database is no store; only `store migrate` makes one -----------
expect_fail 1 "holds no krbfleet store; create it with \`krbfleet --store '$URL' store migrate\`" kf site list
expect_fail 1 "holds no krbfleet store" kf site add alpha
if [ "$(psql_ -c "SELECT to_regclass('krbfleet_schema') IS NULL")" = t ]
then ok "a writing command creates nothing in an empty database"; else not_ok "schema created by site add"; fi
run_ok "store migrate" kf --json store migrate
json_valid store_migrate
if jq -e --argjson v "$CUR" '.from == 0 and .to == $v' "$T/out" >/dev/null
then ok "store migrate: 0 -> $CUR"; else not_ok "store migrate: $(cat "$T/out")"; fi
run_ok "store migrate again" kf store migrate
expect_out "store migrate again: nothing to do" "schema version $CUR, current; nothing to do"
psql_ -c "UPDATE krbfleet_schema SET version = 99"
expect_fail 1 "has schema version 99, newer than this krbfleet knows ($CUR)" kf site list
psql_ -c "UPDATE krbfleet_schema SET version = $CUR"

# -- URLs and settings refused ----------------------------------------------
expect_fail 1 "the store URL contains a password" kf --store "postgresql://alice:S3cret@db.invalid/k" site list
if grep -q S3cret "$T/err"; then not_ok "the password is not repeated"; else ok "the password is not repeated"; fi
printf '[store]\npath = /srv/k.db\nurl = %s\n' "$URL" >"$T/both.conf"
expect_fail 1 "both.conf:3: [store] sets both path (line 2) and url (line 3)" \
  env -u KRBFLEET_STORE "$KRBFLEET" --config "$T/both.conf" site list
printf '[store]\nurl = %s\n' "$URL" >"$T/url.conf"
run_ok "[store] url names the store" env -u KRBFLEET_STORE "$KRBFLEET" --config "$T/url.conf" site list

# -- the same listings and export as SQLite ---------------------------------
run_ok "topology import into PostgreSQL" kf topology import "$DATA"
run_ok "topology export from PostgreSQL" kf topology export "$T/pg.json"
run_ok "the same import into SQLite" kf --store "$T/lite.db" topology import "$DATA"
run_ok "topology export from SQLite" kf --store "$T/lite.db" topology export "$T/lite.json"
if cmp -s "$T/pg.json" "$T/lite.json"; then ok "exports byte-identical on both backends"
else not_ok "exports differ"; diff "$T/pg.json" "$T/lite.json" | head -5; fi
for c in "site list" "pool list" "server list" "service list"; do
  # shellcheck disable=SC2086
  kf $c >"$T/a" 2>&1; kf --store "$T/lite.db" $c >"$T/b" 2>&1
  if cmp -s "$T/a" "$T/b"; then ok "$c: the same on both backends"; else not_ok "$c differs"; diff "$T/a" "$T/b" | head -4; fi
done

# -- store copy --------------------------------------------------------------
expect_fail 1 "is not empty" kf store copy --from "$T/lite.db" --to "$URL"
expect_fail 2 "not --store" kf --store "$URL" store copy --from "$T/lite.db" --to "$T/x.db"
expect_fail 2 "name both stores" kf store copy --from "$T/lite.db"
run_ok "site add beta (SQLite only)" kf --store "$T/lite.db" site add beta
run_ok "store copy --force SQLite -> PostgreSQL" kf --json store copy --force --from "$T/lite.db" --to "$URL"
json_valid store_copy
if jq -e '.rows.site == 3 and .rows.pool == 2 and .rows.server == 4 and .rows.audit == 2' "$T/out" >/dev/null
then ok "store copy counts the rows per table"; else not_ok "store copy counts: $(cat "$T/out")"; fi
run_ok "site add gamma after the copy (ids continue)" kf site add gamma
run_ok "store copy PostgreSQL -> a new SQLite file (backup)" kf store copy --from "$URL" --to "$T/backup.db"
expect_out "backup: the row count of sites" "site            4"
kf topology export >"$T/a"; kf --store "$T/backup.db" topology export >"$T/b"
if cmp -s "$T/a" "$T/b"; then ok "backup exports the same topology"; else not_ok "backup differs"; fi
kf --json audit list | jq -c '[.audit[] | [.id, .time, .object]]' >"$T/a"
kf --json --store "$T/backup.db" audit list | jq -c '[.audit[] | [.id, .time, .object]]' >"$T/b"
if cmp -s "$T/a" "$T/b"; then ok "backup keeps the audit log, ids and times"; else not_ok "audit differs"; fi

# -- writers wait for each other (the store-wide lock) ----------------------
mkfifo "$T/fifo"
psql_ <"$T/fifo" >/dev/null 2>&1 &
holder=$!
exec 7>"$T/fifo"
echo "BEGIN; SELECT pg_advisory_xact_lock(1263686246);" >&7
held() { [ "$(psql_ -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" = 1 ]; }
wait_until 30 held || not_ok "the test's session holds the lock"
kf site add waiter >"$T/w.out" 2>"$T/w.err" &
writer=$!
waiting() { [ "$(psql_ -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'krbfleet' AND wait_event_type = 'Lock'")" = 1 ]; }
if wait_until 30 waiting; then ok "a writer waits while another holds the store's lock"
else not_ok "the writer did not wait for the lock"; fi
if kf site list | grep -q waiter; then not_ok "nothing written while waiting"; else ok "nothing written while waiting"; fi
echo "COMMIT;" >&7
exec 7>&-
rc=0; wait "$writer" || rc=$?
wait "$holder" 2>/dev/null || true
if [ "$rc" -eq 0 ] && kf site list | grep -q waiter; then ok "the writer ran once the lock was free"
else not_ok "the writer after the lock (exit $rc: $(cat "$T/w.err"))"; fi

echo "$((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
