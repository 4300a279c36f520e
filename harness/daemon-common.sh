# Shared by start-xenstored.sh and start-oxenstored.sh (sourced, not run).
# prepare_shim_dir [-s SET] [DIR]: fetch the packages of SET (a set of harness/pins, default
# `xen`), build the shim, and give DIR (default a new temp dir) a fresh dom0 ring page and port.
# Sets root, libs, shim and dir (absolute). Exits 3 when the packages cannot be had.
prepare_shim_dir() {
  local set_name=xen
  if [[ ${1:-} == -s ]]; then
    set_name="${2:?-s needs a set of harness/pins}"
    shift 2
  fi
  root="$("$here/fetch-packages.sh" "$set_name")" || exit 3
  shim="$("$here/shim/build.sh")"
  libs="$root/usr/lib/x86_64-linux-gnu"
  dir="${1:-$(mktemp -d "${TMPDIR:-/tmp}/xenstored.XXXXXX")}"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  # dom0's ring must start zeroed: the daemons keep whatever indices they find.
  rm -f "$dir/xsd_kva" "$dir/xenstored.pid"
  truncate -s 4096 "$dir/xsd_kva"
  printf 1 >"$dir/xsd_port"
}

# await_daemon SOCKET PID: print SOCKET once the daemon answers on it; fail if PID dies first.
await_daemon() {
  local socket="$1" daemon="$2"
  for _ in $(seq 200); do
    if XENSTORED_PATH="$socket" LD_LIBRARY_PATH="$libs" "$root/usr/bin/xenstore-exists" /tool \
      2>/dev/null; then
      echo "$socket"
      return 0
    fi
    kill -0 "$daemon" 2>/dev/null || break
    sleep 0.05
  done
  echo "$(basename "$0"): the daemon did not answer; logs in $dir" >&2
  kill "$daemon" 2>/dev/null || true
  return 1
}
