/* One end of a libxenvchan connection moved in native code. With an evtchn descriptor of its
 * own (libxenvchan gives each vchan its own xenevtchn handle too), a thread of the pump waits on
 * it and runs each wake-up's whole round by itself, as vchan-socket-proxy's process does: copy
 * what fits of the pending outgoing chunk into the write ring and what waits in the read ring
 * into an inbox, the notify-bit protocol of tools/libs/vchan/io.c, one notify, unmask. It wakes
 * JavaScript (uv_async) only when there is news: bytes arrived, the chunk is all written, the
 * peer's live byte changed, or an error; JavaScript then takes the outcome. So a wake-up waits
 * neither for the JavaScript thread nor on it. Without a descriptor the pump moves bytes only
 * when stepped. The JavaScript end (src/ring/vchan.ts) is the reference this file follows step
 * for step; a property test drives both over the same ring states in ordinary memory. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <uv.h>

#include "exports.h"
#include "util.h"
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

/* Words of the state array shared with JavaScript, filled when JavaScript steps or takes. */
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
  int fd; /* the vchan's own evtchn descriptor, or -1: steps only when called, counts notifies */
  uint32_t port;
  struct ring tx, rx;
  uint8_t *peer_live;
  /* This end's notify byte (the peer's requests to us) and the peer's (ours to it). */
  uint8_t *my_requests, *peer_requests;
  /* Where rounds read to (the pump's own), and the caller's copy of it. */
  uint8_t inbox[65536];
  uint8_t *js_inbox;
  /* The state words rounds fill (the pump's own, under `lock`), and the caller's copy. */
  int32_t state[STATE_WORDS];
  int32_t *js_state;
  /* The chunk being written, held until the caller takes it back or replaces it. */
  napi_ref chunk_ref;
  const uint8_t *chunk;
  uint32_t chunk_length;
  int last_peer_live;
  bool closed;
  /* Memory the pointers above point into, and the wake-up callback. */
  napi_ref memory_refs[5];
  napi_ref callback;
  napi_async_context context;
  /* With a descriptor: the thread, what stops it, and how it wakes JavaScript. */
  pthread_mutex_t lock;
  bool threaded;
  pthread_t thread;
  int stop_fd;
  uv_async_t *async;
};

static const napi_type_tag pump_tag = {0x78656e77697265ULL, 0x766368616e707501ULL};

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

/* Where index `index` falls in the ring's data, and how much of `n` bytes fits before its end. */
static uint32_t wrap(const struct ring *r, uint32_t index, uint32_t n, uint32_t *first) {
  uint32_t at = index & (r->size - 1);
  *first = n < r->size - at ? n : r->size - at;
  return at;
}

/* `libxenvchan_write` without its liveness check (the caller's): writes what fits of `src`,
 * first asking to be told of the peer's next read when not all of it does (then looking again,
 * as `fast_get_buffer_space` does: the peer may have read in between). */
static int64_t ring_write(struct pump *p, const uint8_t *src, uint32_t length, bool *notify) {
  struct ring *r = &p->tx;
  int64_t filled = used(r);
  if (filled >= 0 && r->size - (uint32_t)filled < length) {
    request(p, VCHAN_NOTIFY_READ);
    filled = used(r);
  }
  if (filled < 0) return -1;
  uint32_t room = r->size - (uint32_t)filled;
  uint32_t n = room < length ? room : length;
  if (n == 0) return 0;
  /* Only this end moves prod. */
  uint32_t prod = load32(&r->shared->prod), first;
  uint32_t at = wrap(r, prod, n, &first);
  memcpy(r->data + at, src, first);
  memcpy(r->data, src + first, n - first);
  store32(&r->shared->prod, prod + n);
  if (answer(p, VCHAN_NOTIFY_WRITE)) *notify = true;
  return n;
}

