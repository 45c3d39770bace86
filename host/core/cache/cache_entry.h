/* SPDX-License-Identifier: MIT */
/* One cached value as every cache layer stores it: the value, when it was
 * made and when it expires, the tags it was made under (each with the tag's
 * version at that time, so invalidating a tag is one increment), labels that
 * say what the entry is about (model, task, the parts of a request key), and
 * a checksum that catches a corrupt entry before it is returned. */
#ifndef CE_CACHE_ENTRY_H
#define CE_CACHE_ENTRY_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/json.h"

#define CE_CACHE_MAX_TAGS 16

typedef struct {
  const char *name;
  size_t len;
  uint64_t version;
} ce_cache_tag;

typedef struct {
  double created, expires; /* seconds since the epoch; expires 0: never */
  int ntags;
  ce_cache_tag tags[CE_CACHE_MAX_TAGS];
  const char *labels; /* "k=v\n" lines; not NUL-terminated */
  size_t labels_len;
  const char *value;
  size_t value_len;
} ce_cache_entry;

/* Appends the encoded entry to out. 0, or -1 when out of memory or too many tags. */
int ce_cache_entry_encode(const ce_cache_entry *e, ce_buf *out);
/* Decodes (pointers into data). 0, or -1 when the bytes are not a whole,
 * intact entry (bad magic, lengths or checksum). verify = 0 skips the checksum. */
int ce_cache_entry_decode(const void *data, size_t len, int verify, ce_cache_entry *e);
/* The value of one label ("model"), or NULL; *len set. */
const char *ce_cache_entry_label(const ce_cache_entry *e, const char *key, size_t *len);

/* A fast 64-bit hash of bytes (8 at a time), for checksums and cache keys. */
uint64_t ce_cache_hash(const void *data, size_t len, uint64_t seed);

/* Glob match with * and ? (no classes), for preload patterns. */
int ce_cache_glob(const char *pattern, const char *s, size_t len);

#endif
