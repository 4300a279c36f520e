/*
 * A xenstore client written the way a guest kernel's xenbus is: it puts requests into the
 * xenstore ring page (struct xenstore_domain_interface, xs_wire.h), notifies xenstored, and
 * waits for the reply on its event channel. Under the test harness the page is a file the daemon
 * maps (dom0's xsd_kva) and an event channel is a unix datagram socket carrying port numbers
 * (harness/README.md). This is the baseline the TypeScript ring transport is measured against.
 *
 *   ring-loop PAGE DAEMON_SOCKET OWN_SOCKET PORT WORKLOAD OPS SIZE BASE
 *
 * WORKLOAD is read or write, exactly as in bench/c/xs-loop.c: OPS requests of one SIZE-byte
 * value at BASE/value, one at a time. BASE/value is written first and BASE removed afterwards,
 * both untimed; the loop alone is measured, started and reported through bench/c/measured.h.
 *
 * Notifications follow Linux's xenbus_comms.c: after writing, only if xenstored had consumed
 * everything before; after reading, only if the ring was full.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#include "../c/measured.h"

static struct xenstore_domain_interface *intf;
static int sock;
static struct sockaddr_un daemon_addr;
static uint32_t port;
static char reply[sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX];

static void die(const char *what)
{
	fprintf(stderr, "ring-loop: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void notify(void)
{
	/* A full or absent daemon queue loses the kick, as on Xen when nobody waits. */
	sendto(sock, &port, sizeof(port), MSG_DONTWAIT, (struct sockaddr *)&daemon_addr,
	       sizeof(daemon_addr));
}

/* Blocks until the daemon kicks our port (or anything else arrives on the socket). */
static void wait_event(void)
{
	uint32_t got;
	if (recv(sock, &got, sizeof(got), 0) < 0 && errno != EINTR)
		die("recv");
}

static void ring_write(const char *data, uint32_t len)
{
	while (len > 0) {
		uint32_t cons = __atomic_load_n(&intf->req_cons, __ATOMIC_SEQ_CST);
		uint32_t prod = intf->req_prod;
		uint32_t space = XENSTORE_RING_SIZE - (prod - cons);
		if (space == 0) {
			wait_event();
			continue;
		}
		uint32_t at = MASK_XENSTORE_IDX(prod);
		uint32_t n = len < space ? len : space;
		if (n > XENSTORE_RING_SIZE - at)
			n = XENSTORE_RING_SIZE - at;
		memcpy(intf->req + at, data, n);
		__atomic_store_n(&intf->req_prod, prod + n, __ATOMIC_SEQ_CST);
		if (prod <= __atomic_load_n(&intf->req_cons, __ATOMIC_SEQ_CST))
			notify();
		data += n;
		len -= n;
	}
}

static void ring_read(char *data, uint32_t len)
{
	while (len > 0) {
		uint32_t prod = __atomic_load_n(&intf->rsp_prod, __ATOMIC_SEQ_CST);
		uint32_t cons = intf->rsp_cons;
		uint32_t avail = prod - cons;
		if (avail == 0) {
			wait_event();
			continue;
		}
		uint32_t at = MASK_XENSTORE_IDX(cons);
		uint32_t n = len < avail ? len : avail;
		if (n > XENSTORE_RING_SIZE - at)
			n = XENSTORE_RING_SIZE - at;
		memcpy(data, intf->rsp + at, n);
		__atomic_store_n(&intf->rsp_cons, cons + n, __ATOMIC_SEQ_CST);
		if (__atomic_load_n(&intf->rsp_prod, __ATOMIC_SEQ_CST) - cons >= XENSTORE_RING_SIZE)
			notify();
		data += n;
		len -= n;
	}
}

/* One round trip; returns the reply type (XS_ERROR on failure). Skips watch events. */
static uint32_t request(uint32_t type, const char *a, uint32_t alen, const char *b,
			uint32_t blen)
{
	static uint32_t req_id;
	struct xsd_sockmsg msg = { .type = type, .req_id = ++req_id, .tx_id = 0,
				   .len = alen + blen };
	ring_write((const char *)&msg, sizeof(msg));
	ring_write(a, alen);
	if (blen)
		ring_write(b, blen);
	for (;;) {
		struct xsd_sockmsg *hdr = (struct xsd_sockmsg *)reply;
		ring_read(reply, sizeof(*hdr));
		if (hdr->len > XENSTORE_PAYLOAD_MAX) {
			errno = EPROTO;
			die("reply");
		}
		ring_read(reply + sizeof(*hdr), hdr->len);
		if (hdr->type != XS_WATCH_EVENT && hdr->req_id == req_id)
			return hdr->type;
	}
}

int main(int argc, char **argv)
{
	if (argc != 9) {
		fprintf(stderr,
			"usage: ring-loop PAGE DAEMON_SOCKET OWN_SOCKET PORT WORKLOAD OPS SIZE BASE\n");
		return 2;
	}
	const char *workload = argv[5];
	long ops = atol(argv[6]);
	long size = atol(argv[7]);
	const char *base = argv[8];
	int is_write = strcmp(workload, "write") == 0;
	if (!is_write && strcmp(workload, "read") != 0) {
		fprintf(stderr, "ring-loop: unknown workload %s\n", workload);
		return 2;
	}
	port = (uint32_t)atol(argv[4]);

	int fd = open(argv[1], O_RDWR);
	if (fd < 0)
		die(argv[1]);
	intf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (intf == MAP_FAILED)
		die("mmap");
	close(fd);

	sock = socket(AF_UNIX, SOCK_DGRAM, 0);
	if (sock < 0)
		die("socket");
	struct sockaddr_un own = { .sun_family = AF_UNIX };
	strncpy(own.sun_path, argv[3], sizeof(own.sun_path) - 1);
	unlink(own.sun_path);
	if (bind(sock, (struct sockaddr *)&own, sizeof(own)) < 0)
		die("bind");
	daemon_addr.sun_family = AF_UNIX;
	strncpy(daemon_addr.sun_path, argv[2], sizeof(daemon_addr.sun_path) - 1);

	char path[256];
	int plen = snprintf(path, sizeof(path), "%s/value", base) + 1;
	char *value = malloc(size ? size : 1);
	memset(value, 'v', size);
	if (request(XS_WRITE, path, plen, value, size) != XS_WRITE) {
		errno = EIO;
		die("initial write");
	}

	struct measured m;
	measured_start(&m);
	for (long i = 0; i < ops; i++) {
		uint32_t type = is_write ? request(XS_WRITE, path, plen, value, size)
					 : request(XS_READ, path, plen, NULL, 0);
		if (type == XS_ERROR) {
			errno = EIO;
			die(workload);
		}
	}
	measured_stop(&m);
	measured_report(&m, ops);

	request(XS_RM, base, strlen(base) + 1, NULL, 0);
	close(sock);
	unlink(own.sun_path);
	return 0;
}
