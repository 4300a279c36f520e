#!/usr/bin/env bash
# Start one private C xenstored under the shim (see harness/README.md) and print its socket path
# once it answers. Usage: start-xenstored.sh [DIR]  (DIR: the shim directory, default a new temp
# dir). The daemon keeps running; stop it with: kill "$(cat DIR/xenstored.pid)".
# Exit status 3: the Xen packages could not be fetched.
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$("$here/fetch-packages.sh")" || exit 3
shim="$("$here/shim/build.sh")"
dir="${1:-$(mktemp -d "${TMPDIR:-/tmp}/xenstored.XXXXXX")}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
libs="$root/usr/lib/x86_64-linux-gnu"
socket="$dir/socket"

# dom0's ring must start zeroed: the daemon keeps whatever indices it finds.
rm -f "$dir/xsd_kva" "$socket" "$dir/xenstored.pid"
truncate -s 4096 "$dir/xsd_kva"
printf 1 >"$dir/xsd_port"

XENWIRE_SHIM_DIR="$dir" XENSTORED_PATH="$socket" XENSTORED_RUNDIR="$dir" \
  LD_LIBRARY_PATH="$libs" LD_PRELOAD="$shim" \
  nohup "$root/usr/lib/xen-4.17/bin/xenstored" -N -F "$dir/xenstored.pid" \
  >"$dir/xenstored.log" 2>&1 </dev/null &
daemon=$!

for _ in $(seq 200); do
  if XENSTORED_PATH="$socket" LD_LIBRARY_PATH="$libs" "$root/usr/bin/xenstore-exists" /tool \
    2>/dev/null; then
    echo "$socket"
    exit 0
  fi
  kill -0 "$daemon" 2>/dev/null || break
  sleep 0.05
done
echo "start-xenstored: the daemon did not answer; log: $dir/xenstored.log" >&2
kill "$daemon" 2>/dev/null || true
exit 1
}
