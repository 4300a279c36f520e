#!/usr/bin/env bash
# Fetch the Xen userland's Debian packages (daemon, tools, libraries, headers, pyxs) at the exact
# versions harness/pins lists, verify their sha256 and unpack them into a private root under
# .cache/SET/root. Nothing is installed system-wide: binaries run from there with
# LD_LIBRARY_PATH pointing at the unpacked libraries. Prints that root.
#   fetch-packages.sh [SET]   SET: a set of harness/pins, default `xen` (the harness's Xen 4.17);
#                             `xen-4.17.5` is an older build of the daemon's packages.
# A complete cache whose stamp holds the set's current pins is reused; a changed pin refetches.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/pins.sh"
set_name="${1:-xen}"
digest="$(pins_digest "$set_name")"
cache="${XENWIRE_CACHE:-$here/../.cache}/$set_name"
root="$cache/root"
stamp="$cache/.complete"
if [[ "$(cat "$stamp" 2>/dev/null)" == "$digest" ]]; then
  echo "$root"
  exit 0
fi
mkdir -p "$cache"
# Test workers start daemons in parallel: one fetches, the others wait for its stamp.
exec 9>"$cache/.lock"
flock 9
if [[ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]]; then
  rm -rf "$root" "$stamp"
  pins_fetch "$set_name" "$cache/debs"
  mkdir -p "$root"
  for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done
  [[ -x "$root/usr/lib/xen-4.17/bin/xenstored" ]] || {
    echo "fetch-packages: xenstored not found after unpacking set $set_name" >&2
    exit 1
  }
  echo "$digest" >"$stamp"
fi
echo "$root"
}
