/* Copies between a shared mapping of a regular file and JavaScript buffers. Copying through a
 * mapping costs no system call per request and uses the C library's memcpy, which under CPU
 * emulation is several times faster than the kernel's string-instruction copy of pread/pwrite.
 * A mapped file that another process shrinks would kill this one with SIGBUS at the first touch
 * past its new end: the copies run under a guard that turns that SIGBUS into an EIO error.
 *
 * The first touch of each page would cost a page fault, which in a paravirtualised domain traps
 * into the hypervisor twice: pages are populated instead, a request's pages not yet populated
 * at once, with madvise(MADV_POPULATE_*), which under emulation costs a fifth of the faults. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif

#include "exports.h"
#include "util.h"

/* Memories one copy may take its pieces from (MAX_AREAS in mapped-file.ts), and the pieces a
 * copy lists without allocating. */
#define MAX_AREAS 64
#define FEW_PIECES 64

struct file_map {
  uint8_t *addr;
  size_t length;
  bool writable;
  /* One bit per page, set once populated; its memory is only made resident where touched. */
  uint64_t *populated;
};

static size_t page_size;
/* Cleared when the kernel has no MADV_POPULATE_* (before Linux 5.14): faults do the work. */
static bool populate_works = true;

/* Set while this thread copies through a mapping: where a SIGBUS jumps to. */
static __thread sigjmp_buf *volatile copy_guard;
static struct sigaction previous_sigbus;
static pthread_once_t init = PTHREAD_ONCE_INIT;

static void on_sigbus(int sig, siginfo_t *info, void *context) {
  sigjmp_buf *guard = copy_guard;
  if (guard != NULL) siglongjmp(*guard, 1);
  /* Not a guarded copy: whatever handled SIGBUS before does. */
  if (previous_sigbus.sa_flags & SA_SIGINFO) {
    previous_sigbus.sa_sigaction(sig, info, context);
  } else if (previous_sigbus.sa_handler != SIG_DFL && previous_sigbus.sa_handler != SIG_IGN) {
    previous_sigbus.sa_handler(sig);
  } else {
    /* The default action: returning re-runs the faulting access, which now kills the process. */
    signal(SIGBUS, SIG_DFL);
  }
}

/* Once per process: the page size, and the SIGBUS handler every mapping's copies rely on. */
static void init_once(void) {
  page_size = (size_t)sysconf(_SC_PAGESIZE);
  struct sigaction action;
  memset(&action, 0, sizeof action);
  action.sa_sigaction = on_sigbus;
  /* SA_NODEFER: SIGBUS is not blocked while handled, so the jump out of the handler leaves the
   * signal mask as it was, and the copy need not save and restore it (a system call each). */
  action.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&action.sa_mask);
  sigaction(SIGBUS, &action, &previous_sigbus);
}

static void finalize_file_map(napi_env env, void *data, void *hint) {
  struct file_map *m = data;
  if (m->addr != NULL) munmap(m->addr, m->length);
  free(m->populated);
  free(m);
}

/* Populates the pages of [offset, offset + length) not populated yet, for reading or writing. */
static void populate(struct file_map *m, size_t offset, size_t length, bool writing) {
  size_t first = offset / page_size;
  size_t last = (offset + length - 1) / page_size;
  size_t from = first;
  while (from <= last && (m->populated[from / 64] >> (from % 64) & 1)) from++;
  if (from > last || !populate_works) return;
  size_t to = last;
  while (m->populated[to / 64] >> (to % 64) & 1) to--;
  int advice = writing ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
  if (madvise(m->addr + from * page_size, (to - from + 1) * page_size, advice) != 0) {
    /* EINVAL: an older kernel. Anything else (EFAULT: the file ended) the copy itself meets. */
    if (errno == EINVAL) populate_works = false;
    return;
  }
  for (size_t page = from; page <= to; page++) m->populated[page / 64] |= 1ull << (page % 64);
}

