/* SPDX-License-Identifier: MIT */
/* What the profilers collect, process-wide, from any thread:
 *   - CPU samples as folded stacks ("root;caller;leaf" -> samples), merged
 *     across every thread's Lua state;
 *   - memory growth attributed to the code that was running (site -> bytes
 *     per snapshot), for leak detection;
 *   - I/O counters per native path (HTTP, LMDB, Redis, files): operations,
 *     bytes, total latency.
 * Collection is switched on and off for the whole process; states read
 * ce_prof_active() to know whether to sample. */
#ifndef CE_PROFILE_H
#define CE_PROFILE_H

#include <stddef.h>
#include <stdint.h>

/* ---- switching ---- */
void ce_prof_start(double interval_s); /* clears what was collected */
void ce_prof_stop(void);
int ce_prof_active(void);
double ce_prof_interval(void);

/* ---- CPU samples ---- */
void ce_prof_add_stack(const char *folded, size_t len, uint64_t samples);
/* Visits every stack; fn returns nonzero to stop. */
typedef int (*ce_prof_stack_visit)(const char *folded, uint64_t samples, void *ud);
void ce_prof_each_stack(ce_prof_stack_visit fn, void *ud);
uint64_t ce_prof_total_samples(void);

/* ---- memory by site ---- */
/* bytes (may be negative) attributed to a site since the last snapshot */
void ce_prof_add_memory(const char *site, size_t len, int64_t bytes);
/* Closes the current snapshot: every site's net growth in it is kept. */
void ce_prof_snapshot(double t, int64_t total_bytes);
typedef int (*ce_prof_site_visit)(const char *site, const int64_t *growth, int nsnapshots, void *ud);
void ce_prof_each_site(ce_prof_site_visit fn, void *ud);
int ce_prof_snapshots(double *t, int64_t *total, int max); /* the snapshot times and totals, oldest first */

/* ---- I/O ---- */
enum { CE_IO_HTTP = 0, CE_IO_LMDB, CE_IO_REDIS, CE_IO_FILE, CE_IO_SMTP, CE_IO_NPATHS };
/* Counted always (cheap atomics), whether or not a profile is running. */
void ce_io_count(int path, uint64_t ops, uint64_t bytes, double seconds);
typedef struct {
  uint64_t ops, bytes;
  double seconds;
} ce_io_totals;
void ce_io_get(int path, ce_io_totals *out);
const char *ce_io_path_name(int path);
double ce_io_now(void); /* a monotonic clock for timing I/O */

/* Anonymous resident memory of the process now (the heap and stacks: what
 * it holds itself), in bytes, 0 when unknown. File-backed pages, such as the
 * results store's map of data.mdb, are left out: they are page cache the
 * kernel takes back when it needs it, and would grow with the store. */
int64_t ce_rss_bytes(void);

/* ---- native memory: bytes held outside the Lua allocators ---- */
enum { CE_NATIVE_STORE_QUEUE = 0, CE_NATIVE_CACHE_MEMORY, CE_NATIVE_NKINDS };
void ce_native_add(int kind, int64_t delta);
int64_t ce_native_get(int kind);
const char *ce_native_name(int kind);

#endif
