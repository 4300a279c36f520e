/* Calls a JavaScript function whenever a file descriptor becomes readable, through the event
 * loop's own poller (uv_poll), so a device or socket is watched without a thread or a spin.
 *
 * A watch of an event-channel descriptor (watchPorts) reads the ports that fired itself and
 * passes them on, each once: a peer that notified four times before we woke (C xenstored does,
 * for one reply) has made one port pending, not four, and a wake-up with nothing to read does not
 * call JavaScript at all. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "event-ports.h"
#include "exports.h"
#include "util.h"

/* What a watch reads before calling JavaScript: nothing (readiness alone), or ports from a unix
 * datagram socket (one port per datagram) or from /dev/xen/evtchn. */
enum port_source { SOURCE_NONE, SOURCE_DATAGRAM, SOURCE_EVTCHN };

/* Ports read per wake-up; more stay readable and make the poller report the descriptor again. */
#define PORTS_PER_WAKE 256

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
  int fd;
  enum port_source source;
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

/* Reads the ports that fired into `ports`, each once; returns how many, or -errno. `malformed`
 * counts datagrams that were not a port. */
static ssize_t read_ports(struct watch *w, uint32_t *ports, uint32_t *malformed) {
  ssize_t count = w->source == SOURCE_EVTCHN
                      ? xw_evtchn_read_ports(w->fd, ports, PORTS_PER_WAKE)
                      : xw_dgram_receive_ports(w->fd, ports, PORTS_PER_WAKE, malformed);
  return count < 0 ? count : (ssize_t)xw_unique_ports(ports, (size_t)count);
}

static void on_poll(uv_poll_t *handle, int status, int events) {
  struct watch *w = handle->data;
  if (w->stopped) return;
  napi_env env = w->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  uint32_t ports[PORTS_PER_WAKE];
  uint32_t malformed = 0;
  ssize_t count = 0;
  int error = status;
  if (error >= 0 && w->source != SOURCE_NONE) {
    count = read_ports(w, ports, &malformed);
    if (count < 0) error = uv_translate_sys_error((int)-count);
    if (count == 0 && malformed == 0) {
      napi_close_handle_scope(env, scope);
      return;
    }
  }
  napi_value callback, receiver, argv[3], result;
  size_t argc = w->source == SOURCE_NONE ? 1 : 3;
  napi_get_reference_value(env, w->callback, &callback);
  napi_get_global(env, &receiver);
  if (error < 0) {
    napi_create_string_utf8(env, uv_err_name(error), NAPI_AUTO_LENGTH, &argv[0]);
  } else {
    napi_get_undefined(env, &argv[0]);
  }
  if (argc == 3) {
    size_t kept = count > 0 ? (size_t)count : 0;
    napi_create_array_with_length(env, kept, &argv[1]);
    for (size_t i = 0; i < kept; i++) napi_set_element(env, argv[1], i, xw_number(env, ports[i]));
    argv[2] = xw_number(env, malformed);
  }
  /* make_callback, unlike call_function, drains microtasks afterwards, so promises settled by
   * the callback continue at once. */
  if (napi_make_callback(env, w->context, receiver, callback, argc, argv, &result) ==
      napi_pending_exception) {
    napi_value exception;
    napi_get_and_clear_last_exception(env, &exception);
    napi_fatal_exception(env, exception);
  }
  napi_close_handle_scope(env, scope);
}

/* Starts a watch of `fd` calling `callback`, reading ports from `source` first. */
static napi_value start_watch(napi_env env, int fd, enum port_source source, napi_value callback,
                              const char *what) {
  napi_valuetype type;
  XW_CHECK(env, napi_typeof(env, callback, &type));
  if (type != napi_function) return xw_throw_errno(env, EINVAL, what);
  uv_loop_t *loop;
  XW_CHECK(env, napi_get_uv_event_loop(env, &loop));
  struct watch *w = calloc(1, sizeof *w);
  if (w == NULL) return xw_throw_errno(env, ENOMEM, what);
  int rc = uv_poll_init(loop, &w->poll, fd);
  if (rc < 0) {
    free(w);
    return xw_throw_errno(env, -rc, what);
  }
  w->poll.data = w;
  w->env = env;
  w->fd = fd;
  w->source = source;
  napi_value name, token;
  napi_create_string_utf8(env, "xenwire:fd-watch", NAPI_AUTO_LENGTH, &name);
  if (napi_create_reference(env, callback, 1, &w->callback) != napi_ok ||
      napi_async_init(env, NULL, name, &w->context) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_env_teardown, w, &w->teardown_hook) != napi_ok ||
      napi_create_external(env, w, on_token_collected, NULL, &token) != napi_ok) {
    /* No token owns the struct: closing the handle frees it. */
    w->token_gone = true;
    w->stopped = true;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return xw_throw_errno(env, ENOMEM, what);
  }
  napi_type_tag_object(env, token, &watch_tag);
  rc = uv_poll_start(&w->poll, UV_READABLE, on_poll);
  if (rc < 0) {
    stop_watch(w, true);
    return xw_throw_errno(env, -rc, what);
  }
  return token;
}

/* watchReadable(fd, callback) → token; callback(errorName | undefined) on each readiness. */
static napi_value js_watch_readable(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  return start_watch(env, fd, SOURCE_NONE, argv[1], "watchReadable");
}

/* watchPorts(fd, source, callback) → token: `source` "datagram" (a unix datagram event channel)
 * or "evtchn" (/dev/xen/evtchn); callback(errorName | undefined, ports, malformed) with the
 * ports that fired, each once, called only when there is something to say. */
static napi_value js_watch_ports(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  if (!xw_args(env, info, 3, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  char kind[16] = "";
  size_t length = 0;
  napi_get_value_string_utf8(env, argv[1], kind, sizeof kind, &length);
  enum port_source source;
  if (strcmp(kind, "datagram") == 0) {
    source = SOURCE_DATAGRAM;
  } else if (strcmp(kind, "evtchn") == 0) {
    source = SOURCE_EVTCHN;
  } else {
    return xw_throw_errno(env, EINVAL, "watchPorts: source must be \"datagram\" or \"evtchn\"");
  }
  return start_watch(env, fd, source, argv[2], "watchPorts");
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
  xw_export(env, exports, "watchPorts", js_watch_ports);
  xw_export(env, exports, "unwatch", js_unwatch);
}
