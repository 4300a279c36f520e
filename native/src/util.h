#ifndef XENWIRE_UTIL_H
#define XENWIRE_UTIL_H

#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Throws an Error whose `code` is the errno name (e.g. "EINVAL"); returns NULL for convenience. */
napi_value xw_throw_errno(napi_env env, int err, const char *what);
/* Fetches exactly `n` arguments; throws EINVAL and returns false on a count mismatch. */
bool xw_args(napi_env env, napi_callback_info info, size_t n, napi_value *argv);
/* Reads an integer argument in [0, max]; throws EINVAL naming `name` otherwise. */
bool xw_arg_uint(napi_env env, napi_value value, double max, const char *name, uint64_t *out);
bool xw_arg_bool(napi_env env, napi_value value, const char *name, bool *out);
/* Reads a file descriptor argument; throws EINVAL otherwise. */
bool xw_arg_fd(napi_env env, napi_value value, int *fd);
struct sockaddr_un;
/* Fills a unix socket address from a JS string path; throws EINVAL or ENAMETOOLONG. */
bool xw_arg_unix_address(napi_env env, napi_value value, struct sockaddr_un *addr);
/* A nonblocking, close-on-exec unix socket of `type` bound to the path that is the call's one
 * argument; -1 once it has thrown (EINVAL, ENAMETOOLONG, bind's errno). */
int xw_bound_unix_socket(napi_env env, napi_callback_info info, int type);
napi_value xw_number(napi_env env, double value);
napi_value xw_undefined(napi_env env);
/* Adds `fn` as property `name` of `target`. */
void xw_export(napi_env env, napi_value target, const char *name, napi_callback fn);

/* mmap(NULL, length, prot, MAP_SHARED, fd, offset) with every signal held back for the call. */
void *xw_mmap_shared(size_t length, int prot, int fd, off_t offset);

#define XW_CHECK(env, call)                                    \
  do {                                                         \
    if ((call) != napi_ok) {                                   \
      napi_throw_error((env), "EIO", "N-API call failed: " #call); \
      return NULL;                                             \
    }                                                          \
  } while (0)

#endif
