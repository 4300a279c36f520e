/* A listening unix stream socket whose connections are accepted here, so that each arrives as a
 * bare descriptor: Node then wraps it with `new net.Socket({ fd, onread })`, which reads into one
 * reused buffer, an option Node gives only to sockets it constructs, not to those its
 * net.Server accepts. Readiness of the listening socket is watched with watchReadable. */
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exports.h"
#include "util.h"

/* Connections waiting to be accepted: Node's own listen backlog. */
#define BACKLOG 511

/* unixStreamListen(path) → fd: a nonblocking, close-on-exec stream socket bound to `path` and
 * listening. Throws with the errno's name: EADDRINUSE, EACCES, ENAMETOOLONG, … */
static napi_value js_listen(napi_env env, napi_callback_info info) {
  int fd = xw_bound_unix_socket(env, info, SOCK_STREAM);
  if (fd < 0) return NULL;
  if (listen(fd, BACKLOG) != 0) {
    int err = errno;
    close(fd);
    return xw_throw_errno(env, err, "listen");
  }
  return xw_number(env, fd);
}

/* unixStreamAccept(fd) → fd | -1: the next waiting connection, nonblocking and close-on-exec;
 * -1 when none waits. A connection that gave up while it waited is skipped. */
static napi_value js_accept(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!xw_args(env, info, 1, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  for (;;) {
    int connection = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (connection >= 0) return xw_number(env, connection);
    if (errno == EAGAIN || errno == EWOULDBLOCK) return xw_number(env, -1);
    if (errno != EINTR && errno != ECONNABORTED) return xw_throw_errno(env, errno, "accept");
  }
}

void xw_init_unix_listen(napi_env env, napi_value exports) {
  xw_export(env, exports, "unixStreamListen", js_listen);
  xw_export(env, exports, "unixStreamAccept", js_accept);
}
