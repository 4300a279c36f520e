/* Each source file registers its functions on the module's exports. */
#ifndef XENWIRE_EXPORTS_H
#define XENWIRE_EXPORTS_H

#include <node_api.h>

void xw_init_abi_info(napi_env env, napi_value exports);
void xw_init_mapping(napi_env env, napi_value exports);
void xw_init_file_copy(napi_env env, napi_value exports);
void xw_init_evtchn_device(napi_env env, napi_value exports);
void xw_init_grant_devices(napi_env env, napi_value exports);
void xw_init_fd_watch(napi_env env, napi_value exports);
void xw_init_unix_dgram(napi_env env, napi_value exports);
void xw_init_unix_listen(napi_env env, napi_value exports);
void xw_init_futex(napi_env env, napi_value exports);
void xw_init_vchan_pump(napi_env env, napi_value exports);

#endif
