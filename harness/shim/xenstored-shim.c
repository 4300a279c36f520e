/*
 * LD_PRELOAD shim that lets Xen's C xenstored run without a hypervisor.
 *
 * It replaces the libxenctrl, libxengnttab and libxenevtchn entry points the
 * daemon imports, and redirects its two /proc/xen files, using plain files and
 * unix datagram sockets in the directory named by XENWIRE_SHIM_DIR. The
 * conventions (file names, datagram format, port numbers) are described in
 * harness/README.md; keep the two in step.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <xenctrl.h>
#include <xenevtchn.h>
#include <xengnttab.h>

#define PAGE_SIZE 4096
#define MAX_PORTS 4096
/* VIRQ_DOM_EXC is bound at a fixed port so tests can raise it without asking. */
#define VIRQ_DOM_EXC_PORT 4095

struct xenevtchn_handle {
  int fd;
};

/* Remote domain of every bound local port; -1 when unbound. */
static int port_domid[MAX_PORTS];
static int ports_initialised;

static const char *shim_dir(void) {
  const char *dir = getenv("XENWIRE_SHIM_DIR");
  return dir && *dir ? dir : ".";
}

static int shim_path(char *buf, size_t size, const char *name) {
  int n = snprintf(buf, size, "%s/%s", shim_dir(), name);
  if (n < 0 || (size_t)n >= size) {
    errno = ENAMETOOLONG;
    return -1;
  }
  return 0;
}

static void init_ports(void) {
  if (ports_initialised) return;
  for (int i = 0; i < MAX_PORTS; i++) port_domid[i] = -1;
  ports_initialised = 1;
}

static int sockaddr_for(struct sockaddr_un *addr, const char *name) {
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  return shim_path(addr->sun_path, sizeof(addr->sun_path), name);
}

/* ---- /proc/xen redirection ------------------------------------------- */

static const char *redirect(const char *path, char *buf, size_t size) {
  if (path && strcmp(path, "/proc/xen/xsd_port") == 0)
    return shim_path(buf, size, "xsd_port") == 0 ? buf : path;
  if (path && strcmp(path, "/proc/xen/xsd_kva") == 0)
    return shim_path(buf, size, "xsd_kva") == 0 ? buf : path;
  return path;
}

typedef int (*open_fn)(const char *, int, ...);

static int forward_open(const char *symbol, const char *path, int flags, va_list ap) {
  static open_fn real_open, real_open64;
  open_fn *slot = strcmp(symbol, "open") == 0 ? &real_open : &real_open64;
  if (!*slot) *slot = (open_fn)dlsym(RTLD_NEXT, symbol);
  char buf[PATH_MAX];
  mode_t mode = (flags & (O_CREAT | O_TMPFILE)) ? va_arg(ap, mode_t) : 0;
  return (*slot)(redirect(path, buf, sizeof(buf)), flags, mode);
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int fd = forward_open("open", path, flags, ap);
  va_end(ap);
  return fd;
}

int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  int fd = forward_open("open64", path, flags, ap);
  va_end(ap);
  return fd;
}

/* ---- libxenctrl ------------------------------------------------------ */

static int dummy_handle;

xc_interface *xc_interface_open(xentoollog_logger *logger, xentoollog_logger *dombuild_logger,
                                unsigned open_flags) {
  (void)logger;
  (void)dombuild_logger;
  (void)open_flags;
  return (xc_interface *)&dummy_handle;
}

int xc_interface_close(xc_interface *xch) {
  (void)xch;
  return 0;
}

static int domain_page_path(char *buf, size_t size, uint32_t domid) {
  char name[32];
  snprintf(name, sizeof(name), "dom%u.page", domid);
  return shim_path(buf, size, name);
}

/* Domain 0 always exists; domain N exists while its page file does. */
static int domain_exists(uint32_t domid) {
  if (domid == 0) return 1;
  char path[PATH_MAX];
  struct stat st;
  return domain_page_path(path, sizeof(path), domid) == 0 && stat(path, &st) == 0;
}

int xc_domain_getinfo(xc_interface *xch, uint32_t first_domid, unsigned int max_doms,
                      xc_dominfo_t *info) {
  (void)xch;
  /*
   * Xen reports the first existing domain at or after first_domid; xenstored
   * only ever asks for one domain and checks its id, so looking at first_domid
   * alone gives the same answers without scanning.
   */
  if (max_doms == 0 || !domain_exists(first_domid)) return 0;
  memset(info, 0, sizeof(*info));
  info->domid = first_domid;
  info->running = 1;
  return 1;
}

/* ---- libxengnttab ---------------------------------------------------- */

xengnttab_handle *xengnttab_open(xentoollog_logger *logger, unsigned open_flags) {
  (void)logger;
  (void)open_flags;
  return (xengnttab_handle *)&dummy_handle;
}

int xengnttab_close(xengnttab_handle *xgt) {
  (void)xgt;
  return 0;
}

int xengnttab_set_max_grants(xengnttab_handle *xgt, uint32_t nr_grants) {
  (void)xgt;
  (void)nr_grants;
  return 0;
}

void *xengnttab_map_grant_ref(xengnttab_handle *xgt, uint32_t domid, uint32_t ref, int prot) {
  (void)xgt;
  (void)ref;
  char path[PATH_MAX];
  if (domain_page_path(path, sizeof(path), domid) != 0) return NULL;
  int fd = open(path, O_RDWR | O_CLOEXEC);
  if (fd < 0) return NULL;
  void *page = mmap(NULL, PAGE_SIZE, prot, MAP_SHARED, fd, 0);
  int saved = errno;
  close(fd);
  errno = saved;
  return page == MAP_FAILED ? NULL : page;
}

