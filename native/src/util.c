#include "util.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

napi_value xw_throw_errno(napi_env env, int err, const char *what) {
  const char *name = strerrorname_np(err);
  char code[32];
  if (name == NULL) {
    snprintf(code, sizeof code, "E%d", err);
    name = code;
  }
  char message[256];
  snprintf(message, sizeof message, "%s: %s", what, strerror(err));
  napi_throw_error(env, name, message);
  return NULL;
}

bool xw_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv) {
  size_t argc = n;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc != n) {
    napi_throw_error(env, "EINVAL", "wrong number of arguments");
    return false;
  }
  return true;
}

bool xw_arg_uint(napi_env env, napi_value value, double max, const char *name, uint64_t *out) {
  double d;
  if (napi_get_value_double(env, value, &d) != napi_ok || !(d >= 0) || d > max ||
      d != (double)(uint64_t)d) {
    char message[128];
    snprintf(message, sizeof message, "%s must be an integer in 0 … %.0f", name, max);
    napi_throw_error(env, "EINVAL", message);
    return false;
  }
  *out = (uint64_t)d;
  return true;
}

bool xw_arg_bool(napi_env env, napi_value value, const char *name, bool *out) {
  if (napi_get_value_bool(env, value, out) != napi_ok) {
    char message[128];
    snprintf(message, sizeof message, "%s must be a boolean", name);
    napi_throw_error(env, "EINVAL", message);
    return false;
  }
  return true;
}

bool xw_arg_fd(napi_env env, napi_value value, int *fd) {
  uint64_t raw;
  if (!xw_arg_uint(env, value, INT32_MAX, "fd", &raw)) return false;
  *fd = (int)raw;
  return true;
}

bool xw_arg_unix_address(napi_env env, napi_value value, struct sockaddr_un *addr) {
  memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  size_t length = 0;
  if (napi_get_value_string_utf8(env, value, NULL, 0, &length) != napi_ok || length == 0) {
    xw_throw_errno(env, EINVAL, "socket path must be a non-empty string");
    return false;
  }
  if (length >= sizeof addr->sun_path) {
    xw_throw_errno(env, ENAMETOOLONG, "socket path");
    return false;
  }
  napi_get_value_string_utf8(env, value, addr->sun_path, sizeof addr->sun_path, &length);
  return true;
}

int xw_bound_unix_socket(napi_env env, napi_callback_info info, int type) {
  napi_value argv[1];
  struct sockaddr_un addr;
  if (!xw_args(env, info, 1, argv) || !xw_arg_unix_address(env, argv[0], &addr)) return -1;
  int fd = socket(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
    int err = errno;
    if (fd >= 0) close(fd);
    xw_throw_errno(env, err, "bind");
    return -1;
  }
  return fd;
}

napi_value xw_number(napi_env env, double value) {
  napi_value result = NULL;
  napi_create_double(env, value, &result);
  return result;
}

napi_value xw_undefined(napi_env env) {
  napi_value result = NULL;
  napi_get_undefined(env, &result);
  return result;
}

void xw_export(napi_env env, napi_value target, const char *name, napi_callback fn) {
  napi_value value;
  if (napi_create_function(env, name, NAPI_AUTO_LENGTH, fn, NULL, &value) == napi_ok) {
    napi_set_named_property(env, target, name, value);
  }
}

/* mmap with every signal held back until it returns. A grant device maps the grants within the
 * call, and a PV guest's gntdev gave up with EINTR when a signal came meanwhile: a profiler's
 * SIGPROF (node --cpu-prof) was enough. Held back, the signals arrive once the mapping is made. */
void *xw_mmap_shared(size_t length, int prot, int fd, off_t offset) {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &previous);
  void *addr = mmap(NULL, length, prot, MAP_SHARED, fd, offset);
  int error = errno;
  pthread_sigmask(SIG_SETMASK, &previous, NULL);
  errno = error;
  return addr;
}
