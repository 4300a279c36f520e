#!/usr/bin/env bash
# Build a busybox initramfs for the Xen lane and print its path.
#   build-initramfs.sh dom0   Dom0's: loads the Xen and 9p modules, mounts the host's root and the
#                             checkout over virtfs and hands over to xen-lane/dom0-session.sh there.
#   build-initramfs.sh domu   A PV guest's: the same kernel modules, plus node and its libraries and
#                             the guest probe (tests/xen/domu/), run by its /init.
# Images are rebuilt only when one of their inputs changed.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
flavour="${1:-}"
[[ $flavour == dom0 || $flavour == domu ]] || { echo "usage: $0 dom0|domu" >&2; exit 2; }
cache="$(bash "$here/fetch.sh")"
root="$cache/root"
release="$(cat "$cache/kernel-release")"
image="$cache/initramfs-$flavour.cpio"

# Kernel modules wanted, in load order (modprobe pulls in their dependencies).
modules=(xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd)
if [[ $flavour == dom0 ]]; then modules+=(virtio_pci 9pnet_virtio 9p); fi
# Block devices (tests/xen/block): Dom0 serves disks with xen-blkback over loop devices, guests
# mount what they are served with xen-blkfront and ext4.
if [[ $flavour == dom0 ]]; then modules+=(xen-blkback loop); else modules+=(xen-blkfront ext4); fi

inputs=("$here/build-initramfs.sh" "$here/initramfs/$flavour-init" "$root/bin/busybox" "$cache/vmlinuz")
if [[ $flavour == domu ]]; then
  inputs+=("$(command -v node)")
  while IFS= read -r f; do inputs+=("$f"); done < <(find "$repo/tests/xen/domu" -type f | sort)
fi
fingerprint="$(sha256sum "${inputs[@]}" | sha256sum | cut -c1-16)"
if [[ -f $image && "$(cat "$image.fingerprint" 2>/dev/null)" == "$fingerprint" ]]; then
  echo "$image"
  exit 0
fi

staging="$(mktemp -d "$cache/initramfs-$flavour.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
mkdir -p "$staging"/{bin,dev,proc,sys,tmp,run,etc,root}
cp "$root/bin/busybox" "$staging/bin/busybox"
cp "$here/initramfs/$flavour-init" "$staging/init"
chmod 755 "$staging/init"

# Copy each wanted module with its dependency closure, then index them for busybox's modprobe.
[[ -f "$root/lib/modules/$release/modules.dep" ]] || depmod -b "$root" "$release"
for m in "${modules[@]}"; do
  modprobe -d "$root" -S "$release" --show-depends "$m" | while read -r kind path _; do
    [[ $kind == insmod ]] || continue
    rel="${path#"$root"/}"
    mkdir -p "$staging/$(dirname "$rel")"
    cp "$path" "$staging/$rel"
  done
done
cp "$root/lib/modules/$release"/modules.{order,builtin,builtin.modinfo} "$staging/lib/modules/$release/"
depmod -b "$staging" "$release"
printf '%s\n' "${modules[@]}" >"$staging/etc/xen-lane-modules"

if [[ $flavour == domu ]]; then
  # node and every shared library it loads, at the same paths as on the host.
  node_bin="$(command -v node)"
  mkdir -p "$staging/usr/bin"
  cp "$node_bin" "$staging/usr/bin/node"
  ldd "$node_bin" | grep -o '/[^ ]*' | while read -r lib; do
    mkdir -p "$staging/$(dirname "$lib")"
    cp -L "$lib" "$staging/$lib"
  done
  mkdir -p "$staging/guest"
  cp -r "$repo/tests/xen/domu/." "$staging/guest/"
fi

# Uncompressed: decompressing under software emulation costs more than reading the extra bytes.
(cd "$staging" && find . -mindepth 1 | LC_ALL=C sort | cpio -o -H newc --quiet) >"$image.tmp"
mv "$image.tmp" "$image"
echo "$fingerprint" >"$image.fingerprint"
echo "$image"
}
