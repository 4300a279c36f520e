#!/usr/bin/env bash
# Fetch everything the Xen lane needs, cached under .cache/xen-lane (gitignored):
#  - host tools (QEMU, cpio, kmod) installed from Debian's registry;
#  - the Xen hypervisor, Debian's Dom0-capable kernel, busybox and libyajl (for xl), unpacked into
#    a private root with `dpkg -x` (nothing of these is installed system-wide);
#  - the Xen user-space tools and libraries, unpacked by harness/fetch-packages.sh (reused).
# Prints the lane cache directory. Idempotent: a complete cache is reused.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cache="${XEN_LANE_CACHE:-$repo/.cache/xen-lane}"
root="$cache/root"
stamp="$cache/.complete"

log() { echo "xen-lane/fetch: $*" >&2; }

apt_updated=0
apt_update_once() {
  if [[ $apt_updated == 0 ]]; then
    apt-get update -qq >/dev/null 2>&1 || log "apt-get update failed (continuing with the lists we have)"
    apt_updated=1
  fi
}

# Host tools. Only what is missing is installed, without recommends (no services get started).
missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v cpio >/dev/null || missing+=(cpio)
command -v depmod >/dev/null || missing+=(kmod)
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  apt_update_once
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The Xen tools (xenstored, xl, xenconsoled, xen-init-dom0) and their libraries.
xen_root="$(bash "$repo/harness/fetch-packages.sh")"

if [[ -f "$stamp" ]]; then
  echo "$cache"
  exit 0
fi

mkdir -p "$cache/debs" "$root"
# Resolve the kernel ABI from the meta-package: a glob would download every flavour.
resolve_kernel() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' | head -n1
}
kernel_pkg="$(resolve_kernel)"
if [[ -z $kernel_pkg ]]; then
  apt_update_once
  kernel_pkg="$(resolve_kernel)"
fi
[[ -n $kernel_pkg ]] || { log "cannot resolve linux-image-amd64's kernel package"; exit 1; }
packages=(xen-hypervisor-4.17-amd64 "$kernel_pkg" busybox-static libyajl2)
log "downloading ${packages[*]}"
(
  cd "$cache/debs"
  if ! apt-get download "${packages[@]}" >/dev/null 2>&1; then
    apt_update_once
    apt-get download "${packages[@]}" >&2
  fi
)
for deb in "$cache"/debs/*.deb; do dpkg -x "$deb" "$root"; done

# QEMU's multiboot loader takes an uncompressed ELF: gunzip the hypervisor once.
# (The package also ships an EFI binary, which multiboot cannot load.)
xen_gz="$(find "$root/boot" -maxdepth 1 -name 'xen-4.17*.gz' | sort | head -n1)"
[[ -n $xen_gz ]] || { log "no hypervisor image in xen-hypervisor-4.17-amd64"; exit 1; }
gzip -dc "$xen_gz" >"$cache/xen"

vmlinuz="$(find "$root/boot" -maxdepth 1 -name 'vmlinuz-*' | sort | head -n1)"
[[ -n $vmlinuz ]] || { log "no kernel image in $kernel_pkg"; exit 1; }
cp "$vmlinuz" "$cache/vmlinuz"
basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$cache/kernel-release"
echo "$xen_root" >"$cache/xen-tools-root"
touch "$stamp"
echo "$cache"
}
