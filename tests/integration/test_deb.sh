#!/usr/bin/env bash
# The Debian packages (debian/, scripts/build-deb.sh), without a lab:
#   bash tests/integration/test_deb.sh [OUT]     (default OUT build-deb)
# Builds them (the tree must be left as it was), then checks each package's
# file list against the one expected below, modes, conffiles, Depends from
# shlibs, the maintainer scripts (the agent neither enabled nor started,
# try-restarted on upgrade), lintian (no errors), systemd-analyze verify on
# every unit (no complaint at all), that apt-get resolves both, and in a
# scratch root: the installed programs run (--version, help), and purging
# krbfleet keeps the store. scripts/check.sh runs it as one step.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
OUT=${1:-build-deb}
N=0 FAILED=0
ok()     { N=$((N + 1)); echo "ok $N - $*"; }
not_ok() { N=$((N + 1)); FAILED=$((FAILED + 1)); echo "not ok $N - $*"; }
T=$(mktemp -d /tmp/kf-deb.XXXXXX)
trap 'rm -rf "$T"' EXIT

# -- the build leaves the tree as it was -------------------------------------------
tree_state() { git status --porcelain --ignored=matching 2>/dev/null | grep -v "^!! $OUT/\$" || true; }
tree_state >"$T/before"
if ./scripts/build-deb.sh "$OUT" >"$T/build.out" 2>&1; then ok "$(cat "$T/build.out")"
else not_ok "build-deb failed: $(tail -c 1500 "$T/build.out")"; echo "$((N - FAILED)) passed, $FAILED failed"; exit 1; fi
tree_state >"$T/after"
if cmp -s "$T/before" "$T/after"; then ok "the build left the tree as it was (artefacts only in $OUT/)"
else not_ok "the build changed the tree: $(diff "$T/before" "$T/after" | head -5 | tr '\n' ' ')"; fi

V=$(dpkg-parsechangelog -S Version)
A=$(dpkg --print-architecture)
CLI=$OUT/krbfleet_${V}_$A.deb
AGENT=$OUT/krbfleetd_${V}_$A.deb
debs=$(cd "$OUT" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')
[ "$debs" = "krbfleet_${V}_$A.deb krbfleetd_${V}_$A.deb " ] &&
  ok "two packages: $debs" || not_ok "packages built: $debs"

# -- file lists: path, mode, owner ----------------------------------------------------
listing() { dpkg-deb -c "$1" | awk '{ print $1, $2, $6 }'; }
cat >"$T/krbfleet.expected" <<'LIST'
drwxr-xr-x root/root ./
drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/krbfleet/
-rw-r--r-- root/root ./etc/krbfleet/krbfleet.conf
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/krbfleet-rotate.service
-rw-r--r-- root/root ./lib/systemd/system/krbfleet-rotate.timer
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/bin/
-rwxr-xr-x root/root ./usr/bin/krbfleet
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/bash-completion/
drwxr-xr-x root/root ./usr/share/bash-completion/completions/
-rw-r--r-- root/root ./usr/share/bash-completion/completions/krbfleet
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/krbfleet/
-rw-r--r-- root/root ./usr/share/doc/krbfleet/changelog.gz
-rw-r--r-- root/root ./usr/share/doc/krbfleet/copyright
drwxr-xr-x root/root ./usr/share/lintian/
drwxr-xr-x root/root ./usr/share/lintian/overrides/
-rw-r--r-- root/root ./usr/share/lintian/overrides/krbfleet
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man1/
-rw-r--r-- root/root ./usr/share/man/man1/krbfleet.1.gz
drwxr-xr-x root/root ./var/
drwxr-xr-x root/root ./var/lib/
drwx------ root/root ./var/lib/krbfleet/
LIST
cat >"$T/krbfleetd.expected" <<'LIST'
drwxr-xr-x root/root ./
drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/krbfleet/
-rw-r--r-- root/root ./etc/krbfleet/krbfleetd.conf
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/krbfleetd.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/sbin/
-rwxr-xr-x root/root ./usr/sbin/krbfleetd
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/krbfleetd/
-rw-r--r-- root/root ./usr/share/doc/krbfleetd/changelog.gz
-rw-r--r-- root/root ./usr/share/doc/krbfleetd/copyright
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man8/
-rw-r--r-- root/root ./usr/share/man/man8/krbfleetd.8.gz
LIST
for p in krbfleet krbfleetd; do
  deb=$OUT/${p}_${V}_$A.deb
  listing "$deb" >"$T/$p.list"
  if diff -u "$T/$p.expected" "$T/$p.list" >"$T/$p.diff"; then
    ok "$p: file list, modes and owners as expected ($(grep -vc '^d' "$T/$p.list") files$([ $p = krbfleet ] && echo '; /var/lib/krbfleet 0700'))"
  else not_ok "$p: file list differs: $(tail -n +3 "$T/$p.diff" | grep '^[-+]' | tr '\n' ' ')"; fi
  # FHS: nothing outside the paths a package may use
  bad=$(awk '{ print $3 }' "$T/$p.list" | grep -vE '^\./($|etc/|lib/systemd/|usr/(bin|sbin|lib|share)/|usr/(bin|sbin|lib|share)/?$|usr/$|lib/$|etc/$|var/$|var/lib/)' || true)
  [ -z "$bad" ] && ok "$p: only FHS paths" || not_ok "$p: paths outside FHS: $bad"
done
conf_of() { dpkg-deb --ctrl-tarfile "$1" | tar -xO ./conffiles 2>/dev/null; }
[ "$(conf_of "$CLI")" = /etc/krbfleet/krbfleet.conf ] && ok "krbfleet: /etc/krbfleet/krbfleet.conf is a conffile" ||
  not_ok "krbfleet conffiles: $(conf_of "$CLI")"
[ "$(conf_of "$AGENT")" = /etc/krbfleet/krbfleetd.conf ] && ok "krbfleetd: /etc/krbfleet/krbfleetd.conf is a conffile" ||
  not_ok "krbfleetd conffiles: $(conf_of "$AGENT")"

# -- Depends come from shlibs ---------------------------------------------------------
dep_cli=$(dpkg-deb -f "$CLI" Depends) dep_agent=$(dpkg-deb -f "$AGENT" Depends)
case "$dep_cli" in
  *"libc6 (>= "*"libkrb5-3 (>= "*"libldap-"*"libsqlite3-0 (>= "*libsasl2-modules-gssapi-mit*)
    ok "krbfleet Depends: shlibs (libc6, libkrb5-3, libldap, libsqlite3 with versions) and the SASL GSSAPI plugin" ;;
  *) not_ok "krbfleet Depends: $dep_cli" ;;
