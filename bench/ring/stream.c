/*
 * The C side of the ring benchmarks: the same two-thread streams as worker.ts, with pthreads on
 * the same layouts, Xen's own headers and the same notification rules, doorbells being futexes
 * on a counter (what AtomicsEvent does in JavaScript).
 *
 *   stream bytes COUNT MILLISECONDS MESSAGE_SIZE    xenstore page: guest writes, server reads
 *   stream requests COUNT MILLISECONDS 64           ring.h ring of 64-byte entries, round trips
 *   stream inline COUNT MILLISECONDS 64             the same ring, both ends in one thread
 *
 * The stream runs when the bench says start and reports the count (bytes or messages) with
 * notifications per message as an extra figure (bench/c/measured.h).
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define mb() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define rmb() __atomic_thread_fence(__ATOMIC_ACQUIRE)
#define wmb() __atomic_thread_fence(__ATOMIC_RELEASE)
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>

#include "../c/measured.h"

struct msg { uint32_t seq; unsigned char pad[60]; };
DEFINE_RING_TYPES(bench, struct msg, struct msg);

static union { struct xenstore_domain_interface xs; unsigned char page[4096]; } __attribute__((aligned(4096))) shared;
/* Doorbell 0 wakes the producer (or front), 1 the consumer (or back): a count of signals and
 * the number of threads asleep on it, as AtomicsEvent keeps them. */
static int bell[2], sleepers[2];
static volatile int64_t total = -1;
static uint64_t count, message_size, notifications[2], messages;
static double deadline, started, finished;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}

static void ring_bell(int which, int from) {
  notifications[from]++;
  __atomic_fetch_add(&bell[which], 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&sleepers[which], __ATOMIC_SEQ_CST))
    syscall(SYS_futex, &bell[which], FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static int snapshot(int which) { return __atomic_load_n(&bell[which], __ATOMIC_SEQ_CST); }

static void wait_bell(int which, int seen) {
  __atomic_fetch_add(&sleepers[which], 1, __ATOMIC_SEQ_CST);
  syscall(SYS_futex, &bell[which], FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
  __atomic_fetch_sub(&sleepers[which], 1, __ATOMIC_SEQ_CST);
}

static unsigned char source[65537];

static void *byte_producer(void *arg) {
  (void)arg;
  struct xenstore_domain_interface *intf = &shared.xs;
  uint64_t sent = 0;
  while (sent < count && now() < deadline) {
    uint64_t left = message_size < count - sent ? message_size : count - sent;
    messages++;
    while (left) {
      int seen = snapshot(0);
      XENSTORE_RING_IDX cons = __atomic_load_n(&intf->req_cons, __ATOMIC_SEQ_CST);
      XENSTORE_RING_IDX prod = __atomic_load_n(&intf->req_prod, __ATOMIC_SEQ_CST);
      uint32_t n = XENSTORE_RING_SIZE - (prod - cons);
      if (n > left) n = left;
      uint32_t at = sent % sizeof(source);
      if (n > sizeof(source) - at) n = sizeof(source) - at;
      if (!n) { wait_bell(0, seen); continue; }
      uint32_t off = MASK_XENSTORE_IDX(prod), first = XENSTORE_RING_SIZE - off < n ? XENSTORE_RING_SIZE - off : n;
      memcpy(intf->req + off, source + at, first);
      memcpy(intf->req, source + at + first, n - first);
      __atomic_store_n(&intf->req_prod, prod + n, __ATOMIC_SEQ_CST);
      if ((XENSTORE_RING_IDX)(prod + n - __atomic_load_n(&intf->req_cons, __ATOMIC_SEQ_CST)) <= n) ring_bell(1, 0);
      sent += n;
      left -= n;
    }
  }
  __atomic_store_n(&total, (int64_t)sent, __ATOMIC_SEQ_CST);
  ring_bell(1, 0);
  return NULL;
}

static void *byte_consumer(void *arg) {
  (void)arg;
  struct xenstore_domain_interface *intf = &shared.xs;
  static unsigned char buf[XENSTORE_RING_SIZE];
  uint64_t got = 0;
  for (;;) {
    int seen = snapshot(1);
    XENSTORE_RING_IDX cons = __atomic_load_n(&intf->req_cons, __ATOMIC_SEQ_CST);
    XENSTORE_RING_IDX prod = __atomic_load_n(&intf->req_prod, __ATOMIC_SEQ_CST);
    uint32_t n = prod - cons;
    if (n) {
      uint32_t off = MASK_XENSTORE_IDX(cons), first = XENSTORE_RING_SIZE - off < n ? XENSTORE_RING_SIZE - off : n;
      memcpy(buf, intf->req + off, first);
      memcpy(buf + first, intf->req, n - first);
      __atomic_store_n(&intf->req_cons, cons + n, __ATOMIC_SEQ_CST);
      if ((XENSTORE_RING_IDX)(__atomic_load_n(&intf->req_prod, __ATOMIC_SEQ_CST) - cons) >= XENSTORE_RING_SIZE) ring_bell(0, 1);
      got += n;
      continue;
    }
    int64_t expected = __atomic_load_n(&total, __ATOMIC_SEQ_CST);
    if (expected >= 0 && got == (uint64_t)expected) break;
    wait_bell(1, seen);
  }
  finished = now();
  return NULL;
}

static bench_front_ring_t front;
static bench_back_ring_t back;

/* Consumes every waiting response, checking they come in order; returns how many. */
static uint64_t take_responses(uint64_t *received) {
  uint64_t taken = 0;
  while (RING_HAS_UNCONSUMED_RESPONSES(&front)) {
    struct msg rsp;
    RING_COPY_RESPONSE(&front, front.rsp_cons, &rsp);
    if (rsp.seq != (uint32_t)*received) { fprintf(stderr, "out of order\n"); exit(1); }
    front.rsp_cons++;
    (*received)++;
    taken++;
  }
  return taken;
}

static void *frontend(void *arg) {
  (void)arg;
  uint64_t sent = 0, received = 0;
  int stopped = 0, notify;
  for (;;) {
    int seen = snapshot(0), progress = 0;
    if (!stopped && (sent >= count || now() >= deadline)) {
      stopped = 1;
      __atomic_store_n(&total, (int64_t)sent, __ATOMIC_SEQ_CST);
      ring_bell(1, 0);
    }
    while (!stopped && !RING_FULL(&front) && sent < count) {
      RING_GET_REQUEST(&front, front.req_prod_pvt)->seq = (uint32_t)sent++;
      front.req_prod_pvt++;
      progress++;
    }
    if (progress) {
      RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
      if (notify) ring_bell(1, 0);
    }
    uint64_t taken = take_responses(&received);
    progress += (int)taken;
    if (stopped && received == sent) break;
    int work;
    if (!progress) {
      RING_FINAL_CHECK_FOR_RESPONSES(&front, work);
      if (!work) wait_bell(0, seen);
    }
  }
  messages = sent;
  finished = now();
  return NULL;
}

static void *backend(void *arg) {
  (void)arg;
  uint64_t done = 0;
  int notify, work;
  for (;;) {
    int seen = snapshot(1), n = 0;
    while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
      struct msg req;
      RING_COPY_REQUEST(&back, back.req_cons, &req);
      back.req_cons++;
      *RING_GET_RESPONSE(&back, back.rsp_prod_pvt) = req;
      back.rsp_prod_pvt++;
      n++;
    }
    if (n) {
      done += n;
      RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&back, notify);
      if (notify) ring_bell(0, 1);
      continue;
    }
    int64_t expected = __atomic_load_n(&total, __ATOMIC_SEQ_CST);
    if (expected >= 0 && done == (uint64_t)expected) break;
    RING_FINAL_CHECK_FOR_REQUESTS(&back, work);
    if (!work) wait_bell(1, seen);
  }
  return NULL;
}

