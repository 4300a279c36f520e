/* Publishes the ioctl numbers and struct layouts the addon uses, so tests can compare them with
 * the kernel's uapi headers. */
#include <stddef.h>

#include "exports.h"
#include "util.h"
#include "xen-abi.h"

static void set_number(napi_env env, napi_value target, const char *name, double value) {
  napi_set_named_property(env, target, name, xw_number(env, value));
}

static napi_value new_object(napi_env env) {
  napi_value object = NULL;
  napi_create_object(env, &object);
  return object;
}

#define IOCTL(name) set_number(env, ioctls, #name, (double)(unsigned long)XW_##name)
#define LAYOUT_BEGIN(kernel_name, type)            \
  do {                                             \
    napi_value layout = new_object(env);           \
    set_number(env, layout, "size", sizeof(type)); \
    typedef type xw_layout_type;
#define FIELD(field) set_number(env, layout, #field, offsetof(xw_layout_type, field))
#define LAYOUT_END(kernel_name)                               \
  napi_set_named_property(env, layouts, #kernel_name, layout); \
  }                                                           \
  while (0)

void xw_init_abi_info(napi_env env, napi_value exports) {
  napi_value abi = new_object(env);
  napi_value ioctls = new_object(env);
  napi_value layouts = new_object(env);

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
  set_number(env, ioctls, "UNMAP_NOTIFY_CLEAR_BYTE", XW_UNMAP_NOTIFY_CLEAR_BYTE);
  set_number(env, ioctls, "UNMAP_NOTIFY_SEND_EVENT", XW_UNMAP_NOTIFY_SEND_EVENT);
  set_number(env, ioctls, "GNTALLOC_FLAG_WRITABLE", XW_GNTALLOC_FLAG_WRITABLE);

  LAYOUT_BEGIN(ioctl_evtchn_bind_virq, struct xw_evtchn_bind_virq);
  FIELD(virq);
  LAYOUT_END(ioctl_evtchn_bind_virq);
  LAYOUT_BEGIN(ioctl_evtchn_bind_interdomain, struct xw_evtchn_bind_interdomain);
  FIELD(remote_domain);
  FIELD(remote_port);
  LAYOUT_END(ioctl_evtchn_bind_interdomain);
  LAYOUT_BEGIN(ioctl_evtchn_bind_unbound_port, struct xw_evtchn_bind_unbound_port);
  FIELD(remote_domain);
  LAYOUT_END(ioctl_evtchn_bind_unbound_port);
  LAYOUT_BEGIN(ioctl_evtchn_unbind, struct xw_evtchn_port);
  FIELD(port);
  LAYOUT_END(ioctl_evtchn_unbind);
  LAYOUT_BEGIN(ioctl_evtchn_notify, struct xw_evtchn_port);
  FIELD(port);
  LAYOUT_END(ioctl_evtchn_notify);
  LAYOUT_BEGIN(ioctl_evtchn_restrict_domid, struct xw_evtchn_restrict_domid);
  FIELD(domid);
  LAYOUT_END(ioctl_evtchn_restrict_domid);
  LAYOUT_BEGIN(ioctl_gntdev_grant_ref, struct xw_gntdev_grant_ref);
  FIELD(domid);
  FIELD(ref);
  LAYOUT_END(ioctl_gntdev_grant_ref);
  LAYOUT_BEGIN(ioctl_gntdev_map_grant_ref, struct xw_gntdev_map_grant_ref);
  FIELD(count);
  FIELD(index);
  FIELD(refs);
  LAYOUT_END(ioctl_gntdev_map_grant_ref);
  LAYOUT_BEGIN(ioctl_gntdev_unmap_grant_ref, struct xw_gntdev_unmap_grant_ref);
  FIELD(index);
  FIELD(count);
  LAYOUT_END(ioctl_gntdev_unmap_grant_ref);
  LAYOUT_BEGIN(ioctl_gntdev_set_max_grants, struct xw_gntdev_set_max_grants);
  FIELD(count);
  LAYOUT_END(ioctl_gntdev_set_max_grants);
  LAYOUT_BEGIN(ioctl_gntalloc_alloc_gref, struct xw_gntalloc_alloc_gref);
  FIELD(domid);
  FIELD(flags);
  FIELD(count);
  FIELD(index);
  FIELD(gref_ids);
  LAYOUT_END(ioctl_gntalloc_alloc_gref);
  LAYOUT_BEGIN(ioctl_gntalloc_dealloc_gref, struct xw_gntalloc_dealloc_gref);
  FIELD(index);
  FIELD(count);
  LAYOUT_END(ioctl_gntalloc_dealloc_gref);
  LAYOUT_BEGIN(ioctl_gntdev_unmap_notify, struct xw_unmap_notify);
  FIELD(index);
  FIELD(action);
  FIELD(event_channel_port);
  LAYOUT_END(ioctl_gntdev_unmap_notify);
  LAYOUT_BEGIN(ioctl_gntalloc_unmap_notify, struct xw_unmap_notify);
  FIELD(index);
  FIELD(action);
  FIELD(event_channel_port);
  LAYOUT_END(ioctl_gntalloc_unmap_notify);

  napi_set_named_property(env, abi, "ioctls", ioctls);
  napi_set_named_property(env, abi, "layouts", layouts);
  napi_set_named_property(env, exports, "abi", abi);
}
