#!/usr/bin/env bash
# Fetch Xen's Debian packages (daemon, tools, libraries, headers, pyxs) and unpack them into a
# private root under .cache/xen/root. Nothing is installed system-wide: binaries run from there
# with LD_LIBRARY_PATH pointing at the unpacked libraries. Idempotent: a complete cache is reused.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XENWIRE_CACHE:-$here/../.cache}/xen"
root="$cache/root"
stamp="$cache/.complete"
packages=(
  xen-utils-4.17 xenstore-utils libxenstore4 libxenmisc4.17 libxenevtchn1 libxengnttab1
  libxentoolcore1 libxentoollog1 libxencall1 libxenforeignmemory1 libxendevicemodel1
  libxenhypfs1
  libxen-dev python3-pyxs
)
if [[ -f "$stamp" ]]; then
  echo "$root"
  exit 0
fi
mkdir -p "$cache/debs" "$root"
cd "$cache/debs"
download() { apt-get download "$@" >/dev/null 2>&1; }
if ! download "${packages[@]}"; then
  # A missing package list is the usual reason; refresh once and retry.
  apt-get update -qq >/dev/null 2>&1 || true
  if ! download "${packages[@]}"; then
    # Optional libraries may not exist under that name on every release: fetch one by one.
    for p in "${packages[@]}"; do download "$p" || echo "fetch-packages: could not fetch $p" >&2; done
  fi
fi
for deb in ./*.deb; do dpkg -x "$deb" "$root"; done
[[ -x "$root/usr/sbin/xenstored" || -x "$root/usr/lib/xen-4.17/bin/xenstored" ]] || {
  echo "fetch-packages: xenstored not found after unpacking" >&2
  exit 1
}
touch "$stamp"
echo "$root"
}
