#!/usr/bin/env bash
# Runs in Dom0 (inside the lane's session, from the checkout): the device-level suites against the
# real Xen devices and xenstored, then a PV DomU's probe. Prints each part's counts and a closing
# "N passed, N failed" line for the whole lane; exits non-zero if anything failed.
{
set -uo pipefail
passed=0
failed=0
part() { # NAME STATUS
  if [[ $2 == 0 ]]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  echo "xen-lane[dom0]: part '$1' $([[ $2 == 0 ]] && echo passed || echo "FAILED (status $2)")"
}

# Other suites that can run against real devices, when present in this checkout.
extra=()
while read -r f; do [[ -f $f ]] && extra+=("$f"); done < <(grep -v '^#' xen-lane/dom0-extra-tests)
export XEN_LANE_EXTRA_TESTS="${extra[*]}"
export XENWIRE_REQUIRE_DEVICES=1
# Plain output: the console log is read by people and by the host-side test.
export NO_COLOR=1 FORCE_COLOR=0

# Each open xenbus-device connection keeps a blocking read in libuv's thread pool; with the
# default 4 threads, a few connections starve every other fs call in the process.
export UV_THREADPOOL_SIZE=64
results=.cache/xen-lane/dom0-results.json
rm -f "$results"

echo "xen-lane[dom0]: device suites: tests/xen/dom0 ${extra[*]}"
started=$(date +%s)
# Bounded, so that a hung suite still leaves time for the DomU and a report.
timeout -k 10 "${XEN_LANE_SUITES_TIMEOUT:-540}" node node_modules/vitest/vitest.mjs run \
  --config xen-lane/vitest.dom0.config.mjs --reporter=verbose --reporter=json \
  --outputFile.json="$results"
part "device suites" $?
echo "xen-lane[dom0]: device suites took $(($(date +%s) - started)) s"

bash xen-lane/domu-run.sh
part "DomU probe" $?

echo "xen-lane[dom0]: $passed of $((passed + failed)) parts passed"
[[ $failed == 0 ]]
}
