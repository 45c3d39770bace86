/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "core/cache/cache.h"
#include "core/cache/cache_disk.h"
#include "core/cache/cache_mem.h"
#include "core/cache/cache_redis.h"

static char dir[256];

static void test_entry(void) {
  ce_cache_entry e;
  memset(&e, 0, sizeof e);
  e.created = 100;
  e.expires = 200;
  e.ntags = 2;
  e.tags[0].name = "model_update";
  e.tags[0].len = 12;
  e.tags[0].version = 3;
  e.tags[1].name = "task_change";
  e.tags[1].len = 11;
  e.tags[1].version = 0;
  e.labels = "model=gpt-4\ntask=ladder";
  e.labels_len = strlen(e.labels);
  e.value = "hello";
  e.value_len = 5;
  ce_buf b;
  ce_buf_init(&b);
  CHECK(ce_cache_entry_encode(&e, &b) == 0);
  ce_cache_entry d;
  CHECK(ce_cache_entry_decode(b.data, b.len, 1, &d) == 0);
  CHECK(d.created == 100 && d.expires == 200 && d.ntags == 2 && d.tags[0].version == 3);
  CHECK(d.value_len == 5 && memcmp(d.value, "hello", 5) == 0);
  size_t l;
  const char *m = ce_cache_entry_label(&d, "model", &l);
  CHECK(m && l == 5 && memcmp(m, "gpt-4", 5) == 0);
  m = ce_cache_entry_label(&d, "task", &l);
  CHECK(m && l == 6);
  CHECK(ce_cache_entry_label(&d, "mod", &l) == NULL);
  /* one flipped byte anywhere is caught */
  for (size_t i = 0; i < b.len; i += 7) {
    b.data[i] ^= 0x20;
    CHECK(ce_cache_entry_decode(b.data, b.len, 1, &d) != 0);
    b.data[i] ^= 0x20;
  }
  CHECK(ce_cache_entry_decode(b.data, b.len - 1, 1, &d) != 0);
  CHECK(ce_cache_entry_decode("junk", 4, 1, &d) != 0);
  ce_buf_free(&b);

  CHECK(ce_cache_glob("gpt-*", "gpt-4o", 6));
  CHECK(ce_cache_glob("*", "", 0));
  CHECK(ce_cache_glob("g?t-4", "gpt-4", 5));
  CHECK(!ce_cache_glob("gpt-*", "claude", 6));
  CHECK(ce_cache_glob("*ladder*", "the_ladder_x", 12));
}

static void test_memory_lru(void) {
  /* one shard: an exact LRU. Each entry costs its node + 10 + 100 bytes. */
  ce_memcache *m = ce_memcache_new(1000, 1);
  char blob[100];
  memset(blob, 'v', sizeof blob);
  ce_buf out;
  ce_buf_init(&out);
  char key[16];
  int stored = 0;
  for (int i = 0; i < 20; i++) {
    snprintf(key, sizeof key, "key-%05d", i);
    if (ce_memcache_set(m, key, 9, blob, sizeof blob, 0, 0) == 0) stored++;
  }
  ce_memcache_stats st;
  ce_memcache_stats_get(m, &st);
  CHECK(st.bytes <= 1000);
  CHECK(st.entries > 0 && st.entries < 20);
  CHECK(st.evictions == 20 - st.entries);
  /* the newest survive, the oldest went first */
  CHECK(ce_memcache_get(m, "key-00019", 9, 0, &out, NULL) == 1);
  CHECK(ce_memcache_get(m, "key-00000", 9, 0, &out, NULL) == 0);
  /* touching an entry makes it the most recent */
  int first = 20 - (int)st.entries;
  snprintf(key, sizeof key, "key-%05d", first);
  CHECK(ce_memcache_get(m, key, 9, 0, &out, NULL) == 1);
  CHECK(ce_memcache_set(m, "key-new01", 9, blob, sizeof blob, 0, 0) == 0);
  CHECK(ce_memcache_get(m, key, 9, 0, &out, NULL) == 1);
  snprintf(key, sizeof key, "key-%05d", first + 1);
  CHECK(ce_memcache_get(m, key, 9, 0, &out, NULL) == 0);
  /* expiry */
  CHECK(ce_memcache_set(m, "ttl", 3, "x", 1, 50.0, 0) == 0);
  CHECK(ce_memcache_get(m, "ttl", 3, 49.0, &out, NULL) == 1);
  CHECK(ce_memcache_get(m, "ttl", 3, 51.0, &out, NULL) == 0);
  /* bigger than the bound: refused, not stored */
  char big[2000];
  memset(big, 1, sizeof big);
  CHECK(ce_memcache_set(m, "big", 3, big, sizeof big, 0, 0) == -1);
  ce_buf_free(&out);
  ce_memcache_free(m);
}