int xengnttab_unmap(xengnttab_handle *xgt, void *start_address, uint32_t count) {
  (void)xgt;
  return munmap(start_address, (size_t)count * PAGE_SIZE);
}

/* ---- libxenevtchn ---------------------------------------------------- */

xenevtchn_handle *xenevtchn_open(xentoollog_logger *logger, unsigned open_flags) {
  (void)logger;
  (void)open_flags;
  init_ports();
  struct sockaddr_un addr;
  if (sockaddr_for(&addr, "evtchn.sock") != 0) return NULL;
  xenevtchn_handle *xce = calloc(1, sizeof(*xce));
  if (!xce) return NULL;
  xce->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
  unlink(addr.sun_path);
  if (xce->fd < 0 || bind(xce->fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
    int saved = errno;
    if (xce->fd >= 0) close(xce->fd);
    free(xce);
    errno = saved;
    return NULL;
  }
  /*
   * Each datagram stays charged to the sender until its receiver reads it, so the default
   * buffer (about 270 datagrams) drops kicks when one event reaches hundreds of guests at once.
   * The kernel caps this at net.core.wmem_max.
   */
  int sndbuf = 4 << 20;
  setsockopt(xce->fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
  return xce;
}

xenevtchn_handle *xenevtchn_fdopen(xentoollog_logger *logger, int fd, unsigned open_flags) {
  (void)logger;
  (void)open_flags;
  init_ports();
  xenevtchn_handle *xce = calloc(1, sizeof(*xce));
  if (!xce) return NULL;
  xce->fd = fd;
  return xce;
}

int xenevtchn_fd(xenevtchn_handle *xce) { return xce->fd; }

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq) {
  (void)xce;
  if (virq != VIRQ_DOM_EXC) {
    errno = EINVAL;
    return -1;
  }
  port_domid[VIRQ_DOM_EXC_PORT] = DOMID_SELF;
  return VIRQ_DOM_EXC_PORT;
}

/*
 * The local port equals the remote one, so a fake guest names the same number
 * in INTRODUCE, in the datagrams it sends and in those it receives.
 */
xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port) {
  (void)xce;
  if (remote_port == 0 || remote_port >= VIRQ_DOM_EXC_PORT) {
    errno = EINVAL;
    return -1;
  }
  if (port_domid[remote_port] != -1) {
    errno = EBUSY;
    return -1;
  }
  port_domid[remote_port] = (int)domid;
  return (xenevtchn_port_or_error_t)remote_port;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port) {
  (void)xce;
  if (port >= MAX_PORTS || port_domid[port] == -1) {
    errno = EINVAL;
    return -1;
  }
  port_domid[port] = -1;
  return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port) {
  if (port >= MAX_PORTS || port_domid[port] == -1) {
    errno = EINVAL;
    return -1;
  }
  char name[32];
  struct sockaddr_un addr;
  snprintf(name, sizeof(name), "dom%d.evtchn", port_domid[port]);
  if (sockaddr_for(&addr, name) != 0) return -1;
  uint8_t datagram[4] = {port & 0xff, (port >> 8) & 0xff, (port >> 16) & 0xff, port >> 24};
  /* Nobody listening is the normal case: a kick nobody waits for is lost, as on real Xen. */
  sendto(xce->fd, datagram, sizeof(datagram), MSG_DONTWAIT, (struct sockaddr *)&addr,
         sizeof(addr));
  return 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce) {
  uint8_t datagram[8];
  ssize_t n = recv(xce->fd, datagram, sizeof(datagram), MSG_DONTWAIT);
  if (n < 0) return errno == EAGAIN ? 0 : -1;
  /* A malformed datagram still wakes the daemon, which rescans every ring anyway. */
  if (n != 4) return 0;
  return (xenevtchn_port_or_error_t)((uint32_t)datagram[0] | (uint32_t)datagram[1] << 8 |
                                     (uint32_t)datagram[2] << 16 | (uint32_t)datagram[3] << 24);
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port) {
  (void)xce;
  (void)port;
  return 0;
}

/* ---- extra libxenctrl entry points oxenstored imports ------------------ */

int xc_domain_getinfolist(xc_interface *xch, uint32_t first_domain, unsigned int max_domains,
                          xc_domaininfo_t *info) {
  (void)xch;
  unsigned int found = 0;
  /* Fake guests are small numbers; scanning a bounded range keeps each call cheap. */
  for (uint32_t domid = first_domain; domid < 1024 && found < max_domains; domid++) {
    if (!domain_exists(domid)) continue;
    memset(&info[found], 0, sizeof(info[found]));
    info[found].domain = (domid_t)domid;
    info[found].flags = XEN_DOMINF_running;
    found++;
  }
  return (int)found;
}

void *xc_map_foreign_range(xc_interface *xch, uint32_t dom, int size, int prot,
                           unsigned long mfn) {
  (void)mfn;
  return size == PAGE_SIZE ? xengnttab_map_grant_ref((xengnttab_handle *)xch, dom, 0, prot) : NULL;
}

const xc_error *xc_get_last_error(xc_interface *handle) {
  (void)handle;
  static const xc_error none;
  return &none;
}
