#!/usr/bin/env bash
# Start one private C xenstored under the shim (see harness/README.md) and print its socket path
# once it answers. Usage: start-xenstored.sh [-s SET] [DIR]  (SET: the set of harness/pins to run,
# default `xen`; DIR: the shim directory, default a new temp dir). The daemon keeps running; stop
# it with: kill "$(cat DIR/xenstored.pid)". Exit status 3: the Xen packages could not be fetched.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/daemon-common.sh"
prepare_shim_dir "$@"
socket="$dir/socket"
rm -f "$socket"

XENWIRE_SHIM_DIR="$dir" XENSTORED_PATH="$socket" XENSTORED_RUNDIR="$dir" \
  LD_LIBRARY_PATH="$libs" LD_PRELOAD="$shim" \
  nohup "$root/usr/lib/xen-4.17/bin/xenstored" -N -F "$dir/xenstored.pid" \
  >"$dir/xenstored.log" 2>&1 </dev/null &
await_daemon "$socket" $!
}
