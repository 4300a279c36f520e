/* Calls a JavaScript function whenever a file descriptor becomes readable, through the event
 * loop's own poller (uv_poll), so a device or socket is watched without a thread or a spin. */
#include <errno.h>
#include <stdlib.h>
#include <uv.h>

#include "exports.h"
#include "util.h"

struct watch {
  uv_poll_t poll;
  napi_env env;
  napi_ref callback;
  napi_async_context context;
  bool stopped;
  /* The struct is freed once both the uv handle is closed and the JS token is collected. */
  bool handle_closed;
  bool token_gone;
  /* Holds the environment (and so the loaded addon, whose code on_closed is) until the uv
   * handle has finished closing; removed from on_closed. */
  napi_async_cleanup_hook_handle teardown_hook;
};

static const napi_type_tag watch_tag = {0x78656e77697265ULL, 0x6664776174636801ULL};

static void on_closed(uv_handle_t *handle) {
  struct watch *w = handle->data;
  w->handle_closed = true;
  if (w->teardown_hook != NULL) napi_remove_async_cleanup_hook(w->teardown_hook);
  if (w->token_gone) free(w);
}

/* Stops polling; `release_js` is false during environment teardown, when N-API may not run. */
static void stop_watch(struct watch *w, bool release_js);

static void on_env_teardown(napi_async_cleanup_hook_handle hook, void *arg) {
  struct watch *w = arg;
  w->teardown_hook = hook;
  stop_watch(w, false);
}

static void on_token_collected(napi_env env, void *data, void *hint) {
  struct watch *w = data;
  stop_watch(w, true);
  w->token_gone = true;
  if (w->handle_closed) free(w);
}

static void stop_watch(struct watch *w, bool release_js) {
  if (w->stopped) return;
  w->stopped = true;
  uv_poll_stop(&w->poll);
  if (release_js) {
    napi_delete_reference(w->env, w->callback);
    napi_async_destroy(w->env, w->context);
  }
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  struct watch *w = handle->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, arg, result;
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_global(env, &receiver);
  if (status < 0) {
    napi_create_string_utf8(env, uv_err_name(status), NAPI_AUTO_LENGTH, &arg);
  } else {
    napi_get_undefined(env, &arg);
  }
  /* make_callback, unlike call_function, drains microtasks afterwards, so promises settled by
   * the callback continue at once. */
  if (napi_make_callback(env, w->context, receiver, callback, 1, &arg, &result) ==
      napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

/* watchReadable(fd, callback) → token; callback(errorName | undefined) on each readiness. */
static napi_value js_watch_readable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  uint64_t fd;
  if (!xw_args(env, info, 2, argv) || !xw_arg_uint(env, argv[0], INT32_MAX, "fd", &fd)) {
    return NULL;
  }
  napi_valuetype type;
  XW_CHECK(env, napi_typeof(env, argv[1], &type));
  if (type != napi_function) return xw_throw_errno(env, EINVAL, "watchReadable: no callback");
  uv_loop_t *loop;
  XW_CHECK(env, napi_get_uv_event_loop(env, &loop));
  struct watch *w = calloc(1, sizeof *w);
  if (w == NULL) return xw_throw_errno(env, ENOMEM, "watchReadable");
  int rc = uv_poll_init(loop, &w->poll, (int)fd);
  if (rc < 0) {
    free(w);
    return xw_throw_errno(env, -rc, "watchReadable");
  }
  w->poll.data = w;
  w->env = env;
  napi_value name, token;
  napi_create_string_utf8(env, "xenwire:fd-watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, argv[1], 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_teardown, w, &w->teardown_hook) != napi_ok ||
      napi_create_external(env, w, on_token_collected, NULL, &token) != napi_ok) {
    /* No token owns the struct: closing the handle frees it. */
    w->token_gone = true;
    w->stopped = true;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return xw_throw_errno(env, ENOMEM, "watchReadable");
  }
  napi_type_tag_object(env, token, &watch_tag);
  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    stop_watch(w, true);
    return xw_throw_errno(env, -rc, "watchReadable");
  }
  return token;
}

/* unwatch(token): stops a watch; a second call is harmless. */
static napi_value js_unwatch(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!xw_args(env, info, 1, argv)) return NULL;
  bool tagged = false;
  napi_check_object_type_tag(env, argv[0], &watch_tag, &tagged);
  if (!tagged) return xw_throw_errno(env, EINVAL, "unwatch: not a watch token");
  struct watch *w;
  XW_CHECK(env, napi_get_value_external(env, argv[0], (void **)&w));
  stop_watch(w, true);
  return xw_undefined(env);
}

void xw_init_fd_watch(napi_env env, napi_value exports) {
  xw_export(env, exports, "watchReadable", js_watch_readable);
  xw_export(env, exports, "unwatch", js_unwatch);
}
