/*
 * The floor: the least a one-at-a-time xenstore round trip costs on this machine. A client (this
 * process) and a server (a forked child) exchange xenstore-sized frames, a 16-byte xsd_sockmsg
 * header and a 9-byte payload each way, one at a time, blocking, doing no work on them:
 *
 *   floor socket OPS   over a unix stream socketpair: one write and one read per frame
 *   floor ring OPS     over a shared xenstore ring page (struct xenstore_domain_interface), each
 *                      side sleeping on a futex doorbell until the other rings it, as the ring
 *                      streams of bench/ring/stream.c do
 *
 * No xenstore client or daemon can do less per round trip over the same medium. The loop runs
 * when the bench says start (measured.h); the ready line names the server as the daemon, so the
 * bench charges the server its own CPU time.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "measured.h"

#define PAYLOAD "/bench/v"
#define FRAME (sizeof(struct xsd_sockmsg) + sizeof(PAYLOAD))

static void die(const char *what)
{
	fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void frame(unsigned char *out, uint32_t type, uint32_t req_id)
{
	struct xsd_sockmsg header = { .type = type, .req_id = req_id, .len = sizeof(PAYLOAD) };
	memcpy(out, &header, sizeof(header));
	memcpy(out + sizeof(header), PAYLOAD, sizeof(PAYLOAD));
}

/* Reads exactly len bytes; false at end of file. */
static int read_full(int fd, unsigned char *to, size_t len)
{
	while (len > 0) {
		ssize_t n = read(fd, to, len);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("read");
		}
		to += n;
		len -= n;
	}
	return 1;
}

static void write_full(int fd, const unsigned char *from, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, from, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		from += n;
		len -= n;
	}
}

/* The shared pages of the ring floor: the xenstore page, then two doorbells, each a count of
 * rings and the number of sleepers on it (as AtomicsEvent and stream.c keep them). */
struct shared {
	struct xenstore_domain_interface page;
	unsigned char pad[4096 - sizeof(struct xenstore_domain_interface)];
	int bell[2], sleepers[2], stop;
};
enum { CLIENT, SERVER };

static struct shared *shared;

static void ring_bell(int which)
{
	__atomic_fetch_add(&shared->bell[which], 1, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&shared->sleepers[which], __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &shared->bell[which], FUTEX_WAKE, 1, NULL, NULL, 0);
}

static void wait_bell(int which, int seen)
{
	__atomic_fetch_add(&shared->sleepers[which], 1, __ATOMIC_SEQ_CST);
	syscall(SYS_futex, &shared->bell[which], FUTEX_WAIT, seen, NULL, NULL, 0);
	__atomic_fetch_sub(&shared->sleepers[which], 1, __ATOMIC_SEQ_CST);
}

/* Copies len bytes into a ring whose free space the caller has checked, and publishes them. */
static void ring_put(char *ring, XENSTORE_RING_IDX *prod, const unsigned char *from, uint32_t len)
{
	XENSTORE_RING_IDX at = __atomic_load_n(prod, __ATOMIC_SEQ_CST);
	uint32_t off = MASK_XENSTORE_IDX(at), first = XENSTORE_RING_SIZE - off;
	if (first > len)
		first = len;
	memcpy(ring + off, from, first);
	memcpy(ring, from + first, len - first);
	__atomic_store_n(prod, at + len, __ATOMIC_SEQ_CST);
}

/* Takes len bytes from a ring, sleeping on the doorbell `bell` until they are there; false if
 * the client said stop first. */
static int ring_take(const char *ring, XENSTORE_RING_IDX *cons, XENSTORE_RING_IDX *prod, int bell,
		     unsigned char *to, uint32_t len)
{
	for (;;) {
		int seen = __atomic_load_n(&shared->bell[bell], __ATOMIC_SEQ_CST);
		XENSTORE_RING_IDX at = __atomic_load_n(cons, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(prod, __ATOMIC_SEQ_CST) - at >= len) {
			uint32_t off = MASK_XENSTORE_IDX(at), first = XENSTORE_RING_SIZE - off;
			if (first > len)
				first = len;
			memcpy(to, ring + off, first);
			memcpy(to + first, ring, len - first);
			__atomic_store_n(cons, at + len, __ATOMIC_SEQ_CST);
			return 1;
		}
		if (__atomic_load_n(&shared->stop, __ATOMIC_SEQ_CST))
			return 0;
		wait_bell(bell, seen);
	}
}

static void serve_socket(int fd)
{
	unsigned char request[FRAME], reply[FRAME];
	while (read_full(fd, request, FRAME)) {
		frame(reply, XS_READ, ((struct xsd_sockmsg *)request)->req_id);
		write_full(fd, reply, FRAME);
	}
	exit(0);
}

static void serve_ring(void)
{
	struct xenstore_domain_interface *intf = &shared->page;
	unsigned char request[FRAME], reply[FRAME];
	while (ring_take(intf->req, &intf->req_cons, &intf->req_prod, SERVER, request, FRAME)) {
		frame(reply, XS_READ, ((struct xsd_sockmsg *)request)->req_id);
		ring_put(intf->rsp, &intf->rsp_prod, reply, FRAME);
		ring_bell(CLIENT);
	}
	exit(0);
}

static void round_trip_socket(int fd, uint32_t id)
{
	unsigned char request[FRAME], reply[FRAME];
	frame(request, XS_READ, id);
	write_full(fd, request, FRAME);
	if (!read_full(fd, reply, FRAME))
		die("server closed");
}

static void round_trip_ring(uint32_t id)
{
	struct xenstore_domain_interface *intf = &shared->page;
	unsigned char request[FRAME], reply[FRAME];
	frame(request, XS_READ, id);
	ring_put(intf->req, &intf->req_prod, request, FRAME);
	ring_bell(SERVER);
	ring_take(intf->rsp, &intf->rsp_cons, &intf->rsp_prod, CLIENT, reply, FRAME);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "socket") && strcmp(argv[1], "ring"))) {
		fprintf(stderr, "usage: floor socket|ring OPS\n");
		return 2;
	}
	int ring = !strcmp(argv[1], "ring");
	long ops = atol(argv[2]);
	int fds[2] = { -1, -1 };
	if (ring) {
		shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (shared == MAP_FAILED)
			die("mmap");
	} else if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) < 0) {
		die("socketpair");
	}
	fflush(stdout);
	pid_t server = fork();
	if (server < 0)
		die("fork");
	if (server == 0) {
		if (ring)
			serve_ring();
		close(fds[0]);
		serve_socket(fds[1]);
	}
	if (!ring)
		close(fds[1]);

	char pids[64];
	snprintf(pids, sizeof(pids), "\"pids\":{\"daemon\":%d}", (int)server);
	struct measured m;
	measured_start_with(&m, pids);
	for (long i = 0; i < ops; i++) {
		if (ring)
			round_trip_ring((uint32_t)i);
		else
			round_trip_socket(fds[0], (uint32_t)i);
	}
	measured_stop(&m);
	measured_report(&m, ops);

	if (ring) {
		__atomic_store_n(&shared->stop, 1, __ATOMIC_SEQ_CST);
		ring_bell(SERVER);
	} else {
		close(fds[0]);
	}
	int status;
	if (waitpid(server, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "floor: the server failed\n");
		return 1;
	}
	return 0;
}
