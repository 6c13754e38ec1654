#!/usr/bin/env bash
# lab.sh - a private, real Samba AD DC (realm LAB.TEST) for one test run.
# See tests/lab/README.md for the whole story.
set -euo pipefail

LAB_HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
REALM=LAB.TEST
DOMAIN=lab.test
NETBIOS=LAB
DC_HOST=dc1
DC_NAME=dc1.lab.test
BASE_DN=DC=lab,DC=test
NET_PREFIX=127.77                            # a lab owns 127.77.N.0/24, N = 1..254
REGISTRY=${LAB_REGISTRY:-/run/krbfleet-lab}  # one entry per running lab, by N
UP_TIMEOUT=${LAB_UP_TIMEOUT:-90}             # seconds for the DC to answer (a busy machine)
EXTRA_MAX=200                                # lab.sh addr DIR 1..200 -> .21 .. .220
# Samba's default "yes" refuses GSSAPI over TLS altogether (sealing inside
# TLS is refused, and so is no security layer). allow_sasl_over_tls behaves
# like Windows AD: plain LDAP needs sign/seal, TLS allows GSSAPI without a
# security layer (and still refuses sealing inside TLS).
STRONG_AUTH=${LAB_LDAP_STRONG_AUTH:-allow_sasl_over_tls}
PY=/usr/bin/python3                          # Debian's python: the samba modules

usage() {
  cat >&2 <<'EOF'
usage: lab.sh up DIR                 provision and start a private AD DC in DIR
       lab.sh down [--keep-files] DIR
                                     stop it, remove its addresses and files
       lab.sh exec DIR -- CMD [ARG]...
                                     run CMD with the lab's /etc/hosts,
                                     /etc/resolv.conf and environment (lab.env)
       lab.sh addr DIR K             print (and add to lo) extra address K (1..200)
       lab.sh add-host DIR ADDR NAME...
                                     append "ADDR NAME..." to the lab's hosts file
       lab.sh stop-dc DIR            stop the lab's DC (samba), keeping everything else
       lab.sh start-dc DIR           start it again (after stop-dc); waits for LDAP and KDC
       lab.sh list                   list the labs running on this machine
       lab.sh reap                   remove leftovers of labs whose owner died
DIR is an existing directory the caller made (and removes); run as root.
EOF
  exit 2
}

say() { printf 'lab.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# ---------------------------------------------------------------------------
# processes: identified by PID *and* start time, so a reused PID is never hit

proc_start() { # PID -> start time in clock ticks since boot (field 22)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  printf '%s\n' "${20}"
}

proc_sid() { # PID -> session id (field 6)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $s
  printf '%s\n' "$4"
}

proc_state() { # PID -> state letter (R, S, D, Z, ...)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  printf '%s\n' "${s%% *}"
}

# PID START -> true if that very process still runs. A zombie counts as gone:
# samba outlives `lab.sh up`, so its parent is init, which may reap it late.
alive() {
  [ -n "${1:-}" ] && [ -n "${2:-}" ] || return 1
  [ "$(proc_start "$1" 2>/dev/null || true)" = "$2" ] || return 1
  case "$(proc_state "$1" 2>/dev/null || echo X)" in Z|X|x) return 1 ;; esac
  return 0
}

# ---------------------------------------------------------------------------
# state: DIR/lab.state and a copy in $REGISTRY/N/state (key=value, S_ vars)

STATE_VARS=(S_DIR S_N S_NET S_ADDR S_CONF S_UP_PID S_UP_START S_OWNER_PID
            S_OWNER_START S_SAMBA_PID S_SAMBA_START)

clear_state() { local v; for v in "${STATE_VARS[@]}"; do printf -v "$v" '%s' ''; done; }

load_state() { # FILE
  clear_state
  local key val
  while IFS='=' read -r key val; do
    case " ${STATE_VARS[*]} " in
      *" $key "*) printf -v "$key" '%s' "$val" ;;
    esac
  done <"$1"
}

