#!/usr/bin/env bash
# web.sh - private Apache httpd + mod_auth_gssapi instances serving a lab's
# web servers, each on its own address with its own keytab.
# See tests/lab/README.md ("Web servers: web.sh") for the whole story.
set -euo pipefail

APACHE=/usr/sbin/apache2
MODDIR=/usr/lib/apache2/modules
WEB_USER=www-data                     # Apache's workers; keytabs are root:www-data 0640
WEB_GROUP=www-data
UP_TIMEOUT=${WEB_UP_TIMEOUT:-60}      # seconds for every listener to answer (a busy machine)
LOGLEVEL=${WEB_LOGLEVEL:-warn}        # e.g. "warn auth_gssapi:debug"

usage() {
  cat >&2 <<'EOF'
usage: web.sh up [LABDIR]            start Apache for the servers in LABDIR/web/servers
       web.sh reload [LABDIR]        rewrite the config from that list, graceful restart
       web.sh down [--keep-files] [LABDIR]
                                     stop it and remove what up made (idempotent)
       web.sh status [LABDIR]        print pid and listeners; exit 1 if not running
       web.sh login LABDIR URL ADDRESS [CCACHE]
                                     curl --negotiate URL at ADDRESS as alice (or CCACHE);
                                     prints "HTTP <status>" then the body; exit 0 on 2xx
LABDIR defaults to $LAB_DIR. Servers file: one "FQDN ADDRESS PORT KEYTAB" per line,
'#' comments. up/reload/down need root.
EOF
  exit 2
}

say() { printf 'web.sh: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# ---------------------------------------------------------------------------
# processes: PID *and* start time, never a process name

proc_field() { # PID N -> field N of /proc/PID/stat (3 = state, 6 = sid, 22 = start)
  local s
  s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  s=${s##*) }
  # shellcheck disable=SC2086
  set -- $2 $s
  shift $(( $1 - 2 ))
  printf '%s\n' "$1"
}

alive() { # PID START -> true if that very process runs (a zombie is gone)
  [ -n "${1:-}" ] && [ -n "${2:-}" ] || return 1
  [ "$(proc_field "$1" 22 2>/dev/null || true)" = "$2" ] || return 1
  case "$(proc_field "$1" 3 2>/dev/null || echo X)" in Z|X|x) return 1 ;; esac
}

# The instance's processes: httpd runs in its own session (setsid), so every
# process of it has session id = the parent's PID; only apache2 binaries count.
web_pids() { # PID
  local p
  for p in $(pgrep -s "$1" 2>/dev/null || true); do
    [ "$(readlink "/proc/$p/exe" 2>/dev/null || true)" = "$APACHE" ] || continue
    case "$(proc_field "$p" 3 2>/dev/null || echo X)" in Z|X|x) continue ;; esac
    printf '%s\n' "$p"
  done
}

# ---------------------------------------------------------------------------
# paths and state

set_paths() { # LABDIR
  [ -n "${1:-}" ] || die "no LABDIR given and \$LAB_DIR is not set"
  [ -d "$1" ] || die "no such directory: $1"
  LABDIR=$(cd "$1" && pwd -P)
  [[ "$LABDIR" =~ ^[A-Za-z0-9._/+-]+$ ]] || die "unsupported characters in directory name: $LABDIR"
  WEB=$LABDIR/web
  SERVERS=$WEB/servers
  CONF=$WEB/httpd.conf
  STATE=$WEB/web.state
  PIDFILE=$WEB/run/httpd.pid
  ERRLOG=$WEB/log/error.log
}

lock() { # serialise up/reload/down of one lab (the lock is on LABDIR itself)
  exec 9<"$LABDIR"
  flock 9
}

W_PID='' W_START=''
load_state() { # -> W_PID W_START of a running instance; false if none runs
  W_PID='' W_START=''
  local key val
  [ -f "$STATE" ] || return 1
  while IFS='=' read -r key val; do
    case "$key" in PID) W_PID=$val ;; START) W_START=$val ;; esac
  done <"$STATE"
  alive "$W_PID" "$W_START"
}

