#!/usr/bin/env bash
# build-deb.sh [OUT] - the Debian packages krbfleet and krbfleetd (debian/),
# built from a copy of this tree in OUT/krbfleet-VERSION, so the tree itself
# is never touched. The .deb files (and .buildinfo, .changes) land in OUT
# (default build-deb, gitignored). The tests are not run here
# (DEB_BUILD_OPTIONS=nocheck): make check runs them.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-deb}

die() { echo "build-deb: $*" >&2; exit 1; }

command -v dpkg-buildpackage >/dev/null && command -v dh >/dev/null ||
  die "dpkg-buildpackage or debhelper is missing: run scripts/install-deps.sh"
version=$(dpkg-parsechangelog -S Version)
src=$out/krbfleet-$version
dpkg-checkbuilddeps 2>/dev/null || die "$(dpkg-checkbuilddeps 2>&1 | sed 's/^dpkg-checkbuilddeps: //'); run scripts/install-deps.sh"

rm -rf "$src" "$out"/*.deb "$out"/*.buildinfo "$out"/*.changes
mkdir -p "$src"
# Everything a checkout holds (committed or not, but not ignored), else the
# tree without build directories.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
    tar -c --null -T - | tar -x -C "$src"
else
  tar -c --exclude='./build*' --exclude=./.git . | tar -x -C "$src"
fi

log=$out/build.log
t0=$(date +%s)
if ! (cd "$src" && DEB_BUILD_OPTIONS="nocheck noautodbgsym ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -b --no-sign -j"$(nproc)") >"$log" 2>&1; then
  tail -n 30 "$log" | sed 's/^/  | /' >&2
  die "dpkg-buildpackage failed; the whole log is $log"
fi
rm -rf "$src"
echo "build-deb: $(cd "$out" && ls ./*.deb | sed 's|^\./||' | tr '\n' ' ')in $out ($(($(date +%s) - t0)) s)"
