#include "exports.h"

NAPI_MODULE_INIT() {
  xw_init_abi_info(env, exports);
  xw_init_mapping(env, exports);
  xw_init_file_copy(env, exports);
  xw_init_evtchn_device(env, exports);
  xw_init_grant_devices(env, exports);
  xw_init_fd_watch(env, exports);
  xw_init_unix_dgram(env, exports);
  xw_init_unix_listen(env, exports);
  xw_init_futex(env, exports);
  xw_init_vchan_pump(env, exports);
  return exports;
}
