/*
 * The ioctl ABI of Linux's /dev/xen/evtchn, /dev/xen/gntdev and /dev/xen/gntalloc, written out
 * here rather than included so the addon builds on systems without the Xen uapi headers. A test
 * compiles a program against the real headers and compares every number and offset below.
 */
#ifndef XENWIRE_XEN_ABI_H
#define XENWIRE_XEN_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>

struct xw_evtchn_bind_virq { unsigned int virq; };
struct xw_evtchn_bind_interdomain { unsigned int remote_domain, remote_port; };
struct xw_evtchn_bind_unbound_port { unsigned int remote_domain; };
struct xw_evtchn_port { unsigned int port; }; /* unbind and notify */
struct xw_evtchn_restrict_domid { uint16_t domid; };

#define XW_IOCTL_EVTCHN_BIND_VIRQ _IOC(_IOC_NONE, 'E', 0, sizeof(struct xw_evtchn_bind_virq))
#define XW_IOCTL_EVTCHN_BIND_INTERDOMAIN \
  _IOC(_IOC_NONE, 'E', 1, sizeof(struct xw_evtchn_bind_interdomain))
#define XW_IOCTL_EVTCHN_BIND_UNBOUND_PORT \
  _IOC(_IOC_NONE, 'E', 2, sizeof(struct xw_evtchn_bind_unbound_port))
#define XW_IOCTL_EVTCHN_UNBIND _IOC(_IOC_NONE, 'E', 3, sizeof(struct xw_evtchn_port))
#define XW_IOCTL_EVTCHN_NOTIFY _IOC(_IOC_NONE, 'E', 4, sizeof(struct xw_evtchn_port))
#define XW_IOCTL_EVTCHN_RESET _IOC(_IOC_NONE, 'E', 5, 0)
#define XW_IOCTL_EVTCHN_RESTRICT_DOMID \
  _IOC(_IOC_NONE, 'E', 6, sizeof(struct xw_evtchn_restrict_domid))

struct xw_gntdev_grant_ref { uint32_t domid; uint32_t ref; };
struct xw_gntdev_map_grant_ref {
  uint32_t count;
  uint32_t pad;
  uint64_t index;
  struct xw_gntdev_grant_ref refs[1];
};
struct xw_gntdev_unmap_grant_ref { uint64_t index; uint32_t count; uint32_t pad; };
struct xw_gntdev_set_max_grants { uint32_t count; };

#define XW_IOCTL_GNTDEV_MAP_GRANT_REF \
  _IOC(_IOC_NONE, 'G', 0, sizeof(struct xw_gntdev_map_grant_ref))
#define XW_IOCTL_GNTDEV_UNMAP_GRANT_REF \
  _IOC(_IOC_NONE, 'G', 1, sizeof(struct xw_gntdev_unmap_grant_ref))
#define XW_IOCTL_GNTDEV_SET_MAX_GRANTS \
  _IOC(_IOC_NONE, 'G', 3, sizeof(struct xw_gntdev_set_max_grants))

/* gntdev and gntalloc share this struct shape and ioctl number ('G', 7), on their own devices:
 * what the kernel does for a page when it is finally unmapped (also when its process dies). */
struct xw_unmap_notify { uint64_t index; uint32_t action; uint32_t event_channel_port; };
#define XW_UNMAP_NOTIFY_CLEAR_BYTE 0x1
#define XW_UNMAP_NOTIFY_SEND_EVENT 0x2
#define XW_IOCTL_GNTDEV_SET_UNMAP_NOTIFY \
  _IOC(_IOC_NONE, 'G', 7, sizeof(struct xw_unmap_notify))
#define XW_IOCTL_GNTALLOC_SET_UNMAP_NOTIFY \
  _IOC(_IOC_NONE, 'G', 7, sizeof(struct xw_unmap_notify))

struct xw_gntalloc_alloc_gref {
  uint16_t domid;
  uint16_t flags;
  uint32_t count;
  uint64_t index;
  uint32_t gref_ids[1];
};
struct xw_gntalloc_dealloc_gref { uint64_t index; uint32_t count; };

#define XW_GNTALLOC_FLAG_WRITABLE 1
#define XW_IOCTL_GNTALLOC_ALLOC_GREF \
  _IOC(_IOC_NONE, 'G', 5, sizeof(struct xw_gntalloc_alloc_gref))
#define XW_IOCTL_GNTALLOC_DEALLOC_GREF \
  _IOC(_IOC_NONE, 'G', 6, sizeof(struct xw_gntalloc_dealloc_gref))

#endif
