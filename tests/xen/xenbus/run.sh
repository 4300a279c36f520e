#!/usr/bin/env bash
# Host side: builds the DomU image variant (build-domu.mjs), boots the Xen lane and runs the vchan
# backend in Dom0 against a frontend in a PV DomU. Exits with the Dom0 program's status.
#   tests/xen/xenbus/run.sh [TIMEOUT_SECONDS]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../../.." && pwd)"
cd "$repo"
bash xen-lane/fetch.sh >/dev/null
bash xen-lane/build-initramfs.sh domu >/dev/null
node tests/xen/xenbus/build-domu.mjs
exec bash xen-lane/boot.sh -t "${1:-900}" 'node --import tsx tests/xen/xenbus/vchan-backend.dom0.ts'