static ce_cache *open_cache(size_t mem, size_t disk) {
  ce_cache_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.memory_max_bytes = mem;
  cfg.disk_path = disk ? dir : NULL;
  cfg.disk_max_bytes = disk;
  ce_err e;
  ce_cache *c = ce_cache_open(&cfg, &e);
  if (!c) fprintf(stderr, "%s\n", e.msg);
  return c;
}

static int get_str(ce_cache *c, const char *k, char *out, size_t size, int *layer) {
  ce_buf v;
  ce_buf_init(&v);
  int r = ce_cache_get(c, k, strlen(k), &v, layer);
  if (r == 1) snprintf(out, size, "%.*s", (int)v.len, v.data);
  ce_buf_free(&v);
  return r;
}

static void test_layers(void) {
  ce_cache *c = open_cache(1 << 20, 64 << 20);
  CHECK(c != NULL);
  if (!c) return;
  const char *tags[] = {"model_update"};
  size_t tl[] = {12};
  ce_cache_set_opts o = {-1, tags, tl, 1, "model=m1\ntask=t1", 17};
  CHECK(ce_cache_set(c, "k1", 2, "v1", 2, &o) == 0);
  ce_cache_set_opts plain = {-1, NULL, NULL, 0, NULL, 0};
  CHECK(ce_cache_set(c, "k2", 2, "v2", 2, &plain) == 0);
  char v[64];
  int layer = -1;
  CHECK(get_str(c, "k1", v, sizeof v, &layer) == 1);
  CHECK_STR(v, "v1");
  CHECK(layer == CE_CACHE_MEMORY);
  ce_cache_free(c);

  /* a new process-like open: memory is empty, disk has it, and a hit is promoted */
  c = open_cache(1 << 20, 64 << 20);
  CHECK(get_str(c, "k1", v, sizeof v, &layer) == 1 && layer == CE_CACHE_DISK);
  CHECK(get_str(c, "k1", v, sizeof v, &layer) == 1 && layer == CE_CACHE_MEMORY);
  /* invalidating the tag makes k1 stale on both layers; k2 has no tag */
  CHECK(ce_cache_invalidate(c, "model_update", 12) == 0);
  CHECK(get_str(c, "k1", v, sizeof v, &layer) == 0);
  CHECK(get_str(c, "k2", v, sizeof v, &layer) == 1);
  ce_cache_layer_stats st;
  ce_cache_stats(c, CE_CACHE_MEMORY, &st);
  CHECK(st.stale >= 1);
  /* an entry made after the invalidation is current again */
  CHECK(ce_cache_set(c, "k1", 2, "v1b", 3, &o) == 0);
  CHECK(get_str(c, "k1", v, sizeof v, &layer) == 1);
  CHECK_STR(v, "v1b");
  ce_cache_free(c);
  c = open_cache(1 << 20, 64 << 20);
  CHECK(get_str(c, "k1", v, sizeof v, &layer) == 1 && layer == CE_CACHE_DISK);
  CHECK_STR(v, "v1b");

  /* TTL: an entry past its time is a miss */
  ce_cache_set_opts short_ttl = {0.05, NULL, NULL, 0, NULL, 0};
  CHECK(ce_cache_set(c, "k3", 2, "v3", 2, &short_ttl) == 0);
  CHECK(get_str(c, "k3", v, sizeof v, &layer) == 1);
  usleep(80000);
  CHECK(get_str(c, "k3", v, sizeof v, &layer) == 0);
  ce_cache_free(c);

  /* a corrupt entry on disk is a miss, counted, and deleted */
  ce_err err;
  ce_diskcache *d = ce_diskcache_open(dir, 64 << 20, &err);
  CHECK(ce_diskcache_set(d, "bad", 3, "not an entry at all, just bytes", 31, 1, &err) == 0);
  ce_diskcache_free(d);
  c = open_cache(1 << 20, 64 << 20);
  CHECK(get_str(c, "bad", v, sizeof v, &layer) == 0);
  ce_cache_stats(c, CE_CACHE_DISK, &st);
  CHECK(st.corrupt == 1);
  ce_cache_free(c);
  d = ce_diskcache_open(dir, 64 << 20, &err);
  ce_buf b;
  ce_buf_init(&b);
  CHECK(ce_diskcache_get(d, "bad", 3, &b, &err) == 0);
  ce_buf_free(&b);
  ce_diskcache_free(d);
}