write_state() { # FILE
  local v tmp="$1.tmp.$$"
  for v in "${STATE_VARS[@]}"; do printf '%s=%s\n' "$v" "${!v}"; done >"$tmp"
  mv -f "$tmp" "$1"
}

save_state() {
  write_state "$S_DIR/lab.state"
  [ -d "$REGISTRY/$S_N" ] && write_state "$REGISTRY/$S_N/state"
  return 0
}

# True if the registry entry for S_N belongs to the lab in S_DIR.
owns_net() {
  local key val owner=''
  [ -n "$S_N" ] && [ -f "$REGISTRY/$S_N/state" ] || return 1
  while IFS='=' read -r key val; do
    [ "$key" = S_DIR ] && owner=$val
  done <"$REGISTRY/$S_N/state"
  [ "$owner" = "$S_DIR" ]
}

# ---------------------------------------------------------------------------
# teardown pieces; each is idempotent

lab_pids() { # processes of the lab in S_*: samba's session, or naming its smb.conf
  local p exe re
  {
    if [ -n "$S_CONF" ]; then
      re=$(printf '%s' "$S_CONF" | sed 's/[][\.*^$+?(){}|]/\\&/g')
      for p in $(pgrep -f -- "$re" || true); do
        [ "$(proc_state "$p" 2>/dev/null || echo Z)" = Z ] || echo "$p"
      done
    fi
    if [ -n "$S_SAMBA_PID" ]; then
      for p in $(pgrep -s "$S_SAMBA_PID" || true); do
        [ "$(proc_state "$p" 2>/dev/null || echo Z)" = Z ] && continue
        exe=$(readlink "/proc/$p/exe" 2>/dev/null) || continue
        case "$exe" in */samba|*/smbd|*/winbindd|*/python3*) echo "$p" ;; esac
      done
    fi
  } | sort -u
}

stop_samba() {
  local i pids
  if alive "$S_SAMBA_PID" "$S_SAMBA_START"; then
    kill -TERM "$S_SAMBA_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
      alive "$S_SAMBA_PID" "$S_SAMBA_START" || break
      sleep 0.05
    done
    if alive "$S_SAMBA_PID" "$S_SAMBA_START"; then
      kill -KILL "$S_SAMBA_PID" 2>/dev/null || true
    fi
  fi
  # children (smbd, winbindd, workers) leave on their own when the master goes;
  # give them a moment, then remove any that stayed.
  for ((i = 0; i < 40; i++)); do
    pids=$(lab_pids)
    [ -z "$pids" ] && return 0
    # shellcheck disable=SC2086
    if [ "$i" = 20 ]; then kill -TERM $pids 2>/dev/null || true; fi
    sleep 0.05
  done
  pids=$(lab_pids)
  # shellcheck disable=SC2086
  if [ -n "$pids" ]; then kill -KILL $pids 2>/dev/null || true; fi
  return 0
}

net_addrs() { # NET (127.77.N) -> addresses of that /24 present on lo, as a/plen
  ip -4 -o addr show dev lo | awk -v pfx="$1." '{ if (index($4, pfx) == 1) print $4 }'
}

remove_addrs() {
  local a
  [ -n "$S_NET" ] || return 0
  for a in $(net_addrs "$S_NET"); do
    ip addr del "$a" dev lo 2>/dev/null || true
  done
}

CREATED_FILES=(samba secrets log hosts resolv.conf krb5.conf lab.env
               admin.ccache alice.ccache)

remove_files() { # DIR [keep-logs]
  local f
  for f in "${CREATED_FILES[@]}"; do
    [ "${2:-}" = keep-logs ] && [ "$f" = log ] && continue
    rm -rf "${1:?}/$f"
  done
  rm -f "$1/lab.state"
}

