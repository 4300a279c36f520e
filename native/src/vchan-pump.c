/* One end of a libxenvchan connection moved in native code: each time its event-channel port
 * fires, the whole round (copy what fits of the pending outgoing chunk into the write ring, copy
 * what waits in the read ring into an inbox, the notify-bit protocol of tools/libs/vchan/io.c,
 * notify, unmask) runs here, and JavaScript is called once, only when it has something to do:
 * bytes arrived, the chunk is all written, the peer's live byte changed, or an error. The
 * JavaScript end (src/ring/vchan.ts) is the reference this file follows step for step; a
 * property test drives both over the same ring states in ordinary memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "exports.h"
#include "util.h"
#include "vchan-pump.h"
#include "xen-abi.h"

/* struct vchan_interface (xen/include/public/io/libxenvchan.h) up to the grant list. */
struct vchan_ring_shared {
  uint32_t cons, prod;
};
struct vchan_interface {
  struct vchan_ring_shared left, right;
  uint16_t left_order, right_order;
  uint8_t cli_live, srv_live;
  uint8_t cli_notify, srv_notify;
};

#define VCHAN_NOTIFY_WRITE 1
#define VCHAN_NOTIFY_READ 2
#define VCHAN_EXITED 0

/* Words of the state array shared with JavaScript, filled by each step. */
enum {
  STATE_RECEIVED,   /* bytes placed at the start of the inbox */
  STATE_OFFSET,     /* how far the current chunk is written */
  STATE_PEER_LIVE,  /* the peer's live byte, read before moving anything */
  STATE_ERROR,      /* 0, or the errno that stopped the step (EPROTO: corrupt indexes) */
  STATE_NOTIFIES,   /* how many times a step decided to wake the peer, since creation */
  STATE_WANT_READ,  /* set by JavaScript: nonzero to read into the inbox */
  STATE_BAD_RING,   /* with EPROTO: 0 the write ring's indexes are corrupt, 1 the read ring's */
  STATE_WORDS
};

struct ring {
  struct vchan_ring_shared *shared;
  uint8_t *data;
  uint32_t size;
};

struct pump {
  napi_env env;
  int fd; /* the evtchn device, or -1: steps only run when called, notifies are counted */
  uint32_t port;
  struct ring tx, rx;
  uint8_t *own_live, *peer_live;
  /* This end's notify byte (the peer's requests to us) and the peer's (ours to it). */
  uint8_t *my_requests, *peer_requests;
  uint8_t *inbox;
  uint32_t inbox_size;
  int32_t *state;
  /* The chunk being written, held until it is all in the ring or replaced. */
  napi_ref chunk_ref;
  const uint8_t *chunk;
  uint32_t chunk_length;
  int last_peer_live;
  bool closed;
  /* Memory the pointers above point into, and the wake-up callback. */
  napi_ref memory_refs[5];
  napi_ref callback;
  napi_async_context context;
  struct pump *next;
};

static const napi_type_tag pump_tag = {0x78656e77697265ULL, 0x766368616e707501ULL};

/* The pumps of one JavaScript environment (thread), found by (fd, port) on a wake-up. The
 * addon's only instance data. */
struct pump_list {
  struct pump *first;
};

static struct pump_list *pumps_of(napi_env env) {
  struct pump_list *list = NULL;
  if (napi_get_instance_data(env, (void **)&list) == napi_ok && list != NULL) return list;
  return NULL;
}

static void free_pump_list(napi_env env, void *data, void *hint) { free(data); }

static uint32_t load32(uint32_t *at) { return __atomic_load_n(at, __ATOMIC_SEQ_CST); }
static void store32(uint32_t *at, uint32_t value) { __atomic_store_n(at, value, __ATOMIC_SEQ_CST); }

/* `request_notify`: asks the peer to wake us when it does what `bit` names. */
static void request(struct pump *p, uint8_t bit) {
  __atomic_fetch_or(p->peer_requests, bit, __ATOMIC_SEQ_CST);
}

/* `send_notify`'s decision: clears `bit` of our byte; true if the peer had set it. */
static bool answer(struct pump *p, uint8_t bit) {
  return (__atomic_fetch_and(p->my_requests, (uint8_t)~bit, __ATOMIC_SEQ_CST) & bit) != 0;
}

