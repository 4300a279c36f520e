/*
 * Baseline for bench/evtchn.bench.ts: two threads bouncing a notification back and forth
 * through futexes, the cheapest cross-thread wake-up the kernel offers. Each side sleeps in
 * FUTEX_WAIT until its word changes, like a vCPU blocked on an event channel.
 * Usage: futex-ping-pong ROUNDS; the rounds run when the bench says start, and the report
 * counts round trips (bench/c/measured.h).
 */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../c/measured.h"

static _Atomic uint32_t ping, pong;
static long rounds;

static void wait_for_change(_Atomic uint32_t *word, uint32_t seen) {
  while (atomic_load(word) == seen) {
    syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
  }
}

static void post(_Atomic uint32_t *word) {
  atomic_fetch_add(word, 1);
  syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static void *answer(void *unused) {
  (void)unused;
  for (long i = 0; i < rounds; i++) {
    wait_for_change(&ping, (uint32_t)i);
    post(&pong);
  }
  return NULL;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atol(argv[1]) : 100000;
  if (rounds <= 0) {
    fprintf(stderr, "usage: %s ROUNDS\n", argv[0]);
    return 2;
  }
  pthread_t thread;
  if (pthread_create(&thread, NULL, answer, NULL) != 0) return 1;
  struct measured m;
  measured_start(&m);
  for (long i = 0; i < rounds; i++) {
    post(&ping);
    wait_for_change(&pong, (uint32_t)i);
  }
  pthread_join(thread, NULL);
  measured_stop(&m);
  measured_report(&m, rounds);
  return 0;
}
