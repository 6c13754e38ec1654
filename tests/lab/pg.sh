#!/usr/bin/env bash
# pg.sh - a private PostgreSQL 15 server for one test run (the store's
# PostgreSQL backend). Nothing of the system's PostgreSQL is used: initdb
# runs as an unprivileged user (nobody when started by root) into DIR/data,
# the server listens on its own socket directory DIR/sock (and on ADDR:PORT
# when --listen is given) and stops with `pg.sh stop DIR`.
#
#   pg.sh start DIR [--listen ADDR:PORT] [--gss KEYTAB]
#       start it; with --gss, TCP logins authenticate with GSSAPI against
#       KEYTAB (postgres/<host>), role names with their realm (include_realm=1),
#       and the local socket stays "trust" for the test's own set-up.
#       Writes DIR/url: a store URL for database "krbfleet" over the socket.
#   pg.sh psql DIR [ARG]...   run psql as the superuser over the socket
#   pg.sh dump DIR            every row of database krbfleet (pg_dump --data-only)
#   pg.sh stop DIR            stop it (idempotent)
#
# The database's own collation is ICU en-US (not C), so a test sees whether
# krbfleet's listings depend on it.
set -euo pipefail

BIN=$(pg_config --bindir 2>/dev/null || true)
[ -x "$BIN/initdb" ] || BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$BIN/initdb" ] || { echo "pg.sh: no initdb: install postgresql-15 (scripts/install-deps.sh)" >&2; exit 77; }

usage() { sed -n '2,20p' "$0" >&2; exit 2; }
as_owner() { # run a command as the server's owner
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"
  else
    "$@"
  fi
}

start() {
  local dir=$1 listen="" keytab=""
  shift
  while [ $# -gt 0 ]; do
    case $1 in
      --listen) listen=$2; shift 2 ;;
      --gss) keytab=$2; shift 2 ;;
      *) usage ;;
    esac
  done
  [ -d "$dir" ] || { echo "pg.sh: $dir is not a directory" >&2; exit 1; }
  mkdir -p "$dir/data" "$dir/sock" "$dir/log"
  chmod 0700 "$dir/data"
  [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$dir/data" "$dir/sock" "$dir/log" && chmod 0711 "$dir"
  as_owner "$BIN/initdb" -N -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
    --locale-provider=icu --icu-locale=en-US >"$dir/initdb.log" 2>&1 ||
    { echo "pg.sh: initdb failed:" >&2; tail -n 5 "$dir/initdb.log" >&2; exit 1; }
  local port=5432 addr=""
  if [ -n "$listen" ]; then addr=${listen%:*}; port=${listen##*:}; fi
  {
    echo "listen_addresses = '$addr'"
    echo "port = $port"
    echo "unix_socket_directories = '$dir/sock'"
    echo "fsync = off"
    echo "max_connections = 40"
    echo "shared_buffers = 16MB"
    echo "logging_collector = off"
    if [ -n "$keytab" ]; then
      cp "$keytab" "$dir/postgres.keytab"
      [ "$(id -u)" -eq 0 ] && chown nobody:nogroup "$dir/postgres.keytab"
      chmod 0600 "$dir/postgres.keytab"
      echo "krb_server_keyfile = '$dir/postgres.keytab'"
    fi
  } >>"$dir/data/postgresql.conf"
  {
    echo "local all all trust"
    if [ -n "$keytab" ]; then
      echo "host all all 0.0.0.0/0 gss include_realm=1 krb_realm="
    fi
  } >"$dir/data/pg_hba.conf"
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log/server.log" -w -t 60 start >/dev/null ||
    { echo "pg.sh: the server did not start:" >&2; tail -n 10 "$dir/log/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  as_owner "$BIN/psql" -X -q -h "$dir/sock" -p "$port" -U postgres -d postgres \
    -c "CREATE DATABASE krbfleet" >/dev/null
  echo "postgresql:///krbfleet?host=$dir/sock&port=$port&user=postgres" >"$dir/url"
}

psql_() {
  local dir=$1
  shift
  as_owner "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$dir/sock" -p "$(cat "$dir/port")" \
    -U postgres -d krbfleet "$@"
}

dump() {
  local dir=$1
  as_owner "$BIN/pg_dump" --data-only -h "$dir/sock" -p "$(cat "$dir/port")" -U postgres krbfleet
}

stop() {
  local dir=$1
  [ -f "$dir/data/postmaster.pid" ] || return 0
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || true
}

[ $# -ge 2 ] || usage
cmd=$1
shift
case $cmd in
  start) start "$@" ;;
  psql) psql_ "$@" ;;
  dump) dump "$1" ;;
  stop) stop "$1" ;;
  *) usage ;;
esac
