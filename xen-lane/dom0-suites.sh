#!/usr/bin/env bash
# Runs in Dom0 (inside the lane's session, from the checkout), in parts, each bounded so that a
# hung part still leaves time for the others and for a report:
#   1. the lane's device suites (tests/xen/dom0/*.dom0.ts) and those listed in dom0-extra-tests,
#      then a PV DomU's probe (domu-run.sh), and beside both the library's client suite on the
#      socket, then on the device (tests/xen/dom0/*.client.ts);
#   2. the vchan driver pair between Dom0 and PV DomUs (tests/xen/xenbus/vchan-backend.dom0.ts);
#   3. the block device against Linux's drivers (tests/xen/block/blk-dom0.ts);
#   4. libxenvchan against Xen's C library and a guest's console (tests/xen/vchan/, one DomU).
# Vitest's JSON reports go to .cache/xen-lane/ for the host to judge (tests/xen-lane.test.ts).
{
set -uo pipefail
passed=0
failed=0
part() { # NAME STATUS
  if [[ $2 == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "xen-lane[dom0]: part '$1' $([[ $2 == 0 ]] && echo passed || echo "FAILED (status $2)")"
}

extra=()
while read -r f; do [[ -f $f ]] && extra+=("$f"); done < <(grep -v '^#' xen-lane/dom0-extra-tests)
export XENWIRE_REQUIRE_DEVICES=1
# Plain output: the console log is read by people and by the host-side test.
export NO_COLOR=1 FORCE_COLOR=0
# Each open xenbus-device connection keeps a blocking read in libuv's thread pool; with the
# default 4 threads, a few connections starve every other fs call in the process.
export UV_THREADPOOL_SIZE=64
# The client suite's longest test (8 connections contending in transactions) took 65 s through
# the device and 170 s through the socket at 4,000 increments: the lane runs 400, which still make
# the connections collide, and gives the rest the emulation's headroom.
export XENWIRE_TEST_SLOWDOWN=3
export XENWIRE_TEST_INCREMENTS=50
results=.cache/xen-lane
# The parts' own limits add up to more than the host's 14 minutes (boot included), so each part
# also gets no more than what is left of this budget: a part that hangs shortens the later ones
# instead of costing every report.
deadline=$(($(date +%s) + ${XEN_LANE_DOM0_BUDGET:-720}))
capped() { # OWN_LIMIT_S: the smaller of it and what is left of the budget (at least 30 s)
  local left=$((deadline - $(date +%s)))
  ((left < 30)) && left=30
  echo $(($1 < left ? $1 : left))
}

suites() { # NAME JSON_FILE TIMEOUT_S GLOBS...
  local name=$1 json=$2 limit started status
  limit=$(capped "$3")
  shift 3
  rm -f "$results/$json"
  echo "xen-lane[dom0]: $name: $*"
  started=$(date +%s)
  XEN_LANE_INCLUDE="$*" timeout -k 10 "$limit" node node_modules/vitest/vitest.mjs run \
    --config xen-lane/vitest.dom0.config.mjs --reporter=verbose --reporter=json \
    --outputFile.json="$results/$json"
  status=$?
  [[ $status == 124 ]] && echo "xen-lane[dom0]: $name did not finish within $limit s"
  part "$name" $status
  echo "xen-lane[dom0]: $name took $(($(date +%s) - started)) s"
}

# The client suites run beside the device suites: none of them measures time, their nodes live
# under paths of their own, and one vitest process alone leaves Dom0's second vCPU mostly idle
# (xen-lane/README.md has the figures). The parts that compare rates (below) keep Dom0 to
# themselves. One vitest run per transport: a hang on one must not hide the other's
# results. Their output is held back and printed whole, after the device suites'.
clients_log=/tmp/xen-lane-client-suites.log
(
  suites "client suite (socket)" dom0-client-socket-results.json \
    "${XEN_LANE_SOCKET_TIMEOUT:-280}" tests/xen/dom0/client-socket.client.ts
  suites "client suite (device)" dom0-client-device-results.json \
    "${XEN_LANE_DEVICE_TIMEOUT:-300}" tests/xen/dom0/client-device.client.ts
) >"$clients_log" 2>&1 &
clients=$!

suites "device suites" dom0-results.json "${XEN_LANE_SUITES_TIMEOUT:-300}" \
  'tests/xen/dom0/**/*.dom0.ts' "${extra[@]}"

# The probe's guest sees only its own nodes, and measures no time either.
bash xen-lane/domu-run.sh
part "DomU probe" $?

wait "$clients"
cat "$clients_log"
# `part` ran in the subshell: count its verdicts here.
passed=$((passed + $(grep -c "^xen-lane\[dom0\]: part '.*' passed$" "$clients_log")))
failed=$((failed + $(grep -c "^xen-lane\[dom0\]: part '.*' FAILED" "$clients_log")))

# Two guests in turn (10 MiB each way; one destroyed mid-stream): under a minute on an idle host,
# 2-3 minutes on a loaded one.
started=$(date +%s)
# Bundled by prepare-host.sh (tests/xen/xenbus/build-domu.mjs).
XENWIRE_NATIVE_ADDON="$PWD/native/build/Release/xenwire.node" \
  timeout -k 10 "$(capped "${XEN_LANE_VCHAN_TIMEOUT:-300}")" node .cache/xen-lane/xenbus/vchan-backend.mjs
part "xenbus vchan" $?
echo "xen-lane[dom0]: xenbus vchan took $(($(date +%s) - started)) s"

# The block device against Linux's own drivers (tests/xen/block/): one guest, four parts.
started=$(date +%s)
# Bundled by prepare-host.sh (tests/xen/block/build-domu.mjs): tsx would spend minutes on it.
XENWIRE_NATIVE_ADDON="$PWD/native/build/Release/xenwire.node" \
  timeout -k 10 "$(capped "${XEN_LANE_BLOCK_TIMEOUT:-300}")" node .cache/xen-lane/block/blk-dom0.mjs
part "block device" $?
echo "xen-lane[dom0]: block device took $(($(date +%s) - started)) s"

# One DomU: its console through xenwire's backend, then libxenvchan pairs with Xen's C library
# (10 MiB each way, three pairs in turn): ~115 s on this host with the lane's QEMU at nice -10,
# ~200 s on a busy one.
started=$(date +%s)
timeout -k 10 "$(capped "${XEN_LANE_LIBXENVCHAN_TIMEOUT:-300}")" bash tests/xen/vchan/run-in-dom0.sh
part "libxenvchan and console" $?
echo "xen-lane[dom0]: libxenvchan and console took $(($(date +%s) - started)) s"

echo "xen-lane[dom0]: $passed of $((passed + failed)) parts passed"
[[ $failed == 0 ]]
}
