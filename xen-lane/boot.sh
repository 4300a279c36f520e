#!/usr/bin/env bash
# Boot Xen 4.17 under QEMU (software emulation) with Debian's kernel as PV Dom0, run a shell
# command in Dom0 (chrooted into this machine's root, from the checkout) and exit with its status.
#   boot.sh [-t TIMEOUT_SECONDS] 'COMMAND'
# The console (Xen's and Dom0's) streams to stdout. Exit statuses besides the command's own:
#   124 the boot or the command timed out;  125 QEMU stopped without reporting a status;
#   120-123 Dom0's init could not set the lane up (see the console).
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
timeout_s=900
while getopts 't:' opt; do
  case $opt in
    t) timeout_s=$OPTARG ;;
    *) exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[[ $# == 1 ]] || { echo "usage: $0 [-t TIMEOUT_SECONDS] 'COMMAND'" >&2; exit 2; }

cache="$(bash "$here/fetch.sh")"
initrd="$(bash "$here/build-initramfs.sh" dom0)"
# The guest image is read by Dom0's xl from the checkout; cached, so this is cheap when unchanged.
bash "$here/build-initramfs.sh" domu >/dev/null
run_id="$(date +%Y%m%dT%H%M%S)-$$"
run_dir="$cache/runs/$run_id"
mkdir -p "$run_dir"
printf '%s\n' "$1" >"$run_dir/command.sh"

xen_args="smap=0 smep=0 console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2"
xen_args+=" spec-ctrl=eager-fpu noreboot loglvl=warning guest_loglvl=warning ${XEN_LANE_XEN_ARGS:-}"
dom0_args="console=hvc0 quiet loglevel=3 xenlane.repo=$repo xenlane.run=$run_id"

echo "xen-lane: booting $(cat "$cache/versions") as Dom0 and DomU kernel; run $run_id" >&2
started=$(date +%s)
set +e
# -cpu max needs smap=0 smep=0 (else Dom0 faults at its first instructions). Xen's noreboot turns a
# Dom0 power-off into a halt, hence the outer timeout.
# spec-ctrl=eager-fpu: QEMU's TCG raises #NM for FXSAVE/FXRSTOR but not for XSAVE/XRSTOR/XSAVEOPT
# when CR0.TS is set. Xen's default for an AMD CPU (which -cpu max is here) is to switch FPU state
# lazily: it sets TS when another vCPU had the FPU and restores on #NM, so a guest kernel's own
# XSAVE in its context switch saved another vCPU's registers, and Dom0's and DomU's processes
# crashed (V8 segfaults and CHECKs, glibc heap corruption) whenever a DomU shared the CPUs. Eager
# switching never leaves TS set. (-cpu max,-xsave or qemu64 work too, by making kernels use FXSAVE;
# tests/xen/xenbus/README.md has what was tried.) XEN_LANE_CPU and XEN_LANE_XEN_ARGS (appended to
# Xen's command line) are for trying other configurations.
# QEMU runs at nice -10 (XEN_LANE_NICE sets another level; without the right to raise it, at the
# caller's). Each emulated CPU is a host thread, and a guest's wake-up (an event channel, an IPI)
# waits until the target vCPU's thread gets a host CPU: with two busy processes beside the lane on a
# 2-CPU host, a DomU->Dom0 event round trip went from a ~1 ms mean to 12 ms (p90 44 ms) and one
# between two Dom0 processes from a 0.4 ms median to 20 ms; at nice -10 both stayed at their quiet
# figures, and the libxenvchan part ran 3-10x faster. (Xen idles with HLT here, so every wake-up
# IPI is sent; no Xen or CPU-model option changed the figures.)
nice_level=${XEN_LANE_NICE:--10}
nice=()
[[ "$(nice -n "$nice_level" nice 2>/dev/null)" != "$(nice)" ]] && nice=(nice -n "$nice_level")
timeout --foreground -k 10 "$timeout_s" "${nice[@]}" qemu-system-x86_64 \
  -machine pc -cpu "${XEN_LANE_CPU:-max}" -smp 2 -m 2048 -nographic -no-reboot \
  -accel tcg,thread=multi \
  -device isa-debug-exit,iobase=0xf4,iosize=4 \
  -virtfs "local,path=/,mount_tag=host,security_model=none,multidevs=remap,readonly=on" \
  -virtfs "local,path=$repo,mount_tag=repo,security_model=none,multidevs=remap" \
  -kernel "$cache/xen" -append "$xen_args" \
  -initrd "$cache/vmlinuz $dom0_args,$initrd" </dev/null
qemu_status=$?
set -e
elapsed=$(($(date +%s) - started))
if [[ $qemu_status == 124 || $qemu_status == 137 ]]; then
  echo "xen-lane: timed out after ${timeout_s} s" >&2
  exit 124
fi
if ((qemu_status % 2 == 1)); then
  status=$((qemu_status >> 1))
  echo "xen-lane: run $run_id finished in ${elapsed} s with status $status" >&2
  exit "$status"
fi
echo "xen-lane: QEMU stopped (status $qemu_status) without a status from Dom0 after ${elapsed} s" >&2
exit 125
}
