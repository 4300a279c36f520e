/*
 * Reference implementation for the differential tests of src/ring: runs a script of ring
 * operations from stdin on one memory area using Xen's public headers (xs_wire.h, console.h,
 * ring.h and its DEFINE_RING_TYPES / DEFINE_XEN_FLEX_RING macros), printing one line per result
 * and a hex dump of the area on `dump`. tests/ring/differential.test.ts runs the same script
 * against the TypeScript implementation and compares the outputs.
 *
 * Commands (one per line, numbers in decimal):
 *   area BYTES                     zeroed area, page aligned
 *   poke OFF VALUE                 store a u32
 *   dump                           print the area as hex
 *   bw RING LEN SEED               byte ring write of LEN pattern bytes: prints "n notify"
 *   br RING LEN                    byte ring read of up to LEN bytes: prints "n notify hash"
 *     RING: xsreq xsrsp consin consout flexin<ORDER> flexout<ORDER>
 *   sinit ENTRY BYTES              XEN_FRONT_RING_INIT + BACK_RING_INIT over BYTES
 *   sattach ENTRY BYTES IDX        FRONT/BACK_RING_ATTACH at IDX (shared header untouched)
 *   freq SEED                      fill RING_GET_REQUEST(req_prod_pvt++)
 *   fpush / bpush                  push and check notify: prints notify
 *   btake / ftake                  RING_COPY_REQUEST/RESPONSE of the next entry: prints hash or "none"
 *   brsp SEED                      fill RING_GET_RESPONSE(rsp_prod_pvt++)
 *   ffinal / bfinal                RING_FINAL_CHECK_FOR_RESPONSES/REQUESTS: prints work_to_do
 *   fstat                          prints free_requests unconsumed_responses
 *   bstat                          prints unconsumed_requests
 *   layout                         prints field offsets of the headers' structures
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define mb() __sync_synchronize()
#define rmb() __sync_synchronize()
#define wmb() __sync_synchronize()
#include <xen/io/ring.h>
#include <xen/io/xs_wire.h>
#include <xen/io/console.h>
#include <xen/io/libxenvchan.h>
#include <stddef.h>

DEFINE_XEN_FLEX_RING(ref);

static unsigned char *area;
static size_t area_len;

static uint8_t pattern(uint32_t seed, uint32_t i) { return (uint8_t)(seed * 31u + i * 7u + (i >> 8)); }

static uint32_t fnv(const unsigned char *p, size_t n) {
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 16777619u;
  return h;
}

/* One direction of a byte ring: indices and data somewhere in the area. */
struct bring {
  RING_IDX *cons, *prod;
  unsigned char *data;
  RING_IDX size;
  int flex;
};

static struct bring byte_ring(const char *name) {
  struct xenstore_domain_interface *xs = (void *)area;
  struct xencons_interface *cons = (void *)area;
  struct bring r = {0};
  if (!strcmp(name, "xsreq")) {
    r = (struct bring){&xs->req_cons, &xs->req_prod, (unsigned char *)xs->req, XENSTORE_RING_SIZE, 0};
  } else if (!strcmp(name, "xsrsp")) {
    r = (struct bring){&xs->rsp_cons, &xs->rsp_prod, (unsigned char *)xs->rsp, XENSTORE_RING_SIZE, 0};
  } else if (!strcmp(name, "consin")) {
    r = (struct bring){&cons->in_cons, &cons->in_prod, (unsigned char *)cons->in, sizeof(cons->in), 0};
  } else if (!strcmp(name, "consout")) {
    r = (struct bring){&cons->out_cons, &cons->out_prod, (unsigned char *)cons->out, sizeof(cons->out), 0};
  } else if (!strncmp(name, "flexin", 6) || !strncmp(name, "flexout", 7)) {
    /* Interface page at 0, data area (in half, then out half) from 4096. */
    int out = name[4] == 'o';
    int order = atoi(name + (out ? 7 : 6));
    RING_IDX size = XEN_FLEX_RING_SIZE(order);
    RING_IDX *idx = (RING_IDX *)(area + (out ? 64 : 0));
    r = (struct bring){&idx[0], &idx[1], area + 4096 + (out ? size : 0), size, 1};
  } else {
    fprintf(stderr, "unknown ring %s\n", name);
    exit(2);
  }
  return r;
}

