#!/usr/bin/env bash
# Runs in Dom0 (inside the lane's session): start a PV DomU with the lane's kernel and the guest
# initramfs (build-initramfs.sh domu, built on the host beforehand), wait for it to power off, print
# its console and exit with the status its probe reported.
#   domu-run.sh [MEMORY_MB]
{
set -euo pipefail
cache="${XEN_LANE_CACHE:?run inside the Xen lane}"
memory="${1:-512}"
name=xen-lane-domu
initrd="$cache/initramfs-domu.cpio"
[[ -f $initrd ]] || { echo "domu-run: $initrd missing (build-initramfs.sh domu on the host)" >&2; exit 2; }
mkdir -p /run/xen-lane
cfg=/run/xen-lane/$name.cfg
cat >"$cfg" <<CFG
name = "$name"
type = "pv"
kernel = "$cache/vmlinuz"
ramdisk = "$initrd"
extra = "console=hvc0 quiet loglevel=3"
memory = $memory
vcpus = 1
on_poweroff = "destroy"
on_crash = "destroy"
CFG
log=/var/log/xen/console/guest-$name.log
rm -f "$log"
started=$(date +%s)
# -F: stay in the foreground until the domain is gone.
LD_LIBRARY_PATH="$XEN_LANE_LIBS" "$XEN_LANE_TOOLS/xl" create -F "$cfg" >/run/xen-lane/xl.log 2>&1 || {
  cat /run/xen-lane/xl.log >&2
  exit 3
}
echo "domu-run: DomU life cycle took $(($(date +%s) - started)) s"
tr -d '\r' <"$log"
status="$(sed -n 's/.*@@xen-lane:domu-status \([0-9]*\)@@.*/\1/p' "$log" | tail -n1)"
[[ -n $status ]] || { echo "domu-run: the guest reported no status" >&2; exit 4; }
exit "$status"
}
