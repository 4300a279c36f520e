/* Unix datagram sockets carrying one event-channel port per datagram (4 bytes, little-endian),
 * which Node's own dgram module cannot open. */
#include <errno.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "exports.h"
#include "util.h"

#define MAX_PORT 4294967295.0

/* unixDgramBind(path) → fd: a nonblocking datagram socket bound to `path`. */
static napi_value js_bind(napi_env env, napi_callback_info info) {
  int fd = xw_bound_unix_socket(env, info, SOCK_DGRAM);
  return fd < 0 ? NULL : xw_number(env, fd);
}

/* unixDgramSendPort(fd, peerPath, port): one datagram holding `port`. */
static napi_value js_send_port(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  struct sockaddr_un addr;
  uint64_t port;
  if (!xw_args(env, info, 3, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_unix_address(env, argv[1], &addr) ||
      !xw_arg_uint(env, argv[2], MAX_PORT, "port", &port)) {
    return NULL;
  }
  unsigned char wire[4] = {port & 0xff, (port >> 8) & 0xff, (port >> 16) & 0xff,
                           (port >> 24) & 0xff};
  if (sendto(fd, wire, sizeof wire, 0, (struct sockaddr *)&addr, sizeof addr) < 0) {
    return xw_throw_errno(env, errno, "sendto");
  }
  return xw_undefined(env);
}

/* unixDgramReceivePorts(fd) → { ports, malformed }: drains every queued datagram. Datagrams that
 * are not exactly 4 bytes are counted and dropped. */
static napi_value js_receive_ports(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!xw_args(env, info, 1, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  napi_value ports, result;
  XW_CHECK(env, napi_create_array(env, &ports));
  uint32_t count = 0, malformed = 0;
  for (;;) {
    unsigned char wire[8];
    ssize_t n = recv(fd, wire, sizeof wire, MSG_TRUNC);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return xw_throw_errno(env, errno, "recv");
    }
    if (n != 4) {
      malformed++;
      continue;
    }
    uint32_t port = wire[0] | (uint32_t)wire[1] << 8 | (uint32_t)wire[2] << 16 |
                    (uint32_t)wire[3] << 24;
    napi_set_element(env, ports, count++, xw_number(env, port));
  }
  XW_CHECK(env, napi_create_object(env, &result));
  napi_set_named_property(env, result, "ports", ports);
  napi_set_named_property(env, result, "malformed", xw_number(env, malformed));
  return result;
}

/* closeFd(fd): closes a descriptor the addon opened. */
static napi_value js_close_fd(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!xw_args(env, info, 1, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  if (close(fd) != 0) return xw_throw_errno(env, errno, "close");
  return xw_undefined(env);
}

void xw_init_unix_dgram(napi_env env, napi_value exports) {
  xw_export(env, exports, "unixDgramBind", js_bind);
  xw_export(env, exports, "unixDgramSendPort", js_send_port);
  xw_export(env, exports, "unixDgramReceivePorts", js_receive_ports);
  xw_export(env, exports, "closeFd", js_close_fd);
}
