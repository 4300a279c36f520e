#ifndef XENWIRE_VCHAN_PUMP_H
#define XENWIRE_VCHAN_PUMP_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* Serves the ports among `ports` (just read from evtchn descriptor `fd`) that a vchan pump of
 * this environment owns: moves their bytes, notifies, unmasks them, and calls their JavaScript
 * once each if they have news. Moves the other ports to the front of `ports`; returns how many. */
size_t xw_evtchn_dispatch(napi_env env, int fd, uint32_t *ports, size_t count);

#endif
