#!/usr/bin/env bash
# In the lane's Dom0 session: the libxenvchan and console part: ends killed under their peers
# (process-death.dom0.ts), then one DomU (vchan-console.dom0.ts). A guest's console has one
# backend, and xenconsoled takes every new domain's: it is stopped for this part and started
# again afterwards, as dom0-session.sh starts it.
{
set -uo pipefail
: "${XEN_LANE_TOOLS:?run inside the Xen lane}" "${XEN_LANE_LIBS:?}"
restart() {
  LD_LIBRARY_PATH="$XEN_LANE_LIBS" "$XEN_LANE_TOOLS/xenconsoled" --pid-file=/run/xenconsoled.pid \
    --log=guest --log-dir=/var/log/xen/console
}
if [[ -f /run/xenconsoled.pid ]] && kill "$(cat /run/xenconsoled.pid)" 2>/dev/null; then
  for _ in $(seq 1 50); do kill -0 "$(cat /run/xenconsoled.pid)" 2>/dev/null || break; sleep 0.1; done
  trap restart EXIT
fi
status=0
node --import tsx tests/xen/vchan/process-death.dom0.ts || status=1
node --import tsx tests/xen/vchan/vchan-console.dom0.ts || status=1
exit "$status"
}
