/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "core/util/shared.h"

static ce_counter *tickets;
static ce_set *seen;
static ce_hist *hist;
static int taken[4];

static void *take(void *arg) {
  int *n = arg;
  int64_t t, got;
  while ((t = ce_counter_take(tickets, 1, &got)) >= 0) {
    (*n)++;
    char key[32];
    int kl = snprintf(key, sizeof key, "q%lld", (long long)t);
    ce_set_add(seen, key, (size_t)kl);
    ce_hist_add(hist, 0.001 * (double)(t % 100 + 1));
  }
  return NULL;
}

/* The lines of a question file: a line of spaces or a byte order mark must
 * not take the place of a question. */
static void check_lines(void) {
  char dir[] = "/tmp/test_shared_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[64];
  snprintf(path, sizeof path, "%s/q.jsonl", dir);
  FILE *f = fopen(path, "wb");
  fputs("\xef\xbb\xbf{\"id\":1}\r\n\n   \n\t \r\n{\"id\":2}\n \xef\xbb\xbf\n{\"id\":3}", f);
  fclose(f);
  ce_err e;
  ce_lines *l = ce_lines_open(path, &e);
  CHECK(l != NULL);
  /* one buffer for every line, as a reader keeps it */
  char *line = NULL;
  size_t cap = 0, len;
  long no;
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 1);
  CHECK_STR(line, "{\"id\":1}");
  CHECK(len == 8 && no == 1);
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 1);
  CHECK_STR(line, "{\"id\":2}");
  CHECK(no == 5);
  /* a byte order mark past line 1 is text, and the line reaches the reader */
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 1);
  CHECK(no == 6 && len == 4);
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 1);
  CHECK_STR(line, "{\"id\":3}");
  CHECK(no == 7);
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 0);
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 0);
  ce_lines_free(l);

  /* a line longer than the buffer grows it; a shorter one after it is read
   * whole and alone (no bytes of the long one behind its end) */
  f = fopen(path, "wb");
  for (int i = 0; i < 100000; i++) fputc('x', f);
  fputs("\nab\r\n", f);
  fclose(f);
  l = ce_lines_open(path, &e);
  CHECK(l != NULL);
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 1);
  CHECK(len == 100000 && cap > 100000 && no == 1 && line[99999] == 'x' && line[100000] == '\0');
  size_t grown = cap;
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 1);
  CHECK(len == 2 && no == 2 && cap == grown);
  CHECK_STR(line, "ab");
  CHECK(ce_lines_next(l, &line, &cap, &len, &no) == 0);
  ce_lines_free(l);
  free(line);

  CHECK(ce_lines_open(dir, &e) == NULL);
  CHECK_CONTAINS(e.msg, "is a directory");
  snprintf(path, sizeof path, "%s/none.jsonl", dir);
  CHECK(ce_lines_open(path, &e) == NULL);
  CHECK_CONTAINS(e.msg, "none.jsonl: cannot open: No such file");
  snprintf(path, sizeof path, "%s/q.jsonl", dir);
  remove(path);
  rmdir(dir);
}

int main(void) {
  /* tickets: each handed out once across threads, up to the limit */
  tickets = ce_counter_new(0, 10000);
  seen = ce_set_new();
  hist = ce_hist_new();
  pthread_t t[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, take, &taken[i]);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(taken[0] + taken[1] + taken[2] + taken[3] == 10000);
  CHECK(ce_set_size(seen) == 10000);
  int64_t got;
  CHECK(ce_counter_take(tickets, 1, &got) == -1 && got == 0);
  CHECK(ce_set_has(seen, "q9999", 5));
  CHECK(!ce_set_has(seen, "q10000", 6));
  CHECK(ce_set_add(seen, "q1", 2) == 0);

  /* the digest: the same keys in the same order agree, in another order or
   * one fewer they do not, and a key added again changes nothing */
  ce_set *d1 = ce_set_new(), *d2 = ce_set_new(), *d3 = ce_set_new();
  CHECK(ce_set_digest(d1) == ce_set_digest(d2));
  ce_set_add(d1, "a", 1), ce_set_add(d1, "b", 1), ce_set_add(d1, "c", 1);
  ce_set_add(d2, "a", 1), ce_set_add(d2, "b", 1), ce_set_add(d2, "b", 1), ce_set_add(d2, "c", 1);
  CHECK(ce_set_digest(d1) == ce_set_digest(d2));
  ce_set_add(d3, "b", 1), ce_set_add(d3, "a", 1);
  uint64_t two = ce_set_digest(d3);
  ce_set_add(d3, "c", 1);
  CHECK(ce_set_digest(d3) != ce_set_digest(d1));
  CHECK(two != ce_set_digest(d3));
  ce_set_free(d1), ce_set_free(d2), ce_set_free(d3);

  /* histogram quantiles within 2% of the exact ones (1..100 ms uniform) */
  CHECK(ce_hist_count(hist) == 10000);
  CHECK(fabs(ce_hist_quantile(hist, 0.5) - 0.050) <= 0.050 * 0.03);
  CHECK(fabs(ce_hist_quantile(hist, 0.95) - 0.095) <= 0.095 * 0.03);
  CHECK(fabs(ce_hist_mean(hist) - 0.0505) < 1e-9);
  ce_hist *empty = ce_hist_new();
  CHECK(ce_hist_quantile(empty, 0.5) < 0);
  ce_hist_free(empty);

  /* a flag: the first reason wins */
  ce_flag *f = ce_flag_new();
  char msg[64];
  CHECK(ce_flag_get(f, msg, sizeof msg) == 0);
  CHECK(ce_flag_set(f, 2, "auth") == 1);
  CHECK(ce_flag_set(f, 3, "budget") == 0);
  CHECK(ce_flag_get(f, msg, sizeof msg) == 2);
  CHECK_STR(msg, "auth");
  ce_flag_free(f);

  /* a bucket: the burst at once, then the rate */
  ce_bucket *b = ce_bucket_new(100, 5);
  int immediate = 0;
  for (int i = 0; i < 10; i++)
    if (ce_bucket_take(b) == 0) immediate++;
  CHECK(immediate == 5);
  double wait = ce_bucket_take(b);
  CHECK(wait > 0 && wait <= 0.011);
  ce_bucket_free(b);
  ce_bucket *unlimited = ce_bucket_new(0, 0);
  for (int i = 0; i < 1000; i++) CHECK(ce_bucket_take(unlimited) == 0);
  ce_bucket_free(unlimited);

  /* sums */
  ce_sum *s = ce_sum_new();
  ce_sum_add(s, 0.25);
  CHECK(ce_sum_add(s, 0.5) == 0.75);
  ce_sum_free(s);

  /* the registry: attach by id and type; the last release destroys */
  uint64_t id = ce_shared_register(tickets, "counter", ce_counter_free);
  CHECK(id > 0);
  CHECK(ce_shared_acquire(id, "counter") == tickets);
  CHECK(ce_shared_acquire(id, "flag") == NULL);
  CHECK(ce_shared_acquire(id + 1000, "counter") == NULL);
  ce_shared_release(id);
  ce_shared_release(id);
  CHECK(ce_shared_acquire(id, "counter") == NULL);

  ce_set_free(seen);
  ce_hist_free(hist);
  check_lines();
  return check_report("test_shared");
}
