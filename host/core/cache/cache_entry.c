/* SPDX-License-Identifier: MIT */
#include "core/cache/cache_entry.h"

#include <string.h>

#define MAGIC 0x31434543u /* "CEC1" */

static uint64_t rd64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}
static uint32_t rd32(const unsigned char *p) {
  uint32_t v;
  memcpy(&v, p, 4);
  return v;
}
static uint16_t rd16(const unsigned char *p) {
  uint16_t v;
  memcpy(&v, p, 2);
  return v;
}

static uint64_t mix(uint64_t h) {
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  h *= 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return h;
}

uint64_t ce_cache_hash(const void *data, size_t len, uint64_t seed) {
  const unsigned char *p = data;
  uint64_t a = seed ^ 0x9e3779b97f4a7c15ull, b = (uint64_t)len * 0xff51afd7ed558ccdull;
  while (len >= 16) {
    a = (a ^ rd64(p)) * 0x87c37b91114253d5ull;
    b = (b ^ rd64(p + 8)) * 0x4cf5ad432745937full;
    a = (a << 31) | (a >> 33);
    b = (b << 29) | (b >> 35);
    a += b;
    p += 16;
    len -= 16;
  }
  if (len >= 8) {
    a = (a ^ rd64(p)) * 0x87c37b91114253d5ull;
    a = (a << 31) | (a >> 33);
    p += 8;
    len -= 8;
  }
  uint64_t t = 0;
  memcpy(&t, p, len);
  b ^= t * 0x4cf5ad432745937full;
  return mix(a ^ mix(b));
}

static void put(ce_buf *out, const void *p, size_t n) { ce_buf_add(out, (const char *)p, n); }

int ce_cache_entry_encode(const ce_cache_entry *e, ce_buf *out) {
  if (e->ntags < 0 || e->ntags > CE_CACHE_MAX_TAGS || e->labels_len > UINT32_MAX || e->value_len > UINT32_MAX)
    return -1;
  size_t start = out->len;
  uint32_t magic = MAGIC, ntags = (uint32_t)e->ntags, ll = (uint32_t)e->labels_len, vl = (uint32_t)e->value_len;
  put(out, &magic, 4);
  put(out, &ntags, 4);
  put(out, &e->created, 8);
  put(out, &e->expires, 8);
  put(out, &ll, 4);
  put(out, &vl, 4);
  for (int i = 0; i < e->ntags; i++) {
    if (e->tags[i].len > 0xffff) return -1;
    uint16_t tl = (uint16_t)e->tags[i].len;
    put(out, &tl, 2);
    put(out, e->tags[i].name, tl);
    put(out, &e->tags[i].version, 8);
  }
  put(out, e->labels, e->labels_len);
  put(out, e->value, e->value_len);
  if (out->oom) return -1;
  uint64_t sum = ce_cache_hash(out->data + start, out->len - start, 0x63686b);
  put(out, &sum, 8);
  return out->oom ? -1 : 0;
}

int ce_cache_entry_decode(const void *data, size_t len, int verify, ce_cache_entry *e) {
  const unsigned char *p = data, *end = p + len;
  if (len < 40 || rd32(p) != MAGIC) return -1;
  uint32_t ntags = rd32(p + 4);
  if (ntags > CE_CACHE_MAX_TAGS) return -1;
  memcpy(&e->created, p + 8, 8);
  memcpy(&e->expires, p + 16, 8);
  uint32_t ll = rd32(p + 24), vl = rd32(p + 28);
  p += 32;
  e->ntags = (int)ntags;
  for (uint32_t i = 0; i < ntags; i++) {
    if (end - p < 2) return -1;
    uint16_t tl = rd16(p);
    if ((size_t)(end - p) < 2u + tl + 8u) return -1;
    e->tags[i].name = (const char *)p + 2;
    e->tags[i].len = tl;
    e->tags[i].version = rd64(p + 2 + tl);
    p += 2 + tl + 8;
  }
  if ((size_t)(end - p) != (size_t)ll + vl + 8u) return -1;
  e->labels = (const char *)p;
  e->labels_len = ll;
  e->value = (const char *)p + ll;
  e->value_len = vl;
  if (verify) {
    uint64_t want = rd64(end - 8);
    if (ce_cache_hash(data, len - 8, 0x63686b) != want) return -1;
  }
  return 0;
}

const char *ce_cache_entry_label(const ce_cache_entry *e, const char *key, size_t *len) {
  size_t kl = strlen(key);
  const char *p = e->labels, *end = e->labels + e->labels_len;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *line_end = nl ? nl : end;
    if ((size_t)(line_end - p) > kl && memcmp(p, key, kl) == 0 && p[kl] == '=') {
      *len = (size_t)(line_end - p - (ptrdiff_t)kl - 1);
      return p + kl + 1;
    }
    p = nl ? nl + 1 : end;
  }
  *len = 0;
  return NULL;
}

int ce_cache_glob(const char *pat, const char *s, size_t len) {
  const char *star = NULL;
  size_t i = 0, mark = 0;
  while (i < len) {
    if (*pat == '*') {
      star = pat++;
      mark = i;
    } else if (*pat && (*pat == '?' || *pat == s[i])) {
      pat++;
      i++;
    } else if (star) {
      pat = star + 1;
      i = ++mark;
    } else {
      return 0;
    }
  }
  while (*pat == '*') pat++;
  return *pat == '\0';
}
