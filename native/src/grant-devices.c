/* The ioctls of /dev/xen/gntdev (map foreign grants) and /dev/xen/gntalloc (grant own pages). The
 * pages themselves are reached with mmap(fd, count * 4096, index). */
#include <errno.h>
#include <stdlib.h>
#include <sys/ioctl.h>

#include "exports.h"
#include "util.h"
#include "xen-abi.h"

#define MAX_DOMID 0x7fef
#define MAX_GRANTS 65536
#define MAX_INDEX 9007199254740991.0

/* The (fd, index, count) arguments that gntdev unmap and gntalloc dealloc both take. */
static bool index_count_args(napi_env env, napi_callback_info info, int *fd, uint64_t *index,
                             uint64_t *count) {
  napi_value argv[3];
  return xw_args(env, info, 3, argv) && xw_arg_fd(env, argv[0], fd) &&
         xw_arg_uint(env, argv[1], MAX_INDEX, "index", index) &&
         xw_arg_uint(env, argv[2], MAX_GRANTS, "count", count);
}

/* gntdevMapGrantRefs(fd, domid, refs): maps grants of one domain; returns the mmap offset. */
static napi_value js_gntdev_map(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint64_t domid;
  if (!xw_args(env, info, 3, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_DOMID, "domid", &domid)) {
    return NULL;
  }
  bool is_array = false;
  napi_is_array(env, argv[2], &is_array);
  uint32_t count = 0;
  if (is_array) XW_CHECK(env, napi_get_array_length(env, argv[2], &count));
  if (count == 0 || count > MAX_GRANTS) {
    return xw_throw_errno(env, EINVAL, "gntdevMapGrantRefs: refs must be a non-empty array");
  }
  size_t size = sizeof(struct xw_gntdev_map_grant_ref) +
                (count - 1) * sizeof(struct xw_gntdev_grant_ref);
  struct xw_gntdev_map_grant_ref *arg = calloc(1, size);
  if (arg == NULL) return xw_throw_errno(env, ENOMEM, "gntdevMapGrantRefs");
  arg->count = count;
  for (uint32_t i = 0; i < count; i++) {
    napi_value element;
    uint64_t ref;
    if (napi_get_element(env, argv[2], i, &element) != napi_ok ||
        !xw_arg_uint(env, element, UINT32_MAX, "ref", &ref)) {
      free(arg);
      return NULL;
    }
    arg->refs[i] = (struct xw_gntdev_grant_ref){.domid = (uint32_t)domid, .ref = (uint32_t)ref};
  }
  int rc = ioctl(fd, XW_IOCTL_GNTDEV_MAP_GRANT_REF, arg);
  int err = errno;
  uint64_t index = arg->index;
  free(arg);
  if (rc < 0) return xw_throw_errno(env, err, "IOCTL_GNTDEV_MAP_GRANT_REF");
  return xw_number(env, (double)index);
}

/* gntdevUnmapGrantRef(fd, index, count). */
static napi_value js_gntdev_unmap(napi_env env, napi_callback_info info) {
  int fd;
  uint64_t index, count;
  if (!index_count_args(env, info, &fd, &index, &count)) return NULL;
  struct xw_gntdev_unmap_grant_ref arg = {.index = index, .count = (uint32_t)count};
  if (ioctl(fd, XW_IOCTL_GNTDEV_UNMAP_GRANT_REF, &arg) < 0) {
    return xw_throw_errno(env, errno, "IOCTL_GNTDEV_UNMAP_GRANT_REF");
  }
  return xw_undefined(env);
}

/* gntdevSetMaxGrants(fd, count). */
static napi_value js_gntdev_set_max(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  int fd;
  uint64_t count;
  if (!xw_args(env, info, 2, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], UINT32_MAX, "count", &count)) {
    return NULL;
  }
  struct xw_gntdev_set_max_grants arg = {.count = (uint32_t)count};
  if (ioctl(fd, XW_IOCTL_GNTDEV_SET_MAX_GRANTS, &arg) < 0) {
    return xw_throw_errno(env, errno, "IOCTL_GNTDEV_SET_MAX_GRANTS");
  }
  return xw_undefined(env);
}

