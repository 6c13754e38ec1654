#!/usr/bin/env bash
# Install the Debian packages krbfleet needs to build, test and run its lab.
# Idempotent: quiet and quick when everything is already present.
# Service start-up is blocked while installing (policy-rc.d), so no system
# smbd, samba-ad-dc, krb5kdc or apache2 starts listening on this machine.
set -euo pipefail

PKGS=(
  # build
  gcc make pkg-config meson ninja-build clang libclang-rt-14-dev
  libsqlite3-dev libjansson-dev libinih-dev libcmocka-dev
  libkrb5-dev libldap-dev libsasl2-dev libsasl2-modules-gssapi-mit
  libcurl4-openssl-dev valgrind
  # lab: a real Samba AD DC, MIT KDC, Apache + mod_auth_gssapi, peers
  samba samba-ad-dc samba-ad-provision winbind krb5-user ldb-tools ldap-utils adcli msktutil
  krb5-kdc krb5-admin-server apache2 libapache2-mod-auth-gssapi
  iproute2 curl procps util-linux libnss-wrapper sqlite3 jq
  # tests: the HTML report of `assignment test` is rendered in a real browser
  chromium
)

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$st" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or: sudo $0)" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 0755 "$policy"
  own_policy=1
fi
cleanup() { [ "$own_policy" = 1 ] && rm -f "$policy"; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists only when an install from the current ones fails.
if ! apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/krbfleet-apt.$$ 2>&1; then
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends "${missing[@]}" >/tmp/krbfleet-apt.$$ 2>&1 || {
    cat /tmp/krbfleet-apt.$$ >&2; rm -f /tmp/krbfleet-apt.$$; exit 1; }
fi
rm -f /tmp/krbfleet-apt.$$