/* fileMap(fd, length, writable): maps the first `length` bytes of a regular file, shared. */
static napi_value js_file_map(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  int fd;
  uint64_t length;
  bool writable;
  if (!xw_args(env, info, 3, argv) || !xw_arg_fd(env, argv[0], &fd) ||
      !xw_arg_uint(env, argv[1], (double)SIZE_MAX, "length", &length) ||
      !xw_arg_bool(env, argv[2], "writable", &writable)) {
    return NULL;
  }
  if (length == 0) return xw_throw_errno(env, EINVAL, "fileMap: length is 0");
  struct stat st;
  if (fstat(fd, &st) != 0) return xw_throw_errno(env, errno, "fileMap: fstat");
  if (!S_ISREG(st.st_mode)) return xw_throw_errno(env, EINVAL, "fileMap: not a regular file");
  if (length > (uint64_t)st.st_size) {
    return xw_throw_errno(env, EINVAL, "fileMap: length extends past the end of the file");
  }
  pthread_once(&init, init_once);
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void *addr = xw_mmap_shared(length, prot, fd, 0);
  if (addr == MAP_FAILED) return xw_throw_errno(env, errno, "fileMap: mmap");
  struct file_map *m = malloc(sizeof *m);
  uint64_t *populated = calloc((length / page_size + 64) / 64, sizeof *populated);
  if (m == NULL || populated == NULL) {
    munmap(addr, length);
    free(m);
    free(populated);
    return xw_throw_errno(env, ENOMEM, "fileMap");
  }
  *m = (struct file_map){
      .addr = addr, .length = length, .writable = writable, .populated = populated};
  napi_value handle;
  if (napi_create_external(env, m, finalize_file_map, NULL, &handle) != napi_ok) {
    munmap(addr, length);
    free(populated);
    free(m);
    return xw_throw_errno(env, ENOMEM, "fileMap: cannot wrap the mapping");
  }
  return handle;
}

static struct file_map *file_map_of(napi_env env, napi_value value, const char *what) {
  napi_valuetype type;
  void *data = NULL;
  if (napi_typeof(env, value, &type) != napi_ok || type != napi_external ||
      napi_get_value_external(env, value, &data) != napi_ok || data == NULL) {
    xw_throw_errno(env, EINVAL, what);
    return NULL;
  }
  return data;
}

/* fileUnmap(handle): unmaps now; copies through the handle fail with EBADF afterwards. */
static napi_value js_file_unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!xw_args(env, info, 1, argv)) return NULL;
  struct file_map *m = file_map_of(env, argv[0], "fileUnmap: not a file mapping");
  if (m == NULL) return NULL;
  if (m->addr != NULL && munmap(m->addr, m->length) != 0) {
    return xw_throw_errno(env, errno, "fileUnmap");
  }
  m->addr = NULL;
  return xw_undefined(env);
}

struct piece {
  uint8_t *data;
  size_t length;
};

/* Copies the pieces one after another between the mapping, from `file` on, and their buffers. */
static __attribute__((noinline)) void copy_pieces(uint8_t *file, const struct piece *pieces,
                                                  uint32_t count, bool to_file) {
  for (uint32_t i = 0; i < count; i++) {
    if (to_file) {
      memcpy(file, pieces[i].data, pieces[i].length);
    } else {
      memcpy(pieces[i].data, file, pieces[i].length);
    }
    file += pieces[i].length;
  }
}

/* copy_pieces under the SIGBUS guard; false when the file ended under the mapping. */
static bool guarded_copy(uint8_t *file, const struct piece *pieces, uint32_t count, bool to_file) {
  sigjmp_buf guard;
  if (sigsetjmp(guard, 0) != 0) {
    copy_guard = NULL;
    return false;
  }
  copy_guard = &guard;
  copy_pieces(file, pieces, count, to_file);
  copy_guard = NULL;
  return true;
}

/* A Uint8Array argument's bytes; false (with EINVAL thrown) for anything else. */
static bool bytes_of(napi_env env, napi_value value, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  bool is_typedarray = false;
  if (napi_is_typedarray(env, value, &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, value, &type, length, (void **)data, NULL, NULL) != napi_ok ||
      type != napi_uint8_array) {
    xw_throw_errno(env, EINVAL, "fileCopy: areas must be Uint8Arrays");
    return false;
  }
  return true;
}

/* fileCopy(handle, offset, areas, pieces, count, toFile): copies `count` pieces, one after
 * another, to or from the file from `offset` on. Piece i is bytes pieces[3i+1] to
 * pieces[3i+1] + pieces[3i+2] of areas[pieces[3i]]: a request's buffers described by numbers in
 * one array rather than passed one by one, each of which would cost N-API calls. */
