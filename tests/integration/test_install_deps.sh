#!/usr/bin/env bash
# scripts/install-deps.sh with stubbed apt-get and dpkg-query first on PATH
# and a private policy-rc.d path (KRBFLEET_POLICY_RC_D) and createcluster.conf
# (KRBFLEET_PG_CREATECLUSTER): the real package database, /usr/sbin/policy-rc.d
# and /etc/postgresql-common are never touched.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd -P)
T=$(mktemp -d /tmp/kf-deps.XXXXXX)
trap 'rm -rf "$T"' EXIT
N=0 FAILED=0
ok()     { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
check()  { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }

mkdir "$T/bin"
# dpkg-query: every package "installed" when $T/all-installed exists.
cat >"$T/bin/dpkg-query" <<'STUB'
#!/bin/sh
[ -e "$STUB_DIR/all-installed" ] && { printf installed; exit 0; }
printf not-installed
STUB
# apt-get: records each call and whether policy-rc.d was in place; fails
# "install" while $STUB_DIR/install-fails-N counts down, "update" when
# $STUB_DIR/update-fails exists.
cat >"$T/bin/apt-get" <<'STUB'
#!/bin/sh
echo "$*" >>"$STUB_DIR/calls"
grep -q '^create_main_cluster = false$' "$KRBFLEET_PG_CREATECLUSTER" 2>/dev/null && echo "no-main-cluster" >>"$STUB_DIR/calls"
if [ -x "$KRBFLEET_POLICY_RC_D" ]; then "$KRBFLEET_POLICY_RC_D" x start; echo "policy=$?" >>"$STUB_DIR/calls"; fi
case $1 in
  update)
    [ -e "$STUB_DIR/update-fails" ] && { echo "E: The repository is not signed."; exit 100; }
    exit 0 ;;
  install)
    n=$(cat "$STUB_DIR/install-fails" 2>/dev/null || echo 0)
    if [ "$n" -gt 0 ]; then
      echo $((n - 1)) >"$STUB_DIR/install-fails"
      echo "Reading package lists..."; echo "E: Unable to locate package samba-ad-dc"; exit 100
    fi
    echo "Setting up samba-ad-dc ..."; exit 0 ;;
esac
STUB
chmod +x "$T/bin/"*

run() { # run CASE: the script with the stubs; status in $rc, output in $T/CASE.err
  local c=$1; rm -f "$T/calls"
  rc=0
  env PATH="$T/bin:$PATH" STUB_DIR="$T" KRBFLEET_POLICY_RC_D="$T/policy-rc.d" \
    KRBFLEET_PG_CREATECLUSTER="$T/pgcommon/createcluster.conf" \
    "$ROOT/scripts/install-deps.sh" >"$T/$c.out" 2>"$T/$c.err" </dev/null || rc=$?
}

# 1. a policy-rc.d already there (as in Debian's container images)
printf '#!/bin/sh\n# theirs\nexit 101\n' >"$T/policy-rc.d"; chmod 0755 "$T/policy-rc.d"
cp "$T/policy-rc.d" "$T/policy.orig"
run existing
check "pre-existing policy-rc.d: exit 0 (got $rc: $(tail -n 2 "$T/existing.err"))" [ "$rc" -eq 0 ]
check "pre-existing policy-rc.d: left as it was" cmp -s "$T/policy-rc.d" "$T/policy.orig"
check "pre-existing policy-rc.d: apt-get install ran" grep -q '^install ' "$T/calls"
check "no system PostgreSQL cluster: set before apt ran" grep -q '^no-main-cluster' "$T/calls"
check "postgresql-15 and libpq-dev are installed" grep -q '^install .*postgresql-15.*' "$T/calls"
check "libpq-dev is installed" grep -q '^install .*libpq-dev' "$T/calls"

# 1b. an admin's createcluster.conf: the setting is changed, the rest kept
printf '#create_main_cluster = true\nssl = on\ncreate_main_cluster = true\n' >"$T/pgcommon/createcluster.conf"
run admincc
check "createcluster.conf: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "createcluster.conf: set to false, other lines kept" \
  [ "$(cat "$T/pgcommon/createcluster.conf")" = "$(printf '#create_main_cluster = true\nssl = on\ncreate_main_cluster = false')" ]

# 2. no policy-rc.d: one is put in place around apt, and removed after
rm -f "$T/policy-rc.d"
run none
check "no policy-rc.d: exit 0 (got $rc: $(tail -n 2 "$T/none.err"))" [ "$rc" -eq 0 ]
check "no policy-rc.d: service starts refused during apt (101)" grep -q '^policy=101' "$T/calls"
check "no policy-rc.d: removed afterwards" [ ! -e "$T/policy-rc.d" ]

# 3. the first install fails, update + the second succeed
echo 1 >"$T/install-fails"
run retried
check "install retried after update: exit 0 (got $rc)" [ "$rc" -eq 0 ]
check "install retried after update: apt-get update ran" grep -q '^update' "$T/calls"

# 4. install fails for good: the reason (apt's tail) and how to retry
echo 2 >"$T/install-fails"
run fails
check "failing install: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "failing install: apt's error shown" grep -q 'Unable to locate package samba-ad-dc' "$T/fails.err"
check "failing install: says how to retry" grep -q 'retry: .*install-deps.sh' "$T/fails.err"
check "failing install: own policy-rc.d removed" [ ! -e "$T/policy-rc.d" ]

# 5. update fails: its error is shown; a pre-existing policy survives
echo 1 >"$T/install-fails"; : >"$T/update-fails"
cp "$T/policy.orig" "$T/policy-rc.d"
run update
check "failing update: exit 1 (got $rc)" [ "$rc" -eq 1 ]
check "failing update: apt's error shown" grep -q 'repository is not signed' "$T/update.err"
check "failing update: pre-existing policy-rc.d kept" cmp -s "$T/policy-rc.d" "$T/policy.orig"
rm -f "$T/update-fails" "$T/install-fails"

# 6. everything installed: exit 0, apt never called, nothing printed
: >"$T/all-installed"
run nothing
check "all installed: exit 0 without calling apt" [ "$rc" -eq 0 ] && [ ! -e "$T/calls" ] && [ ! -s "$T/nothing.err" ]

echo "$((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