esac
case "$dep_agent" in
  *"libc6 (>= "*"libkrb5-3 (>= "*) ok "krbfleetd Depends: shlibs ($dep_agent)" ;;
  *) not_ok "krbfleetd Depends: $dep_agent" ;;
esac

# -- maintainer scripts: the agent is configured first, then enabled by hand ----------
dpkg-deb -e "$AGENT" "$T/ctl"
# (dh_installsystemd --no-enable: "enable" only inside "if debian-installed",
# i.e. for an admin who had enabled it; never start or restart)
if grep -q "if deb-systemd-helper debian-installed 'krbfleetd.service'; then" "$T/ctl/postinst" &&
   ! grep -q "was-enabled defaults to true" "$T/ctl/postinst" &&
   ! grep -Eq "deb-systemd-invoke (start|restart) " "$T/ctl/postinst"; then
  ok "krbfleetd postinst: the unit is not enabled (only kept enabled if it was) and not started"
else not_ok "krbfleetd postinst enables or starts: $(grep -E 'enable|invoke' "$T/ctl/postinst" | tr '\n' ' ')"; fi
grep -q "deb-systemd-invoke try-restart 'krbfleetd.service'" "$T/ctl/postinst" &&
  ok "krbfleetd postinst: on upgrade a running agent is try-restarted" ||
  not_ok "krbfleetd postinst has no try-restart"
[ ! -e "$T/ctl/preinst" ] || ! grep -q "invoke stop" "$T/ctl/preinst" &&
  ok "krbfleetd preinst: the agent is not stopped before an upgrade" || not_ok "preinst stops the agent"
grep -q 'deb-systemd-invoke stop krbfleetd.service' "$T/ctl/prerm" &&
  ok "krbfleetd prerm: the agent is stopped when the package is removed" || not_ok "no stop on remove in prerm"
dpkg-deb -e "$CLI" "$T/ctl-cli"
scripts=$(cd "$T/ctl-cli" && ls | grep -E '^(pre|post)(inst|rm)$' | tr '\n' ' ')
[ -z "$scripts" ] && ok "krbfleet has no maintainer scripts (nothing can delete the store)" ||
  not_ok "krbfleet maintainer scripts: $scripts"

# -- lintian ------------------------------------------------------------------------
if command -v lintian >/dev/null; then
  lintian --fail-on error "$OUT"/krbfleet_"${V}"_"$A".changes >"$T/lintian" 2>&1; rc=$?
  errs=$(grep -c '^E: ' "$T/lintian")
  [ "$rc" = 0 ] && [ "$errs" = 0 ] && ok "lintian: no errors ($(grep -c '^W: ' "$T/lintian") warnings)" ||
    not_ok "lintian (exit $rc): $(grep '^E: ' "$T/lintian" | head -5 | tr '\n' ' ')"
else not_ok "lintian is not installed (scripts/install-deps.sh)"; fi