static napi_value js_file_copy(napi_env env, napi_callback_info info) {
  napi_value argv[6];
  uint64_t offset, count;
  bool to_file, is_array;
  if (!xw_args(env, info, 6, argv)) return NULL;
  struct file_map *m = file_map_of(env, argv[0], "fileCopy: not a file mapping");
  if (m == NULL || !xw_arg_uint(env, argv[1], 9007199254740991.0, "offset", &offset) ||
      !xw_arg_uint(env, argv[4], UINT32_MAX, "count", &count) ||
      !xw_arg_bool(env, argv[5], "toFile", &to_file)) {
    return NULL;
  }
  if (m->addr == NULL) return xw_throw_errno(env, EBADF, "fileCopy: the file is unmapped");
  if (to_file && !m->writable) return xw_throw_errno(env, EBADF, "fileCopy: mapped read-only");
  if (napi_is_array(env, argv[2], &is_array) != napi_ok || !is_array) {
    return xw_throw_errno(env, EINVAL, "fileCopy: areas must be an array");
  }
  uint32_t area_count;
  XW_CHECK(env, napi_get_array_length(env, argv[2], &area_count));
  if (area_count > MAX_AREAS) {
    return xw_throw_errno(env, EINVAL, "fileCopy: more than 64 areas");
  }
  struct piece areas[MAX_AREAS];
  for (uint32_t i = 0; i < area_count; i++) {
    napi_value area;
    XW_CHECK(env, napi_get_element(env, argv[2], i, &area));
    if (!bytes_of(env, area, &areas[i].data, &areas[i].length)) return NULL;
  }
  napi_typedarray_type type;
  size_t numbers;
  double *described;
  bool is_typedarray = false;
  if (napi_is_typedarray(env, argv[3], &is_typedarray) != napi_ok || !is_typedarray ||
      napi_get_typedarray_info(env, argv[3], &type, &numbers, (void **)&described, NULL,
                               NULL) != napi_ok ||
      type != napi_float64_array || numbers / 3 < count) {
    return xw_throw_errno(env, EINVAL, "fileCopy: pieces must be a Float64Array of 3 × count");
  }
  struct piece few[FEW_PIECES];
  struct piece *pieces = count <= FEW_PIECES ? few : malloc(count * sizeof *pieces);
  if (pieces == NULL) return xw_throw_errno(env, ENOMEM, "fileCopy");
  const char *fault = NULL;
  int err = EINVAL;
  uint64_t end = offset;
  for (uint32_t i = 0; i < count && fault == NULL; i++) {
    double index = described[3 * i], at = described[3 * i + 1], length = described[3 * i + 2];
    /* Bounds first, so that the integer conversions that follow are defined. */
    bool inside = index >= 0 && index < area_count;
    double area_length = inside ? (double)areas[(uint32_t)index].length : 0;
    inside = inside && at >= 0 && length >= 0 && at <= area_length && length <= area_length - at;
    if (!inside || index != (uint32_t)index || at != (uint64_t)at || length != (uint64_t)length) {
      fault = "fileCopy: a piece lies outside its area";
    } else if (end > m->length || (uint64_t)length > m->length - end) {
      fault = "fileCopy: range extends past the mapping";
    } else {
      pieces[i] = (struct piece){.data = areas[(uint32_t)index].data + (size_t)at,
                                 .length = (size_t)length};
      end += pieces[i].length;
    }
  }
  if (fault == NULL && end > offset) populate(m, offset, end - offset, to_file);
  if (fault == NULL && !guarded_copy(m->addr + offset, pieces, (uint32_t)count, to_file)) {
    fault = "fileCopy: the file ended under its mapping";
    err = EIO;
  }
  if (pieces != few) free(pieces);
  return fault == NULL ? xw_undefined(env) : xw_throw_errno(env, err, fault);
}

void xw_init_file_copy(napi_env env, napi_value exports) {
  xw_export(env, exports, "fileMap", js_file_map);
  xw_export(env, exports, "fileUnmap", js_file_unmap);
  xw_export(env, exports, "fileCopy", js_file_copy);
}
