/* mmap of a file or device as an external ArrayBuffer, with an explicit munmap that detaches the
 * buffer so JavaScript can never touch unmapped memory. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "exports.h"
#include "util.h"

struct mapping {
  void *addr;
  size_t length;
  bool mapped;
  struct mapping *next;
};

/* Live mappings, shared by every thread that loaded the addon, to find one from its buffer. */
static struct mapping *mappings;
static pthread_mutex_t mappings_lock = PTHREAD_MUTEX_INITIALIZER;

static void finalize_mapping(napi_env env, void *data, void *hint) {
  struct mapping *m = hint;
  pthread_mutex_lock(&mappings_lock);
  for (struct mapping **p = &mappings; *p != NULL; p = &(*p)->next) {
    if (*p == m) {
      *p = m->next;
      break;
    }
  }
  if (m->mapped) munmap(m->addr, m->length);
  pthread_mutex_unlock(&mappings_lock);
  free(m);
}

/* The longest ArrayBuffer V8 makes here. */
#define MAX_MAPPING_LENGTH (UINT64_C(1) << 32)

/* mmap(fd, length, offset, writable): a MAP_SHARED mapping as an ArrayBuffer. */
static napi_value js_mmap(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  int fd;
  uint64_t length, offset;
  bool writable;
  if (!xw_args(env, info, 4, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], (double)SIZE_MAX, "length", &length) ||
      !xw_arg_uint(env, argv[2], 9007199254740991.0, "offset", &offset) ||
      !xw_arg_bool(env, argv[3], "writable", &writable)) {
    return NULL;
  }
  if (length == 0) return xw_throw_errno(env, EINVAL, "mmap: length is 0");
  /* V8 refuses a longer ArrayBuffer, and runs the finalizer as it does: the error path below
   * would then free the mapping a second time. */
  if (length > MAX_MAPPING_LENGTH) {
    return xw_throw_errno(env, EINVAL, "mmap: longer than an ArrayBuffer can be (4 GiB)");
  }
  struct stat st;
  if (fstat(fd, &st) != 0) return xw_throw_errno(env, errno, "mmap: fstat");
  /* Touching a page past the end of a regular file raises SIGBUS: refuse such a mapping. */
  if (S_ISREG(st.st_mode) && offset + length > (uint64_t)st.st_size) {
    return xw_throw_errno(env, EINVAL, "mmap: range extends past the end of the file");
  }
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void *addr = xw_mmap_shared(length, prot, fd, (off_t)offset);
  if (addr == MAP_FAILED) return xw_throw_errno(env, errno, "mmap");
  struct mapping *m = malloc(sizeof *m);
  if (m == NULL) {
    munmap(addr, length);
    return xw_throw_errno(env, ENOMEM, "mmap");
  }
  *m = (struct mapping){.addr = addr, .length = length, .mapped = true};
  napi_value buffer;
  if (napi_create_external_arraybuffer(env, addr, length, finalize_mapping, m, &buffer) !=
      napi_ok) {
    munmap(addr, length);
    free(m);
    return xw_throw_errno(env, ENOMEM, "mmap: cannot wrap the mapping");
  }
  pthread_mutex_lock(&mappings_lock);
  m->next = mappings;
  mappings = m;
  pthread_mutex_unlock(&mappings_lock);
  return buffer;
}

/* munmap(buffer): unmaps a buffer returned by mmap and detaches it. */
static napi_value js_munmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!xw_args(env, info, 1, argv)) return NULL;
  bool is_buffer = false;
  napi_is_arraybuffer(env, argv[0], &is_buffer);
  if (!is_buffer) return xw_throw_errno(env, EINVAL, "munmap: not an ArrayBuffer");
  void *data = NULL;
  size_t length = 0;
  XW_CHECK(env, napi_get_arraybuffer_info(env, argv[0], &data, &length));
  pthread_mutex_lock(&mappings_lock);
  struct mapping *m = mappings;
  while (m != NULL && !(m->mapped && m->addr == data && m->length == length)) m = m->next;
  int rc = -1;
  if (m != NULL) {
    rc = munmap(m->addr, m->length);
    if (rc == 0) m->mapped = false;
  }
  pthread_mutex_unlock(&mappings_lock);
  if (m == NULL) return xw_throw_errno(env, EINVAL, "munmap: not a live mapping");
  if (rc != 0) return xw_throw_errno(env, errno, "munmap");
  XW_CHECK(env, napi_detach_arraybuffer(env, argv[0]));
  return xw_undefined(env);
}

void xw_init_mapping(napi_env env, napi_value exports) {
  xw_export(env, exports, "mmap", js_mmap);
  xw_export(env, exports, "munmap", js_munmap);
}
