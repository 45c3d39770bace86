/* SPDX-License-Identifier: MIT */
/* Native objects that several threads (each with its own Lua state) use
 * together. Nothing Lua crosses threads: a state hands another only a
 * numeric id, and the other attaches to the object by that id. Objects are
 * reference counted; the last release destroys them. Each object here is
 * thread-safe on its own. */
#ifndef CE_SHARED_H
#define CE_SHARED_H

#include <stddef.h>
#include <stdint.h>

#include "core/util/err.h"

/* ---- the registry ---- */
typedef void (*ce_shared_destroy)(void *obj);
/* Registers obj (one reference, the caller's). Returns its id (> 0), 0 on failure. */
uint64_t ce_shared_register(void *obj, const char *type, ce_shared_destroy destroy);
/* Takes a reference; NULL when the id is unknown or of another type. */
void *ce_shared_acquire(uint64_t id, const char *type);
void ce_shared_release(uint64_t id);

/* ---- a counter: tickets handed out in order, up to a limit ---- */
typedef struct ce_counter ce_counter;
ce_counter *ce_counter_new(int64_t start, int64_t limit); /* limit < 0: none */
/* Up to n values in one step: the first, or -1 once the limit is reached;
 * *got says how many (fewer than n at the limit). */
int64_t ce_counter_take(ce_counter *c, int64_t n, int64_t *got);
int64_t ce_counter_get(ce_counter *c);
void ce_counter_add(ce_counter *c, int64_t d);
void ce_counter_free(void *c);

/* ---- a flag with a message: "stop now, because ..." ---- */
typedef struct ce_flag ce_flag;
ce_flag *ce_flag_new(void);
/* First setter wins; returns 1 when this call set it. */
int ce_flag_set(ce_flag *f, int code, const char *msg);
int ce_flag_get(ce_flag *f, char *msg, size_t size); /* 0 when unset, else the code */
void ce_flag_free(void *f);

/* ---- a token bucket shared by all workers: requests per second ---- */
typedef struct ce_bucket ce_bucket;
ce_bucket *ce_bucket_new(double rate, double burst); /* rate <= 0: unlimited */
/* Takes one token if available: returns 0; else returns the seconds to wait. */
double ce_bucket_take(ce_bucket *b);
void ce_bucket_set_rate(ce_bucket *b, double rate, double burst);
void ce_bucket_free(void *b);

/* ---- lines of a file, handed out one at a time to any thread ---- */
typedef struct ce_lines ce_lines;
/* NULL + err for a file that cannot be read or is a directory. */
ce_lines *ce_lines_open(const char *path, ce_err *err);
/* 1: the line in *line (no newline, NUL-terminated), its length and its
 * 1-based number; 0: end; -1 error (errno says which). *line and *cap are
 * the caller's buffer, as getline(3) takes them (NULL and 0 at first): it
 * grows to the longest line and is used again, so a reader allocates
 * nothing per line; the caller frees *line. Lines of only white space are
 * skipped, and a UTF-8 byte order mark is dropped from line 1. */
int ce_lines_next(ce_lines *l, char **line, size_t *cap, size_t *len, long *lineno);
void ce_lines_free(void *l);

/* ---- a sum of doubles (spent tokens, dollars) ---- */
typedef struct ce_sum ce_sum;
ce_sum *ce_sum_new(void);
double ce_sum_add(ce_sum *s, double v); /* returns the new total */
double ce_sum_get(ce_sum *s);
void ce_sum_free(void *s);

/* ---- a set of strings (by 64-bit hash): "already done" for resumed runs ---- */
typedef struct ce_set ce_set;
ce_set *ce_set_new(void);
int ce_set_add(ce_set *s, const void *key, size_t len); /* 1 added, 0 present, -1 out of memory */
int ce_set_has(ce_set *s, const void *key, size_t len);
size_t ce_set_size(ce_set *s);
/* A digest of the keys added, in the order they were first added: two scans
 * of a file agree on it when its ids, in order, are the same */
uint64_t ce_set_digest(ce_set *s);
void ce_set_free(void *s);

/* ---- a latency histogram: log-spaced buckets, quantiles within 2% ---- */
typedef struct ce_hist ce_hist;
ce_hist *ce_hist_new(void);
void ce_hist_add(ce_hist *h, double v); /* v >= 0 */
uint64_t ce_hist_count(ce_hist *h);
double ce_hist_quantile(ce_hist *h, double q); /* -1 when empty */
double ce_hist_mean(ce_hist *h);
/* Starts a new window (a tuning interval). Adds racing with it may land in either window. */
void ce_hist_reset(ce_hist *h);
void ce_hist_free(void *h);

/* ---- a ring of recent strings (latest records), also a FIFO mailbox ---- */
typedef struct ce_ring ce_ring;
ce_ring *ce_ring_new(int capacity);
void ce_ring_push(ce_ring *r, const char *s, size_t len); /* drops the oldest when full */
/* The oldest entry, removed (malloc'd, caller frees); NULL when empty. */
char *ce_ring_pop(ce_ring *r, size_t *len);
/* Visits up to n of the newest entries, newest first. */
typedef void (*ce_ring_visit)(const char *s, size_t len, void *ud);
void ce_ring_last(ce_ring *r, int n, ce_ring_visit fn, void *ud);
void ce_ring_free(void *r);

#endif