/* Both ends in turn in one thread: the cost of the ring code alone, no wake-ups. */
static void one_thread(void) {
  uint64_t sent = 0, received = 0;
  int notify;
  while (sent < count && now() < deadline) {
    while (!RING_FULL(&front) && sent < count) {
      RING_GET_REQUEST(&front, front.req_prod_pvt)->seq = (uint32_t)sent++;
      front.req_prod_pvt++;
    }
    RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&front, notify);
    while (RING_HAS_UNCONSUMED_REQUESTS(&back)) {
      struct msg req;
      RING_COPY_REQUEST(&back, back.req_cons, &req);
      back.req_cons++;
      *RING_GET_RESPONSE(&back, back.rsp_prod_pvt) = req;
      back.rsp_prod_pvt++;
    }
    RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&back, notify);
    take_responses(&received);
  }
  (void)notify;
  total = (int64_t)received;
  messages = received;
  finished = now();
}

int main(int argc, char **argv) {
  if (argc != 5) { fprintf(stderr, "usage: stream bytes|requests COUNT MS SIZE\n"); return 2; }
  int bytes = !strcmp(argv[1], "bytes");
  count = strtoull(argv[2], NULL, 10);
  message_size = strtoull(argv[4], NULL, 10);
  for (size_t i = 0; i < sizeof(source); i++) source[i] = (unsigned char)rand();
  if (!bytes) {
    XEN_FRONT_RING_INIT(&front, (bench_sring_t *)shared.page, 4096);
    BACK_RING_INIT(&back, (bench_sring_t *)shared.page, 4096);
  }
  struct measured m;
  measured_start(&m);
  started = now();
  deadline = started + atof(argv[3]) / 1000;
  if (!strcmp(argv[1], "inline")) {
    one_thread();
  } else {
    pthread_t a, b;
    pthread_create(&b, NULL, bytes ? byte_consumer : backend, NULL);
    pthread_create(&a, NULL, bytes ? byte_producer : frontend, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
  }
  measured_stop(&m);
  m.wall = finished - started;
  char extra[64];
  snprintf(extra, sizeof(extra), "\"notifications/msg\":%.6f",
           (double)(notifications[0] + notifications[1]) / (double)messages);
  measured_report_extra(&m, (long)total, extra);
  return 0;
}
