#!/usr/bin/env bash
# Install the Debian packages krbfleet needs to build, test and run its lab.
# Idempotent: quiet and quick when everything is already present.
# Service start-up is blocked while installing (policy-rc.d), so no system
# smbd, samba-ad-dc, krb5kdc or apache2 starts listening on this machine.
# A policy-rc.d that already exists (Debian's container images ship one) is
# left as it is. Any failure says why and how to retry; never a silent exit.
#
# PostgreSQL (the lab's private database server, the store's second
# backend) is installed without Debian's system cluster: before apt runs,
# create_main_cluster = false is set in postgresql-common's createcluster.conf
# (kept by ucf as the admin's own setting), so no cluster is created and
# nothing listens on port 5432.
#
# Environment (for tests): KRBFLEET_POLICY_RC_D overrides the policy-rc.d
# path; KRBFLEET_APT_LOG the file apt's output is collected in;
# KRBFLEET_PG_CREATECLUSTER the createcluster.conf path.
set -euo pipefail

PKGS=(
  # build
  gcc make pkg-config meson ninja-build clang libclang-rt-14-dev
  libsqlite3-dev libjansson-dev libinih-dev libcmocka-dev
  libkrb5-dev libldap-dev libsasl2-dev libsasl2-modules-gssapi-mit
  libcurl4-openssl-dev libpq-dev valgrind
  # lab: a real Samba AD DC, MIT KDC, Apache + mod_auth_gssapi, peers
  samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools ldap-utils adcli msktutil
  krb5-kdc krb5-admin-server apache2 libapache2-mod-auth-gssapi
  iproute2 curl procps util-linux libnss-wrapper sqlite3 jq
  # lab: a private PostgreSQL 15 for the store's PostgreSQL backend
  postgresql-15
  # tests: every command's --json output is validated against its JSON Schema
  python3-jsonschema
  # tests: the HTML report of `assignment test` is rendered in a real browser
  chromium
  # make deb (dpkg-buildpackage comes with debhelper's dpkg-dev), its lintian
  # check, and make check-stress
  debhelper lintian stress-ng
)

retry="sudo $(cd "$(dirname "$0")" && pwd -P)/$(basename "$0")"

die() { # die MESSAGE: the reason, then how to retry
  echo "install-deps: $*" >&2
  echo "install-deps: fix the cause above, then retry: $retry" >&2
  exit 1
}

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  die "installing them needs root"
fi

echo "install-deps: installing ${missing[*]}" >&2
policy=${KRBFLEET_POLICY_RC_D:-/usr/sbin/policy-rc.d}
log=${KRBFLEET_APT_LOG:-$(mktemp /tmp/krbfleet-apt.XXXXXX)}
own_policy=0
cleanup() {
  if [ "$own_policy" = 1 ]; then rm -f "$policy"; fi
  rm -f "$log"
  return 0
}
trap cleanup EXIT
if [ ! -e "$policy" ] && [ ! -L "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" || die "cannot write $policy"
  chmod 0755 "$policy"
  own_policy=1
fi

apt_failed() { # apt_failed WHAT: the tail of apt's output, then die
  echo "install-deps: $1 failed; the end of its output:" >&2
  tail -n 20 "$log" | sed 's/^/  | /' >&2
  die "could not install: ${missing[*]}"
}

# No system cluster: the setting must be there before postgresql-common's
# postinst and postgresql-15's run (ucf keeps an existing file as it is).
createcluster=${KRBFLEET_PG_CREATECLUSTER:-/etc/postgresql-common/createcluster.conf}
no_main_cluster() {
  mkdir -p "$(dirname "$createcluster")" || return 1
  if [ -f "$createcluster" ] && grep -Eq '^[[:space:]]*create_main_cluster[[:space:]]*=' "$createcluster"; then
    sed -i -E 's/^[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$createcluster"
  else
    echo 'create_main_cluster = false' >>"$createcluster"
  fi
}
no_main_cluster || die "cannot write $createcluster"

export DEBIAN_FRONTEND=noninteractive UCF_FORCE_CONFFOLD=1
# Refresh the package lists only when an install from the current ones fails.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
  apt-get update -q >"$log" 2>&1 || apt_failed "apt-get update"
  apt-get install -y -q --no-install-recommends "${missing[@]}" >"$log" 2>&1 ||
    apt_failed "apt-get install"
fi
echo "install-deps: done" >&2
