#!/usr/bin/env bash
# The agents' service tickets kept between runs ([rotation] ticket_cache,
# lib/tickets.h) on a lab fleet of four agents. KDC requests are counted
# from libkrb5's trace of the CLI (every request it sends is there):
#   - a first password set asks for one host/ ticket per agent and leaves a
#     0600 cache file in a 0700 directory, and none in the admin's ccache;
#   - a second one within the tickets' lifetime asks for none;
#   - an agent whose host keys changed refuses its cached ticket: that one
#     ticket is fetched again, once, and the rotation succeeds;
#   - a hostile cache is not used and the run still succeeds: a directory
#     open to others, a directory that is a symlink, a cache file that is a
#     symlink (its target untouched), garbage, a file of another user.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd -P)
. "$HERE/fleet_lib.sh"

TC=$T/tickets
export KRBFLEET_TICKET_CACHE=$TC
check_ok() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
host_reqs() { grep -c 'Requesting tickets for host/' "$1" 2>/dev/null || true; }
# rotate NAME: password set with libkrb5's trace in $T/NAME.trace
rotate() {
  rm -f "$T/$1.trace"
  KRB5_TRACE=$T/$1.trace "$KRBFLEET" password set --account kerbauth >"$T/out" 2>"$T/err"
}
# the cache file: "tickets-" and the client principal, other bytes than
# [A-Za-z0-9._-] as %XX
FILE="$TC/tickets-$(klist 2>/dev/null | sed -n 's/^Default principal: //p' |
  python3 -c 'import sys,re; print(re.sub(rb"[^A-Za-z0-9._-]", lambda m: b"%%%02X" % m.group(0)[0], sys.stdin.buffer.read().strip()).decode())')"

run_ok "import the topology" kf topology import "$TOPO"
run_ok "account new" kf account new 'LAB\kerbauth'
run_ok "assignments" sh -c "'$KRBFLEET' assignment new --site redmond --account kerbauth &&
  '$KRBFLEET' assignment new --site dublin --account kerbauth"
run_ok "enable" kf topology enable

# -- first and second run ----------------------------------------------------------
check_ok "first password set" rotate first
check_ok "... asked the KDC for one host/ ticket per agent (4)" test "$(host_reqs "$T/first.trace")" = 4
check_ok "... the cache directory was made 0700, the file 0600" test \
  "$(stat -c %a "$TC") $(stat -c %a "$FILE" 2>/dev/null)" = "700 600"
check_ok "... the file holds the four host/ tickets and no TGT" sh -c \
  "klist -c 'FILE:$FILE' | grep -c 'host/' | grep -qx 4 && ! klist -c 'FILE:$FILE' | grep -q krbtgt"