/* Producer: as Linux's xb_write for one chunk, the flex variant through ref_write_packet. */
static void byte_write(struct bring r, uint32_t len, uint32_t seed) {
  RING_IDX cons = *(volatile RING_IDX *)r.cons, prod = *(volatile RING_IDX *)r.prod;
  xen_mb();
  if (prod - cons > r.size) { printf("EPROTO\n"); return; }
  uint32_t n = r.size - (prod - cons);
  if (n > len) n = len;
  unsigned char *src = malloc(len + 1);
  for (uint32_t i = 0; i < len; i++) src[i] = pattern(seed, i);
  if (n) {
    if (r.flex) {
      RING_IDX mprod = ref_mask(prod, r.size);
      ref_write_packet(r.data, src, n, &mprod, ref_mask(cons, r.size), r.size);
    } else {
      RING_IDX at = prod & (r.size - 1);
      uint32_t first = r.size - at < n ? r.size - at : n;
      memcpy(r.data + at, src, first);
      memcpy(r.data, src + first, n - first);
    }
  }
  free(src);
  int notify = 0;
  if (n) {
    xen_wmb();
    *r.prod = prod + n;
    xen_mb();
    notify = (RING_IDX)(prod + n - *r.cons) <= n;
  }
  printf("%u %d\n", n, notify);
}

static void byte_read(struct bring r, uint32_t len) {
  RING_IDX cons = *(volatile RING_IDX *)r.cons, prod = *(volatile RING_IDX *)r.prod;
  xen_rmb();
  if (prod - cons > r.size) { printf("EPROTO\n"); return; }
  uint32_t n = prod - cons;
  if (n > len) n = len;
  unsigned char *dst = malloc(len + 1);
  if (n) {
    if (r.flex) {
      RING_IDX mcons = ref_mask(cons, r.size);
      ref_read_packet(dst, r.data, n, ref_mask(prod, r.size), &mcons, r.size);
    } else {
      RING_IDX at = cons & (r.size - 1);
      uint32_t first = r.size - at < n ? r.size - at : n;
      memcpy(dst, r.data + at, first);
      memcpy(dst + first, r.data, n - first);
    }
  }
  int notify = 0;
  if (n) {
    xen_mb();
    *r.cons = cons + n;
    xen_mb();
    notify = (RING_IDX)(*r.prod - cons) >= r.size;
  }
  printf("%u %d %u\n", n, notify, fnv(dst, n));
  free(dst);
}

