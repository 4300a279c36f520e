#!/usr/bin/env bash
# Fetch everything the Xen lane needs, at the versions harness/pins lists, cached under
# .cache/xen-lane (gitignored):
#  - host tools (QEMU, cpio, kmod; set `lane-host`): an installed one must be at least the pinned
#    minimum, a missing one is installed from Debian's registry at its pinned version;
#  - the Xen hypervisor, the Dom0/DomU kernel, busybox and libyajl (for xl) (set `xen-lane`),
#    checked against their sha256 and unpacked into a private root with `dpkg -x` (nothing of
#    these is installed system-wide);
#  - the Xen user-space tools and libraries, unpacked by harness/fetch-packages.sh (reused).
# Prints the lane cache directory. Idempotent: a complete cache whose stamp holds the current
# pins is reused; a changed pin refetches.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
. "$repo/harness/pins.sh"
cache="${XEN_LANE_CACHE:-$repo/.cache/xen-lane}"
root="$cache/root"
stamp="$cache/.complete"

log() { echo "xen-lane/fetch: $*" >&2; }

pins_host lane-host

# The Xen tools (xenstored, xl, xenconsoled, xen-init-dom0) and their libraries.
mkdir -p "$cache"
bash "$repo/harness/fetch-packages.sh" >"$cache/xen-tools-root"

digest="$(pins_digest xen-lane)"
if [[ "$(cat "$stamp" 2>/dev/null)" == "$digest" ]]; then
  echo "$cache"
  exit 0
fi

rm -rf "$root" "$stamp" "$cache/xen" "$cache/vmlinuz" "$cache/kernel-release" "$cache/versions"
pins_fetch xen-lane "$cache/debs"
mkdir -p "$root"
for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done

# QEMU's multiboot loader takes an uncompressed ELF: gunzip the hypervisor once.
# (The package also ships an EFI binary, which multiboot cannot load.)
xen_gz="$(find "$root/boot" -maxdepth 1 -name 'xen-4.17*.gz' | sort | head -n1)"
[[ -n $xen_gz ]] || { log "no hypervisor image in xen-hypervisor-4.17-amd64"; exit 1; }
gzip -dc "$xen_gz" >"$cache/xen"

vmlinuz="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | head -n1)"
[[ -n $vmlinuz ]] || { log "no kernel image in the xen-lane set's linux-image package"; exit 1; }
cp "$vmlinuz" "$cache/vmlinuz"
basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$cache/kernel-release"
# What boot.sh says it boots: read from the packages unpacked, not from the pins.
kernel_deb="$(compgen -G "$cache/debs/linux-image-*.deb")"
printf 'Xen %s (xen-hypervisor-4.17-amd64), kernel %s (%s %s)\n' \
  "$(dpkg-deb -f "$(compgen -G "$cache/debs/xen-hypervisor-4.17-amd64_*.deb")" Version)" \
  "$(cat "$cache/kernel-release")" "$(dpkg-deb -f "$kernel_deb" Package)" \
  "$(dpkg-deb -f "$kernel_deb" Version)" >"$cache/versions"
echo "$digest" >"$stamp"
echo "$cache"
}