# ---------------------------------------------------------------------------
# the servers file

N=0
S_FQDN=() S_ADDR=() S_KT=() S_LISTEN=() S_WHERE=()

is_ipv4() {
  local IFS=. o
  [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
  # shellcheck disable=SC2086
  for o in $1; do [ "$((10#$o))" -le 255 ] || return 1; done
}

read_servers() {
  local line lineno=0 fqdn addr port kt extra where listen i seen_f=' ' seen_l=' '
  [ -f "$SERVERS" ] || die "no servers file $SERVERS (one \"FQDN ADDRESS PORT KEYTAB\" per line)"
  N=0 S_FQDN=() S_ADDR=() S_KT=() S_LISTEN=() S_WHERE=()
  while IFS= read -r line || [ -n "$line" ]; do
    lineno=$((lineno + 1))
    line=${line%%#*}
    fqdn='' addr='' port='' kt='' extra=''
    read -r fqdn addr port kt extra <<<"$line" || true
    [ -n "$fqdn" ] || continue
    where="$SERVERS:$lineno"
    [ -n "$kt" ] && [ -z "$extra" ] || die "$where: want \"FQDN ADDRESS PORT KEYTAB\", got: $line"
    [ ${#fqdn} -le 253 ] && [[ "$fqdn" =~ ^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$ ]] ||
      die "$where: not a host name: $fqdn"
    if is_ipv4 "$addr"; then listen=$addr
    elif [[ "$addr" == *:* && "$addr" =~ ^[0-9A-Fa-f:.]+$ ]]; then listen="[$addr]"
    else die "$where: not an IPv4 or IPv6 address: $addr"; fi
    [[ "$port" =~ ^[0-9]{1,5}$ ]] && [ "$((10#$port))" -ge 1 ] && [ "$((10#$port))" -le 65535 ] ||
      die "$where: not a port: $port"
    port=$((10#$port))
    listen="$listen:$port"
    [[ "$kt" =~ ^/[A-Za-z0-9._/+@=,-]+$ ]] ||
      die "$where: keytab must be an absolute path of [A-Za-z0-9._/+@=,-]: $kt"
    case "$seen_f" in *" ${fqdn,,} "*) die "$where: server $fqdn is listed twice" ;; esac
    case "$seen_l" in *" $listen "*) die "$where: $listen is already used by another server" ;; esac
    seen_f+="${fqdn,,} " seen_l+="$listen "
    S_FQDN[N]=$fqdn S_ADDR[N]=$addr S_KT[N]=$kt S_LISTEN[N]=$listen S_WHERE[N]=$where
    N=$((N + 1))
  done <"$SERVERS"
  [ "$N" -gt 0 ] || die "$SERVERS lists no server"
  # Every address must be local (else httpd cannot bind it - and a graceful
  # restart that cannot bind stops httpd): one `ip` for all of them.
  local locals
  locals=" $(printf 'route get %s\n' "${S_ADDR[@]}" | ip -force -o -batch - 2>/dev/null |
              awk '$1 == "local" { printf "%s ", $2 }')"
  for ((i = 0; i < N; i++)); do
    case "$locals" in *" ${S_ADDR[i]} "*) ;;
      *) die "${S_WHERE[i]}: ${S_ADDR[i]} is not an address of this machine (lab.sh addr LABDIR K adds one)" ;;
    esac
  done
  # Say which keytabs the workers cannot read (tests do that on purpose):
  # checked as the worker user, with its groups, in one process.
  local unreadable f shown=0
  unreadable=$(setpriv --reuid="$WEB_USER" --regid="$WEB_GROUP" --init-groups -- \
                 sh -c 'for f; do [ -r "$f" ] || echo "$f"; done' sh "${S_KT[@]}") ||
    die "cannot check keytabs as $WEB_USER (setpriv failed)"
  if [ -n "$unreadable" ]; then
    local -A bad=()
    while IFS= read -r f; do bad[$f]=1; done <<<"$unreadable"
    for ((i = 0; i < N; i++)); do
      [ -n "${bad[${S_KT[i]}]:-}" ] || continue
      shown=$((shown + 1))
      [ "$shown" -le 5 ] &&
        say "note: $WEB_USER cannot read ${S_KT[i]} (server ${S_FQDN[i]}): its logins will fail until it can"
    done
    [ "$shown" -le 5 ] || say "note: ... and $((shown - 5)) more servers whose keytab $WEB_USER cannot read"
  fi
}

# ---------------------------------------------------------------------------
# the Apache configuration

write_conf() { # FILE
  local f=$1 i
  {
    cat <<EOF
# Generated by tests/lab/web.sh from $SERVERS - do not edit; run web.sh reload.
ServerRoot "$WEB"
DefaultRuntimeDir "$WEB/run"
PidFile "$PIDFILE"
ErrorLog "$ERRLOG"
LogLevel $LOGLEVEL
ServerName localhost
# Without User/Group the workers would stay root and a root-only keytab
# would wrongly pass.
User $WEB_USER
Group $WEB_GROUP

LoadModule mpm_event_module $MODDIR/mod_mpm_event.so
LoadModule authn_core_module $MODDIR/mod_authn_core.so
LoadModule authz_core_module $MODDIR/mod_authz_core.so
LoadModule authz_user_module $MODDIR/mod_authz_user.so
LoadModule auth_gssapi_module $MODDIR/mod_auth_gssapi.so
LoadModule alias_module $MODDIR/mod_alias.so
LoadModule env_module $MODDIR/mod_env.so
LoadModule include_module $MODDIR/mod_include.so

# small: one process of 16 threads, up to 4 (64 requests at once)
ServerLimit 4
StartServers 1
ThreadLimit 16
ThreadsPerChild 16
MinSpareThreads 1
MaxSpareThreads 48
MaxRequestWorkers 64
MaxConnectionsPerChild 0
Timeout 15
KeepAlive On
TraceEnable Off
ServerTokens Prod
ServerSignature Off

LogFormat "%v %A:%{local}p %a \"%u\" \"%{Host}i\" \"%r\" %>s %Dus" krbfleet
CustomLog "$WEB/log/access.log" krbfleet

<Directory />
  AllowOverride None
  Options None
  Require all denied
</Directory>
# Every URL is the whoami page: server-side includes print who logged in
# (REMOTE_USER, set by mod_auth_gssapi) and which server answered.
AliasMatch ^/ "$WEB/htdocs/whoami.shtml"
<Directory "$WEB/htdocs">
  Options Includes
  ForceType text/plain
  SetOutputFilter INCLUDES
  Require all granted
</Directory>
EOF
    for ((i = 0; i < N; i++)); do   # printf, not cat: no process per server
      printf '\n# %s\nListen %s\n<VirtualHost %s>\n' "${S_FQDN[i]}" "${S_LISTEN[i]}" "${S_LISTEN[i]}"
      printf '  ServerName %s\n  SetEnv KRBFLEET_WEB_SERVER %s\n' "${S_FQDN[i]}" "${S_FQDN[i]}"
      printf '  <Location />\n    AuthType GSSAPI\n    GssapiCredStore keytab:%s\n' "${S_KT[i]}"
      printf '    GssapiAllowedMech krb5\n    Require valid-user\n  </Location>\n</VirtualHost>\n'
    done
  } >"$f"
  chmod 0644 "$f"
}

write_static() {
  mkdir -p "$WEB/run" "$WEB/log" "$WEB/htdocs" "$WEB/rcache"
  chmod 0711 "$WEB"                 # workers must reach htdocs
  chmod 0700 "$WEB/run" "$WEB/log"
  chmod 0755 "$WEB/htdocs"
  # the acceptor's replay cache, private to this lab (else /var/tmp)
  chown "$WEB_USER:$WEB_GROUP" "$WEB/rcache"
  chmod 0700 "$WEB/rcache"
  cat >"$WEB/htdocs/whoami.shtml" <<'EOF'
user=<!--#echo encoding="none" var="REMOTE_USER" -->
server=<!--#echo encoding="none" var="KRBFLEET_WEB_SERVER" -->
host=<!--#echo encoding="url" var="HTTP_HOST" -->
local=<!--#echo encoding="none" var="SERVER_ADDR" -->:<!--#echo encoding="none" var="SERVER_PORT" -->
auth=<!--#echo encoding="none" var="AUTH_TYPE" -->
EOF
  chmod 0644 "$WEB/htdocs/whoami.shtml"
}

check_conf() { # FILE
  local out
  out=$("$APACHE" -t -f "$1" 2>&1) || { printf '%s\n' "$out" | sed 's/^/    /' >&2; return 1; }
}

# ---------------------------------------------------------------------------
# readiness: every listener gives an HTTP answer (401 without a ticket)

wait_listeners() { # DEADLINE -> false (with a message) when httpd died or time is up
  local deadline=$1 pending=("${S_LISTEN[@]}") args l code url left
  while :; do
    alive "$W_PID" "$W_START" || { say "httpd (pid $W_PID) exited"; return 1; }
    args=()
    for l in "${pending[@]}"; do args+=(-o /dev/null "http://$l/"); done
    left=()
    while read -r code url; do
      [ "$code" != 000 ] && continue
      url=${url#http://}
      left+=("${url%/}")
    done < <(curl -s --connect-timeout 1 --max-time 3 -w '%{http_code} %{url_effective}\n' "${args[@]}" || true)
    [ ${#left[@]} -eq 0 ] && return 0
    pending=("${left[@]}")
    if [ "$(date +%s)" -ge "$deadline" ]; then
      say "not answering after ${UP_TIMEOUT}s: ${pending[*]}"
      return 1
    fi
    sleep 0.05
  done
}

log_tail() {
  if [ -s "$ERRLOG" ]; then say "last lines of $ERRLOG:"; tail -n 12 "$ERRLOG" | sed 's/^/    /' >&2; fi
  if [ -s "$WEB/log/httpd.stdout" ]; then
    say "httpd's output:"; tail -n 8 "$WEB/log/httpd.stdout" | sed 's/^/    /' >&2
  fi
  return 0
}

# ---------------------------------------------------------------------------
# up, reload, down, status

UP_OK=0
up_exit() { # on any failure or signal during up: stop what was started
  local rc=$?
  trap - EXIT INT TERM HUP
  [ "$UP_OK" = 1 ] && return 0
  trap '' INT TERM HUP
  log_tail
  stop_instance
  remove_made keep-logs
  say "up FAILED (exit $rc); nothing left running; logs kept in $WEB/log (web.sh down removes them)"
  exit 1
}

cmd_up() {
  [ $# -le 1 ] || usage
  local t0 nofile pidf i
  set_paths "${1:-${LAB_DIR:-}}"
  [ "$(id -u)" = 0 ] || die "up needs root (Listen, User $WEB_USER)"
  [ -x "$APACHE" ] && [ -f "$MODDIR/mod_auth_gssapi.so" ] ||
    die "missing apache2 or mod_auth_gssapi (run scripts/install-deps.sh)"
  [ -f "$LABDIR/krb5.conf" ] || die "no $LABDIR/krb5.conf (is $LABDIR a lab? lab.sh up it first)"
  t0=$(now)
  lock
  if load_state; then die "already running in $LABDIR (pid $W_PID): web.sh reload or down"; fi
  setpriv --reuid="$WEB_USER" --regid="$WEB_GROUP" --init-groups -- test -r "$LABDIR/krb5.conf" ||
    die "$WEB_USER cannot read $LABDIR/krb5.conf (LABDIR must be o+x): MIT krb5 would silently use /etc/krb5.conf"
  read_servers
  trap up_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  trap 'exit 129' HUP
  rm -f "$STATE" "$PIDFILE"
  write_static
  write_conf "$CONF"
  : >"$WEB/log/httpd.stdout"

  # Its own session (found by session id), a clean environment, the lab's
  # krb5.conf; the parent stays root, workers become www-data.
  (
    cd "$WEB"
    nofile=$(ulimit -Hn)
    ulimit -n "$nofile" 2>/dev/null || true   # one fd per listener, per process
    # inherit no descriptor but 0-2 (a caller's pipe held open by httpd
    # would keep a test runner waiting)
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [ "$fd" -gt 2 ]; then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    exec setsid env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C \
      KRB5_CONFIG="$LABDIR/krb5.conf" KRB5RCACHEDIR="$WEB/rcache" \
      ${WEB_KRB5_TRACE:+KRB5_TRACE="$WEB/log/krb5.trace"} \
      "$APACHE" -f "$CONF" -DFOREGROUND </dev/null >>"$WEB/log/httpd.stdout" 2>&1
  ) &
  W_PID=$!
  W_START=$(proc_field "$W_PID" 22) || { log_tail; die "httpd exited at once"; }
  printf 'PID=%s\nSTART=%s\n' "$W_PID" "$W_START" >"$STATE.tmp"
  mv -f "$STATE.tmp" "$STATE"

  wait_listeners $(( $(date +%s) + UP_TIMEOUT )) || exit 1
  for ((i = 0; i < 50; i++)); do     # httpd writes its PidFile early; be sure
    pidf=$(cat "$PIDFILE" 2>/dev/null || true)
    [ "$pidf" = "$W_PID" ] && break
    sleep 0.02
  done
  [ "$pidf" = "$W_PID" ] || say "warning: $PIDFILE says '${pidf}', expected $W_PID"
  UP_OK=1
  trap - EXIT INT TERM HUP
  say "up: $N server(s), httpd pid $W_PID, in $(elapsed "$t0") s; config $CONF"
}

cmd_reload() {
  [ $# -le 1 ] || usage
  local t0 off i
  set_paths "${1:-${LAB_DIR:-}}"
  [ "$(id -u)" = 0 ] || die "reload needs root"
  t0=$(now)
  lock
  load_state || die "not running in $LABDIR (web.sh up first)"
  read_servers
  write_conf "$CONF.new"
  # A graceful restart with a broken config stops httpd: check it first.
  check_conf "$CONF.new" || { rm -f "$CONF.new"; die "new config rejected; the running one is unchanged"; }
  mv -f "$CONF.new" "$CONF"
  off=$(stat -c %s "$ERRLOG" 2>/dev/null || echo 0)
  kill -USR1 "$W_PID"
  # wait for the new generation ("... configured -- resuming normal operations")
  for ((i = 0; i < UP_TIMEOUT * 50; i++)); do
    tail -c +"$((off + 1))" "$ERRLOG" 2>/dev/null | grep -q 'resuming normal operations' && break
    alive "$W_PID" "$W_START" || break
    sleep 0.02
  done
  if ! alive "$W_PID" "$W_START"; then
    log_tail
    stop_instance
    die "httpd stopped during the graceful restart (a Listen it could not bind?)"
  fi
  if ! wait_listeners $(( $(date +%s) + UP_TIMEOUT )); then
    log_tail
    die "reload: not every listener answers (httpd pid $W_PID still runs)"
  fi
  say "reload: $N server(s), httpd pid $W_PID, in $(elapsed "$t0") s"
}

# SIGTERM the parent (it stops its children), SIGKILL whatever is left after
# 10 s; the session is collected first so orphans are found too.
stop_instance() {
  local pids i
  [ -n "$W_PID" ] && [ -n "$W_START" ] || return 0
  if alive "$W_PID" "$W_START"; then
    kill -TERM "$W_PID" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do
      alive "$W_PID" "$W_START" || break
      sleep 0.05
    done
    if alive "$W_PID" "$W_START"; then kill -KILL "$W_PID" 2>/dev/null || true; fi
  fi
  # children leave with the parent; any that stayed are still in its session
  for ((i = 0; i < 40; i++)); do
    pids=$(web_pids "$W_PID")
    [ -z "$pids" ] && break
    # shellcheck disable=SC2086
    if [ "$i" = 20 ]; then kill -KILL $pids 2>/dev/null || true; fi
    sleep 0.05
  done
  rm -f "$STATE"
}

remove_made() { # [keep-logs]
  rm -rf "$CONF" "$CONF.new" "$STATE" "$STATE.tmp" "$WEB/run" "$WEB/htdocs" "$WEB/rcache"
  [ "${1:-}" = keep-logs ] || rm -rf "$WEB/log"
  rmdir "$WEB" 2>/dev/null || true   # only if nothing of yours (servers, keytabs) is in it
}

cmd_down() {
  local keep=0 t0 what
  if [ "${1:-}" = --keep-files ]; then keep=1; shift; fi
  [ $# -le 1 ] || usage
  [ -n "${1:-${LAB_DIR:-}}" ] || usage
  if [ ! -d "${1:-$LAB_DIR}/web" ]; then say "down: no web instance in ${1:-$LAB_DIR} (nothing to do)"; return 0; fi
  set_paths "${1:-$LAB_DIR}"
  [ "$(id -u)" = 0 ] || die "down needs root"
  t0=$(now)
  lock
  trap '' INT TERM HUP
  if load_state; then
    what="httpd pid $W_PID stopped"
    stop_instance
  else
    what="no httpd was running"
    rm -f "$STATE"
  fi
  if [ "$keep" = 1 ]; then remove_made keep-logs; what+=", logs kept"; else remove_made; fi
  say "down: $what, files removed, in $(elapsed "$t0") s"
}

cmd_status() {
  [ $# -le 1 ] || usage
  set_paths "${1:-${LAB_DIR:-}}"
  load_state || { say "not running in $LABDIR"; return 1; }
  printf 'pid %s\n' "$W_PID"
  awk '/^Listen /{ l = $2 } /^  ServerName /{ print "server", $2, l }' "$CONF"
}

# ---------------------------------------------------------------------------
# login

cmd_login() {
  [ $# -eq 3 ] || [ $# -eq 4 ] || usage
  local url=$2 addr=$3 cc scheme host port out code body
  set_paths "$1"
  cc=${4:-$LABDIR/alice.ccache}
  [[ "$url" =~ ^(https?)://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:([0-9]+))?(/.*)?$ ]] ||
    die "login: not an http(s) URL with a host name: $url"
  scheme=${BASH_REMATCH[1]} host=${BASH_REMATCH[2]} port=${BASH_REMATCH[4]}
  [ -n "$port" ] || { [ "$scheme" = https ] && port=443 || port=80; }
  is_ipv4 "$addr" || [[ "$addr" =~ ^\[?[0-9A-Fa-f:.]+\]?$ && "$addr" == *:* ]] ||
    die "login: not an address: $addr"
  [[ "$addr" == *:* && "$addr" != \[* ]] && addr="[$addr]"
  # curl asks for a ticket for HTTP/<host of the URL>; --resolve sends it to ADDRESS
  out=$(KRB5_CONFIG=$LABDIR/krb5.conf KRB5CCNAME=$cc \
        curl -sS --negotiate -u : --resolve "$host:$port:$addr" --max-time 15 \
             -w '\n%{http_code}' "$url") || true
  code=${out##*$'\n'}
  body=${out%$'\n'*}
  [ "$out" = "$code" ] && body=''
  [[ "$code" =~ ^[0-9]{3}$ ]] || code=000
  printf 'HTTP %s\n' "$code"
  [ -n "$body" ] && printf '%s\n' "${body%$'\n'}"
  [[ "$code" == 2?? ]]
}

main() {
  [ $# -ge 1 ] || usage
  local cmd=$1
  shift
  case "$cmd" in
    up) cmd_up "$@" ;;
    reload) cmd_reload "$@" ;;
    down) cmd_down "$@" ;;
    status) cmd_status "$@" ;;
    login) cmd_login "$@" ;;
    -h|--help|help) usage ;;
    *) say "unknown command: $cmd"; usage ;;
  esac
}

main "$@"
