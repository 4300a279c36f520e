/*
 * The measured side of the bench's handshake (bench/lib/measured-process.ts is the other side),
 * for C programs. One line each way, on stdin and stdout:
 *
 *   program -> bench   {"ready":true[,"pids":{"daemon":PID}]}   set-up done, nothing running
 *   bench -> program   start                                   the bench has read its clocks
 *   program -> bench   {"ops":N,"seconds":S,"cpuSeconds":C}    the loop is over
 *   bench -> program   (end of file)                           the bench has read its clocks
 *
 * after which the program cleans up, untimed, and exits 0. The bench does nothing between
 * "start" and the report, so nothing of it is running while the loop is measured. seconds is the
 * loop's wall time on CLOCK_MONOTONIC; cpuSeconds is this process's user + system time over the
 * loop, all threads included, from getrusage(RUSAGE_SELF): the kernel's own accounting.
 */
#ifndef BENCH_MEASURED_H
#define BENCH_MEASURED_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct measured {
	/* Clock readings at the start, then the elapsed figures once stopped. */
	double wall, cpu;
};

static inline double measured_wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline double measured_timeval(struct timeval tv)
{
	return tv.tv_sec + tv.tv_usec / 1e6;
}

static inline double measured_cpu_now(void)
{
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	return measured_timeval(usage.ru_utime) + measured_timeval(usage.ru_stime);
}

/* Says ready (with ready_fields, e.g. "\"pids\":{\"daemon\":12}", appended when not NULL),
 * waits for the bench's start and reads the clocks. */
static inline void measured_start_with(struct measured *m, const char *ready_fields)
{
	char line[64];
	printf("{\"ready\":true%s%s}\n", ready_fields ? "," : "", ready_fields ? ready_fields : "");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || strcmp(line, "start\n") != 0) {
		fprintf(stderr, "measured: expected \"start\" on stdin\n");
		exit(1);
	}
	m->cpu = measured_cpu_now();
	m->wall = measured_wall_now();
}

static inline void measured_start(struct measured *m)
{
	measured_start_with(m, NULL);
}

static inline void measured_stop(struct measured *m)
{
	m->wall = measured_wall_now() - m->wall;
	m->cpu = measured_cpu_now() - m->cpu;
}

/* Reports a stopped measurement of ops operations with further figures (extra_fields, e.g.
 * "\"notifications/msg\":0.5", when not NULL), then waits for the bench to close stdin. */
static inline void measured_report_extra(const struct measured *m, long ops,
					 const char *extra_fields)
{
	char rest[64];
	printf("{\"ops\":%ld,\"seconds\":%.9f,\"cpuSeconds\":%.9f%s%s%s}\n", ops, m->wall, m->cpu,
	       extra_fields ? ",\"extra\":{" : "", extra_fields ? extra_fields : "",
	       extra_fields ? "}" : "");
	fflush(stdout);
	while (fgets(rest, sizeof(rest), stdin))
		;
}

static inline void measured_report(const struct measured *m, long ops)
{
	measured_report_extra(m, ops, NULL);
}

#endif
