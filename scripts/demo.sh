#!/usr/bin/env bash
# make demo: the krbfleet story on a real lab, end to end.
# A private Samba AD DC is started for the demo (tests/lab) and torn down
# afterwards, whatever happens. Needs root (the lab adds loopback addresses).
set -euo pipefail
BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
export KRBFLEET="$ROOT/$BUILD/tools/krbfleet"

if [ "${1:-}" = --inside ]; then
  shift
  KRBFLEET=$1
  T=$(mktemp -d /tmp/kf-demo.XXXXXX)
  trap 'rm -rf "$T"' EXIT
  export KRBFLEET_STORE="$T/krbfleet.db"
  step() { printf '\n\033[1m$ krbfleet %s\033[0m\n' "$*"; "$KRBFLEET" "$@"; }
  note() { printf '\n\033[36m# %s\033[0m\n' "$*"; }

  note "A real Active Directory (Samba AD DC $LAB_DC_NAME, realm $LAB_REALM) is up; we act as $(klist | sed -n 's/Default principal: //p')."
  note "1. The topology: 2 sites, 2 pools, 4 web servers, one load-balancer name."
  cat "$ROOT/tests/data/topology-2sites.json"
  step topology import "$ROOT/tests/data/topology-2sites.json"
  step site list
  step service list --webserver
  note "2. One shared Kerberos account (New-CsKerberosAccount) - a computer object in AD."
  step account new 'LAB\kerbauth'
  note "3. Both sites use it (New-CsKerberosAccountAssignment)."
  step assignment new --site redmond --account kerbauth
  step assignment new --site dublin --account kerbauth
  step assignment get
  note "4. Publish the SPNs the topology implies (Enable-CsTopology) - first a dry run."
  step topology enable --dry-run
  step topology enable
  step spn list 'LAB\kerbauth'
  note "5. A second enable changes nothing."
  step topology enable
  note "6. Test-CsTopology."
  step topology test
  note "7. Everything was audited."
  step audit list
  printf '\n\033[1mdemo: done\033[0m\n'
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "make demo needs root: it starts a private Samba AD DC on a loopback address" >&2
  exit 1
fi
exec "$ROOT/tests/lab/with-lab.sh" bash "$ROOT/scripts/demo.sh" --inside "$KRBFLEET"