/* `libxenvchan_read`, non-blocking: copies up to `length` waiting bytes into `dst`, first asking
 * to be told of the peer's next write when fewer wait (then looking again, as
 * `fast_get_data_ready` does). */
static int64_t ring_read(struct pump *p, uint8_t *dst, uint32_t length, bool *notify) {
  struct ring *r = &p->rx;
  int64_t waiting = used(r);
  if (waiting >= 0 && (uint32_t)waiting < length) {
    request(p, VCHAN_NOTIFY_WRITE);
    waiting = used(r);
  }
  if (waiting < 0) return -1;
  uint32_t n = (uint32_t)waiting < length ? (uint32_t)waiting : length;
  if (n == 0) return 0;
  /* Only this end moves cons. */
  uint32_t cons = load32(&r->shared->cons), first;
  uint32_t at = wrap(r, cons, n, &first);
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
  int32_t received_before = state[STATE_RECEIVED];
  /* An error stays until the caller, who destroys the stream on it, has closed the pump. */
  if (state[STATE_ERROR] != 0) return;
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
  /* Read while the caller wants to, after what earlier rounds read and the caller has not taken
   * yet: the ring keeps flowing while the JavaScript thread is busy, as long as the inbox has
   * room. */
  bool want_read = __atomic_load_n(&p->js_state[STATE_WANT_READ], __ATOMIC_RELAXED) != 0;
  uint32_t room = (uint32_t)(sizeof p->inbox - (size_t)received_before);
  if (state[STATE_ERROR] == 0 && want_read && room > 0) {
    int64_t n = ring_read(p, p->inbox + received_before, room, &notify);
    if (n < 0) {
      state[STATE_ERROR] = EPROTO;
      state[STATE_BAD_RING] = 1;
    } else {
      state[STATE_RECEIVED] = received_before + (int32_t)n;
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

/* Hands the caller what rounds did since it last looked (under `lock`): the state words, the
 * bytes read (then the inbox is free for the next round), and whether a written chunk is done,
 * which lets the pump forget it. */
static void hand_over(struct pump *p) {
  int32_t received = p->state[STATE_RECEIVED];
  memcpy(p->js_inbox, p->inbox, (size_t)received);
  for (int i = 0; i < STATE_WORDS; i++) {
    if (i != STATE_WANT_READ) p->js_state[i] = p->state[i];
  }
  p->state[STATE_RECEIVED] = 0;
  if (p->chunk != NULL && (uint32_t)p->state[STATE_OFFSET] == p->chunk_length) release_chunk(p);
}

/* hand_over, taking the lock the thread's rounds hold. */
static void hand_over_locked(struct pump *p) {
  pthread_mutex_lock(&p->lock);
  hand_over(p);
  pthread_mutex_unlock(&p->lock);
}

/* Whether a round has something for the caller: then the thread wakes it. */
static bool news(struct pump *p) {
  bool changed = p->state[STATE_PEER_LIVE] != p->last_peer_live;
  p->last_peer_live = p->state[STATE_PEER_LIVE];
  return changed || p->state[STATE_RECEIVED] > 0 || p->state[STATE_ERROR] != 0 ||
         (p->chunk != NULL && (uint32_t)p->state[STATE_OFFSET] == p->chunk_length);
}

/* The thread: waits for the port (or the stop), runs the round, unmasks, wakes JavaScript. */
static void *serve(void *arg) {
  struct pump *p = arg;
  struct pollfd fds[2] = {{.fd = p->fd, .events = POLLIN}, {.fd = p->stop_fd, .events = POLLIN}};
  for (;;) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents != 0) break;
    if ((fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) != 0) {
      /* The descriptor is gone or broken: report it once and stop, rather than spin on it. */
      pthread_mutex_lock(&p->lock);
      if (p->state[STATE_ERROR] == 0) p->state[STATE_ERROR] = EBADF;
      pthread_mutex_unlock(&p->lock);
      uv_async_send(p->async);
      break;
    }
    uint32_t ports[64];
    ssize_t n = read(p->fd, ports, sizeof ports);
    if (n <= 0) continue;
    pthread_mutex_lock(&p->lock);
    step(p);
    bool wake = news(p);
    pthread_mutex_unlock(&p->lock);
    /* Only this vchan's port is bound to the descriptor. */
    if (write(p->fd, &p->port, sizeof p->port) < 0) {
      pthread_mutex_lock(&p->lock);
      if (p->state[STATE_ERROR] == 0) p->state[STATE_ERROR] = errno;
      pthread_mutex_unlock(&p->lock);
      wake = true;
    }
    if (wake) uv_async_send(p->async);
  }
  return NULL;
}

static void on_async_closed(uv_handle_t *handle) { free(handle); }

/* JavaScript side of a wake-up: the callback takes the outcome (vchanPumpTake). */
static void on_async(uv_async_t *handle) {
  struct pump *p = handle->data;
  if (p == NULL || p->closed) return;
  napi_env env = p->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value callback, receiver, result;
  napi_get_reference_value(env, p->callback, &callback);
  napi_get_global(env, &receiver);
  if (napi_make_callback(env, p->context, receiver, callback, 0, NULL, &result) ==
      napi_pending_exception) {
    napi_value error;
    napi_get_and_clear_last_exception(env, &error);
    napi_fatal_exception(env, error);
  }
  napi_close_handle_scope(env, scope);
}

/* Stops the thread, if it runs, and waits for it to end. */
static void stop_thread(struct pump *p) {
  if (!p->threaded) return;
  uint64_t one = 1;
  ssize_t ignored = write(p->stop_fd, &one, sizeof one);
  (void)ignored;
  pthread_join(p->thread, NULL);
  p->threaded = false;
  p->async->data = NULL;
  uv_close((uv_handle_t *)p->async, on_async_closed);
  p->async = NULL;
}

/* Stops the thread; `release_js` is false during environment teardown, when N-API may not run. */
static void stop_pump(struct pump *p, bool release_js) {
  if (p->closed) return;
  p->closed = true;
  stop_thread(p);
  if (p->stop_fd >= 0) close(p->stop_fd);
  p->stop_fd = -1;
  if (!release_js) return;
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

static void on_env_teardown(void *arg) { stop_pump(arg, false); }

static void close_pump(struct pump *p) {
  if (p->closed) return;
  napi_remove_env_cleanup_hook(p->env, on_env_teardown, p);
  stop_pump(p, true);
}

static void finalize_pump(napi_env env, void *data, void *hint) {
  struct pump *p = data;
  close_pump(p);
  pthread_mutex_destroy(&p->lock);
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

/* A pump argument; with `open`, EBADF once it is closed. */
static struct pump *get_pump(napi_env env, napi_value value, bool open) {
  bool tagged = false;
  napi_check_object_type_tag(env, value, &pump_tag, &tagged);
  struct pump *p = NULL;
  if (!tagged || napi_get_value_external(env, value, (void **)&p) != napi_ok) {
    xw_throw_errno(env, EINVAL, "vchan pump: not a pump");
    return NULL;
  }
  if (open && p->closed) {
    xw_throw_errno(env, EBADF, "vchan pump: closed");
    return NULL;
  }
  return p;
}

/* The only argument of take and close. */
static struct pump *only_pump(napi_env env, napi_callback_info info, bool open) {
  napi_value argv[1];
  return xw_args(env, info, 1, argv) ? get_pump(env, argv[0], open) : NULL;
}

/* Starts the thread serving `fd`, with the async handle it wakes JavaScript through. */
static int start_thread(napi_env env, struct pump *p) {
  uv_loop_t *loop;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return EIO;
  p->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (p->stop_fd < 0) return errno;
  p->async = calloc(1, sizeof *p->async);
  if (p->async == NULL) return ENOMEM;
  int rc = uv_async_init(loop, p->async, on_async);
  if (rc < 0) {
    free(p->async);
    p->async = NULL;
    return -rc;
  }
  p->async->data = p;
  rc = pthread_create(&p->thread, NULL, serve, p);
  if (rc != 0) {
    p->async->data = NULL;
    uv_close((uv_handle_t *)p->async, on_async_closed);
    p->async = NULL;
    return rc;
  }
  p->threaded = true;
  return 0;
}

/* vchanPumpOpen(server, page, left, right, inbox, state, fd, port, onWake) → pump.
 * `page` is the 4096-byte shared page, `left`/`right` the rings' data (inside the page for
 * orders 10 and 11), `inbox` 64 KiB, `state` an Int32Array of STATE_WORDS. With fd ≥ 0 (the
 * vchan's own evtchn descriptor, `port` its only port) a thread serves the port and calls
 * onWake() when it has news. */
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
  pthread_mutex_init(&p->lock, NULL);
  p->env = env;
  p->fd = (int)fd;
  p->port = (uint32_t)port;
  p->stop_fd = -1;
  uint8_t *page, *left, *right;
  size_t page_length, left_length, right_length, inbox_length, state_length = 0;
  bool ok = get_bytes(env, argv[1], "page", &page, &page_length, &p->memory_refs[0]) &&
            get_bytes(env, argv[2], "left", &left, &left_length, &p->memory_refs[1]) &&
            get_bytes(env, argv[3], "right", &right, &right_length, &p->memory_refs[2]) &&
            get_bytes(env, argv[4], "inbox", &p->js_inbox, &inbox_length, &p->memory_refs[3]);
  if (ok) {
    bool is_typed = false;
    napi_typedarray_type type;
    void *raw = NULL;
    napi_is_typedarray(env, argv[5], &is_typed);
    if (is_typed) napi_get_typedarray_info(env, argv[5], &type, &state_length, &raw, NULL, NULL);
    ok = is_typed && type == napi_int32_array && state_length >= STATE_WORDS &&
         ((uintptr_t)raw & 3) == 0 &&
         napi_create_reference(env, argv[5], 1, &p->memory_refs[4]) == napi_ok;
    if (!ok) napi_throw_error(env, "EINVAL", "vchan pump: state must be an Int32Array of 7");
    p->js_state = raw;
  }
  struct vchan_interface *shared = (struct vchan_interface *)page;
  if (ok && (page_length < 4096 || ((uintptr_t)page & 3) != 0)) {
    ok = false;
    xw_throw_errno(env, EINVAL, "vchan pump: the page must be 4096 aligned bytes");
  }
  if (ok && (shared->left_order > 20 || shared->right_order > 20 ||
             left_length != (size_t)1 << shared->left_order ||
             right_length != (size_t)1 << shared->right_order ||
             inbox_length != sizeof p->inbox)) {
    ok = false;
    xw_throw_errno(env, EINVAL, "vchan pump: ring data does not match the page's orders");
  }
  napi_value name, token;
  if (ok) {
    napi_create_string_utf8(env, "xenwire:vchan-pump", NAPI_AUTO_LENGTH, &name);
    ok = napi_create_reference(env, argv[8], 1, &p->callback) == napi_ok &&
         napi_async_init(env, NULL, name, &p->context) == napi_ok &&
         napi_create_external(env, p, finalize_pump, NULL, &token) == napi_ok;
    if (!ok) xw_throw_errno(env, ENOMEM, "vchan pump");
  }
  if (!ok) {
    stop_pump(p, true);
    pthread_mutex_destroy(&p->lock);
    free(p);
    return NULL;
  }
  /* From here the token owns the pump: its finalizer frees it. */
  napi_type_tag_object(env, token, &pump_tag);
  struct ring left_ring = {&shared->left, left, (uint32_t)left_length};
  struct ring right_ring = {&shared->right, right, (uint32_t)right_length};
  p->tx = server ? right_ring : left_ring;
  p->rx = server ? left_ring : right_ring;
  p->peer_live = server ? &shared->cli_live : &shared->srv_live;
  p->my_requests = server ? &shared->srv_notify : &shared->cli_notify;
  p->peer_requests = server ? &shared->cli_notify : &shared->srv_notify;
  memset(p->js_state, 0, STATE_WORDS * sizeof *p->js_state);
  p->last_peer_live = -1;
  if (p->fd >= 0) {
    int err = start_thread(env, p);
    if (err == 0 && napi_add_env_cleanup_hook(env, on_env_teardown, p) != napi_ok) err = ENOMEM;
    if (err != 0) {
      close_pump(p);
      return xw_throw_errno(env, err, "vchan pump: thread");
    }
  }
  return token;
}

/* vchanPumpStep(pump, chunk | null, offset): hands over the chunk to write from `offset` (null:
 * none; the chunk the pump already holds goes on from where it is), moves what can move now and
 * hands the caller the outcome. */
static napi_value js_pump_step(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!xw_args(env, info, 3, argv)) return NULL;
  struct pump *p = get_pump(env, argv[0], true);
  if (p == NULL) return NULL;
  napi_valuetype type;
  XW_CHECK(env, napi_typeof(env, argv[1], &type));
  uint64_t offset;
  if (!xw_arg_uint(env, argv[2], INT32_MAX, "offset", &offset)) return NULL;
  uint8_t *chunk = NULL;
  size_t length = 0;
  if (type != napi_null) {
    if (!get_bytes(env, argv[1], "chunk", &chunk, &length, NULL)) return NULL;
    if (length > INT32_MAX || offset > length) {
      return xw_throw_errno(env, EINVAL, "vchan pump: offset past the chunk");
    }
  }
  pthread_mutex_lock(&p->lock);
  /* The chunk the pump holds goes on from where the thread got to: the caller's offset is the
   * one last handed over, and may be behind. */
  if (chunk == NULL || chunk != p->chunk || length != p->chunk_length) {
    napi_ref ref = NULL;
    if (chunk != NULL && napi_create_reference(env, argv[1], 1, &ref) != napi_ok) {
      pthread_mutex_unlock(&p->lock);
      return xw_throw_errno(env, ENOMEM, "vchan pump");
    }
    release_chunk(p);
    p->chunk_ref = ref;
    p->chunk = chunk;
    p->chunk_length = (uint32_t)length;
    p->state[STATE_OFFSET] = (int32_t)offset;
  }
  step(p);
  p->last_peer_live = p->state[STATE_PEER_LIVE];
  hand_over(p);
  pthread_mutex_unlock(&p->lock);
  return xw_undefined(env);
}

/* vchanPumpTake(pump): hands the caller what the thread's rounds did since it last looked. */
static napi_value js_pump_take(napi_env env, napi_callback_info info) {
  struct pump *p = only_pump(env, info, true);
  if (p == NULL) return NULL;
  hand_over_locked(p);
  return xw_undefined(env);
}

/* vchanPumpClose(pump): stops the thread, hands the caller what its last rounds did (bytes it
 * read are out of the ring already), and lets go of the memory; a second call is harmless. */
static napi_value js_pump_close(napi_env env, napi_callback_info info) {
  struct pump *p = only_pump(env, info, false);
  if (p == NULL) return NULL;
  if (!p->closed) {
    stop_thread(p);
    hand_over_locked(p);
  }
  close_pump(p);
  return xw_undefined(env);
}

void xw_init_vchan_pump(napi_env env, napi_value exports) {
  xw_export(env, exports, "vchanPumpOpen", js_pump_open);
  xw_export(env, exports, "vchanPumpStep", js_pump_step);
  xw_export(env, exports, "vchanPumpTake", js_pump_take);
  xw_export(env, exports, "vchanPumpClose", js_pump_close);
}
