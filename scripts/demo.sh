#!/usr/bin/env bash
# make demo: the krbfleet story on a real lab, end to end.
# A private Samba AD DC, four web servers (each with its own krbfleetd agent
# and an Apache + mod_auth_gssapi vhost on its own loopback address) are
# started for the demo and torn down afterwards, whatever happens.
# Needs root (the lab adds loopback addresses and runs Apache as www-data).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)

if [ "${1:-}" = --inside ]; then
  BUILD=$2
  export KRBFLEET=$BUILD/tools/krbfleet KRBFLEETD=$BUILD/daemon/krbfleetd
  export KF_LAB_HOSTS=$BUILD/tests/integration/kf-lab-hosts
  T=$(mktemp -d /tmp/kf-demo.XXXXXX)
  trap '"$ROOT/tests/lab/fleet.sh" down >/dev/null 2>&1; rm -rf "$T"' EXIT
  export KRBFLEET_STORE="$T/krbfleet.db"
  export KRBFLEET_TICKET_CACHE="$T/tickets"  # not the admin's /var/cache/krbfleet
  step() { printf '\n\033[1m$ krbfleet %s\033[0m\n' "$*"; "$KRBFLEET" "$@"; }
  note() { printf '\n\033[36m# %s\033[0m\n' "$*"; }
  TOPO=$LAB_DIR/fleet/topology.json
  logins() { # a real user (alice) logs in to every web server by its pool's name
    printf '\n\033[1m$ curl --negotiate -u : --resolve POOL:8080:SERVER http://POOL:8080/   (as %s)\033[0m\n' \
      "$(klist -c "$LAB_USER_CCACHE" | sed -n 's/Default principal: //p')"
    printf '%-24s %-22s %-6s %-16s %s\n' SERVER POOL HTTP USER "ANSWERED BY"
    jq -r '.sites[].pools[] | .fqdn as $p | .servers[] | "\(.fqdn) \($p) \(.address)"' "$TOPO" |
      while read -r server pool addr; do
        out=$("$ROOT/tests/lab/web.sh" login "$LAB_DIR" "http://$pool:8080/" "$addr" 2>/dev/null || true)
        code=$(printf '%s\n' "$out" | sed -n '1s/^HTTP //p')
        user=$(printf '%s\n' "$out" | sed -n 's/^user=//p')
        by=$(printf '%s\n' "$out" | sed -n 's/^server=//p')
        printf '%-24s %-22s %-6s %-16s %s\n' "$server" "$pool" "$code" "${user:--}" "${by:--}"
      done
  }

  note "A real Active Directory (Samba AD DC $LAB_DC_NAME, realm $LAB_REALM); we act as $(klist | sed -n 's/Default principal: //p')."
  note "Starting 4 web servers: each its own address, host account, krbfleetd agent and Apache vhost."
  "$ROOT/tests/lab/fleet.sh" up "$ROOT/tests/data/fleet-2sites.json" 2>&1 | grep -E '^fleet.sh: up' || true
  note "1. The topology: 2 sites, 2 pools (one with a load-balancer name), 4 web servers."
  step topology import "$TOPO"
  step site list
  step service list --webserver
  note "2. One shared Kerberos account (New-CsKerberosAccount): a computer object in AD."
  step account new 'LAB\kerbauth'
  note "3. Both sites use it (New-CsKerberosAccountAssignment)."
  step assignment new --site redmond --account kerbauth
  step assignment new --site dublin --account kerbauth
  note "4. Keys first (Set-CsKerberosAccountPassword): staged on every server, then committed in AD."
  step password set --account kerbauth
  note "5. Then publish the SPNs the topology implies (Enable-CsTopology), load-balancer name included."
  step topology enable
  step spn list 'LAB\kerbauth'
  note "6. A real user logs in to every web server."
  logins
  note "7. Rotate again while the site is in use: old tickets keep working, new ones use the new key."
  step password set --account kerbauth
  logins
  note "8. Test-CsTopology and Test-CsKerberosAccountAssignment (every server: agent, kvno, keytab, real login)."
  step topology test
  step assignment test --site redmond
  note "9. Why would a browser prompt? Ask the doctor, from a client's point of view."
  step doctor http://web.dublin.lab.test:8080/
  note "10. Everything was audited."
  step audit list
  printf '\n\033[1mdemo: done\033[0m\n'
  exit 0
fi

BUILD=${1:-build}
if [ "$(id -u)" -ne 0 ]; then
  echo "make demo needs root: it starts a private Samba AD DC, agents and Apache on loopback addresses" >&2
  exit 1
fi
exec "$ROOT/tests/lab/with-lab.sh" bash "$ROOT/scripts/demo.sh" --inside "$ROOT/$BUILD"
