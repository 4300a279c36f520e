#!/usr/bin/env bash
# In the lane's Dom0 session: the libxenvchan and console part (vchan-console.dom0.ts: one DomU,
# and libxenvchan ends killed under their peers while it boots). A guest's console has one
# backend, and xenconsoled takes every new domain's: it is stopped for this part and started
# again afterwards, as dom0-session.sh starts it.
{
set -uo pipefail
: "${XEN_LANE_TOOLS:?run inside the Xen lane}" "${XEN_LANE_LIBS:?}" "${XEN_LANE_CACHE:?}"
restart() {
  LD_LIBRARY_PATH="$XEN_LANE_LIBS" "$XEN_LANE_TOOLS/xenconsoled" --pid-file=/run/xenconsoled.pid \
    --log=guest --log-dir=/var/log/xen/console
}
if [[ -f /run/xenconsoled.pid ]] && kill "$(cat /run/xenconsoled.pid)" 2>/dev/null; then
  for _ in $(seq 1 50); do kill -0 "$(cat /run/xenconsoled.pid)" 2>/dev/null || break; sleep 0.1; done
  trap restart EXIT
fi
started=$(date +%s)
# Bundled on the host (build.mjs): tsx would spend most of the part's time loading sources.
XENWIRE_NATIVE_ADDON="$PWD/native/build/Release/xenwire.node" \
  node "$XEN_LANE_CACHE/vchan/dom0/vchan-console.mjs"
status=$?
echo "xen-lane[dom0]: libxenvchan and console part took $(($(date +%s) - started)) s"
exit "$status"
}