/* Bytes in the ring, or -1 when the indexes are corrupt (more than the ring holds). */
static int64_t used(const struct ring *r) {
  uint32_t n = load32(&r->shared->prod) - load32(&r->shared->cons);
  return n > r->size ? -1 : (int64_t)n;
}

/* `libxenvchan_write` without its liveness check (the caller's): writes what fits of `src`,
 * first asking to be told of the peer's next read when not all of it does. */
static int64_t ring_write(struct pump *p, const uint8_t *src, uint32_t length, bool *notify) {
  struct ring *r = &p->tx;
  int64_t in_use = used(r);
  if (in_use < 0) return -1;
  if (r->size - (uint32_t)in_use < length) request(p, VCHAN_NOTIFY_READ);
  uint32_t cons = load32(&r->shared->cons);
  uint32_t prod = load32(&r->shared->prod);
  uint32_t filled = prod - cons;
  if (filled > r->size) return -1;
  uint32_t n = r->size - filled < length ? r->size - filled : length;
  if (n == 0) return 0;
  uint32_t at = prod & (r->size - 1);
  uint32_t first = n < r->size - at ? n : r->size - at;
  memcpy(r->data + at, src, first);
  memcpy(r->data, src + first, n - first);
  store32(&r->shared->prod, prod + n);
  if (answer(p, VCHAN_NOTIFY_WRITE)) *notify = true;
  return n;
}

/* `libxenvchan_read`, non-blocking: copies up to `length` waiting bytes into `dst`, first asking
 * to be told of the peer's next write when fewer wait. */
static int64_t ring_read(struct pump *p, uint8_t *dst, uint32_t length, bool *notify) {
  struct ring *r = &p->rx;
  int64_t waiting = used(r);
  if (waiting < 0) return -1;
  if ((uint32_t)waiting < length) request(p, VCHAN_NOTIFY_WRITE);
  uint32_t cons = load32(&r->shared->cons);
  uint32_t prod = load32(&r->shared->prod);
  uint32_t filled = prod - cons;
  if (filled > r->size) return -1;
  uint32_t n = filled < length ? filled : length;
  if (n == 0) return 0;
  uint32_t at = cons & (r->size - 1);
  uint32_t first = n < r->size - at ? n : r->size - at;
  memcpy(dst, r->data + at, first);
  memcpy(dst + first, r->data, n - first);
  store32(&r->shared->cons, cons + n);
  if (answer(p, VCHAN_NOTIFY_READ)) *notify = true;
  return n;
}

static void release_chunk(struct pump *p) {
  if (p->chunk_ref != NULL) napi_delete_reference(p->env, p->chunk_ref);
  p->chunk_ref = NULL;
  p->chunk = NULL;
  p->chunk_length = 0;
}

/* One round: the peer's live byte first (bytes it wrote before leaving are then surely read),
 * the write unless the peer has left (libxenvchan refuses to write then), the read, and one
 * notify for both if the peer asked for either. Fills the state words; the device's errno when
 * the notify fails. */
static void step(struct pump *p) {
  int32_t *state = p->state;
  bool notify = false;
  state[STATE_RECEIVED] = 0;
  state[STATE_ERROR] = 0;
  int live = __atomic_load_n(p->peer_live, __ATOMIC_SEQ_CST);
  state[STATE_PEER_LIVE] = live;
  uint32_t offset = (uint32_t)state[STATE_OFFSET];
  if (p->chunk != NULL && offset < p->chunk_length && live != VCHAN_EXITED) {
    int64_t n = ring_write(p, p->chunk + offset, p->chunk_length - offset, &notify);
    if (n < 0) {
      state[STATE_ERROR] = EPROTO;
      state[STATE_BAD_RING] = 0;
    } else {
      state[STATE_OFFSET] = (int32_t)(offset + (uint32_t)n);
    }
  }
  if (state[STATE_ERROR] == 0 && state[STATE_WANT_READ] != 0) {
    int64_t n = ring_read(p, p->inbox, p->inbox_size, &notify);
    if (n < 0) {
      state[STATE_ERROR] = EPROTO;
      state[STATE_BAD_RING] = 1;
    } else {
      state[STATE_RECEIVED] = (int32_t)n;
    }
  }
  if (!notify) return;
  state[STATE_NOTIFIES]++;
  if (p->fd < 0) return;
  struct xw_evtchn_port arg = {.port = p->port};
  if (ioctl(p->fd, XW_IOCTL_EVTCHN_NOTIFY, &arg) < 0 && state[STATE_ERROR] == 0) {
    state[STATE_ERROR] = errno;
  }
}

