/* SPDX-License-Identifier: MIT */
#include "core/serve/limits.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

int ce_json_too_deep(const char *s, size_t n, unsigned max) {
  unsigned depth = 0;
  int in_string = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_string) {
      if (c == '\\') i++; /* the escaped character cannot end the string */
      else if (c == '"') in_string = 0;
    } else if (c == '"') {
      in_string = 1;
    } else if (c == '[' || c == '{') {
      if (++depth > max) return 1;
    } else if ((c == ']' || c == '}') && depth > 0) {
      depth--;
    }
  }
  return 0;
}

/* The q-value of one list element's parameters (";q=0.5"): 1 without one. */
static double qvalue(const char *p, const char *end) {
  while (p < end) {
    while (p < end && (*p == ';' || *p == ' ' || *p == '\t')) p++;
    if (end - p >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=') {
      char num[16];
      size_t k = 0;
      for (p += 2; p < end && k + 1 < sizeof num && (isdigit((unsigned char)*p) || *p == '.'); p++) num[k++] = *p;
      num[k] = '\0';
      return k ? strtod(num, NULL) : 0;
    }
    while (p < end && *p != ';') p++;
  }
  return 1;
}

int ce_accepts_gzip(const char *ae) {
  if (!ae) return 0;
  int gzip = -1, star = -1; /* -1: not named; else whether its q > 0 */
  for (const char *p = ae; *p;) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *tok = p;
    while (*p && *p != ';' && *p != ',' && *p != ' ' && *p != '\t') p++;
    size_t tl = (size_t)(p - tok);
    const char *params = p;
    while (*p && *p != ',') p++;
    int ok = qvalue(params, p) > 0;
    if ((tl == 4 && strncasecmp(tok, "gzip", 4) == 0) || (tl == 6 && strncasecmp(tok, "x-gzip", 6) == 0)) gzip = ok;
    else if (tl == 1 && *tok == '*') star = ok;
  }
  if (gzip >= 0) return gzip;
  return star == 1;
}

int ce_gzip(const void *src, size_t len, int level, void **out, size_t *out_len) {
  z_stream z;
  memset(&z, 0, sizeof z);
  /* 15 + 16: a gzip wrapper rather than zlib's own */
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return -1;
  uLong cap = deflateBound(&z, (uLong)len) + 32;
  unsigned char *buf = malloc(cap);
  if (!buf) {
    deflateEnd(&z);
    return -1;
  }
  z.next_in = (Bytef *)src;
  z.avail_in = (uInt)len;
  z.next_out = buf;
  z.avail_out = (uInt)cap;
  int rc = deflate(&z, Z_FINISH);
  size_t n = cap - z.avail_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) {
    free(buf);
    return -1;
  }
  *out = buf;
  *out_len = n;
  return 0;
}