/* gntallocAllocGref(fd, domid, count, writable) → { index, refs }. */
static napi_value js_gntalloc_alloc(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  uint64_t domid, count;
  bool writable;
  if (!xw_args(env, info, 4, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_DOMID, "domid", &domid) ||
      !xw_arg_uint(env, argv[2], MAX_GRANTS, "count", &count) ||
      !xw_arg_bool(env, argv[3], "writable", &writable)) {
    return NULL;
  }
  if (count == 0) return xw_throw_errno(env, EINVAL, "gntallocAllocGref: count is 0");
  size_t size = sizeof(struct xw_gntalloc_alloc_gref) + (count - 1) * sizeof(uint32_t);
  struct xw_gntalloc_alloc_gref *arg = calloc(1, size);
  if (arg == NULL) return xw_throw_errno(env, ENOMEM, "gntallocAllocGref");
  arg->domid = (uint16_t)domid;
  arg->flags = writable ? XW_GNTALLOC_FLAG_WRITABLE : 0;
  arg->count = (uint32_t)count;
  if (ioctl(fd, XW_IOCTL_GNTALLOC_ALLOC_GREF, arg) < 0) {
    int err = errno;
    free(arg);
    return xw_throw_errno(env, err, "IOCTL_GNTALLOC_ALLOC_GREF");
  }
  napi_value result, refs;
  if (napi_create_object(env, &result) != napi_ok ||
      napi_create_array_with_length(env, count, &refs) != napi_ok) {
    free(arg);
    return xw_throw_errno(env, ENOMEM, "gntallocAllocGref");
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_set_element(env, refs, i, xw_number(env, arg->gref_ids[i]));
  }
  napi_set_named_property(env, result, "index", xw_number(env, (double)arg->index));
  napi_set_named_property(env, result, "refs", refs);
  free(arg);
  return result;
}

/* gntallocDeallocGref(fd, index, count). */
static napi_value js_gntalloc_dealloc(napi_env env, napi_callback_info info) {
  int fd;
  uint64_t index, count;
  if (!index_count_args(env, info, &fd, &index, &count)) return NULL;
  struct xw_gntalloc_dealloc_gref arg = {.index = index, .count = (uint32_t)count};
  if (ioctl(fd, XW_IOCTL_GNTALLOC_DEALLOC_GREF, &arg) < 0) {
    return xw_throw_errno(env, errno, "IOCTL_GNTALLOC_DEALLOC_GREF");
  }
  return xw_undefined(env);
}

/* gntdevSetUnmapNotify / gntallocSetUnmapNotify(fd, index, action, port): `index` is the mmap
 * offset of the mapping plus the byte's offset in it. */
static napi_value set_unmap_notify(napi_env env, napi_callback_info info, unsigned long request,
                                   const char *what) {
  napi_value argv[4];
  int fd;
  uint64_t index, action, port;
  if (!xw_args(env, info, 4, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], MAX_INDEX, "index", &index) ||
      !xw_arg_uint(env, argv[2], XW_UNMAP_NOTIFY_CLEAR_BYTE | XW_UNMAP_NOTIFY_SEND_EVENT, "action",
                   &action) ||
      !xw_arg_uint(env, argv[3], UINT32_MAX, "port", &port)) {
    return NULL;
  }
  struct xw_unmap_notify arg = {
      .index = index, .action = (uint32_t)action, .event_channel_port = (uint32_t)port};
  if (ioctl(fd, request, &arg) < 0) return xw_throw_errno(env, errno, what);
  return xw_undefined(env);
}

static napi_value js_gntdev_unmap_notify(napi_env env, napi_callback_info info) {
  return set_unmap_notify(env, info, XW_IOCTL_GNTDEV_SET_UNMAP_NOTIFY,
                          "IOCTL_GNTDEV_SET_UNMAP_NOTIFY");
}

static napi_value js_gntalloc_unmap_notify(napi_env env, napi_callback_info info) {
  return set_unmap_notify(env, info, XW_IOCTL_GNTALLOC_SET_UNMAP_NOTIFY,
                          "IOCTL_GNTALLOC_SET_UNMAP_NOTIFY");
}

void xw_init_grant_devices(napi_env env, napi_value exports) {
  xw_export(env, exports, "gntdevMapGrantRefs", js_gntdev_map);
  xw_export(env, exports, "gntdevUnmapGrantRef", js_gntdev_unmap);
  xw_export(env, exports, "gntdevSetMaxGrants", js_gntdev_set_max);
  xw_export(env, exports, "gntallocAllocGref", js_gntalloc_alloc);
  xw_export(env, exports, "gntallocDeallocGref", js_gntalloc_dealloc);
  xw_export(env, exports, "gntdevSetUnmapNotify", js_gntdev_unmap_notify);
  xw_export(env, exports, "gntallocSetUnmapNotify", js_gntalloc_unmap_notify);
}
