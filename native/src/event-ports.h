/* Reading the ports that fired from an event-channel descriptor, for the watch that reads them
 * itself (fd-watch.c), and unmasking them again on /dev/xen/evtchn. */
#ifndef XENWIRE_EVENT_PORTS_H
#define XENWIRE_EVENT_PORTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Unix datagram event channels: up to `max` queued datagrams, in one system call; the count of
 * ports read, 0 when none is queued, or -errno. Datagrams that are not exactly 4 bytes are
 * dropped and counted in `*malformed`. */
ssize_t xw_dgram_receive_ports(int fd, uint32_t *ports, size_t max, uint32_t *malformed);

/* /dev/xen/evtchn: up to `max` pending (and now masked) ports; the count, 0 when none, or -errno. */
ssize_t xw_evtchn_read_ports(int fd, uint32_t *ports, size_t max);

/* /dev/xen/evtchn: unmasks `count` ports; 0 or -errno. */
int xw_evtchn_unmask_ports(int fd, const uint32_t *ports, size_t count);

/* Keeps the first occurrence of each port, in order; returns how many are left. */
size_t xw_unique_ports(uint32_t *ports, size_t count);

#endif
