#!/usr/bin/env bash
# Host side: builds the part's programs (build.mjs) and runs the libxenvchan and console
# part alone in the Xen lane (run-in-dom0.sh in Dom0). Exits with its status. Take the lane's
# lock first: flock /tmp/xenwire-lane.lock tests/xen/vchan/run.sh
#   [XEN_LANE_VCHAN_BYTES=N] tests/xen/vchan/run.sh [TIMEOUT_SECONDS]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
bash xen-lane/fetch.sh >/dev/null
bash xen-lane/build-initramfs.sh domu >/dev/null
node scripts/build-native.mjs >/dev/null
node tests/xen/vchan/build.mjs
exec bash xen-lane/boot.sh -t "${1:-900}" \
  "XEN_LANE_VCHAN_BYTES=${XEN_LANE_VCHAN_BYTES:-} bash tests/xen/vchan/run-in-dom0.sh"
