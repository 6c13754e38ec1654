#!/usr/bin/env bash
# with-lab.sh CMD [ARG]... - run CMD against a fresh private Samba AD DC.
#
# Makes a temporary directory, `lab.sh up`s a lab in it, runs CMD inside
# `lab.sh exec` (lab hosts/resolv.conf, lab.env exported), then always
# `lab.sh down`s it and removes the directory - on success, failure, Ctrl-C,
# SIGTERM or SIGHUP. Exits with CMD's status (1 if the lab failed to come up
# or to go down, 128+N if CMD was killed by signal N).
#
# Environment: LAB_KEEP=1 keeps the directory (logs, smb.conf, secrets) for
# a post-mortem, the DC is still stopped; TMPDIR chooses where it is made.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
LAB=$HERE/lab.sh

if [ $# -eq 0 ] || [ "$1" = -h ] || [ "$1" = --help ]; then
  echo "usage: with-lab.sh CMD [ARG]...   (as root; LAB_KEEP=1 keeps the lab directory)" >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "with-lab.sh: needs root" >&2; exit 1; }

dir=$(mktemp -d "${TMPDIR:-/tmp}/kflab.XXXXXXXX")
child=''

cleanup() {
  local rc=$?
  trap '' INT TERM HUP
  trap - EXIT
  if [ -n "$child" ] && kill -0 "$child" 2>/dev/null; then
    echo "with-lab.sh: stopping $1 (pid $child)" >&2
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  if [ "${LAB_KEEP:-0}" = 1 ]; then
    "$LAB" down --keep-files "$dir" || rc=1
    echo "with-lab.sh: lab directory kept: $dir" >&2
  else
    if "$LAB" down "$dir"; then rm -rf "$dir"; else rc=1; fi
  fi
  exit "$rc"
}
trap 'cleanup "$1"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

LAB_OWNER_PID=$$ "$LAB" up "$dir" || exit 1

# CMD runs in the background so that a signal to this script is handled at
# once (bash runs traps only between foreground commands); it keeps our
# stdin, which bash would otherwise replace with /dev/null.
exec 3<&0
"$LAB" exec "$dir" -- "$@" <&3 3<&- &
child=$!
exec 3<&-
rc=0
wait "$child" || rc=$?
child=''
exit "$rc"