# Stop a tests/lab/web.sh Apache instance of the lab in DIR, if any.
stop_web() { # DIR [--keep-files]
  [ -n "${1:-}" ] && [ -d "$1/web" ] || return 0
  "$LAB_HERE/web.sh" down ${2:+"$2"} "$1" || say "warning: web.sh down $1 failed"
}

# Stop the lab described by S_*. Addresses and the registry entry are only
# removed while this lab still owns its /24 (it may have been reaped and the
# /24 given to another lab since).
teardown() {
  stop_samba
  if owns_net; then
    remove_addrs
    rm -rf "${REGISTRY:?}/$S_N"
  fi
}

# A lab is stale when nothing keeps it alive any more: its `up` is not
# running, and its owner (LAB_OWNER_PID at up time) died - or, for a lab
# without an owner, samba did.
is_stale() {
  alive "$S_UP_PID" "$S_UP_START" && return 1
  if [ -n "$S_OWNER_PID" ]; then
    alive "$S_OWNER_PID" "$S_OWNER_START" && return 1
    return 0
  fi
  alive "$S_SAMBA_PID" "$S_SAMBA_START" && return 1
  return 0
}

owner_dead() { [ -n "$S_OWNER_PID" ] && ! alive "$S_OWNER_PID" "$S_OWNER_START"; }

