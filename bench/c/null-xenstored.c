/*
 * A xenstore daemon that does nothing: the most any daemon can give a client on this machine.
 *
 *   null-xenstored SOCKET
 *
 * Listens on the unix socket SOCKET, prints {"socketPath":"SOCKET"} once it does, and answers
 * every whole request it reads at once, in one write, with a reply of the request's own type, id
 * and transaction carrying "OK\0": libxenstore takes that as success for WRITE, MKDIR and RM and
 * as a 3-byte value for READ, which is all the C loop's write-read workload asks (it never looks
 * at what it reads). It keeps no store, checks nothing and serves its connections from one poll
 * loop, as C xenstored does: its cost per request is a poll, a read and a write, the least a
 * daemon can spend, so the C loop's rate against it is the most any daemon can reach under that
 * loop. It exits when its stdin closes (the bench's lifeline) or on SIGTERM.
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <xen/io/xs_wire.h>

#define MAX_CONNECTIONS 64
#define BUFFER (2 * (sizeof(struct xsd_sockmsg) + XENSTORE_PAYLOAD_MAX))

struct connection {
	int fd;
	size_t held;
	unsigned char buffer[BUFFER];
};

static struct connection connections[MAX_CONNECTIONS];
static struct pollfd polled[MAX_CONNECTIONS + 2];

static void die(const char *what)
{
	fprintf(stderr, "null-xenstored: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int listen_on(const char *path)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(address.sun_path)) {
		errno = ENAMETOOLONG;
		die(path);
	}
	strcpy(address.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0)
		die("socket");
	if (bind(fd, (struct sockaddr *)&address, sizeof(address)) < 0)
		die("bind");
	if (listen(fd, MAX_CONNECTIONS) < 0)
		die("listen");
	return fd;
}

/* Answers every whole request held; false when the peer sent something no daemon would take. */
static int answer(struct connection *c)
{
	static const char ok[] = "OK";
	size_t offset = 0;
	while (c->held - offset >= sizeof(struct xsd_sockmsg)) {
		struct xsd_sockmsg request;
		memcpy(&request, c->buffer + offset, sizeof(request));
		if (request.len > XENSTORE_PAYLOAD_MAX)
			return 0;
		if (c->held - offset < sizeof(request) + request.len)
			break;
		offset += sizeof(request) + request.len;
		unsigned char reply[sizeof(struct xsd_sockmsg) + sizeof(ok)];
		struct xsd_sockmsg header = request;
		header.len = sizeof(ok);
		memcpy(reply, &header, sizeof(header));
		memcpy(reply + sizeof(header), ok, sizeof(ok));
		if (write(c->fd, reply, sizeof(reply)) != (ssize_t)sizeof(reply))
			return 0;
	}
	memmove(c->buffer, c->buffer + offset, c->held - offset);
	c->held -= offset;
	return 1;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: null-xenstored SOCKET\n");
		return 2;
	}
	int listener = listen_on(argv[1]);
	printf("{\"socketPath\":\"%s\"}\n", argv[1]);
	fflush(stdout);
	size_t open = 0;
	for (;;) {
		polled[0] = (struct pollfd){ .fd = STDIN_FILENO, .events = POLLIN };
		polled[1] = (struct pollfd){ .fd = listener, .events = POLLIN };
		for (size_t i = 0; i < open; i++)
			polled[i + 2] = (struct pollfd){ .fd = connections[i].fd, .events = POLLIN };
		if (poll(polled, open + 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (polled[0].revents)
			break;
		for (size_t i = open; i-- > 0;) {
			if (!polled[i + 2].revents)
				continue;
			struct connection *c = &connections[i];
			ssize_t n = read(c->fd, c->buffer + c->held, BUFFER - c->held);
			if (n > 0) {
				c->held += n;
				if (answer(c))
					continue;
			} else if (n < 0 && errno == EINTR) {
				continue;
			}
			close(c->fd);
			connections[i] = connections[--open];
		}
		if (polled[1].revents && open < MAX_CONNECTIONS) {
			int fd = accept(listener, NULL, NULL);
			if (fd >= 0)
				connections[open++] = (struct connection){ .fd = fd };
		}
	}
	unlink(argv[1]);
	return 0;
}
