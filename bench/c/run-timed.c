/*
 * Whole-process timing of a command, start-up and exit included, as a user waits for it:
 *
 *   run-timed CALLS COMMAND [ARG ...]
 *
 * When the bench says start (measured.h), runs COMMAND CALLS times, one after the other, each
 * from fork to reaping, with stdin and stdout on /dev/null (stderr is left alone, so that a
 * failing call says why). The report counts calls: seconds is the wall time of them all, and
 * cpuSeconds is the commands' own user + system time as wait4() reports it for each finished
 * child, not this launcher's. maxRssKiB, an extra figure, is the largest peak resident set of
 * any call. Any call exiting other than 0 fails the run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "measured.h"

static void die(const char *what)
{
	fprintf(stderr, "run-timed: %s: %s\n", what, strerror(errno));
	exit(1);
}

int main(int argc, char **argv)
{
	if (argc < 3 || atol(argv[1]) <= 0) {
		fprintf(stderr, "usage: run-timed CALLS COMMAND [ARG ...]\n");
		return 2;
	}
	long calls = atol(argv[1]);
	int null = open("/dev/null", O_RDWR);
	if (null < 0)
		die("/dev/null");
	double cpu = 0;
	long max_rss = 0;
	struct measured m;
	measured_start(&m);
	for (long i = 0; i < calls; i++) {
		pid_t child = fork();
		if (child < 0)
			die("fork");
		if (child == 0) {
			dup2(null, 0);
			dup2(null, 1);
			execvp(argv[2], argv + 2);
			die(argv[2]);
		}
		int status;
		struct rusage usage;
		if (wait4(child, &status, 0, &usage) < 0)
			die("wait4");
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "run-timed: %s failed (status %d)\n", argv[2], status);
			return 1;
		}
		cpu += measured_timeval(usage.ru_utime) + measured_timeval(usage.ru_stime);
		if (usage.ru_maxrss > max_rss)
			max_rss = usage.ru_maxrss;
	}
	measured_stop(&m);
	m.cpu = cpu;
	char extra[64];
	snprintf(extra, sizeof(extra), "\"maxRssKiB\":%ld", max_rss);
	measured_report_extra(&m, calls, extra);
	return 0;
}
