/* Unix datagram sockets carrying one event-channel port per datagram (4 bytes, little-endian),
 * which Node's own dgram module cannot open. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "event-ports.h"
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

ssize_t xw_dgram_receive_ports(int fd, uint32_t *ports, size_t max, uint32_t *malformed) {
  enum { BATCH = 64 };
  struct mmsghdr messages[BATCH];
  struct iovec vectors[BATCH];
  unsigned char wires[BATCH][8];
  size_t count = 0;
  while (count < max) {
    unsigned int want = max - count < BATCH ? (unsigned int)(max - count) : BATCH;
    memset(messages, 0, want * sizeof messages[0]);
    for (unsigned int i = 0; i < want; i++) {
      vectors[i] = (struct iovec){.iov_base = wires[i], .iov_len = sizeof wires[i]};
      messages[i].msg_hdr.msg_iov = &vectors[i];
      messages[i].msg_hdr.msg_iovlen = 1;
    }
    int got = recvmmsg(fd, messages, want, MSG_DONTWAIT, NULL);
    if (got < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return -errno;
    }
    for (int i = 0; i < got; i++) {
      /* A longer datagram fills the 8-byte buffer, so it cannot pass for a port. */
      const unsigned char *wire = wires[i];
      if (messages[i].msg_len != 4) {
        (*malformed)++;
        continue;
      }
      ports[count++] =
          wire[0] | (uint32_t)wire[1] << 8 | (uint32_t)wire[2] << 16 | (uint32_t)wire[3] << 24;
    }
    if ((unsigned int)got < want) break;
  }
  return (ssize_t)count;
}

size_t xw_unique_ports(uint32_t *ports, size_t count) {
  size_t kept = 0;
  for (size_t i = 0; i < count; i++) {
    bool seen = false;
    for (size_t j = 0; j < kept && !seen; j++) seen = ports[j] == ports[i];
    if (!seen) ports[kept++] = ports[i];
  }
  return kept;
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
  xw_export(env, exports, "closeFd", js_close_fd);
}
