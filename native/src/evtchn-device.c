/* The ioctls and read/write protocol of Linux's /dev/xen/evtchn. */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "event-ports.h"
#include "exports.h"
#include "util.h"
#include "xen-abi.h"

#define MAX_DOMID 0x7fef
#define MAX_PORT 4294967295.0

/* Runs an ioctl whose non-negative result is a port number (bind calls) or 0. */
static napi_value port_ioctl(napi_env env, int fd, unsigned long request, void *arg,
                             const char *what) {
  int rc = ioctl(fd, request, arg);
  if (rc < 0) return xw_throw_errno(env, errno, what);
  return xw_number(env, rc);
}

static napi_value js_bind_virq(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint64_t virq;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_PORT, "virq", &virq)) {
    return NULL;
  }
  struct xw_evtchn_bind_virq arg = {.virq = (unsigned)virq};
  return port_ioctl(env, fd, XW_IOCTL_EVTCHN_BIND_VIRQ, &arg, "IOCTL_EVTCHN_BIND_VIRQ");
}

static napi_value js_bind_interdomain(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint64_t domid, port;
  if (!xw_args(env, info, 3, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_DOMID, "remoteDomid", &domid) ||
      !xw_arg_uint(env, argv[2], MAX_PORT, "remotePort", &port)) {
    return NULL;
  }
  struct xw_evtchn_bind_interdomain arg = {.remote_domain = (unsigned)domid,
                                           .remote_port = (unsigned)port};
  return port_ioctl(env, fd, XW_IOCTL_EVTCHN_BIND_INTERDOMAIN, &arg,
                    "IOCTL_EVTCHN_BIND_INTERDOMAIN");
}

static napi_value js_bind_unbound_port(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint64_t domid;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_DOMID, "remoteDomid", &domid)) {
    return NULL;
  }
  struct xw_evtchn_bind_unbound_port arg = {.remote_domain = (unsigned)domid};
  return port_ioctl(env, fd, XW_IOCTL_EVTCHN_BIND_UNBOUND_PORT, &arg,
                    "IOCTL_EVTCHN_BIND_UNBOUND_PORT");
}

static napi_value port_call(napi_env env, napi_callback_info info, unsigned long request,
                            const char *what) {
  napi_value argv[2];
  int fd;
  uint64_t port;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_PORT, "port", &port)) {
    return NULL;
  }
  struct xw_evtchn_port arg = {.port = (unsigned)port};
  return port_ioctl(env, fd, request, &arg, what);
}

static napi_value js_unbind(napi_env env, napi_callback_info info) {
  return port_call(env, info, XW_IOCTL_EVTCHN_UNBIND, "IOCTL_EVTCHN_UNBIND");
}

static napi_value js_notify(napi_env env, napi_callback_info info) {
  return port_call(env, info, XW_IOCTL_EVTCHN_NOTIFY, "IOCTL_EVTCHN_NOTIFY");
}

static napi_value js_reset(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int fd;
  if (!xw_args(env, info, 1, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  return port_ioctl(env, fd, XW_IOCTL_EVTCHN_RESET, NULL, "IOCTL_EVTCHN_RESET");
}

static napi_value js_restrict(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint64_t domid;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], 0xffff, "domid", &domid)) {
    return NULL;
  }
  struct xw_evtchn_restrict_domid arg = {.domid = (uint16_t)domid};
  return port_ioctl(env, fd, XW_IOCTL_EVTCHN_RESTRICT_DOMID, &arg,
                    "IOCTL_EVTCHN_RESTRICT_DOMID");
}

ssize_t xw_evtchn_read_ports(int fd, uint32_t *ports, size_t max) {
  ssize_t n = read(fd, ports, max * sizeof ports[0]);
  if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
  return n / (ssize_t)sizeof ports[0];
}

int xw_evtchn_unmask_ports(int fd, const uint32_t *ports, size_t count) {
  return write(fd, ports, count * sizeof ports[0]) < 0 ? -errno : 0;
}

/* writePorts(fd, ports): unmasks the given ports. */
static napi_value js_write_ports(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd)) return NULL;
  bool is_array = false;
  napi_is_array(env, argv[1], &is_array);
  if (!is_array) return xw_throw_errno(env, EINVAL, "writePorts: ports must be an array");
  uint32_t count = 0;
  XW_CHECK(env, napi_get_array_length(env, argv[1], &count));
  if (count == 0) return xw_undefined(env);
  uint32_t *ports = calloc(count, sizeof *ports);
  if (ports == NULL) return xw_throw_errno(env, ENOMEM, "writePorts");
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint64_t port;
    if (napi_get_element(env, argv[1], i, &element) != napi_ok ||
        !xw_arg_uint(env, element, MAX_PORT, "port", &port)) {
      free(ports);
      return NULL;
    }
    ports[i] = (uint32_t)port;
  }
  int rc = xw_evtchn_unmask_ports(fd, ports, count);
  free(ports);
  if (rc < 0) return xw_throw_errno(env, -rc, "write /dev/xen/evtchn");
  return xw_undefined(env);
}

void xw_init_evtchn_device(napi_env env, napi_value exports) {
  xw_export(env, exports, "evtchnBindVirq", js_bind_virq);
  xw_export(env, exports, "evtchnBindInterdomain", js_bind_interdomain);
  xw_export(env, exports, "evtchnBindUnboundPort", js_bind_unbound_port);
  xw_export(env, exports, "evtchnUnbind", js_unbind);
  xw_export(env, exports, "evtchnNotify", js_notify);
  xw_export(env, exports, "evtchnReset", js_reset);
  xw_export(env, exports, "evtchnRestrict", js_restrict);
  xw_export(env, exports, "evtchnWritePorts", js_write_ports);
}
