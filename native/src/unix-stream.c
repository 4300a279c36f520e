/* A connected unix stream socket whose descriptor the caller knows (so Node can adopt it with
 * `new net.Socket({ fd })`), and the two calls that let one request and its answer go through
 * the kernel without a turn of the event loop: a write straight to the socket, and a read that
 * may sleep in poll(2) for a bounded time. Both leave the descriptor nonblocking and never
 * consume an end of stream or an error: those stay for libuv, which reads the same descriptor. */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "exports.h"
#include "util.h"

/* The longest in-place wait a caller may ask for: a tenth of a second. */
#define MAX_BUDGET_MICROS 100000.0

static bool get_fd(napi_env env, napi_value value, int *fd) {
  uint64_t raw;
  if (!xw_arg_uint(env, value, INT32_MAX, "fd", &raw)) return false;
  *fd = (int)raw;
  return true;
}

static bool get_bytes(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  bool is_typed = false;
  napi_typedarray_type type;
  napi_value arraybuffer;
  size_t offset;
  if (napi_is_typedarray(env, value, &is_typed) != napi_ok || !is_typed ||
      napi_get_typedarray_info(env, value, &type, length, (void **)data, &arraybuffer,
                               &offset) != napi_ok ||
      type != napi_uint8_array) {
    napi_throw_error(env, "EINVAL", "expected a Uint8Array");
    return false;
  }
  return true;
}

/* unixStreamConnect(path) → fd: a nonblocking, close-on-exec stream socket connected to `path`.
 * Throws with the errno's name: ENOENT, ECONNREFUSED, EACCES, EAGAIN (the listener's backlog is
 * full), ENAMETOOLONG, … */
static napi_value js_connect(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!xw_args(env, info, 1, argv)) return NULL;
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, argv[0], NULL, 0, &length) != napi_ok || length == 0) {
    return xw_throw_errno(env, EINVAL, "socket path must be a non-empty string");
  }
  if (length >= sizeof addr.sun_path) return xw_throw_errno(env, ENAMETOOLONG, "socket path");
  napi_get_value_string_utf8(env, argv[0], addr.sun_path, sizeof addr.sun_path, &length);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return xw_throw_errno(env, errno, "socket");
  int status;
  do status = connect(fd, (struct sockaddr *)&addr, sizeof addr);
  while (status != 0 && errno == EINTR);
  if (status != 0) {
    int err = errno;
    close(fd);
    return xw_throw_errno(env, err, "connect");
  }
  return xw_number(env, fd);
}

/* streamWriteNow(fd, bytes) → written: one send of `bytes`, as much as the socket takes now.
 * 0 when it takes nothing or fails: the caller queues the rest on the stream, whose own write
 * then meets the same condition and reports it. */
static napi_value js_write_now(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint8_t *data;
  size_t length;
  if (!xw_args(env, info, 2, argv) || !get_fd(env, argv[0], &fd) ||
      !get_bytes(env, argv[1], &data, &length)) {
    return NULL;
  }
  ssize_t n;
  do n = send(fd, data, length, MSG_NOSIGNAL | MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return xw_number(env, n < 0 ? 0 : (double)n);
}

/* streamReadWithin(fd, buffer, budgetMicros) → size: sleeps in poll(2) until `fd` is readable
 * or the budget is spent, then reads what has arrived into `buffer`. 0 when nothing came in
 * time, and also at an end of stream or an error, which are left unread for the event loop's
 * own read to find. */
static napi_value js_read_within(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint8_t *data;
  size_t length;
  uint64_t budget;
  if (!xw_args(env, info, 3, argv) || !get_fd(env, argv[0], &fd) ||
      !get_bytes(env, argv[1], &data, &length) ||
      !xw_arg_uint(env, argv[2], MAX_BUDGET_MICROS, "budgetMicros", &budget)) {
    return NULL;
  }
  struct pollfd watched = {.fd = fd, .events = POLLIN};
  struct timespec limit = {.tv_sec = 0, .tv_nsec = (long)budget * 1000};
  /* A signal handled meanwhile ends the wait early: the caller then takes the ordinary path. */
  if (ppoll(&watched, 1, &limit, NULL) <= 0 || !(watched.revents & POLLIN)) {
    return xw_number(env, 0);
  }
  ssize_t n;
  do n = recv(fd, data, length, MSG_DONTWAIT);
  while (n < 0 && errno == EINTR);
  return xw_number(env, n < 0 ? 0 : (double)n);
}

void xw_init_unix_stream(napi_env env, napi_value exports) {
  xw_export(env, exports, "unixStreamConnect", js_connect);
  xw_export(env, exports, "streamWriteNow", js_write_now);
  xw_export(env, exports, "streamReadWithin", js_read_within);
}