/* Request/response rings: one type per entry size the tests use. */
#define SIZES(X) X(1, 1, 1) X(12, 12, 8) X(36, 20, 36) X(64, 64, 64) X(112, 112, 16) X(113, 113, 9)
#define BODY(n) struct { unsigned char b[n]; }
#define TYPES(E, Q, P) \
  typedef BODY(Q) r##E##_req_t; \
  typedef BODY(P) r##E##_rsp_t; \
  DEFINE_RING_TYPES(r##E, r##E##_req_t, r##E##_rsp_t);
SIZES(TYPES)

#define FRONTS(E, Q, P) r##E##_front_ring_t f##E;
#define BACKS(E, Q, P) r##E##_back_ring_t b##E;
static struct { SIZES(FRONTS) } fr;
static struct { SIZES(BACKS) } br;
static int entry;

#define CASE(E, Q, P) case E: { ACTION(E, fr.f##E, br.b##E) } break;
#define DISPATCH switch (entry) { SIZES(CASE) default: fprintf(stderr, "entry %d?\n", entry); exit(2); }

static void fill(unsigned char *p, size_t n, uint32_t seed) {
  for (size_t i = 0; i < n; i++) p[i] = pattern(seed, i);
}

int main(void) {
  char cmd[64], arg[64];
  uint32_t a, b, c;
  setvbuf(stdout, NULL, _IOFBF, 1 << 16);
  while (scanf("%63s", cmd) == 1) {
    if (!strcmp(cmd, "area")) {
      if (scanf("%u", &a) != 1) return 2;
      free(area);
      if (posix_memalign((void **)&area, 4096, a)) return 2;
      memset(area, 0, a);
      area_len = a;
    } else if (!strcmp(cmd, "layout")) {
#define OFF(s, f) printf("%s.%s %zu\n", #s, #f, offsetof(struct s, f));
      OFF(xenstore_domain_interface, req_cons) OFF(xenstore_domain_interface, rsp_prod)
      OFF(xenstore_domain_interface, server_features) OFF(xenstore_domain_interface, connection)
      OFF(xenstore_domain_interface, error)
      OFF(xencons_interface, in_cons) OFF(xencons_interface, out_prod)
      OFF(vchan_interface, left) OFF(vchan_interface, right) OFF(vchan_interface, left_order)
      OFF(vchan_interface, right_order) OFF(vchan_interface, cli_live) OFF(vchan_interface, srv_live)
      OFF(vchan_interface, cli_notify) OFF(vchan_interface, srv_notify) OFF(vchan_interface, grants)
      OFF(r64_sring, req_event) OFF(r64_sring, rsp_event) OFF(r64_sring, pvt) OFF(r64_sring, ring)
      printf("VCHAN_NOTIFY_WRITE %d\nVCHAN_NOTIFY_READ %d\n", VCHAN_NOTIFY_WRITE, VCHAN_NOTIFY_READ);
      printf("XENSTORE_SERVER_FEATURE_RECONNECTION %d\nXENSTORE_SERVER_FEATURE_ERROR %d\n",
             XENSTORE_SERVER_FEATURE_RECONNECTION, XENSTORE_SERVER_FEATURE_ERROR);
      printf("XENSTORE_ERROR_RINGIDX %d\nXENSTORE_ERROR_PROTO %d\nXENSTORE_RECONNECT %d\n",
             XENSTORE_ERROR_RINGIDX, XENSTORE_ERROR_PROTO, XENSTORE_RECONNECT);
#undef OFF
    } else if (!strcmp(cmd, "poke")) {
      if (scanf("%u %u", &a, &b) != 2) return 2;
      *(uint32_t *)(area + a) = b;
    } else if (!strcmp(cmd, "dump")) {
      for (size_t i = 0; i < area_len; i++) printf("%02x", area[i]);
      printf("\n");
    } else if (!strcmp(cmd, "bw")) {
      if (scanf("%63s %u %u", arg, &a, &b) != 3) return 2;
      byte_write(byte_ring(arg), a, b);
    } else if (!strcmp(cmd, "br")) {
      if (scanf("%63s %u", arg, &a) != 2) return 2;
      byte_read(byte_ring(arg), a);
    } else if (!strcmp(cmd, "sinit")) {
      if (scanf("%d %u", &entry, &a) != 2) return 2;
#define ACTION(E, F, B) \
      r##E##_sring_t *s = (void *)area; XEN_FRONT_RING_INIT(&F, s, a); BACK_RING_INIT(&B, s, a); \
      printf("%u\n", RING_SIZE(&F));
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "sattach")) {
      if (scanf("%d %u %u", &entry, &a, &c) != 3) return 2;
#define ACTION(E, F, B) \
      r##E##_sring_t *s = (void *)area; FRONT_RING_ATTACH(&F, s, c, a); BACK_RING_ATTACH(&B, s, c, a); \
      printf("%u\n", RING_SIZE(&F));
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "freq")) {
      if (scanf("%u", &a) != 1) return 2;
#define ACTION(E, F, B) \
      if (RING_FULL(&F)) { printf("ENOSPC\n"); } else { \
        fill((void *)RING_GET_REQUEST(&F, F.req_prod_pvt), sizeof(r##E##_req_t), a); \
        F.req_prod_pvt++; printf("ok\n"); }
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "fpush")) {
      int notify;
#define ACTION(E, F, B) RING_PUSH_REQUESTS_AND_CHECK_NOTIFY(&F, notify); printf("%d\n", notify);
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "bpush")) {
      int notify;
#define ACTION(E, F, B) RING_PUSH_RESPONSES_AND_CHECK_NOTIFY(&B, notify); printf("%d\n", notify);
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "btake")) {
#define ACTION(E, F, B) \
      if (RING_REQUEST_PROD_OVERFLOW(&B, B.sring->req_prod)) { printf("EPROTO\n"); } \
      else if (!RING_HAS_UNCONSUMED_REQUESTS(&B)) { printf("none\n"); } else { \
        union r##E##_sring_entry e; RING_COPY_REQUEST(&B, B.req_cons, &e.req); B.req_cons++; \
        printf("%u\n", fnv((void *)&e.req, sizeof(e.req))); }
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "ftake")) {
#define ACTION(E, F, B) \
      if (RING_RESPONSE_PROD_OVERFLOW(&F, F.sring->rsp_prod)) { printf("EPROTO\n"); } \
      else if (!RING_HAS_UNCONSUMED_RESPONSES(&F)) { printf("none\n"); } else { \
        union r##E##_sring_entry e; RING_COPY_RESPONSE(&F, F.rsp_cons, &e.rsp); F.rsp_cons++; \
        printf("%u\n", fnv((void *)&e.rsp, sizeof(e.rsp))); }
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "brsp")) {
      if (scanf("%u", &a) != 1) return 2;
#define ACTION(E, F, B) \
      if (B.rsp_prod_pvt == B.req_cons) { printf("ENOSPC\n"); } else { \
        fill((void *)RING_GET_RESPONSE(&B, B.rsp_prod_pvt), sizeof(r##E##_rsp_t), a); \
        B.rsp_prod_pvt++; printf("ok\n"); }
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "ffinal")) {
      int work;
#define ACTION(E, F, B) \
      if (RING_RESPONSE_PROD_OVERFLOW(&F, F.sring->rsp_prod)) { printf("EPROTO\n"); } \
      else { RING_FINAL_CHECK_FOR_RESPONSES(&F, work); printf("%d\n", work != 0); }
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "bfinal")) {
      int work;
#define ACTION(E, F, B) \
      if (RING_REQUEST_PROD_OVERFLOW(&B, B.sring->req_prod)) { printf("EPROTO\n"); } \
      else { RING_FINAL_CHECK_FOR_REQUESTS(&B, work); printf("%d\n", work != 0); }
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "fstat")) {
#define ACTION(E, F, B) \
      if (RING_RESPONSE_PROD_OVERFLOW(&F, F.sring->rsp_prod)) { printf("EPROTO\n"); } \
      else printf("%u %u\n", RING_FREE_REQUESTS(&F), XEN_RING_NR_UNCONSUMED_RESPONSES(&F));
      DISPATCH
#undef ACTION
    } else if (!strcmp(cmd, "bstat")) {
#define ACTION(E, F, B) \
      if (RING_REQUEST_PROD_OVERFLOW(&B, B.sring->req_prod)) { printf("EPROTO\n"); } \
      else printf("%u\n", XEN_RING_NR_UNCONSUMED_REQUESTS(&B));
      DISPATCH
#undef ACTION
    } else {
      fprintf(stderr, "unknown command %s\n", cmd);
      return 2;
    }
  }
  return 0;
}
