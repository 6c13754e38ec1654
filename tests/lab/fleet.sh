#!/usr/bin/env bash
# fleet.sh - a lab fleet of web servers: for every server of a topology
# template, its own loopback address, its own host computer account and
# host keytab, its own krbfleetd agent, and an Apache vhost (web.sh) reading
# the keytab that agent writes. Runs inside a lab (lab.env exported).
#
#   fleet.sh up TEMPLATE.json    -> $LAB_DIR/fleet/topology.json (with addresses,
#                                   agent ports and http://POOL:8080/ probe URLs)
#   fleet.sh down                 stop the agents and Apache (idempotent)
#   fleet.sh stop-agent FQDN | start-agent FQDN
#
# Needs: KF_LAB_HOSTS (the kf-lab-hosts fixture) and KRBFLEETD (the agent).
set -euo pipefail

: "${LAB_DIR:?run inside a lab (tests/lab/with-lab.sh)}"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
F=$LAB_DIR/fleet
WEB_PORT=${FLEET_WEB_PORT:-8080}
AGENT_PORT=${FLEET_AGENT_PORT:-7390}
ALLOW=${FLEET_ALLOW:-$LAB_ADMIN_PRINCIPAL}

say() { printf 'fleet.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

start_agent() { # FQDN ADDRESS
  local d=$F/$1 a
  local -a allow=()
  for a in $ALLOW; do allow+=(--allow "$a"); done   # FLEET_ALLOW: space-separated
  mkdir -p "$d"
  setsid "${KRBFLEETD:?set KRBFLEETD}" --listen "$2:$AGENT_PORT" --principal "host/$1" \
    --host-keytab "$d/host.keytab" --keytab "$d/http.keytab" --keytab-group www-data \
    "${allow[@]}" --foreground >>"$d/agent.log" 2>&1 </dev/null &
  echo "$! $(awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[20] }' /proc/$!/stat)" >"$d/agent.pid"
}

wait_agents() { # until each logs "listening" (after its listen()), up to 60 s
  local fqdn deadline=$(($(date +%s) + 60))
  while [ "$(date +%s)" -le "$deadline" ]; do
    local missing=0
    while read -r fqdn _; do
      grep -q listening "$F/$fqdn/agent.log" 2>/dev/null || missing=1
    done <"$F/servers"
    [ $missing = 0 ] && return 0
    sleep 0.1
  done
  die "agents did not start; see $F/*/agent.log"
}

stop_agent() { # FQDN
  local pid start
  [ -f "$F/$1/agent.pid" ] || return 0
  read -r pid start <"$F/$1/agent.pid"
  if [ "$(awk '{ s = $0; sub(/.*\) /, "", s); split(s, f, " "); print f[20] }' "/proc/$pid/stat" 2>/dev/null)" = "$start" ]; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$F/$1/agent.pid"
}

cmd_up() {
  local template=$1 k=0 fqdn addr
  [ -f "$template" ] || die "no template $template"
  mkdir -p "$F" "$LAB_DIR/web"
  : >"$F/servers"
  # addresses, in template order
  while read -r fqdn; do
    k=$((k + 1))
    addr=$("$LAB_SH" addr "$LAB_DIR" "$k")
    echo "$fqdn $addr" >>"$F/servers"
    "$LAB_SH" add-host "$LAB_DIR" "$addr" "$fqdn"
  done < <(jq -r '.sites[].pools[].servers[].fqdn' "$template")
  # the document krbfleet imports: addresses, agent ports, probe URLs
  jq --slurpfile s <(awk '{ printf "{\"fqdn\":\"%s\",\"address\":\"%s\"}\n", $1, $2 }' "$F/servers" | jq -s .) \
     --argjson port "$AGENT_PORT" --arg wp "$WEB_PORT" '
    ($s[0] | map({(.fqdn): .address}) | add) as $addr |
    .sites |= map(.pools |= map(
      .probe_url = "http://\(.fqdn):\($wp)/" |
      .servers |= map(.address = $addr[.fqdn] | .agent_port = $port)))' \
    "$template" >"$F/topology.json"
  # clients without --resolve find a pool (and its web FQDNs) at its first server
  jq -r '.sites[].pools[] | "\(.servers[0].address) \(.fqdn) \((.web_fqdns // []) | join(" "))"' \
    "$F/topology.json" | while read -r addr names; do
      # shellcheck disable=SC2086
      [ -n "$addr" ] && [ "$addr" != null ] && "$LAB_SH" add-host "$LAB_DIR" "$addr" $names
    done
  # host identities: one computer account and host keytab per server
  awk -v f="$F" '{ system("mkdir -p " f "/" $1); print $1, f "/" $1 "/host.keytab" }' "$F/servers" |
    "${KF_LAB_HOSTS:?set KF_LAB_HOSTS}" >"$F/hosts.log" || die "creating host accounts failed"
  : >"$LAB_DIR/web/servers"
  while read -r fqdn addr; do
    start_agent "$fqdn" "$addr"
    echo "$fqdn $addr $WEB_PORT $F/$fqdn/http.keytab" >>"$LAB_DIR/web/servers"
  done <"$F/servers"
  wait_agents
  "$HERE/web.sh" up "$LAB_DIR" >&2
  say "up: $(wc -l <"$F/servers") web servers, agents on port $AGENT_PORT, Apache on $WEB_PORT"
}

cmd_down() {
  local fqdn
  [ -f "$F/servers" ] || return 0
  while read -r fqdn _; do stop_agent "$fqdn"; done <"$F/servers"
  "$HERE/web.sh" down "$LAB_DIR" >&2 || true
}

case "${1:-}" in
  up) [ $# -eq 2 ] || die "usage: fleet.sh up TEMPLATE.json"; cmd_up "$2" ;;
  down) cmd_down ;;
  stop-agent) stop_agent "$2" ;;
  start-agent) start_agent "$2" "$(awk -v f="$2" '$1 == f { print $2 }' "$F/servers")"; wait_agents ;;
  *) die "usage: fleet.sh up TEMPLATE.json | down | stop-agent FQDN | start-agent FQDN" ;;
esac