static void unlink_pump(struct pump *p) {
  struct pump_list *list = pumps_of(p->env);
  if (list == NULL) return;
  for (struct pump **at = &list->first; *at != NULL; at = &(*at)->next) {
    if (*at == p) {
      *at = p->next;
      break;
    }
  }
  p->next = NULL;
}

/* Lets go of everything JavaScript lent the pump; the port is no longer served here. */
static void close_pump(struct pump *p) {
  if (p->closed) return;
  p->closed = true;
  unlink_pump(p);
  release_chunk(p);
  for (size_t i = 0; i < sizeof p->memory_refs / sizeof p->memory_refs[0]; i++) {
    if (p->memory_refs[i] != NULL) napi_delete_reference(p->env, p->memory_refs[i]);
    p->memory_refs[i] = NULL;
  }
  if (p->callback != NULL) napi_delete_reference(p->env, p->callback);
  p->callback = NULL;
  if (p->context != NULL) napi_async_destroy(p->env, p->context);
  p->context = NULL;
}

static void finalize_pump(napi_env env, void *data, void *hint) {
  struct pump *p = data;
  close_pump(p);
  free(p);
}

static bool get_bytes(napi_env env, napi_value value, const char *name, uint8_t **data,
                      size_t *length, napi_ref *ref) {
  bool is_typed = false;
  napi_is_typedarray(env, value, &is_typed);
  napi_typedarray_type type;
  void *raw = NULL;
  if (is_typed) napi_get_typedarray_info(env, value, &type, length, &raw, NULL, NULL);
  if (!is_typed || type != napi_uint8_array) {
    char message[96];
    snprintf(message, sizeof message, "%s must be a Uint8Array", name);
    napi_throw_error(env, "EINVAL", message);
    return false;
  }
  *data = raw;
  return ref == NULL || napi_create_reference(env, value, 1, ref) == napi_ok;
}

static struct pump *get_pump(napi_env env, napi_value value) {
  bool tagged = false;
  napi_check_object_type_tag(env, value, &pump_tag, &tagged);
  struct pump *p = NULL;
  if (!tagged || napi_get_value_external(env, value, (void **)&p) != napi_ok) {
    xw_throw_errno(env, EINVAL, "vchan pump: not a pump");
    return NULL;
  }
  if (p->closed) {
    xw_throw_errno(env, EBADF, "vchan pump: closed");
    return NULL;
  }
  return p;
}

/* vchanPumpOpen(server, page, left, right, inbox, state, fd, port, onWake) → pump.
 * `page` is the 4096-byte shared page, `left`/`right` the rings' data (inside the page for
 * orders 10 and 11), `state` an Int32Array of STATE_WORDS. With fd ≥ 0 the pump serves `port`
 * of that evtchn descriptor (see xw_evtchn_dispatch) and calls onWake() when it has news. */
