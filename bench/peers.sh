#!/usr/bin/env bash
# bench/peers.sh - the single-account operations of krbfleet beside adcli and
# msktutil, on the same lab DC in the same run:
#   (a) create a computer account with two SPNs and have its keys in a
#       keytab on one web server. msktutil create / adcli join write their
#       local keytab; krbfleet is `account new` + `assignment new` +
#       `topology enable` + `password set` to that server's agent (which
#       writes the keytab Apache reads; password set also verifies it with a
#       real SPNEGO login);
#   (b) reset the password and refresh that keytab: msktutil update,
#       adcli update --computer-password-lifetime=0, krbfleet password set;
#   (c) the same as (a) in one krbfleet command: `account new --site`
#       (another site and agent per repetition), against msktutil create.
# REPS repetitions (fresh account names each time; the tools take turns so
# background load hits all alike); prints each tool's median and the ratios,
# and checks every keytab with `kvno -k` (untimed). Needs root (the lab).
#   bench/peers.sh [BUILD_DIR]        REPS=7
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd -P)
BUILD=${1:-build}
REPS=${REPS:-7}

if [ -z "${LAB_DIR:-}" ]; then
  [ "$(id -u)" -eq 0 ] || { echo "bench/peers.sh needs root (it starts a lab DC)" >&2; exit 1; }
  B=$(cd "$ROOT/$BUILD" && pwd -P)
  for c in adcli msktutil kvno; do
    command -v "$c" >/dev/null || { echo "bench: $c is not installed (scripts/install-deps.sh)" >&2; exit 1; }
  done
  exec "$ROOT/tests/lab/with-lab.sh" env KRBFLEET="$B/tools/krbfleet" \
    KRBFLEETD="$B/daemon/krbfleetd" KF_LAB_HOSTS="$B/tests/integration/kf-lab-hosts" \
    REPS="$REPS" bash "$0" "$BUILD"
fi

