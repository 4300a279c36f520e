#!/usr/bin/env bash
# On the host, before booting the lane for dom0-suites.sh: fetch, build the DomU images and the
# native addon (Dom0 uses the host's build through virtfs), and warm vitest's module cache under
# .cache/xen-lane so that Dom0 does not transform every module again at emulated speed (the
# checkout has the same path there, so the cache entries match).
{
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/.." && pwd)"
cd "$repo"
bash "$here/fetch.sh" >/dev/null
bash "$here/build-initramfs.sh" dom0 >/dev/null
bash "$here/build-initramfs.sh" domu >/dev/null
if [[ -f scripts/build-native.mjs ]]; then node scripts/build-native.mjs; fi
# The vchan frontend's guest image: the DomU image plus the bundled frontend and the addon.
node tests/xen/xenbus/build-domu.mjs >/dev/null
# The block parts' guest image: the DomU image plus their program, the addon and e2fsprogs.
node tests/xen/block/build-domu.mjs >/dev/null
# The grant tests' second process, bundled: tsx would transform it at every start.
node tests/xen/dom0/build-peer.mjs >/dev/null
# The libxenvchan and console part's guest image (vchan-socket-proxy and its libraries too) and
# its Dom0 programs, bundled.
node tests/xen/vchan/build.mjs >/dev/null
extra="tests/xen/dom0/**/*.client.ts $(grep -v '^#' "$here/dom0-extra-tests" | while read -r f; do [[ -f $f ]] && echo "$f"; done | xargs)"
# On the host the device suites skip; only the transforms are wanted.
env -u XENWIRE_REQUIRE_DEVICES -u XEN_LANE XEN_LANE_INCLUDE="tests/xen/dom0/**/*.dom0.ts $extra" \
  node node_modules/vitest/vitest.mjs run --config xen-lane/vitest.dom0.config.mjs \
  --reporter=dot >/dev/null 2>&1
echo "xen-lane: host prepared (DomU images, native addon, vitest module cache)"
}