static napi_value js_pump_open(napi_env env, napi_callback_info info) {
  napi_value argv[9];
  if (!xw_args(env, info, 9, argv)) return NULL;
  bool server;
  uint64_t port;
  double fd;
  if (!xw_arg_bool(env, argv[0], "server", &server)) return NULL;
  if (napi_get_value_double(env, argv[6], &fd) != napi_ok || fd < -1 || fd > INT32_MAX ||
      fd != (int)fd) {
    return xw_throw_errno(env, EINVAL, "vchan pump: fd must be an integer, -1 for none");
  }
  if (!xw_arg_uint(env, argv[7], 4294967295.0, "port", &port)) return NULL;
  struct pump *p = calloc(1, sizeof *p);
  if (p == NULL) return xw_throw_errno(env, ENOMEM, "vchan pump");
  p->env = env;
  p->fd = (int)fd;
  p->port = (uint32_t)port;
  uint8_t *page, *left, *right, *state;
  size_t page_length, left_length, right_length, inbox_length, state_length;
  bool ok = get_bytes(env, argv[1], "page", &page, &page_length, &p->memory_refs[0]) &&
            get_bytes(env, argv[2], "left", &left, &left_length, &p->memory_refs[1]) &&
            get_bytes(env, argv[3], "right", &right, &right_length, &p->memory_refs[2]) &&
            get_bytes(env, argv[4], "inbox", &p->inbox, &inbox_length, NULL);
  napi_value name;
  if (ok) {
    bool is_typed = false;
    napi_typedarray_type type;
    void *raw = NULL;
    napi_is_typedarray(env, argv[5], &is_typed);
    if (is_typed) napi_get_typedarray_info(env, argv[5], &type, &state_length, &raw, NULL, NULL);
    ok = is_typed && type == napi_int32_array && state_length >= STATE_WORDS &&
         ((uintptr_t)raw & 3) == 0;
    if (!ok) napi_throw_error(env, "EINVAL", "vchan pump: state must be an Int32Array of 7");
    state = raw;
  }
  struct vchan_interface *shared = (struct vchan_interface *)page;
  if (ok && (page_length < 4096 || ((uintptr_t)page & 3) != 0)) {
    ok = false;
    xw_throw_errno(env, EINVAL, "vchan pump: the page must be 4096 aligned bytes");
  }
  if (ok && (left_length != (size_t)1 << shared->left_order ||
             right_length != (size_t)1 << shared->right_order || shared->left_order > 20 ||
             shared->right_order > 20 || inbox_length == 0 || inbox_length > INT32_MAX)) {
    ok = false;
    xw_throw_errno(env, EINVAL, "vchan pump: ring data does not match the page's orders");
  }
  napi_value token;
  if (ok) {
    napi_create_string_utf8(env, "xenwire:vchan-pump", NAPI_AUTO_LENGTH, &name);
    ok = napi_create_reference(env, argv[4], 1, &p->memory_refs[3]) == napi_ok &&
         napi_create_reference(env, argv[5], 1, &p->memory_refs[4]) == napi_ok &&
         napi_create_reference(env, argv[8], 1, &p->callback) == napi_ok &&
         napi_async_init(env, NULL, name, &p->context) == napi_ok &&
         napi_create_external(env, p, finalize_pump, NULL, &token) == napi_ok;
    if (!ok) xw_throw_errno(env, ENOMEM, "vchan pump");
  }
  if (!ok) {
    close_pump(p);
    free(p);
    return NULL;
  }
  napi_type_tag_object(env, token, &pump_tag);
  struct ring left_ring = {&shared->left, left, (uint32_t)left_length};
  struct ring right_ring = {&shared->right, right, (uint32_t)right_length};
  p->tx = server ? right_ring : left_ring;
  p->rx = server ? left_ring : right_ring;
  p->own_live = server ? &shared->srv_live : &shared->cli_live;
  p->peer_live = server ? &shared->cli_live : &shared->srv_live;
  p->my_requests = server ? &shared->srv_notify : &shared->cli_notify;
  p->peer_requests = server ? &shared->cli_notify : &shared->srv_notify;
  p->inbox_size = (uint32_t)inbox_length;
  p->state = (int32_t *)state;
  memset(p->state, 0, STATE_WORDS * sizeof *p->state);
  p->last_peer_live = -1;
  if (p->fd >= 0) {
    struct pump_list *list = pumps_of(env);
    if (list == NULL) {
      list = calloc(1, sizeof *list);
      if (list == NULL || napi_set_instance_data(env, list, free_pump_list, NULL) != napi_ok) {
        free(list);
        return xw_throw_errno(env, ENOMEM, "vchan pump");
      }
    }
    p->next = list->first;
    list->first = p;
  }
  return token;
}

/* vchanPumpStep(pump, chunk | null, offset): hands over the chunk to write from `offset` (null:
 * none) and moves what can move now. The outcome is in the state words. */
