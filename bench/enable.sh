#!/usr/bin/env bash
# bench/enable.sh - `topology enable` on a generated topology of 2,000 pools
# in 50 sites (each pool with one web FQDN: 4,000 SPNs on 50 accounts)
# against a fresh lab DC: the first run and the idempotent second run, with
# wall time and the count of LDAP reads and writes. Needs root (the lab).
#   bench/enable.sh [BUILD_DIR]     (POOLS=2000 SITES=50 to change the size)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${1:-build}
POOLS=${POOLS:-2000}
SITES=${SITES:-50}

if [ -z "${LAB_DIR:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "bench/enable.sh needs root (it starts a lab DC)" >&2; exit 1; }
  exec "$ROOT/tests/lab/with-lab.sh" env KRBFLEET="$ROOT/$BUILD/tools/krbfleet" POOLS="$POOLS" \
    SITES="$SITES" bash "$0" "$BUILD"
fi

T=$(mktemp -d /tmp/kf-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
export KRBFLEET_STORE=$T/store.db
export KRBFLEET_TICKET_CACHE=$T/tickets  # not the admin's /var/cache/krbfleet
kf() { "$KRBFLEET" "$@"; }

python3 - "$POOLS" "$SITES" >"$T/topo.json" <<'PY'
import json, sys
pools, sites = int(sys.argv[1]), int(sys.argv[2])
doc = {"sites": []}
for s in range(sites):
    doc["sites"].append({"name": f"site{s:02d}", "pools": [
        {"fqdn": f"web{p:04d}.s{s:02d}.lab.test", "web_fqdns": [f"lb{p:04d}.s{s:02d}.lab.test"],
         "servers": []}
        for p in range(s, pools, sites)]})
json.dump(doc, sys.stdout)
PY
kf topology import "$T/topo.json" >/dev/null
for s in $(seq 0 $((SITES - 1))); do
  name=$(printf 'kfb%02d' "$s")
  kf account new "LAB\\$name" >/dev/null
  kf assignment new --site "$(printf 'site%02d' "$s")" --account "$name" >/dev/null
done

run() {
  local label=$1 t0 t1
  t0=$(date +%s.%N)
  kf topology enable --json >"$T/$label.json" 2>/dev/null
  t1=$(date +%s.%N)
  printf '%-22s %8.2f s   %6s SPNs added   %6s LDAP reads   %6s LDAP writes\n' "$label" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$(jq .added "$T/$label.json")" \
    "$(jq .ldap_reads "$T/$label.json")" "$(jq .ldap_writes "$T/$label.json")"
}
echo "topology enable: $POOLS pools, $((POOLS * 2)) SPNs, $SITES sites/accounts, DC $LAB_DC_NAME"
run "first run"
run "second run (no-op)"
w=$(jq .ldap_writes "$T/second run (no-op).json" 2>/dev/null || echo "?")
[ "$w" = 0 ] || { echo "bench: the second run wrote to the directory ($w writes)" >&2; exit 1; }
