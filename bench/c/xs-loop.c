/*
 * The C side of the xenstore benchmarks: one libxenstore client running one workload in a
 * tight loop against whatever daemon XENSTORED_PATH names, timing only the loop.
 *
 *   xs-loop WORKLOAD OPS SIZE BASE
 *
 * WORKLOAD is one of
 *   read          xs_read of one SIZE-byte value                        (1 round trip per op)
 *   write         xs_write of one SIZE-byte value to the same node      (1 round trip per op)
 *   directory     xs_directory of a node with SIZE children             (1 round trip per op)
 *   txn-empty     start + commit of a transaction that touches nothing  (2 round trips per op)
 *   txn-rmw       start, read a counter, write it plus one, commit;
 *                 retried on EAGAIN (which nothing else provokes here)  (4 round trips per op)
 *   txn-conflict  start, read a node, a second connection writes it, write it in the
 *                 transaction, commit, which must fail with EAGAIN      (5 round trips per op)
 *   write-read    OPS writes of SIZE-byte values to distinct nodes, then OPS reads of them
 *                 (the op count reported is 2 * OPS)
 *   list          xs_directory of BASE itself, an existing node with SIZE children (a listing
 *                 too big for one reply takes several DIRECTORY_PART round trips)
 *   fill          OPS writes of SIZE-byte values to distinct nodes, named as in write-read,
 *                 which stay in the store: a tree to measure the daemon's memory with
 * Except for list and fill, everything lives under BASE, which is created first and removed
 * afterwards (both untimed); list and fill leave BASE alone.
 * Only the loop is measured: the program says when it is ready and runs the loop when the bench
 * says start, then reports ops, seconds and its own CPU time (measured.h).
 * The TypeScript client runs exactly the same sequences (bench/lib/client-loop.ts).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "measured.h"

static void die(const char *what, const char *path)
{
	fprintf(stderr, "xs-loop: %s %s: %s\n", what, path ? path : "", strerror(errno));
	exit(1);
}

static void put(struct xs_handle *h, xs_transaction_t t, const char *path, const char *value,
		size_t length)
{
	if (!xs_write(h, t, path, value, length))
		die("write", path);
}

static void *get(struct xs_handle *h, xs_transaction_t t, const char *path)
{
	unsigned int length;
	void *value = xs_read(h, t, path, &length);
	if (!value)
		die("read", path);
	return value;
}

/* Node names of the write-read workload: 100 children per directory keeps every directory
 * small, so neither daemon is measured on one huge children list. */
static void numbered(char *out, size_t size, const char *base, long i)
{
	snprintf(out, size, "%s/%ld/%ld", base, i / 100, i % 100);
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: xs-loop WORKLOAD OPS SIZE BASE\n");
		return 2;
	}
	const char *workload = argv[1];
	long ops = atol(argv[2]);
	long size = atol(argv[3]);
	const char *base = argv[4];
	struct xs_handle *h = xs_open(XS_OPEN_SOCKETONLY);
	if (!h)
		die("open", getenv("XENSTORED_PATH"));

	char path[512], other[512];
	/* For directory and list, SIZE counts children and the value stays empty. */
	bool listing = !strcmp(workload, "list");
	bool keep = listing || !strcmp(workload, "fill");
	long value_size = listing || !strcmp(workload, "directory") ? 0 : size;
	char *value = malloc(value_size + 1);
	memset(value, 'v', value_size);
	value[value_size] = '\0';
	snprintf(path, sizeof(path), "%s/value", base);
	if (!listing)
		put(h, XBT_NULL, path, value, value_size);

	long reported = ops;
	struct measured m;
	if (!strcmp(workload, "read")) {
		measured_start(&m);
		for (long i = 0; i < ops; i++)
			free(get(h, XBT_NULL, path));
		measured_stop(&m);
	} else if (!strcmp(workload, "write")) {
		measured_start(&m);
		for (long i = 0; i < ops; i++)
			put(h, XBT_NULL, path, value, value_size);
		measured_stop(&m);
	} else if (!strcmp(workload, "directory") || listing) {
		if (listing) {
			snprintf(path, sizeof(path), "%s", base);
		} else {
			for (long i = 0; i < size; i++) {
				snprintf(other, sizeof(other), "%s/dir/%ld", base, i);
				put(h, XBT_NULL, other, "", 0);
			}
			snprintf(path, sizeof(path), "%s/dir", base);
		}
		measured_start(&m);
		for (long i = 0; i < ops; i++) {
			unsigned int count;
			char **names = xs_directory(h, XBT_NULL, path, &count);
			if (!names || count != (unsigned)size)
				die("directory", path);
			free(names);
		}
		measured_stop(&m);
	} else if (!strcmp(workload, "txn-empty")) {
		measured_start(&m);
		for (long i = 0; i < ops; i++) {
			xs_transaction_t t = xs_transaction_start(h);
			if (t == XBT_NULL || !xs_transaction_end(h, t, false))
				die("empty transaction", NULL);
		}
		measured_stop(&m);
	} else if (!strcmp(workload, "txn-rmw")) {
		snprintf(path, sizeof(path), "%s/counter", base);
		put(h, XBT_NULL, path, "0", 1);
		measured_start(&m);
		for (long i = 0; i < ops; i++) {
			for (;;) {
				xs_transaction_t t = xs_transaction_start(h);
				if (t == XBT_NULL)
					die("transaction start", NULL);
				char *old = get(h, t, path);
				char next[32];
				int length = snprintf(next, sizeof(next), "%ld", atol(old) + 1);
				free(old);
				put(h, t, path, next, length);
				if (xs_transaction_end(h, t, false))
					break;
				if (errno != EAGAIN)
					die("transaction end", path);
			}
		}
		measured_stop(&m);
	} else if (!strcmp(workload, "txn-conflict")) {
		struct xs_handle *rival = xs_open(XS_OPEN_SOCKETONLY);
		if (!rival)
			die("open", getenv("XENSTORED_PATH"));
		measured_start(&m);
		for (long i = 0; i < ops; i++) {
			xs_transaction_t t = xs_transaction_start(h);
			if (t == XBT_NULL)
				die("transaction start", NULL);
			free(get(h, t, path));
			put(rival, XBT_NULL, path, "rival", 5);
			put(h, t, path, "mine", 4);
			if (xs_transaction_end(h, t, false) || errno != EAGAIN) {
				errno = EPROTO;
				die("conflicting transaction did not fail with EAGAIN", path);
			}
		}
		measured_stop(&m);
		xs_close(rival);
	} else if (!strcmp(workload, "write-read")) {
		measured_start(&m);
		for (long i = 0; i < ops; i++) {
			numbered(other, sizeof(other), base, i);
			put(h, XBT_NULL, other, value, value_size);
		}
		for (long i = 0; i < ops; i++) {
			numbered(other, sizeof(other), base, i);
			free(get(h, XBT_NULL, other));
		}
		measured_stop(&m);
		reported = 2 * ops;
	} else if (!strcmp(workload, "fill")) {
		measured_start(&m);
		for (long i = 0; i < ops; i++) {
			numbered(other, sizeof(other), base, i);
			put(h, XBT_NULL, other, value, value_size);
		}
		measured_stop(&m);
	} else {
		fprintf(stderr, "xs-loop: unknown workload %s\n", workload);
		return 2;
	}

	measured_report(&m, reported);
	if (!keep && !xs_rm(h, XBT_NULL, base))
		die("rm", base);
	xs_close(h);
	free(value);
	return 0;
}
