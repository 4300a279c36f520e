#!/usr/bin/env bash
# Runs inside Dom0, chrooted into the host's root (read-only, over virtfs) with the checkout mounted
# writable at its host path. Starts the Xen control plane from the unpacked Debian tools (xenstored,
# xen-init-dom0, xenconsoled), then runs the command that boot.sh left in the run directory, from
# the checkout, teeing its output to the run directory. Exits with the command's status.
#   dom0-session.sh REPO RUN_ID
{
set -euo pipefail
repo="$1"
run_dir="$repo/.cache/xen-lane/runs/$2"
cache="$repo/.cache/xen-lane"
xen_root="$(cat "$cache/xen-tools-root")"
export XEN_LANE_TOOLS="$xen_root/usr/lib/xen-4.17/bin"
export XEN_LANE_LIBS="$xen_root/usr/lib/x86_64-linux-gnu:$xen_root/usr/lib/xen-4.17/lib/x86_64-linux-gnu:$cache/root/usr/lib/x86_64-linux-gnu"
export XEN_LANE_CACHE="$cache"
export XEN_LANE=dom0
export PATH="/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin:$XEN_LANE_TOOLS:$xen_root/usr/bin"
export HOME=/tmp
cd "$repo"

say() { echo "xen-lane[dom0]: $*"; }
# Xen tools get their libraries by environment, so that node never sees them.
xen_tool() { LD_LIBRARY_PATH="$XEN_LANE_LIBS" "$@"; }

started=$(date +%s)
xen_tool "$XEN_LANE_TOOLS/xenstored" --pid-file /run/xenstored.pid
for _ in $(seq 1 200); do [[ -S /run/xenstored/socket ]] && break; sleep 0.1; done
[[ -S /run/xenstored/socket ]] || { say "xenstored did not create its socket"; exit 123; }
xen_tool "$XEN_LANE_TOOLS/xen-init-dom0" >/dev/null
mkdir -p /var/log/xen/console
xen_tool "$XEN_LANE_TOOLS/xenconsoled" --pid-file=/run/xenconsoled.pid --log=guest \
  --log-dir=/var/log/xen/console
say "control plane up in $(($(date +%s) - started)) s: $(xen_tool xl info | awk -F': ' \
  '/^(xen_version|xen_caps|total_memory|nr_cpus) /{gsub(/ +/, "", $1); printf "%s=%s ", $1, $2}')" \
  "kernel=$(uname -r)"

echo "@@xen-lane:command-begin@@"
set +e
bash "$run_dir/command.sh" 2>&1 | tee "$run_dir/output"
status=${PIPESTATUS[0]}
set -e
echo "@@xen-lane:command-end status=$status@@"
echo "$status" >"$run_dir/status"
sync
exit "$status"
}
