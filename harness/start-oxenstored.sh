#!/usr/bin/env bash
# Start one private oxenstored (Xen 4.17's OCaml xenstored) under the shim and print its socket
# path once it answers. Usage: start-oxenstored.sh [-s SET] [DIR] (as start-xenstored.sh).
# Stop it with: kill "$(cat DIR/xenstored.pid)".
# oxenstored hard-codes its socket directory (/run/xenstored) and raises RLIMIT_NOFILE to
# /proc/sys/fs/nr_open, so it runs in a private mount namespace (unshare -m, which needs
# CAP_SYS_ADMIN) with /run on a private tmpfs, DIR/run bound at /run/xenstored and nr_open
# replaced by the current hard limit. Exit status 3: packages missing; 4: no mount namespace.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/daemon-common.sh"
unshare -m true 2>/dev/null || {
  echo "start-oxenstored: cannot create a mount namespace (unshare -m)" >&2
  exit 4
}
prepare_shim_dir "$@"
mkdir -p "$dir/run"
socket="$dir/run/socket"
rm -f "$socket"
ulimit -Hn >"$dir/nr_open"
cat >"$dir/oxenstored.conf" <<CONF
pid-file = $dir/xenstored.pid
xenstored-log-file = $dir/xenstored.log
access-log-file = $dir/access.log
xenstored-port = $dir/xsd_port
xenstored-kva = $dir/xsd_kva
CONF

XENWIRE_SHIM_DIR="$dir" LD_LIBRARY_PATH="$libs" LD_PRELOAD="$shim" \
  nohup unshare -m sh -c '
    mount -t tmpfs tmpfs /run && mkdir -p /run/xenstored /run/xen &&
    mount --bind "$1/run" /run/xenstored &&
    mount --bind "$1/nr_open" /proc/sys/fs/nr_open &&
    exec "$2" --no-fork --config-file "$1/oxenstored.conf"' \
  oxenstored "$dir" "$root/usr/lib/xen-4.17/bin/oxenstored" \
  >"$dir/stderr.log" 2>&1 </dev/null &
await_daemon "$socket" $!
}
