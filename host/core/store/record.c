/* SPDX-License-Identifier: MIT */
#include "core/store/record.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>

/* CRC-32C (Castagnoli): SSE4.2 has an instruction for it, about 20 times
 * faster than a table; the table is the fallback on other machines. */
static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int use_hw;

static void init_table(void) {
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    table[i] = c;
  }
#if defined(__x86_64__)
  __builtin_cpu_init();
  use_hw = __builtin_cpu_supports("sse4.2");
#endif
}

static uint32_t crc_sw(uint32_t c, const unsigned char *p, size_t n) {
  while (n--) c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
  return c;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p, size_t n) {
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8); /* unaligned */
    c64 = __builtin_ia32_crc32di(c64, w);
    p += 8;
    n -= 8;
  }
  c = (uint32_t)c64;
  while (n--) c = __builtin_ia32_crc32qi(c, *p++);
  return c;
}
#endif

uint32_t ce_crc32c(uint32_t crc, const void *p, size_t n) {
  pthread_once(&table_once, init_table);
  uint32_t c = ~crc;
#if defined(__x86_64__)
  if (use_hw) return ~crc_hw(c, p, n);
#endif
  return ~crc_sw(c, p, n);
}

uint64_t ce_rec_stamp(void) {
  static _Atomic uint64_t last;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t now = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
  uint64_t prev = atomic_load(&last);
  for (;;) {
    uint64_t next = now > prev ? now : prev + 1; /* a clock stepped back must not reorder copies */
    if (atomic_compare_exchange_weak(&last, &prev, next)) return next;
  }
}

static void put32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void put64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const unsigned char *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

static uint32_t crc_of(const unsigned char *hdr, const void *k, size_t kl, const void *v, size_t vl) {
  uint32_t c = ce_crc32c(0, hdr + 2, 2);
  c = ce_crc32c(c, hdr + 8, 8);
  c = ce_crc32c(c, k, kl);
  return ce_crc32c(c, v, vl);
}

void ce_rec_header(unsigned char hdr[CE_REC_HDR], int db, uint64_t stamp, const void *k, size_t kl, const void *v,
                   size_t vl) {
  hdr[0] = 0xFF;
  hdr[1] = 0xCE;
  hdr[2] = CE_REC_VERSION;
  hdr[3] = (unsigned char)db;
  put64(hdr + 8, stamp);
  put32(hdr + 4, crc_of(hdr, k, kl, v, vl));
}

int ce_rec_db(const void *stored, size_t sl) {
  const unsigned char *h = stored;
  if (sl < CE_REC_HDR || h[0] != 0xFF || h[1] != 0xCE || h[2] != CE_REC_VERSION) return -1;
  return h[3];
}

int ce_rec_open(int db, const void *k, size_t kl, const void *stored, size_t sl, const void **v, size_t *vl,
                uint64_t *stamp, const char **why) {
  const unsigned char *h = stored;
  *stamp = 0;
  *why = NULL;
  if (sl == 0 || (h[0] >= 0x20 && h[0] < 0x7f)) {
    *v = stored;
    *vl = sl;
    return CE_REC_LEGACY;
  }
  if (sl < CE_REC_HDR || h[0] != 0xFF || h[1] != 0xCE) {
    *why = "the value has no valid header";
    return CE_REC_DAMAGED;
  }
  if (h[2] != CE_REC_VERSION) {
    *why = "the value's header has an unknown version";
    return CE_REC_DAMAGED;
  }
  if (h[3] != db) {
    *why = "the value belongs to another database";
    return CE_REC_DAMAGED;
  }
  if (crc_of(h, k, kl, h + CE_REC_HDR, sl - CE_REC_HDR) != get32(h + 4)) {
    *why = "checksum mismatch";
    return CE_REC_DAMAGED;
  }
  *v = h + CE_REC_HDR;
  *vl = sl - CE_REC_HDR;
  *stamp = get64(h + 8);
  return CE_REC_OK;
}