/* a disk layer of its own, in a folder of the test's */
static ce_diskcache *open_disk(const char *name, size_t bound) {
  char sub[300];
  snprintf(sub, sizeof sub, "%s/%s", dir, name);
  ce_err err;
  ce_diskcache *d = ce_diskcache_open(sub, bound, &err);
  CHECK(d != NULL);
  return d;
}

static void test_disk_bound(void) {
  ce_err err;
  ce_diskcache *d = open_disk("bounded", 4 << 20);
  if (!d) return;
  char *blob = malloc(10000);
  memset(blob, 'b', 10000);
  char key[32];
  for (int i = 0; i < 2000; i++) { /* 20 MB into a 4 MB bound */
    snprintf(key, sizeof key, "k%06d", i);
    if (ce_diskcache_set(d, key, strlen(key), blob, 10000, 1000.0 + i, &err) != 0) {
      fprintf(stderr, "%s\n", err.msg);
      CHECK(0);
      break;
    }
  }
  ce_diskcache_stats st;
  ce_diskcache_stats_get(d, &st);
  CHECK(st.bytes <= 4u << 20);
  CHECK(st.evictions > 1000);
  ce_buf b;
  ce_buf_init(&b);
  /* oldest evicted, newest kept */
  CHECK(ce_diskcache_get(d, "k000000", 7, &b, &err) == 0);
  CHECK(ce_diskcache_get(d, "k001999", 7, &b, &err) == 1);
  /* prune by age */
  long pruned = ce_diskcache_prune_before(d, 1000.0 + 1990, &err);
  CHECK(pruned > 0);
  CHECK(ce_diskcache_get(d, "k001989", 7, &b, &err) == 0);
  CHECK(ce_diskcache_get(d, "k001995", 7, &b, &err) == 1);
  ce_buf_free(&b);
  free(blob);
  ce_diskcache_free(d);
}

/* ---- many threads, and two processes ---- */

static ce_cache *shared_cache;

/* set_many over a key already there: the new value, and only its age key
 * (an old one left behind would let prune_before take the new value) */
static void test_disk_overwrite(void) {
  ce_err err;
  ce_diskcache *d = open_disk("overwrite", 64 << 20);
  if (!d) return;
  ce_buf old, mid, fresh, other;
  ce_buf_init(&old);
  ce_buf_init(&mid);
  ce_buf_init(&fresh);
  ce_buf_init(&other);
  ce_cache_entry e;
  memset(&e, 0, sizeof e);
  e.created = 100;
  e.value = "old";
  e.value_len = 3;
  CHECK(ce_cache_entry_encode(&e, &old) == 0);
  e.created = 150;
  e.value = "mid";
  CHECK(ce_cache_entry_encode(&e, &mid) == 0);
  e.created = 200;
  e.value = "new";
  CHECK(ce_cache_entry_encode(&e, &fresh) == 0);
  e.value = "other";
  e.value_len = 5;
  CHECK(ce_cache_entry_encode(&e, &other) == 0);
  const char *k1[] = {"k"}, *b1[] = {old.data};
  size_t kl1[] = {1}, bl1[] = {old.len};
  double c1[] = {100};
  CHECK(ce_diskcache_set_many(d, 1, k1, kl1, b1, bl1, c1, &err) == 0);
  /* the key again, beside a new one, and twice in one batch */
  const char *k2[] = {"k", "k2", "k"}, *b2[] = {mid.data, other.data, fresh.data};
  size_t kl2[] = {1, 2, 1}, bl2[] = {mid.len, other.len, fresh.len};
  double c2[] = {150, 200, 200};
  CHECK(ce_diskcache_set_many(d, 3, k2, kl2, b2, bl2, c2, &err) == 0);
  CHECK(ce_diskcache_prune_before(d, 199, &err) == 0);
  ce_buf got;
  ce_buf_init(&got);
  CHECK(ce_diskcache_get(d, "k", 1, &got, &err) == 1);
  CHECK(got.len == fresh.len && memcmp(got.data, fresh.data, got.len) == 0);
  ce_diskcache_stats st;
  ce_diskcache_stats_get(d, &st);
  CHECK(st.entries == 2);
  CHECK(ce_diskcache_prune_before(d, 201, &err) == 2);
  ce_buf_free(&got);
  ce_buf_free(&old);
  ce_buf_free(&mid);
  ce_buf_free(&fresh);
  ce_buf_free(&other);
  ce_diskcache_free(d);
}