static napi_value js_pump_step(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!xw_args(env, info, 3, argv)) return NULL;
  struct pump *p = get_pump(env, argv[0]);
  if (p == NULL) return NULL;
  napi_valuetype type;
  XW_CHECK(env, napi_typeof(env, argv[1], &type));
  uint64_t offset;
  if (!xw_arg_uint(env, argv[2], INT32_MAX, "offset", &offset)) return NULL;
  release_chunk(p);
  if (type != napi_null) {
    uint8_t *chunk;
    size_t length;
    if (!get_bytes(env, argv[1], "chunk", &chunk, &length, NULL)) return NULL;
    if (length > INT32_MAX || offset > length) {
      return xw_throw_errno(env, EINVAL, "vchan pump: offset past the chunk");
    }
    XW_CHECK(env, napi_create_reference(env, argv[1], 1, &p->chunk_ref));
    p->chunk = chunk;
    p->chunk_length = (uint32_t)length;
  }
  p->state[STATE_OFFSET] = (int32_t)offset;
  step(p);
  p->last_peer_live = p->state[STATE_PEER_LIVE];
  /* A written chunk is JavaScript's to finish: wake-ups must not report it again. */
  if ((uint32_t)p->state[STATE_OFFSET] == p->chunk_length) release_chunk(p);
  return xw_undefined(env);
}

/* vchanPumpClose(pump): the port is no longer served; a second call is harmless. */
static napi_value js_pump_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!xw_args(env, info, 1, argv)) return NULL;
  bool tagged = false;
  napi_check_object_type_tag(env, argv[0], &pump_tag, &tagged);
  struct pump *p;
  if (!tagged || napi_get_value_external(env, argv[0], (void **)&p) != napi_ok) {
    return xw_throw_errno(env, EINVAL, "vchan pump: not a pump");
  }
  close_pump(p);
  return xw_undefined(env);
}

size_t xw_evtchn_dispatch(napi_env env, int fd, uint32_t *ports, size_t count) {
  struct pump_list *list = pumps_of(env);
  if (list == NULL || list->first == NULL) return count;
  struct pump *woken[64];
  size_t n_woken = 0, kept = 0;
  uint32_t unmask[64];
  for (size_t i = 0; i < count; i++) {
    struct pump *p = list->first;
    while (p != NULL && !(p->fd == fd && p->port == ports[i])) p = p->next;
    if (p == NULL || n_woken == sizeof woken / sizeof woken[0]) {
      ports[kept++] = ports[i];
      continue;
    }
    step(p);
    unmask[n_woken] = p->port;
    woken[n_woken++] = p;
  }
  if (n_woken > 0 && write(fd, unmask, n_woken * sizeof unmask[0]) < 0) {
    for (size_t i = 0; i < n_woken; i++) {
      if (woken[i]->state[STATE_ERROR] == 0) woken[i]->state[STATE_ERROR] = errno;
    }
  }
  for (size_t i = 0; i < n_woken; i++) {
    struct pump *p = woken[i];
    int32_t *state = p->state;
    bool chunk_done = p->chunk != NULL && (uint32_t)state[STATE_OFFSET] == p->chunk_length;
    bool news = state[STATE_RECEIVED] > 0 || chunk_done || state[STATE_ERROR] != 0 ||
                state[STATE_PEER_LIVE] != p->last_peer_live;
    p->last_peer_live = state[STATE_PEER_LIVE];
    if (!news || p->closed) continue;
    if (chunk_done) release_chunk(p);
    napi_handle_scope scope;
    if (napi_open_handle_scope(env, &scope) != napi_ok) continue;
    napi_value callback, receiver, result;
    napi_get_reference_value(env, p->callback, &callback);
    napi_get_global(env, &receiver);
    /* A callback may close this pump or others woken in this round: closed ones are skipped
     * above, and a pump is freed only once its token is collected, never during this loop. */
    if (napi_make_callback(env, p->context, receiver, callback, 0, NULL, &result) ==
        napi_pending_exception) {
      napi_value error;
      napi_get_and_clear_last_exception(env, &error);
      napi_fatal_exception(env, error);
    }
    napi_close_handle_scope(env, scope);
  }
  return kept;
}

void xw_init_vchan_pump(napi_env env, napi_value exports) {
  xw_export(env, exports, "vchanPumpOpen", js_pump_open);
  xw_export(env, exports, "vchanPumpStep", js_pump_step);
  xw_export(env, exports, "vchanPumpClose", js_pump_close);
}
