/* Futex wait/wake on an Int32Array over a SharedArrayBuffer: the kernel primitive under
 * Atomics.wait without V8's emulation layer (a global lock and a condition variable per waiter),
 * which roughly halves the cost of a cross-thread wake-up. */
#include <errno.h>
#include <linux/futex.h>
#include <math.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "exports.h"
#include "util.h"

/* Resolves argv[0..1] (an Int32Array and an index) to the address of that element. */
static int32_t *element(napi_env env, napi_value array, napi_value index_value) {
  bool is_typed = false;
  napi_is_typedarray(env, array, &is_typed);
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (!is_typed ||
      napi_get_typedarray_info(env, array, &type, &length, &data, NULL, NULL) != napi_ok ||
      type != napi_int32_array) {
    xw_throw_errno(env, EINVAL, "futex: expected an Int32Array");
    return NULL;
  }
  uint64_t index;
  if (!xw_arg_uint(env, index_value, (double)length - 1, "index", &index)) return NULL;
  return (int32_t *)data + index;
}

/* futexWait(words, index, value, timeoutMs) → "ok" | "not-equal" | "timed-out", like
 * Atomics.wait. Spurious wake-ups return "ok", as callers recheck their condition anyway. */
static napi_value js_futex_wait(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!xw_args(env, info, 4, argv)) return NULL;
  int32_t *word = element(env, argv[0], argv[1]);
  if (word == NULL) return NULL;
  int32_t value;
  double timeout_ms;
  if (napi_get_value_int32(env, argv[2], &value) != napi_ok ||
      napi_get_value_double(env, argv[3], &timeout_ms) != napi_ok || !(timeout_ms >= 0)) {
    return xw_throw_errno(env, EINVAL, "futexWait: bad value or timeout");
  }
  struct timespec timeout, *timeout_ptr = NULL;
  if (isfinite(timeout_ms)) {
    timeout.tv_sec = (time_t)(timeout_ms / 1000);
    timeout.tv_nsec = (long)(fmod(timeout_ms, 1000) * 1e6);
    timeout_ptr = &timeout;
  }
  const char *result = "ok";
  if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, value, timeout_ptr, NULL, 0) != 0) {
    if (errno == EAGAIN) result = "not-equal";
    else if (errno == ETIMEDOUT) result = "timed-out";
    else if (errno != EINTR) return xw_throw_errno(env, errno, "futexWait");
  }
  napi_value out;
  napi_create_string_utf8(env, result, NAPI_AUTO_LENGTH, &out);
  return out;
}

/* futexWake(words, index): wakes every thread sleeping in futexWait on that element. */
static napi_value js_futex_wake(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!xw_args(env, info, 2, argv)) return NULL;
  int32_t *word = element(env, argv[0], argv[1]);
  if (word == NULL) return NULL;
  long woken = syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT32_MAX, NULL, NULL, 0);
  if (woken < 0) return xw_throw_errno(env, errno, "futexWake");
  return xw_number(env, (double)woken);
}

void xw_init_futex(napi_env env, napi_value exports) {
  xw_export(env, exports, "futexWait", js_futex_wait);
  xw_export(env, exports, "futexWake", js_futex_wake);
}