T=$(mktemp -d /tmp/kf-bench.XXXXXX)
P=$LAB_DIR/peers                     # keytabs of all three tools (Apache reads krbfleet's)
export KRBFLEET_STORE=$T/store.db
export KRBFLEET_TICKET_CACHE=$T/tickets  # not the admin's /var/cache/krbfleet
cleanup() {
  trap '' INT TERM
  [ -f "$T/agent.pids" ] && xargs kill <"$T/agent.pids" 2>/dev/null
  "$ROOT/tests/lab/web.sh" down "$LAB_DIR" >/dev/null 2>&1 || true
  sleep 0.2
  rm -rf "$T" "$P"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
mkdir -p -m 0711 "$P"
kf() { "$KRBFLEET" "$@"; }
DC=$LAB_DC_NAME

# ---- krbfleet's web servers: one site, pool and agent per repetition --------
: >"$T/hosts.in"
: >"$T/servers"
for i in $(seq 1 "$REPS"); do   # kfs: (a) and (b); kfq: (c)
  for k in s q; do
    n=$i; [ $k = q ] && n=$((REPS + i))
    a=$("$LAB_SH" addr "$LAB_DIR" "$n")
    echo "kf$k$i.lab.test $a" >>"$T/servers"
    echo "kf$k$i.lab.test $P/kf$k$i.lab.test.host.keytab" >>"$T/hosts.in"
  done
done
"$KF_LAB_HOSTS" <"$T/hosts.in" >/dev/null
mkdir -p "$LAB_DIR/web"
: >"$LAB_DIR/web/servers"
while read -r s a; do
  "$KRBFLEETD" --listen "$a:7390" --principal "host/$s" --host-keytab "$P/$s.host.keytab" \
    --keytab "$P/$s.http.keytab" --keytab-group www-data --allow "$LAB_ADMIN_PRINCIPAL" \
    --foreground >"$T/$s.log" 2>&1 </dev/null &
  echo $! >>"$T/agent.pids"
  echo "$s $a 8080 $P/$s.http.keytab" >>"$LAB_DIR/web/servers"
done <"$T/servers"
"$ROOT/tests/lab/web.sh" up "$LAB_DIR" 2>/dev/null
for _ in $(seq 200); do
  [ "$(cat "$T"/*.log | grep -c listening)" -ge $((2 * REPS)) ] && break
  sleep 0.05
done
[ "$(cat "$T"/*.log | grep -c listening)" -ge $((2 * REPS)) ] || { cat "$T"/*.log >&2; exit 1; }
jq -Rn '{sites: [inputs | split(" ") as [$s, $a] | ($s | split(".")[0] | .[3:]) as $i |
  (if ($s | startswith("kfs")) then "" else "q" end) as $q |
  {name: (if $q == "" then "p\($i)" else "q\($i)" end),
   pools: [{fqdn: "web\($q)\($i).kf.lab.test", web_fqdns: ["lb\($q)\($i).kf.lab.test"],
    probe_url: "http://web\($q)\($i).kf.lab.test:8080/",
    servers: [{fqdn: $s, address: $a, agent_port: 7390}]}]}]}' <"$T/servers" >"$T/topo.json"
kf topology import "$T/topo.json" >/dev/null

# ---- timing -------------------------------------------------------------------
FAILED=0
# timed LABEL CMD...: run CMD (output to $T/out), append "LABEL seconds" to $T/times
timed() {
  local label=$1 t0 t1
  shift
  t0=$EPOCHREALTIME
  if ! "$@" >"$T/out" 2>&1; then
    FAILED=1
    echo "bench: $label failed: $*" >&2
    tail -5 "$T/out" >&2
  fi
  t1=$EPOCHREALTIME
  awk -v l="$label" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s %.4f\n", l, b - a }' >>"$T/times"
}
# check LABEL KEYTAB SPN: the keytab decrypts a fresh ticket for SPN (untimed;
# a cache of its own, so no ticket from the timed runs is reused)
check() {
  rm -f "$T/check.cc"
  if ! KRB5CCNAME=FILE:$T/check.cc kinit "$LAB_ADMIN_PRINCIPAL" <"$LAB_SECRETS/kfadmin" >/dev/null 2>&1 ||
     ! KRB5CCNAME=FILE:$T/check.cc kvno -q -k "$2" "$3" >/dev/null 2>"$T/kvno.err"; then
    FAILED=1
    echo "bench: $1: $2 does not decrypt a ticket for $3: $(cat "$T/kvno.err")" >&2
  fi
}
kf_create() { # I
  timed "kf-account-new" kf account new "LAB\\kfp$1"
  timed "kf-assignment-new" kf assignment new --site "p$1" --account "kfp$1"
  timed "kf-topology-enable" kf topology enable
  timed "kf-password-set" kf password set --account "kfp$1"
}
MSK=(--server "$DC" --realm "$LAB_REALM" --user-creds-only --no-reverse-lookups)
ADC=(--domain "$LAB_DOMAIN" --domain-controller "$DC")     # adcli update has no --domain-realm

: >"$T/times"
for i in $(seq 1 "$REPS"); do
  # (a) create with two SPNs, keys in the web server's keytab
  timed "msktutil-create" msktutil create --computer-name "mk$i" --hostname "mkw$i.lab.test" \
    --service "HTTP/mkw$i.lab.test" --service "HTTP/mklb$i.lab.test" --keytab "$P/mk$i.keytab" "${MSK[@]}"
  timed "adcli-join" adcli join "${ADC[@]}" --domain-realm "$LAB_REALM" --computer-name "ad$i" --host-fqdn "adw$i.lab.test" \
    --host-keytab "$P/ad$i.keytab" --login-ccache="$KRB5CCNAME" \
    --add-service-principal "HTTP/adw$i.lab.test" --add-service-principal "HTTP/adlb$i.lab.test"
  t0=$EPOCHREALTIME
  kf_create "$i"
  awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "krbfleet-create %.4f\n", b - a }' >>"$T/times"
  # (c) the same in one command
  timed "krbfleet-deploy" kf account new "LAB\\kfd$i" --site "q$i"
done
for i in $(seq 1 "$REPS"); do
  check "msktutil create" "$P/mk$i.keytab" "HTTP/mklb$i.lab.test"
  check "adcli join" "$P/ad$i.keytab" "HTTP/adlb$i.lab.test"
  check "krbfleet create" "$P/kfs$i.lab.test.http.keytab" "HTTP/lb$i.kf.lab.test"
  check "krbfleet account new --site" "$P/kfq$i.lab.test.http.keytab" "HTTP/lbq$i.kf.lab.test"
done
for i in $(seq 1 "$REPS"); do
  # (b) reset the password, refresh the keytab
  timed "msktutil-update" msktutil update --computer-name "mk$i" --hostname "mkw$i.lab.test" \
    --keytab "$P/mk$i.keytab" "${MSK[@]}"
  timed "adcli-update" adcli update "${ADC[@]}" --computer-name "ad$i" --host-fqdn "adw$i.lab.test" \
    --host-keytab "$P/ad$i.keytab" --computer-password-lifetime=0
  timed "krbfleet-reset" kf password set --account "kfp$i"
done
for i in $(seq 1 "$REPS"); do
  check "msktutil update" "$P/mk$i.keytab" "HTTP/mklb$i.lab.test"
  check "adcli update" "$P/ad$i.keytab" "HTTP/adlb$i.lab.test"
  check "krbfleet password set" "$P/kfs$i.lab.test.http.keytab" "HTTP/lb$i.kf.lab.test"
done

med() { awk -v l="$1" '$1 == l { print $2 }' "$T/times" | sort -g |
        awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ms() { awk -v s="$1" 'BEGIN { printf "%6.0f ms", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
kc=$(med krbfleet-create) mc=$(med msktutil-create) ac=$(med adcli-join)
kr=$(med krbfleet-reset) mr=$(med msktutil-update) ar=$(med adcli-update)
kd=$(med krbfleet-deploy)
echo "peers: medians of $REPS repetitions, DC $DC, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo ""
printf '%-44s %10s %10s %10s   %s\n' "" krbfleet msktutil adcli "krbfleet/msktutil  krbfleet/adcli"
printf '%-44s %10s %10s %10s   %8s %17s\n' "(a) create, 2 SPNs, keys in a keytab" "$(ms "$kc")" "$(ms "$mc")" "$(ms "$ac")" \
  "$(ratio "$kc" "$mc")" "$(ratio "$kc" "$ac")"
printf '%-44s %10s %10s %10s   %8s %17s\n' "(c) (a) in one command: account new --site" "$(ms "$kd")" "$(ms "$mc")" "$(ms "$ac")" \
  "$(ratio "$kd" "$mc")" "$(ratio "$kd" "$ac")"
printf '%-44s %10s %10s %10s   %8s %17s\n' "(b) reset the password, refresh the keytab" "$(ms "$kr")" "$(ms "$mr")" "$(ms "$ar")" \
  "$(ratio "$kr" "$mr")" "$(ratio "$kr" "$ar")"
echo ""
echo "krbfleet (a) by command (medians): account new $(ms "$(med kf-account-new)")," \
  "assignment new $(ms "$(med kf-assignment-new)"), topology enable $(ms "$(med kf-topology-enable)")," \
  "password set $(ms "$(med kf-password-set)")"
echo "every keytab checked with kvno -k after (a), (c) and after (b): $([ "$FAILED" = 0 ] && echo ok || echo FAILED)"
[ "$FAILED" = 0 ]