reap() {
  local d n tmp age
  [ -d "$REGISTRY" ] || return 0
  for d in "$REGISTRY"/[0-9]*; do
    [ -d "$d" ] || continue
    n=${d##*/}
    if [ ! -f "$d/state" ]; then
      # an entry being created has its state within milliseconds
      age=$(( $(date +%s) - $(stat -c %Y "$d") ))
      [ "$age" -gt 60 ] || continue
      clear_state
      S_N=$n S_NET=$NET_PREFIX.$n
    else
      load_state "$d/state"
      is_stale || continue
    fi
    tmp="$REGISTRY/.reap.$n.$$"
    mv "$d" "$tmp" 2>/dev/null || continue   # another reaper won
    say "removing leftover lab $NET_PREFIX.$n.10 (dir ${S_DIR:-?}): its owner or its DC is gone"
    stop_samba
    S_NET=$NET_PREFIX.$n remove_addrs
    rm -rf "$tmp"
    # Its owner died: remove its files too if DIR still holds that very lab,
    # and DIR itself if that leaves it empty (a with-lab.sh temporary
    # directory). Without an owner, files stay for whoever calls down.
    if owner_dead && [ -n "$S_DIR" ] && [ -f "$S_DIR/lab.state" ] &&
       grep -qx "S_N=$n" "$S_DIR/lab.state" &&
       grep -qx "S_SAMBA_START=$S_SAMBA_START" "$S_DIR/lab.state"; then
      stop_web "$S_DIR"
      remove_files "$S_DIR"
      rmdir "$S_DIR" 2>/dev/null || true
    fi
  done
}

# ---------------------------------------------------------------------------
# up

alloc_net() {
  local start i n
  mkdir -p "$REGISTRY"
  chmod 0700 "$REGISTRY"
  start=$(( $$ % 254 ))
  for ((i = 0; i < 254; i++)); do
    n=$(( (start + i) % 254 + 1 ))
    mkdir "$REGISTRY/$n" 2>/dev/null || continue
    if [ -n "$(net_addrs "$NET_PREFIX.$n")" ]; then   # used by someone else
      rmdir "$REGISTRY/$n"
      continue
    fi
    S_N=$n
    S_NET=$NET_PREFIX.$n
    S_ADDR=$S_NET.10
    save_state
    return 0
  done
  die "no free $NET_PREFIX.N.0/24 for a lab ($REGISTRY is full)"
}

gen_password() { # 30 random letters and digits behind a fixed "Kf-"
  local r
  r=$(head -c 48 /dev/urandom | base64 -w0)
  r=${r//[^A-Za-z0-9]/}
  printf 'Kf-%s\n' "${r:0:30}"
}

write_client_files() {
  local dir=$1 me
  me=$(hostname)
  {
    printf '127.0.0.1\tlocalhost\n'
    printf '::1\tlocalhost ip6-localhost ip6-loopback\n'
    if [ "$me" != localhost ]; then
      if [[ "$me" == *.* ]]; then printf '127.0.0.1\t%s %s\n' "$me" "${me%%.*}"
      else printf '127.0.0.1\t%s\n' "$me"; fi
    fi
    printf '%s\t%s %s\n' "$S_ADDR" "$DC_NAME" "$DC_HOST"
  } >"$dir/hosts"
  chmod 0644 "$dir/hosts"
  printf 'nameserver %s\nsearch %s\noptions timeout:2 attempts:1\n' \
    "$S_ADDR" "$DOMAIN" >"$dir/resolv.conf"
  chmod 0644 "$dir/resolv.conf"
  cat >"$dir/krb5.conf" <<EOF
# krb5.conf of the krbfleet lab in $dir
[libdefaults]
	default_realm = $REALM
	dns_lookup_realm = false
	dns_lookup_kdc = false
	rdns = false
	dns_canonicalize_hostname = false

[realms]
	$REALM = {
		kdc = $S_ADDR
		admin_server = $S_ADDR
		kpasswd_server = $S_ADDR
		default_domain = $DOMAIN
	}

[domain_realm]
	.$DOMAIN = $REALM
	$DOMAIN = $REALM
EOF
  chmod 0644 "$dir/krb5.conf"
}

write_lab_env() {
  local dir=$1
  q() { local v=${1//\'/\'\\\'\'}; printf "'%s'" "$v"; }
  {
    printf '# lab.env of the krbfleet lab in %s: source it (lab.sh exec does)\n' "$dir"
    printf 'export LAB_DIR=%s\n' "$(q "$dir")"
    printf 'export LAB_SH=%s\n' "$(q "$LAB_HERE/lab.sh")"
    printf 'export LAB_REALM=%s\n' "$(q "$REALM")"
    printf 'export LAB_DOMAIN=%s\n' "$(q "$DOMAIN")"
    printf 'export LAB_NETBIOS=%s\n' "$(q "$NETBIOS")"
    printf 'export LAB_DC_NAME=%s\n' "$(q "$DC_NAME")"
    printf 'export LAB_DC_ADDR=%s\n' "$(q "$S_ADDR")"
    printf 'export LAB_NET=%s\n' "$(q "$S_NET")"
    printf 'export LAB_BASE_DN=%s\n' "$(q "$BASE_DN")"
    printf 'export LAB_LDAP_URI=%s\n' "$(q "ldap://$DC_NAME")"
    printf 'export LAB_CA=%s\n' "$(q "$dir/samba/private/tls/ca.pem")"
    printf 'export LAB_SAMBA_PID=%s\n' "$(q "$S_SAMBA_PID")"
    printf 'export LAB_SMB_CONF=%s\n' "$(q "$S_CONF")"
    printf 'export LAB_HOSTS=%s\n' "$(q "$dir/hosts")"
    printf 'export LAB_SECRETS=%s\n' "$(q "$dir/secrets")"
    printf 'export LAB_ADMIN=%s\n' "$(q kfadmin)"
    printf 'export LAB_ADMIN_PRINCIPAL=%s\n' "$(q "kfadmin@$REALM")"
    printf 'export LAB_ADMIN_CCACHE=%s\n' "$(q "$dir/admin.ccache")"
    printf 'export LAB_USER=%s\n' "$(q alice)"
    printf 'export LAB_USER_PRINCIPAL=%s\n' "$(q "alice@$REALM")"
    printf 'export LAB_USER_CCACHE=%s\n' "$(q "$dir/alice.ccache")"
    printf 'export KRB5_CONFIG=%s\n' "$(q "$dir/krb5.conf")"
    printf 'export KRB5CCNAME=%s\n' "$(q "$dir/admin.ccache")"
  } >"$dir/lab.env"
  chmod 0644 "$dir/lab.env"
}

UP_OK=0
UP_STEP=''
UP_LOG=''
UP_T=''
UP_TIMES=''

step() { # record how long the previous step took, name the next one
  local t
  t=$(now)
  [ -n "$UP_STEP" ] && UP_TIMES+="  $(awk -v a="$UP_T" -v b="$t" 'BEGIN { printf "%5.2f", b - a }') s  $UP_STEP"$'\n'
  UP_STEP=$1
  UP_T=$t
}

up_exit() {
  local rc=$?
  trap - EXIT INT TERM HUP
  [ "$UP_OK" = 1 ] && return 0
  say "up FAILED while ${UP_STEP:-starting} (exit $rc)"
  if [ -n "$UP_LOG" ] && [ -s "$UP_LOG" ]; then
    say "last lines of $UP_LOG:"
    tail -n 15 "$UP_LOG" | sed 's/^/    /' >&2
  fi
  if [ -n "$S_DIR" ]; then
    teardown || true
    remove_files "$S_DIR" keep-logs || true
    say "tore down what was made; logs kept in $S_DIR/log"
  fi
  exit 1
}

cmd_up() {
  [ $# -eq 1 ] || usage
  local dir t0 deadline i c samba_log conf
  [ "$(id -u)" = 0 ] || die "up needs root (ip addr, samba)"
  [ -d "$1" ] || die "no such directory: $1"
  dir=$(cd "$1" && pwd -P)
  [[ "$dir" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "unsupported characters in directory name: $dir"
  [ -e "$dir/lab.state" ] && die "$dir already holds a lab (lab.sh down $dir first)"
  for c in samba samba-tool ip kinit klist ldapsearch setsid unshare "$PY"; do
    command -v "$c" >/dev/null || die "missing command $c (run scripts/install-deps.sh)"
  done
  t0=$(now)
  umask 077
  trap up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP

  step "reaping leftover labs"
  (reap)   # in a subshell: reap loads other labs' state into the S_ variables
  clear_state
  S_DIR=$dir
  S_UP_PID=$$
  S_UP_START=$(proc_start $$)
  if [ -n "${LAB_OWNER_PID:-}" ]; then
    S_OWNER_PID=$LAB_OWNER_PID
    S_OWNER_START=$(proc_start "$LAB_OWNER_PID") || die "LAB_OWNER_PID $LAB_OWNER_PID is not running"
  fi
  mkdir -p "$dir/log" "$dir/secrets"
  chmod 0700 "$dir/secrets"
  # Traversable (not listable) by everyone: Apache workers run as www-data
  # and must read krb5.conf and the keytabs tests put here. Secrets,
  # ccaches and the DC's files stay 0700/0600.
  chmod 0711 "$dir"
  conf=$dir/samba/etc/smb.conf
  S_CONF=$conf

  step "allocating an address"
  alloc_net
  ip addr add "$S_ADDR/32" dev lo || die "cannot add $S_ADDR to lo"

  step "writing client files"
  write_client_files "$dir"
  gen_password >"$dir/secrets/administrator"
  gen_password >"$dir/secrets/kfadmin"
  gen_password >"$dir/secrets/alice"

  step "provisioning the domain"
  UP_LOG=$dir/log/provision.log
  local s=$dir/samba
  # No --adminpass: provision makes a random one (and logs it), which
  # lab-setup.py then replaces with the one in secrets/administrator.
  samba-tool domain provision --realm="$REALM" --domain="$NETBIOS" \
    --server-role=dc --dns-backend=SAMBA_INTERNAL \
    --host-name="$DC_HOST" --host-ip="$S_ADDR" --targetdir="$s" \
    --option="interfaces=$S_ADDR" --option="bind interfaces only=yes" \
    --option="dns forwarder=$S_NET.1" \
    --option="log file=$dir/log/samba.log" --option="log level=1" \
    --option="max log size=0" --option="panic action=" \
    --option="pid directory=$s/run" --option="ncalrpc dir=$s/run/ncalrpc" \
    --option="winbindd socket directory=$s/run/winbindd" \
    --option="ntp signd socket directory=$s/run/ntp_signd" \
    --option="smb passwd file=$s/private/smbpasswd" \
    --option="usershare path=$s/usershares" \
    --option="server services=-nbt -ntp_signd -dnsupdate" \
    --option="unix password sync=no" --option="load printers=no" \
    --option="printing=bsd" --option="printcap name=/dev/null" \
    --option="disable spoolss=yes" \
    --option="ldap server require strong auth=$STRONG_AUTH" \
    2>&1 | sed -u '/Admin password:/d' >"$UP_LOG"
  [ -f "$conf" ] || die "provision wrote no $conf"

  step "setting password policy and creating users"
  UP_LOG=$dir/log/setup.log
  "$PY" "$LAB_HERE/lab-setup.py" "$conf" "$dir/secrets/administrator" \
    "$dir/secrets/kfadmin" "$dir/secrets/alice" >"$UP_LOG" 2>&1
  # The DC's own SPNs beyond HOST/ (ldap/dc1.lab.test, GC/..., ...) are added
  # by samba_spnupdate, which the DC's dnsupdate service would run some
  # seconds after start; run it now so they exist from the first second.
  step "adding the DC's service principal names"
  samba_spnupdate -s "$conf" --verbose >>"$UP_LOG" 2>&1

  step "starting samba"
  samba_log=$dir/log/samba.log
  UP_LOG=$samba_log
  (cd "$s" && exec setsid samba -s "$conf" --foreground --no-process-group \
      </dev/null >>"$dir/log/samba.stdout" 2>&1) &
  S_SAMBA_PID=$!
  S_SAMBA_START=$(proc_start "$S_SAMBA_PID") || die "samba died at once"
  save_state

  step "waiting for LDAP and Kerberos on $S_ADDR"
  export KRB5_CONFIG=$dir/krb5.conf
  deadline=$(( $(date +%s) + UP_TIMEOUT ))
  while :; do
    alive "$S_SAMBA_PID" "$S_SAMBA_START" || die "samba exited during start-up"
    if ldapsearch -x -LLL -o nettimeout=2 -H "ldap://$S_ADDR" -s base -b '' \
         dnsHostName >/dev/null 2>&1 &&
       KRB5CCNAME=$dir/admin.ccache kinit "kfadmin@$REALM" \
         <"$dir/secrets/kfadmin" >/dev/null 2>"$dir/log/kinit.err"; then
      break
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "the DC did not answer within ${UP_TIMEOUT}s"
    sleep 0.1
  done
  # the TLS CA comes a little after LDAP answers; same deadline
  until [ -s "$s/private/tls/ca.pem" ] || [ "$(date +%s)" -ge "$deadline" ]; do
    sleep 0.1
  done
  [ -s "$s/private/tls/ca.pem" ] || die "samba made no TLS CA within ${UP_TIMEOUT}s ($s/private/tls/ca.pem)"
  step "getting alice's ticket"
  UP_LOG=$dir/log/kinit.err
  KRB5CCNAME=$dir/alice.ccache kinit "alice@$REALM" \
    <"$dir/secrets/alice" >/dev/null 2>"$UP_LOG"
  rm -f "$UP_LOG"

  step "writing lab.env"
  write_lab_env "$dir"
  S_UP_PID='' S_UP_START=''
  save_state
  UP_OK=1
  trap - EXIT INT TERM HUP
  step "finished"
  printf '%s' "$UP_TIMES" >"$dir/log/up-times"
  [ "${LAB_VERBOSE:-0}" = 1 ] && printf 'lab.sh: up steps:\n%s' "$UP_TIMES" >&2
  say "up: $REALM, $DC_NAME at $S_ADDR, samba pid $S_SAMBA_PID, in $(elapsed "$t0") s; env: $dir/lab.env"
}

# ---------------------------------------------------------------------------
# down

find_state() { # DIR -> loads S_* from DIR/lab.state or the registry; false if none
  local dir=$1 d
  if [ -f "$dir/lab.state" ]; then load_state "$dir/lab.state"; return 0; fi
  [ -d "$REGISTRY" ] || return 1
  for d in "$REGISTRY"/[0-9]*/state; do
    [ -f "$d" ] || continue
    load_state "$d"
    [ "$S_DIR" = "$dir" ] && return 0
  done
  clear_state
  return 1
}

cmd_down() {
  local keep=0 dir t0
  if [ "${1:-}" = --keep-files ]; then keep=1; shift; fi
  [ $# -eq 1 ] || usage
  [ "$(id -u)" = 0 ] || die "down needs root"
  t0=$(now)
  if [ -d "$1" ]; then dir=$(cd "$1" && pwd -P); else dir=$1; fi
  trap '' INT TERM HUP          # finish tearing down whatever happens
  if [ "$keep" = 1 ]; then stop_web "$dir" --keep-files; else stop_web "$dir"; fi
  if ! find_state "$dir"; then
    say "down: no lab in $dir (nothing to do)"
    return 0
  fi
  teardown
  if [ "$keep" = 0 ] && [ -d "$dir" ]; then remove_files "$dir"; else rm -f "$dir/lab.state"; fi
  say "down: $S_ADDR (samba pid ${S_SAMBA_PID:-none}) removed in $(elapsed "$t0") s"
}

# ---------------------------------------------------------------------------
# exec, addr, add-host, list

need_lab() { # DIR -> canonical dir on stdout
  [ -d "$1" ] && [ -f "$1/lab.env" ] && [ -f "$1/lab.state" ] || die "no lab in $1 (lab.sh up $1 first)"
  (cd "$1" && pwd -P)
}

cmd_exec() {
  [ $# -ge 3 ] && [ "$2" = -- ] || usage
  local dir
  dir=$(need_lab "$1")
  shift 2
  set -a
  # shellcheck disable=SC1091
  . "$dir/lab.env"
  set +a
  exec unshare -m --propagation private -- /bin/sh -c '
    d=$1; shift
    mount --bind "$d/hosts" /etc/hosts || { echo "lab.sh: cannot bind $d/hosts over /etc/hosts" >&2; exit 125; }
    mount --bind "$d/resolv.conf" /etc/resolv.conf 2>/dev/null ||
      echo "lab.sh: warning: /etc/resolv.conf not replaced (lab DNS not used)" >&2
    exec "$@"' lab-exec "$dir" "$@"
}

cmd_addr() {
  [ $# -eq 2 ] || usage
  local dir k a
  dir=$(need_lab "$1")
  k=$2
  [[ "$k" =~ ^[0-9]+$ ]] && [ "$k" -ge 1 ] && [ "$k" -le "$EXTRA_MAX" ] ||
    die "addr: K must be 1..$EXTRA_MAX"
  load_state "$dir/lab.state"
  a=$S_NET.$((20 + k))
  if [ -z "$(ip -4 -o addr show dev lo to "$a/32")" ]; then
    [ "$(id -u)" = 0 ] || die "addr needs root to add $a"
    ip addr add "$a/32" dev lo 2>/dev/null ||
      [ -n "$(ip -4 -o addr show dev lo to "$a/32")" ] || die "cannot add $a to lo"
  fi
  printf '%s\n' "$a"
}

cmd_add_host() {
  [ $# -ge 3 ] || usage
  local dir addr
  dir=$(need_lab "$1")
  addr=$2
  shift 2
  [[ "$addr" =~ ^[0-9.]+$|: ]] || die "add-host: not an address: $addr"
  # append in place: the file is bind-mounted by running `lab.sh exec`s
  printf '%s\t%s\n' "$addr" "$*" >>"$dir/hosts"
}

# stop-dc / start-dc: a DC that goes away mid-operation and comes back
# (tests of what krbfleet does then). Same samba, same files, new PID.
cmd_stop_dc() {
  [ $# -eq 1 ] || usage
  local dir t0
  [ "$(id -u)" = 0 ] || die "stop-dc needs root"
  dir=$(need_lab "$1")
  t0=$(now)
  load_state "$dir/lab.state"
  alive "$S_SAMBA_PID" "$S_SAMBA_START" || die "stop-dc: samba is not running"
  stop_samba
  say "stop-dc: samba pid $S_SAMBA_PID stopped in $(elapsed "$t0") s"
}

cmd_start_dc() {
  [ $# -eq 1 ] || usage
  local dir t0 deadline cc
  [ "$(id -u)" = 0 ] || die "start-dc needs root"
  dir=$(need_lab "$1")
  t0=$(now)
  load_state "$dir/lab.state"
  alive "$S_SAMBA_PID" "$S_SAMBA_START" && die "start-dc: samba (pid $S_SAMBA_PID) is running"
  (cd "$dir/samba" && exec setsid samba -s "$S_CONF" --foreground --no-process-group \
      </dev/null >>"$dir/log/samba.stdout" 2>&1) &
  S_SAMBA_PID=$!
  S_SAMBA_START=$(proc_start "$S_SAMBA_PID") || die "samba died at once"
  save_state
  sed -i "s/^export LAB_SAMBA_PID=.*/export LAB_SAMBA_PID='$S_SAMBA_PID'/" "$dir/lab.env"
  cc=$dir/secrets/start-dc.ccache   # a throwaway ticket: the admin's cache is left alone
  deadline=$(( $(date +%s) + UP_TIMEOUT ))
  until ldapsearch -x -LLL -o nettimeout=2 -H "ldap://$S_ADDR" -s base -b '' dnsHostName \
          >/dev/null 2>&1 &&
        KRB5_CONFIG=$dir/krb5.conf KRB5CCNAME=$cc kinit "kfadmin@$REALM" \
          <"$dir/secrets/kfadmin" >/dev/null 2>&1; do
    alive "$S_SAMBA_PID" "$S_SAMBA_START" || die "start-dc: samba exited; see $dir/log/samba.log"
    [ "$(date +%s)" -lt "$deadline" ] || die "start-dc: the DC did not answer within ${UP_TIMEOUT}s"
    sleep 0.1
  done
  rm -f "$cc"
  say "start-dc: samba pid $S_SAMBA_PID answers in $(elapsed "$t0") s"
}

cmd_list() {
  local d st
  [ -d "$REGISTRY" ] || return 0
  for d in "$REGISTRY"/[0-9]*/state; do
    [ -f "$d" ] || continue
    load_state "$d"
    if alive "$S_UP_PID" "$S_UP_START"; then st=starting
    elif is_stale; then st=stale
    else st=running; fi
    printf '%s\t%s\tsamba=%s\t%s\n' "$S_ADDR" "$st" "${S_SAMBA_PID:--}" "$S_DIR"
  done
}

main() {
  [ $# -ge 1 ] || usage
  clear_state
  local cmd=$1
  shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    down) cmd_down "$@" ;;
    exec) cmd_exec "$@" ;;
    addr) cmd_addr "$@" ;;
    add-host) cmd_add_host "$@" ;;
    stop-dc) cmd_stop_dc "$@" ;;
    start-dc) cmd_start_dc "$@" ;;
    list) cmd_list "$@" ;;
    reap) [ $# -eq 0 ] || usage; [ "$(id -u)" = 0 ] || die "reap needs root"; (reap) ;;
    -h|--help|help) usage ;;
    *) say "unknown command: $cmd"; usage ;;
  esac
}

main "$@"