static void *hammer(void *arg) {
  int id = *(int *)arg;
  char key[32], val[32], got[64];
  ce_cache_set_opts plain = {-1, NULL, NULL, 0, NULL, 0};
  for (int i = 0; i < 3000; i++) {
    int k = (i * 7 + id) % 500;
    snprintf(key, sizeof key, "shared-%d", k);
    snprintf(val, sizeof val, "value-%d", k);
    if (i % 3 == 0) ce_cache_set(shared_cache, key, strlen(key), val, strlen(val), &plain);
    else if (get_str(shared_cache, key, got, sizeof got, NULL) == 1 && strcmp(got, val) != 0) CHECK(0);
    if (i % 500 == 0) ce_cache_invalidate(shared_cache, "t", 1);
  }
  return NULL;
}

static void test_threads_and_processes(void) {
  char sub[300];
  snprintf(sub, sizeof sub, "%s/shared", dir);
  ce_cache_cfg cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.memory_max_bytes = 64 << 10; /* small: evictions under contention */
  cfg.disk_path = sub;
  cfg.disk_max_bytes = 64 << 20;
  ce_err e;
  shared_cache = ce_cache_open(&cfg, &e);
  CHECK(shared_cache != NULL);
  if (!shared_cache) return;
  pthread_t t[8];
  int ids[8];
  for (int i = 0; i < 8; i++) {
    ids[i] = i;
    pthread_create(&t[i], NULL, hammer, &ids[i]);
  }
  for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
  ce_cache_free(shared_cache);

  /* two processes writing the same disk layer at once */
  pid_t pid = fork();
  if (pid == 0) {
    ce_cache_cfg cc = cfg;
    cc.memory_max_bytes = 0;
    ce_cache *c = ce_cache_open(&cc, &e);
    ce_cache_set_opts plain = {-1, NULL, NULL, 0, NULL, 0};
    char key[32];
    for (int i = 0; i < 500; i++) {
      snprintf(key, sizeof key, "child-%d", i);
      ce_cache_set(c, key, strlen(key), "from-child", 10, &plain);
    }
    ce_cache_free(c);
    _exit(0);
  }
  ce_cache_cfg pc = cfg;
  pc.memory_max_bytes = 0;
  ce_cache *c = ce_cache_open(&pc, &e);
  ce_cache_set_opts plain = {-1, NULL, NULL, 0, NULL, 0};
  char key[32], got[64];
  for (int i = 0; i < 500; i++) {
    snprintf(key, sizeof key, "parent-%d", i);
    ce_cache_set(c, key, strlen(key), "from-parent", 11, &plain);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  int both = 0;
  for (int i = 0; i < 500; i++) {
    snprintf(key, sizeof key, "child-%d", i);
    if (get_str(c, key, got, sizeof got, NULL) == 1 && strcmp(got, "from-child") == 0) both++;
    snprintf(key, sizeof key, "parent-%d", i);
    if (get_str(c, key, got, sizeof got, NULL) == 1 && strcmp(got, "from-parent") == 0) both++;
  }
  CHECK(both == 1000);
  ce_cache_free(c);
}

static void test_redis_url(void) {
  char buf[512];
  ce_redis_cfg rc;
  memset(&rc, 0, sizeof rc);
  CHECK(ce_redis_parse_url("redis://:pw@cache.example.com:6380/2", &rc, buf, sizeof buf) == 0);
  CHECK_STR(rc.host, "cache.example.com");
  CHECK_STR(rc.password, "pw");
  CHECK(rc.port == 6380 && rc.db == 2);
  memset(&rc, 0, sizeof rc);
  CHECK(ce_redis_parse_url("redis://[::1]:6381", &rc, buf, sizeof buf) == 0);
  CHECK_STR(rc.host, "::1");
  CHECK(rc.port == 6381);
  CHECK(ce_redis_parse_url("redis://localhost", &rc, buf, sizeof buf) == 0);
  /* what the configuration refuses with the key's name */
  const char *bad[] = {"notaurl", "http://h:6379", "redis://h:99999", "redis://h:0", "redis://h:", "redis://h/x",
                       "redis://a b", "redis://h:x:1", "redis://[::1", "redis://[::1]x",
                       /* no host: it went to 127.0.0.1:6379, db 0, without a word */
                       "redis://", "redis://:pw@/3", "redis:///2", NULL};
  for (int i = 0; bad[i]; i++) {
    memset(&rc, 0, sizeof rc);
    if (ce_redis_parse_url(bad[i], &rc, buf, sizeof buf) == 0) {
      fprintf(stderr, "accepted %s\n", bad[i]);
      CHECK(0);
    }
  }
}

int main(void) {
  snprintf(dir, sizeof dir, "/tmp/ce-test-cache.%d", (int)getpid());
  test_redis_url();
  test_entry();
  test_memory_lru();
  test_layers();
  test_disk_bound();
  test_disk_overwrite();
  test_threads_and_processes();
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  return check_report("test_cache");
}
