#!/usr/bin/env bash
# Protocol versions (docs/design.md, "Protocol versions"): agents are
# upgraded by apt at their own pace, so every pairing of an old and a new
# CLI with an old and a new agent must work for every operation that
# existed before. "Old" is the build of commit $KF_OLD_COMMIT (protocol
# version 1, before versioning), built once into $KF_COMPAT_BUILD from
# `git archive` of this repository (skipped, 77, outside a git checkout).
#
# On a lab fleet (fleet.sh) with two old and two new agents:
#   old CLI  -> old and new agents: password set (STATUS, STAGE, CHECK,
#               PRUNE), --from/--to copies (EXPORT) both ways, the old
#               probe's status/stage/withdraw/prune/export/check on a new agent
#   new CLI  -> the same on the store the old CLI made (upgraded in place),
#               and the new probe on an old agent (falls back to version 1)
# Every step ends with the keytabs matching the directory and real logins.
. "$(dirname "$0")/lib.sh"
in_lab "$0" "$@"
HERE=$(cd "$(dirname "$0")" && pwd -P)
ROOT=$(cd "$HERE/../.." && pwd -P)
: "${KF_AGENT_PROBE:?}" "${KF_COMPAT_BUILD:?}"
OLD_COMMIT=${KF_OLD_COMMIT:-0a476e1}
OLD=$KF_COMPAT_BUILD

# -- the old build -------------------------------------------------------------
build_old() {
  local src=$OLD.src
  git -C "$ROOT" cat-file -e "$OLD_COMMIT^{commit}" 2>/dev/null || return 77
  rm -rf "$src" "$OLD" && mkdir -p "$src" || return 1
  git -C "$ROOT" archive "$OLD_COMMIT" | tar -x -C "$src" || return 1
  meson setup "$OLD" "$src" -Dtests=true >"$T/old-build.log" 2>&1 &&
    ninja -C "$OLD" tools/krbfleet daemon/krbfleetd tests/integration/kf-agent-probe \
      >>"$T/old-build.log" 2>&1
}
if [ ! -x "$OLD/tools/krbfleet" ] || [ ! -x "$OLD/daemon/krbfleetd" ] ||
   [ ! -x "$OLD/tests/integration/kf-agent-probe" ]; then
  rc=0; build_old || rc=$?
  [ $rc = 77 ] && { echo "SKIP: commit $OLD_COMMIT is not in a git checkout here"; exit 77; }
  [ $rc = 0 ] || { echo "cannot build $OLD_COMMIT:"; tail -20 "$T/old-build.log"; exit 1; }
fi
OLD_KF=$OLD/tools/krbfleet OLD_AGENT=$OLD/daemon/krbfleetd OLD_PROBE=$OLD/tests/integration/kf-agent-probe
NEW_KF=$KRBFLEET NEW_AGENT=$KRBFLEETD

. "$HERE/fleet_lib.sh"
OLD_AGENTS="fe01.redmond.lab.test fe01.dublin.lab.test"
NEW_AGENTS="fe02.redmond.lab.test fe02.dublin.lab.test"
for s in $OLD_AGENTS; do
  "$FLEET" stop-agent "$s" && KRBFLEETD=$OLD_AGENT "$FLEET" start-agent "$s" 2>>"$T/fleet.log"
done
alog() { echo "$LAB_DIR/fleet/$1/agent.log"; }
check_ok() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

# -- old CLI: the store is its own ---------------------------------------------
KRBFLEET=$OLD_KF
run_ok "old CLI: import the topology" kf topology import "$TOPO"
run_ok "old CLI: account new" kf account new 'LAB\kerbauth'
run_ok "old CLI: assignments" sh -c "'$OLD_KF' assignment new --site redmond --account kerbauth &&
  '$OLD_KF' assignment new --site dublin --account kerbauth"
run_ok "old CLI: password set on two old and two new agents" kf password set --account kerbauth
run_ok "old CLI: enable" kf topology enable
check_ok "old CLI: keytabs match the directory, logins work" keytabs_match
run_ok "old CLI: second password set (the first kvno kept for grace)" kf password set --account kerbauth --json
check_ok "old CLI: every server verified with a real login" jq -e \
  '[.servers[] | select(.result == "OK" and (.login | test("mutual authentication verified")))] | length == 4' "$T/out"