# -- a scratch root: dpkg -x both, systemd-analyze verify, run the programs -----------
R=$T/root
mkdir -p "$R"
dpkg -x "$CLI" "$R" && dpkg -x "$AGENT" "$R"
# systemd's own units (targets) for verify --root; the packages' units beside them
mkdir -p "$R/usr/lib/systemd"
cp -a /lib/systemd/system "$R/usr/lib/systemd/"
units=$(cd "$R" && ls lib/systemd/system/* 2>/dev/null)
for u in $units; do
  out=$(MANPATH=$R/usr/share/man systemd-analyze verify --root="$R" "$R/$u" 2>&1); rc=$?
  [ "$rc" = 0 ] && [ -z "$out" ] && ok "systemd-analyze verify /$u: no complaint (binary, man page, every directive)" ||
    not_ok "systemd-analyze verify /$u (exit $rc): $out"
done
[ -n "$units" ] || not_ok "no unit in the packages"
run() { # what CMD...: exit 0 and output
  local what=$1; shift
  if "$@" >"$T/out" 2>&1 && [ -s "$T/out" ]; then ok "$what: $(head -1 "$T/out")"
  else not_ok "$what: $(head -c 300 "$T/out")"; fi
}
run "installed krbfleet --version" "$R/usr/bin/krbfleet" --version
grep -qx "krbfleet $V" "$T/out" || not_ok "krbfleet --version is not '$V'"
run "installed krbfleet help" "$R/usr/bin/krbfleet" help
grep -q "password set" "$T/out" || not_ok "krbfleet help lists no 'password set'"
run "installed krbfleetd --version" "$R/usr/sbin/krbfleetd" --version
grep -qx "krbfleetd $V" "$T/out" || not_ok "krbfleetd --version is not '$V'"
run "installed krbfleetd --help" "$R/usr/sbin/krbfleetd" --help
run "installed krbfleet reads the shipped krbfleet.conf" \
  "$R/usr/bin/krbfleet" --config "$R/etc/krbfleet/krbfleet.conf" --store "$T/s.db" site add probe
rc=0; "$R/usr/sbin/krbfleetd" --config "$R/etc/krbfleet/krbfleetd.conf" --foreground >"$T/out" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'at least one --allow PRINCIPAL or --allow @GROUP is required' "$T/out" &&
  ok "installed krbfleetd with the shipped krbfleetd.conf (the unit's command): refuses to start until 'allow' is set" ||
  not_ok "krbfleetd with the shipped conf: exit $rc: $(head -c 300 "$T/out")"
missing=$(ldd "$R/usr/bin/krbfleet" "$R/usr/sbin/krbfleetd" | grep 'not found' || true)
[ -z "$missing" ] && ok "every library the programs need resolves (no private library)" ||
  not_ok "unresolved libraries: $missing"

# -- apt resolves both ----------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then
  (cd "$OUT" && apt-get install --simulate ./krbfleet*.deb) >"$T/apt" 2>&1; rc=$?
  [ "$rc" = 0 ] && grep -q '^Inst krbfleet ' "$T/apt" && grep -q '^Inst krbfleetd ' "$T/apt" &&
    ok "apt-get install --simulate ./krbfleet*.deb resolves" ||
    not_ok "apt-get --simulate (exit $rc): $(grep -E '^E:|broken|Depends' "$T/apt" | head -5 | tr '\n' ' ')"

  # -- dpkg in a scratch root: install, upgrade, purge keeps the store -----------------
  # The maintainer scripts run with DPKG_ROOT set (chrootless): debhelper's
  # snippets and deb-systemd-helper then act inside the scratch root only.
  P=$T/dpkgroot
  mkdir -p "$P/var/lib/dpkg/info" "$P/var/lib/dpkg/updates"
  : >"$P/var/lib/dpkg/status"; : >"$P/var/lib/dpkg/available"
  pdpkg() { dpkg --root="$P" --log=/dev/null --force-depends --force-script-chrootless "$@"; }
  if pdpkg -i "$CLI" "$AGENT" >"$T/dpkg" 2>&1 && pdpkg -i "$AGENT" >>"$T/dpkg" 2>&1; then
    ok "dpkg installs both into a scratch root, and upgrades krbfleetd over itself, with their maintainer scripts"
    wants=$(find "$P/etc/systemd" -name krbfleetd.service 2>/dev/null)
    [ -z "$wants" ] && [ -e "$P/var/lib/systemd/deb-systemd-helper-enabled/krbfleetd.service.dsh-also" ] &&
      ok "krbfleetd.service is known to deb-systemd-helper but not enabled" ||
      not_ok "krbfleetd.service enabled after install: $wants"
    echo 'the topology' >"$P/var/lib/krbfleet/krbfleet.db"
    pdpkg --purge krbfleet >>"$T/dpkg" 2>&1
    st=$(dpkg-query --admindir="$P/var/lib/dpkg" -W -f='${db:Status-Status}' krbfleet 2>/dev/null)
    [ "$(cat "$P/var/lib/krbfleet/krbfleet.db" 2>/dev/null)" = 'the topology' ] && [ "$st" != installed ] &&
      [ ! -e "$P/etc/krbfleet/krbfleet.conf" ] &&
      ok "dpkg --purge krbfleet removes its conffile and keeps /var/lib/krbfleet/krbfleet.db" ||
      not_ok "purge: store $(ls -l "$P/var/lib/krbfleet" 2>&1 | tr '\n' ' '); status '$st'"
  else not_ok "dpkg -i into a scratch root: $(tail -5 "$T/dpkg")"; fi
else
  echo "# not root: apt-get --simulate and the dpkg purge check skipped"
fi

echo "$((N - FAILED)) passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
