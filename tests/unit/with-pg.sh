#!/usr/bin/env bash
# with-pg.sh CMD [ARG]... - run CMD with $KRBFLEET_TEST_PG_URL naming a
# scratch database of a private PostgreSQL server (tests/lab/pg.sh), which
# is stopped and removed afterwards, on failure too.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd -P)
PG=$HERE/../lab/pg.sh
T=$(mktemp -d /tmp/kf-pg.XXXXXX)
cleanup() { "$PG" stop "$T" || true; rm -rf "$T"; }
trap cleanup EXIT
rc=0
"$PG" start "$T" || rc=$?
[ "$rc" -eq 0 ] || exit "$rc"
KRBFLEET_TEST_PG_URL=$(cat "$T/url") "$@" || rc=$?
exit "$rc"
