#!/usr/bin/env bash
# The last step of `npm test`: the Xen lane (`npm run test:xen`) when QEMU is installed. Without
# QEMU the lane cannot boot; that is said loudly, and with CI=true it is a failure, because CI must
# prove the device paths on every run (.ci/run installs QEMU through xen-lane/fetch.sh first).
# XEN_LANE=off skips the lane on purpose for a quick local run; CI=true refuses that too.
{
set -uo pipefail
cd "$(dirname "$0")/.."

skip() { # REASON
  {
    echo
    echo '************************************************************************'
    echo "*** Xen lane NOT run: $1"
    echo '*** The device paths (/dev/xen/*, a PV DomU) were not tested.'
    echo '*** xen-lane/fetch.sh installs QEMU; `npm run test:xen` runs the lane.'
    echo '************************************************************************'
  } >&2
  if [[ ${CI:-} == true ]]; then
    echo 'xen-lane: CI=true: a skipped lane is a failure' >&2
    exit 1
  fi
  exit 0
}

if [[ ${XEN_LANE:-} == off ]]; then skip 'XEN_LANE=off'; fi
if ! command -v qemu-system-x86_64 >/dev/null; then skip 'qemu-system-x86_64 is not installed'; fi
exec npm run --silent test:xen
}
