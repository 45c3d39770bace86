/* SPDX-License-Identifier: MIT */
/* Speed of each cache layer, measured in-process (tools/bench/cache.sh runs it):
 *   memory hit, LMDB hit: the median of single get calls, each timed alone;
 *   Redis: pipelined gets per second in batches.
 *
 *   cache_bench DISK_DIR [REDIS_URL] [--n N] [--value-bytes B] [--batches K]
 * (--batches: of 1,000 Redis gets per round, 50 by default; `causal-eval
 * bench --quick` takes fewer)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/cache/cache.h"
#include "core/cache/cache_disk.h"
#include "core/cache/cache_mem.h"

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp);
  return v[n / 2];
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: cache_bench DISK_DIR [REDIS_URL] [--n N] [--value-bytes B] [--batches K]\n");
    return 2;
  }
  const char *disk = argv[1], *url = NULL;
  int n = 200000, keys = 10000, batches = 50;
  size_t vbytes = 1024;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--n") && i + 1 < argc) n = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--value-bytes") && i + 1 < argc) vbytes = (size_t)atol(argv[++i]);
    else if (!strcmp(argv[i], "--batches") && i + 1 < argc) batches = atoi(argv[++i]);
    else url = argv[i];
  }
  if (n < 1 || batches < 1) {
    fprintf(stderr, "cache_bench: --n and --batches must be >= 1\n");
    return 2;
  }
  char *value = malloc(vbytes);
  memset(value, 'v', vbytes);
  double *t = malloc((size_t)n * sizeof *t);
  char key[64];
  ce_err err;
  ce_buf out;
  ce_buf_init(&out);

  /* each layer alone, through the layered cache's API */
  ce_cache_cfg mem_cfg = {256u << 20, 16, NULL, 0, NULL, 0};
  ce_cache *mem = ce_cache_open(&mem_cfg, &err);
  ce_cache_cfg disk_cfg = {0, 0, disk, 1u << 30, NULL, 0};
  ce_cache *dsk = ce_cache_open(&disk_cfg, &err);
  if (!mem || !dsk) {
    fprintf(stderr, "cache_bench: %s\n", err.msg);
    return 1;
  }
  ce_cache_set_opts o = {0, NULL, NULL, 0, "model=m\ntask=t", 15};
  for (int i = 0; i < keys; i++) {
    int kl = snprintf(key, sizeof key, "m=bench|t=ladder|%016x", i * 2654435761u);
    ce_cache_set(mem, key, (size_t)kl, value, vbytes, &o);
    ce_cache_set(dsk, key, (size_t)kl, value, vbytes, &o);
  }
  for (int pass = 0; pass < 2; pass++) {
    ce_cache *c = pass == 0 ? mem : dsk;
    int hits = 0;
    for (int i = 0; i < n; i++) {
      int kl = snprintf(key, sizeof key, "m=bench|t=ladder|%016x", (i % keys) * 2654435761u);
      out.len = 0;
      double t0 = now();
      int layer;
      hits += ce_cache_get(c, key, (size_t)kl, &out, &layer);
      t[i] = now() - t0;
    }
    printf("%s hit: median %.3f us over %d gets of %zu-byte values (%d hits)\n", pass == 0 ? "memory" : "lmdb",
           median(t, n) * 1e6, n, vbytes, hits);
  }

  if (url) {
    ce_redis_cfg rc;
    memset(&rc, 0, sizeof rc);
    char buf[512];
    if (ce_redis_parse_url(url, &rc, buf, sizeof buf) != 0) {
      fprintf(stderr, "cache_bench: bad redis url %s\n", url);
      return 2;
    }
    rc.prefix = "bench:";
    rc.timeout = 2;
    ce_cache_cfg redis_cfg = {0, 0, NULL, 0, &rc, 0};
    ce_cache *rds = ce_cache_open(&redis_cfg, &err);
    for (int i = 0; i < keys; i++) {
      int kl = snprintf(key, sizeof key, "m=bench|t=ladder|%016x", i * 2654435761u);
      if (ce_cache_set(rds, key, (size_t)kl, value, vbytes, &o) != 0) {
        fprintf(stderr, "cache_bench: redis %s unreachable\n", url);
        return 1;
      }
    }
    enum { BATCH = 1000 };
    static char kbuf[BATCH][64];
    const char *ks[BATCH];
    size_t kls[BATCH];
    ce_buf vals[BATCH];
    int found[BATCH];
    for (int j = 0; j < BATCH; j++) ce_buf_init(&vals[j]);
    double rates[9];
    long total_hits = 0;
    for (int round = 0; round < 9; round++) {
      double t0 = now();
      for (int b = 0; b < batches; b++) {
        for (int j = 0; j < BATCH; j++) {
          kls[j] = (size_t)snprintf(kbuf[j], 64, "m=bench|t=ladder|%016x", ((b * BATCH + j) % keys) * 2654435761u);
          ks[j] = kbuf[j];
          vals[j].len = 0;
        }
        ce_cache_get_many(rds, ks, kls, BATCH, vals, found);
        for (int j = 0; j < BATCH; j++) total_hits += found[j] != 0;
      }
      rates[round] = batches * BATCH / (now() - t0);
    }
    printf("redis pipelined gets: median %.0f per second (9 rounds of %d batches of %d, %zu-byte values, %ld hits)\n",
           median(rates, 9), batches, BATCH, vbytes, total_hits);
    for (int j = 0; j < BATCH; j++) ce_buf_free(&vals[j]);
    ce_cache_free(rds);
  }
  ce_cache_free(mem);
  ce_cache_free(dsk);
  ce_buf_free(&out);
  free(t);
  free(value);
  return 0;
}
