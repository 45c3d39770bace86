/* SPDX-License-Identifier: MIT */
/* What the server checks of a request before any worker sees it, and how it
 * encodes a reply: the nesting depth of a JSON body (so a body nested a
 * million deep costs a scan, not a decoder's recursion), whether the client
 * accepts gzip, and gzip itself (zlib). No Lua, no sockets: the fuzz target
 * and the unit test call these directly. */
#ifndef CE_SERVE_LIMITS_H
#define CE_SERVE_LIMITS_H

#include <stddef.h>

/* 1 when the JSON text nests arrays and objects deeper than max (brackets
 * inside strings do not count), else 0. It does not validate the text: the
 * decoder does that, after this has bounded its recursion. */
int ce_json_too_deep(const char *s, size_t n, unsigned max);

/* 1 when an Accept-Encoding value allows gzip: "gzip" or "x-gzip" or "*"
 * with a q-value above 0, and gzip not refused by name. NULL: no. */
int ce_accepts_gzip(const char *accept_encoding);

/* gzip of src into a malloc'd buffer (*out, *out_len). 0, or -1 when out of
 * memory (nothing allocated). */
int ce_gzip(const void *src, size_t len, int level, void **out, size_t *out_len);

#endif
