/* Prints the ioctl numbers and struct layouts of Linux's Xen uapi headers as JSON, for comparison
 * with what the native addon was compiled with. */
#include <linux/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/ioctl.h>

typedef uint16_t domid_t;
typedef uint32_t grant_ref_t;

#include <xen/evtchn.h>
#include <xen/gntalloc.h>
#include <xen/gntdev.h>

static int first;

#define IOCTL(name) printf("%s\"%s\":%lu", first++ ? "," : "", #name, (unsigned long)(name))
#define LAYOUT_BEGIN(type)                                                                \
  printf("%s\"%s\":{\"size\":%zu", first++ ? "," : "", #type, sizeof(struct type)); \
  typedef struct type layout_t
#define FIELD(field) printf(",\"%s\":%zu", #field, offsetof(layout_t, field))
#define LAYOUT_END() printf("}")

int main(void) {
  printf("{\"ioctls\":{");
  first = 0;
  IOCTL(IOCTL_EVTCHN_BIND_VIRQ);
  IOCTL(IOCTL_EVTCHN_BIND_INTERDOMAIN);
  IOCTL(IOCTL_EVTCHN_BIND_UNBOUND_PORT);
  IOCTL(IOCTL_EVTCHN_UNBIND);
  IOCTL(IOCTL_EVTCHN_NOTIFY);
  IOCTL(IOCTL_EVTCHN_RESET);
  IOCTL(IOCTL_EVTCHN_RESTRICT_DOMID);
  IOCTL(IOCTL_GNTDEV_MAP_GRANT_REF);
  IOCTL(IOCTL_GNTDEV_UNMAP_GRANT_REF);
  IOCTL(IOCTL_GNTDEV_SET_MAX_GRANTS);
  IOCTL(IOCTL_GNTALLOC_ALLOC_GREF);
  IOCTL(IOCTL_GNTALLOC_DEALLOC_GREF);
  IOCTL(IOCTL_GNTDEV_SET_UNMAP_NOTIFY);
  IOCTL(IOCTL_GNTALLOC_SET_UNMAP_NOTIFY);
  IOCTL(UNMAP_NOTIFY_CLEAR_BYTE);
  IOCTL(UNMAP_NOTIFY_SEND_EVENT);
  IOCTL(GNTALLOC_FLAG_WRITABLE);
  printf("},\"layouts\":{");
  first = 0;
  { LAYOUT_BEGIN(ioctl_evtchn_bind_virq); FIELD(virq); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_evtchn_bind_interdomain); FIELD(remote_domain); FIELD(remote_port); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_evtchn_bind_unbound_port); FIELD(remote_domain); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_evtchn_unbind); FIELD(port); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_evtchn_notify); FIELD(port); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_evtchn_restrict_domid); FIELD(domid); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntdev_grant_ref); FIELD(domid); FIELD(ref); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntdev_map_grant_ref); FIELD(count); FIELD(index); FIELD(refs); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntdev_unmap_grant_ref); FIELD(index); FIELD(count); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntdev_set_max_grants); FIELD(count); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntalloc_alloc_gref); FIELD(domid); FIELD(flags); FIELD(count); FIELD(index); FIELD(gref_ids); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntalloc_dealloc_gref); FIELD(index); FIELD(count); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntdev_unmap_notify); FIELD(index); FIELD(action); FIELD(event_channel_port); LAYOUT_END(); }
  { LAYOUT_BEGIN(ioctl_gntalloc_unmap_notify); FIELD(index); FIELD(action); FIELD(event_channel_port); LAYOUT_END(); }
  printf("}}\n");
  return 0;
}