check_ok "old CLI: keytabs match" keytabs_match
for s in $NEW_AGENTS; do
  check_ok "new agent $s spoke protocol version 1 to the old CLI" \
    grep -q "authenticated as .*(protocol version 1)" "$(alog "$s")"
done
run_ok "old CLI: copy from an old agent to a new one (EXPORT, CHECK, STAGE)" \
  kf password set --from fe01.redmond.lab.test --to fe02.redmond.lab.test
run_ok "old CLI: copy from a new agent to an old one" \
  kf password set --from fe02.dublin.lab.test --to fe01.dublin.lab.test
check_ok "old CLI: keytabs match after the copies" keytabs_match

# -- the probes: every operation, one at a time ---------------------------------
# probe_all PROBE SERVER: status, stage a kvno of random keys, export, check,
# withdraw it, prune below the directory's kvno (nothing there below the
# grace kvno is removed twice), each must succeed
probe_all() {
  local p=$1 s=$2 a k
  a=$(addr_of "$s") k=$(( $(dir_kvno) + 50 ))
  "$p" "$a" 7390 "$s" status >"$T/p.out" 2>"$T/p.err" &&
  "$p" "$a" 7390 "$s" stage-random "$k" "HTTP/web.probe.lab.test@$LAB_REALM" >>"$T/p.out" 2>>"$T/p.err" &&
  "$p" "$a" 7390 "$s" export >"$T/p.export" 2>>"$T/p.err" &&
  grep -q "kvno $k " "$T/p.export" &&
  "$p" "$a" 7390 "$s" check "HTTP/$(pool_of "$s")" >>"$T/p.out" 2>>"$T/p.err" &&
  "$p" "$a" 7390 "$s" withdraw "$k" >>"$T/p.out" 2>>"$T/p.err" &&
  "$p" "$a" 7390 "$s" prune 1 >>"$T/p.out" 2>>"$T/p.err" ||
    { echo "  $p on $s: $(tail -3 "$T/p.err")" >&2; return 1; }
}
check_ok "old probe -> new agent: status, stage, export, check, withdraw, prune" \
  probe_all "$OLD_PROBE" fe02.redmond.lab.test
check_ok "new probe -> old agent: status, stage, export, check, withdraw, prune" \
  probe_all "$KF_AGENT_PROBE" fe01.redmond.lab.test
check_ok "... on protocol version 1 (the old agent closed at KF_HS_OPEN; connected again)" \
  sh -c "grep -q 'protocol=1' '$T/p.err' && ! grep -q 'protocol=2' '$T/p.err'"
check_ok "... the old agent logged the refused open, not an error" \
  grep -q "malformed handshake (handshake frame of unknown kind)" "$(alog fe01.redmond.lab.test)"
check_ok "new probe -> new agent: version 3" sh -c \
  "'$KF_AGENT_PROBE' '$(addr_of fe02.dublin.lab.test)' 7390 fe02.dublin.lab.test status 2>&1 >/dev/null | grep -q 'protocol=3'"

# -- new CLI on the old CLI's store ---------------------------------------------
KRBFLEET=$NEW_KF
run_ok "new CLI: password set on two old and two new agents" kf password set --account kerbauth --json
check_ok "new CLI: every server verified with a real login" jq -e \
  '[.servers[] | select(.result == "OK" and (.login | test("mutual authentication verified")))] | length == 4' "$T/out"
check_ok "new CLI: keytabs match" keytabs_match
for s in $NEW_AGENTS; do
  check_ok "new agent $s spoke protocol version 3 to the new CLI" \
    grep -q "authenticated as .*(protocol version 3)" "$(alog "$s")"
  check_ok "new agent $s was told the directory's kvno (COMMIT, version 3)" \
    test "$(committed "$s")" = "$(dir_kvno)"
done
for s in $OLD_AGENTS; do
  check_ok "old agent $s was not sent COMMIT (it predates it): no committed state there" \
    test ! -e "$(kt "$s").committed"
done
run_ok "new CLI: copy from an old agent to a new one" \
  kf password set --from fe01.dublin.lab.test --to fe02.dublin.lab.test
run_ok "new CLI: copy from a new agent to an old one" \
  kf password set --from fe02.redmond.lab.test --to fe01.redmond.lab.test
check_ok "new CLI: keytabs match after the copies" keytabs_match
run_ok "new CLI: sync (status of every agent)" kf sync --account kerbauth
sanitizer_clean
finish
