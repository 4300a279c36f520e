#!/usr/bin/env bash
# Build the xenstored LD_PRELOAD shim against the unpacked Xen headers. Prints the library path.
# Rebuilds only when the source or the unpacked packages (a changed pin) are newer than the library.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$("$here/../fetch-packages.sh")"
out="${XENWIRE_CACHE:-$here/../../.cache}/shim"
lib="$out/xenstored-shim.so"
mkdir -p "$out"
if [[ ! -f "$lib" || "$here/xenstored-shim.c" -nt "$lib" || "$root/../.complete" -nt "$lib" ]]; then
  gcc -shared -fPIC -O2 -Wall -Wextra -Werror -I"$root/usr/include" \
    -o "$lib.tmp" "$here/xenstored-shim.c" -ldl
  mv "$lib.tmp" "$lib"
fi
echo "$lib"