check_ok "... the admin's ccache got no host/ ticket" sh -c "! klist | grep -q 'host/'"
check_ok "keytabs match, logins work" keytabs_match
auths() { cat "$LAB_DIR"/fleet/*/agent.log | grep -c 'authenticated as' || true; }
A0=$(auths)
check_ok "second password set" rotate second
check_ok "... one connection per agent for the whole run (status, stage, prune on it)" \
  test "$(( $(auths) - A0 ))" = 4
check_ok "... asked the KDC for no host/ ticket" test "$(host_reqs "$T/second.trace")" = 0
check_ok "keytabs match after the second" keytabs_match

# -- new host keys: the cached ticket is refused, fetched again once -----------------
S=fe01.redmond.lab.test
HACCT=$(awk -v f="$S" '$1 == f { print $2 }' "$LAB_DIR/fleet/hosts.log")
samba-tool computer delete "$HACCT" -s "$LAB_SMB_CONF" >"$T/rekey.log" 2>&1 &&
  echo "$S $LAB_DIR/fleet/$S/host.keytab" | "$KF_LAB_HOSTS" >>"$T/rekey.log" 2>&1 &&
  "$FLEET" stop-agent "$S" && "$FLEET" start-agent "$S" 2>>"$T/fleet.log"
check_ok "$S has new host keys (account $HACCT made again; its agent restarted)" \
  grep -q "^$S $HACCT " "$T/rekey.log"
check_ok "password set after the host keys changed" rotate rekeyed
check_ok "... one host/ ticket fetched again, for $S only (got: $(grep -o 'Requesting tickets for host/[^ ]*' "$T/rekeyed.trace" | tr '\n' ' '))" sh -c \
  "test \"\$(grep -c 'Requesting tickets for host/' '$T/rekeyed.trace')\" = 1 &&
   grep -q 'Requesting tickets for host/$S' '$T/rekeyed.trace'"
check_ok "keytabs match after it" keytabs_match
check_ok "the next run asks for none again" sh -c "$(declare -f rotate host_reqs); T='$T' KRBFLEET='$KRBFLEET'; rotate again && test \"\$(host_reqs '$T/again.trace')\" = 0"

# -- hostile caches: refused or ignored, the run works, nothing followed -------------
chmod 0755 "$TC"
sum=$(sha256sum <"$FILE")
check_ok "a cache directory open to others: the run works" rotate open
check_ok "... with a warning naming the directory and the mode" grep -q "ticket cache $TC not used: it must be a directory of user $(id -u) with mode 0700 (it is user $(id -u), mode 0755)" "$T/err"
check_ok "... the cache was neither read (4 requests) nor written" test \
  "$(host_reqs "$T/open.trace") $(sha256sum <"$FILE")" = "4 $sum"
chmod 0700 "$TC"

mv "$TC" "$T/real-tickets" && ln -s "$T/real-tickets" "$TC"
check_ok "a cache directory that is a symlink: the run works" rotate dirlink
check_ok "... not followed (warning; 4 requests; its target's file unchanged)" sh -c \
  "grep -q 'ticket cache $TC not used: not a directory (a symlink?)' '$T/err' &&
   test \"\$(grep -c 'Requesting tickets for host/' '$T/dirlink.trace')\" = 4 &&
   test \"\$(sha256sum <'$T/real-tickets/${FILE##*/}')\" = '$sum'"
rm "$TC" && mv "$T/real-tickets" "$TC"

echo "precious" >"$T/victim" && chmod 0600 "$T/victim"
mv "$FILE" "$T/saved-cache" && ln -s "$T/victim" "$FILE"
check_ok "a cache file that is a symlink: the run works" rotate filelink
check_ok "... not followed: warning, 4 requests, the target unchanged, the link replaced by a cache" sh -c \
  "grep -q 'it is a symlink' '$T/err' && test \"\$(grep -c 'Requesting tickets for host/' '$T/filelink.trace')\" = 4 &&
   test \"\$(cat '$T/victim')\" = precious && test -f '$FILE' && test ! -L '$FILE'"

head -c 3000 /dev/urandom >"$FILE" && chmod 0600 "$FILE"
check_ok "a garbage cache file: the run works" rotate garbage
check_ok "... with a warning; the file replaced by a good cache (next run: no request)" sh -c \
  "grep -q 'not a ticket cache\|unreadable after' '$T/err' && $(declare -f rotate host_reqs); T='$T' KRBFLEET='$KRBFLEET'; rotate after-garbage && test \"\$(host_reqs '$T/after-garbage.trace')\" = 0"

chown 4242 "$FILE"
check_ok "a cache file of another user: the run works" rotate owner
check_ok "... not read (warning, 4 requests), replaced by one of ours" sh -c \
  "grep -q 'not a regular file of user $(id -u)' '$T/err' && test \"\$(grep -c 'Requesting tickets for host/' '$T/owner.trace')\" = 4 &&
   test \"\$(stat -c %u '$FILE')\" = $(id -u)"
# -- the open-file limit bounds the servers in flight, and says so ---------------------
check_ok "a hard open-file limit of 300 (soft 100): the run works" bash -c \
  "ulimit -Sn 100 && ulimit -Hn 300 && exec '$KRBFLEET' password set --account kerbauth --concurrency 1024 >'$T/out' 2>'$T/err'"
check_ok "... the soft limit was raised to the hard one, and the bound is named" grep -q \
  "open files are limited to 300 (ulimit -Hn): at most 118 servers in flight instead of 1024" "$T/err"
check_ok "keytabs match at the end" keytabs_match
sanitizer_clean
finish
