/* SPDX-License-Identifier: MIT */
#include "core/util/shared.h"
#include "core/observe/profile.h"
#include "core/util/heap_reserve.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---- registry ---- */

typedef struct {
  uint64_t id;
  void *obj;
  const char *type;
  ce_shared_destroy destroy;
  int refs;
} slot;

/* The one process-wide table: threads find shared objects through it by id,
 * so it cannot hang off any Lua state. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static slot *reg;
static size_t reg_n, reg_cap;
static uint64_t reg_next = 1;

uint64_t ce_shared_register(void *obj, const char *type, ce_shared_destroy destroy) {
  if (!obj) return 0;
  pthread_mutex_lock(&reg_lock);
  if (reg_n == reg_cap) {
    size_t cap = reg_cap ? reg_cap * 2 : 16;
    slot *r = realloc(reg, cap * sizeof *r);
    if (!r) {
      pthread_mutex_unlock(&reg_lock);
      return 0;
    }
    reg = r;
    reg_cap = cap;
  }
  uint64_t id = reg_next++;
  reg[reg_n++] = (slot){id, obj, type, destroy, 1};
  pthread_mutex_unlock(&reg_lock);
  return id;
}

void *ce_shared_acquire(uint64_t id, const char *type) {
  void *obj = NULL;
  pthread_mutex_lock(&reg_lock);
  for (size_t i = 0; i < reg_n; i++)
    if (reg[i].id == id) {
      if (strcmp(reg[i].type, type) == 0) {
        reg[i].refs++;
        obj = reg[i].obj;
      }
      break;
    }
  pthread_mutex_unlock(&reg_lock);
  return obj;
}

void ce_shared_release(uint64_t id) {
  void *obj = NULL;
  ce_shared_destroy destroy = NULL;
  pthread_mutex_lock(&reg_lock);
  for (size_t i = 0; i < reg_n; i++)
    if (reg[i].id == id) {
      if (--reg[i].refs == 0) {
        obj = reg[i].obj;
        destroy = reg[i].destroy;
        reg[i] = reg[--reg_n];
      }
      break;
    }
  pthread_mutex_unlock(&reg_lock);
  if (obj && destroy) destroy(obj);
}

/* ---- counter ---- */

struct ce_counter { atomic_llong v; int64_t limit; };

ce_counter *ce_counter_new(int64_t start, int64_t limit) {
  ce_counter *c = malloc(sizeof *c);
  if (!c) return NULL;
  atomic_init(&c->v, start);
  c->limit = limit;
  return c;
}

int64_t ce_counter_take(ce_counter *c, int64_t n, int64_t *got) {
  int64_t v = atomic_fetch_add(&c->v, n);
  *got = 0;
  if (c->limit >= 0 && v >= c->limit) return -1;
  *got = (c->limit >= 0 && v + n > c->limit) ? c->limit - v : n;
  return v;
}

int64_t ce_counter_get(ce_counter *c) { return atomic_load(&c->v); }
void ce_counter_add(ce_counter *c, int64_t d) { atomic_fetch_add(&c->v, d); }
void ce_counter_free(void *c) { free(c); }

/* ---- flag ---- */

struct ce_flag { pthread_mutex_t lock; int code; char msg[512]; };

ce_flag *ce_flag_new(void) {
  ce_flag *f = calloc(1, sizeof *f);
  if (f) pthread_mutex_init(&f->lock, NULL);
  return f;
}

int ce_flag_set(ce_flag *f, int code, const char *msg) {
  int set = 0;
  pthread_mutex_lock(&f->lock);
  if (!f->code) {
    f->code = code ? code : 1;
    snprintf(f->msg, sizeof f->msg, "%s", msg ? msg : "");
    set = 1;
  }
  pthread_mutex_unlock(&f->lock);
  return set;
}

int ce_flag_get(ce_flag *f, char *msg, size_t size) {
  pthread_mutex_lock(&f->lock);
  int code = f->code;
  if (msg && size) snprintf(msg, size, "%s", f->msg);
  pthread_mutex_unlock(&f->lock);
  return code;
}

void ce_flag_free(void *p) {
  ce_flag *f = p;
  if (!f) return;
  pthread_mutex_destroy(&f->lock);
  free(f);
}

/* ---- token bucket ---- */

struct ce_bucket { pthread_mutex_t lock; double rate, burst, tokens, last; };

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

ce_bucket *ce_bucket_new(double rate, double burst) {
  ce_bucket *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  pthread_mutex_init(&b->lock, NULL);
  ce_bucket_set_rate(b, rate, burst);
  b->tokens = b->burst;
  b->last = now_s();
  return b;
}

void ce_bucket_set_rate(ce_bucket *b, double rate, double burst) {
  pthread_mutex_lock(&b->lock);
  b->rate = rate;
  b->burst = burst > 0 ? burst : (rate > 0 ? (rate < 1 ? 1 : rate / 10 + 1) : 0);
  if (b->tokens > b->burst) b->tokens = b->burst;
  pthread_mutex_unlock(&b->lock);
}

double ce_bucket_take(ce_bucket *b) {
  double wait = 0;
  pthread_mutex_lock(&b->lock);
  if (b->rate > 0) {
    double t = now_s();
    b->tokens += (t - b->last) * b->rate;
    if (b->tokens > b->burst) b->tokens = b->burst;
    b->last = t;
    if (b->tokens >= 1) b->tokens -= 1;
    else wait = (1 - b->tokens) / b->rate;
  }
  pthread_mutex_unlock(&b->lock);
  return wait;
}

void ce_bucket_free(void *p) {
  ce_bucket *b = p;
  if (!b) return;
  pthread_mutex_destroy(&b->lock);
  free(b);
}

/* ---- lines ---- */

#define LINES_BUFFER (256u << 10)

struct ce_lines { pthread_mutex_t lock; FILE *f; long lineno; char *buf; };

ce_lines *ce_lines_open(const char *path, ce_err *err) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    ce_err_setf(err, 1, path, 0, 0, "cannot open: %s", strerror(errno));
    return NULL;
  }
  /* fopen succeeds on a directory; only the first read would fail, after a
   * run has started */
  struct stat st;
  if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
    fclose(f);
    ce_err_setf(err, 1, path, 0, 0, "is a directory");
    return NULL;
  }
  ce_lines *l = calloc(1, sizeof *l);
  if (!l) {
    fclose(f);
    ce_err_setf(err, 1, path, 0, 0, "out of memory");
    return NULL;
  }
  pthread_mutex_init(&l->lock, NULL);
  /* a question line is about 4 KB: stdio's buffer of a block made a read()
   * per line, twice per question (the scan, then a worker). glibc takes a
   * size only with a buffer given */
  l->buf = malloc(LINES_BUFFER);
  if (l->buf) {
    ce_mem_populate(l->buf, LINES_BUFFER); /* the first read fills it all */
    setvbuf(f, l->buf, _IOFBF, LINES_BUFFER);
  }
  l->f = f;
  return l;
}

static int blank(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\f' && s[i] != '\v') return 0;
  return 1;
}

/* A line of only spaces carries no item either: the scan that counts a
 * file's items and the readers that take them must skip the same lines, or
 * a ticket goes to the blank line and the file's last item is never read.
 * An editor's UTF-8 byte order mark is not part of line 1's text. */
int ce_lines_next(ce_lines *l, char **line, size_t *cap, size_t *len, long *lineno) {
  pthread_mutex_lock(&l->lock);
  ssize_t n;
  int rc, saved = 0;
  for (;;) {
    n = getline(line, cap, l->f);
    if (n < 0) {
      rc = ferror(l->f) ? -1 : 0;
      saved = errno;
      break;
    }
    l->lineno++;
    ce_io_count(CE_IO_FILE, 1, (uint64_t)n, 0);
    if (l->lineno == 1 && n >= 3 && memcmp(*line, "\xef\xbb\xbf", 3) == 0) {
      memmove(*line, *line + 3, (size_t)n - 2); /* with the terminating NUL */
      n -= 3;
    }
    while (n > 0 && ((*line)[n - 1] == '\n' || (*line)[n - 1] == '\r')) (*line)[--n] = '\0';
    if (blank(*line, (size_t)n)) continue;
    *len = (size_t)n;
    *lineno = l->lineno;
    rc = 1;
    break;
  }
  pthread_mutex_unlock(&l->lock);
  if (rc < 0) errno = saved; /* for the caller's message */
  return rc;
}

void ce_lines_free(void *p) {
  ce_lines *l = p;
  if (!l) return;
  if (l->f) fclose(l->f);
  free(l->buf); /* after fclose, which uses it */
  pthread_mutex_destroy(&l->lock);
  free(l);
}

/* ---- sum ---- */

struct ce_sum { pthread_mutex_t lock; double v; };

ce_sum *ce_sum_new(void) {
  ce_sum *s = calloc(1, sizeof *s);
  if (s) pthread_mutex_init(&s->lock, NULL);
  return s;
}

double ce_sum_add(ce_sum *s, double v) {
  pthread_mutex_lock(&s->lock);
  s->v += v;
  double r = s->v;
  pthread_mutex_unlock(&s->lock);
  return r;
}

double ce_sum_get(ce_sum *s) {
  pthread_mutex_lock(&s->lock);
  double r = s->v;
  pthread_mutex_unlock(&s->lock);
  return r;
}

void ce_sum_free(void *p) {
  ce_sum *s = p;
  if (!s) return;
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* ---- set ---- */

struct ce_set { pthread_mutex_t lock; uint64_t *slots; size_t cap, n; uint64_t digest; };

static uint64_t set_hash(const void *key, size_t len) {
  const unsigned char *p = key;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < len; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
  h ^= h >> 31;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 29;
  return h ? h : 1; /* 0 marks an empty slot */
}

ce_set *ce_set_new(void) {
  ce_set *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->lock, NULL);
  return s;
}

static int set_insert(uint64_t *slots, size_t cap, uint64_t h) {
  size_t i = (size_t)h & (cap - 1);
  while (slots[i]) {
    if (slots[i] == h) return 0;
    i = (i + 1) & (cap - 1);
  }
  slots[i] = h;
  return 1;
}

int ce_set_add(ce_set *s, const void *key, size_t len) {
  uint64_t h = set_hash(key, len);
  pthread_mutex_lock(&s->lock);
  if ((s->n + 1) * 2 > s->cap) {
    size_t cap = s->cap ? s->cap * 2 : 1024;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots) {
      pthread_mutex_unlock(&s->lock);
      return -1;
    }
    /* the ids land all over it: its pages present at once, not a fault
     * each (a 21,000-question file's scan faulted 470 times here) */
    if (cap * sizeof *slots >= (64u << 10)) ce_mem_populate(slots, cap * sizeof *slots);
    for (size_t i = 0; i < s->cap; i++)
      if (s->slots[i]) set_insert(slots, cap, s->slots[i]);
    free(s->slots);
    s->slots = slots;
    s->cap = cap;
  }
  int added = set_insert(s->slots, s->cap, h);
  s->n += (size_t)added;
  /* the keys in the order they came (odd multiplier: no two orders of the
   * same keys are likely to agree) */
  if (added) s->digest = (s->digest ^ h) * 0x9e3779b97f4a7c15ull + 1;
  pthread_mutex_unlock(&s->lock);
  return added;
}

uint64_t ce_set_digest(ce_set *s) {
  pthread_mutex_lock(&s->lock);
  uint64_t d = s->digest;
  pthread_mutex_unlock(&s->lock);
  return d;
}

int ce_set_has(ce_set *s, const void *key, size_t len) {
  uint64_t h = set_hash(key, len);
  int found = 0;
  pthread_mutex_lock(&s->lock);
  if (s->cap) {
    size_t i = (size_t)h & (s->cap - 1);
    while (s->slots[i]) {
      if (s->slots[i] == h) { found = 1; break; }
      i = (i + 1) & (s->cap - 1);
    }
  }
  pthread_mutex_unlock(&s->lock);
  return found;
}

size_t ce_set_size(ce_set *s) {
  pthread_mutex_lock(&s->lock);
  size_t n = s->n;
  pthread_mutex_unlock(&s->lock);
  return n;
}

void ce_set_free(void *p) {
  ce_set *s = p;
  if (!s) return;
  free(s->slots);
  pthread_mutex_destroy(&s->lock);
  free(s);
}

/* ---- histogram ---- */

/* 64 buckets per factor of ten from 1 microsecond to 10^5 seconds: a bucket
 * spans 3.7%, so a quantile read at its middle is within 2%. */
#define HIST_PER_DECADE 64
#define HIST_DECADES 11
#define HIST_N (HIST_PER_DECADE * HIST_DECADES + 2)

struct ce_hist { atomic_ullong b[HIST_N]; atomic_ullong n; pthread_mutex_t lock; double sum; };

ce_hist *ce_hist_new(void) {
  ce_hist *h = calloc(1, sizeof *h);
  if (h) pthread_mutex_init(&h->lock, NULL);
  return h;
}

static int hist_bucket(double v) {
  if (!(v > 1e-6)) return 0;
  int i = 1 + (int)floor(log10(v / 1e-6) * HIST_PER_DECADE);
  return i >= HIST_N ? HIST_N - 1 : i;
}

void ce_hist_add(ce_hist *h, double v) {
  atomic_fetch_add(&h->b[hist_bucket(v)], 1);
  atomic_fetch_add(&h->n, 1);
  pthread_mutex_lock(&h->lock);
  h->sum += v;
  pthread_mutex_unlock(&h->lock);
}

uint64_t ce_hist_count(ce_hist *h) { return atomic_load(&h->n); }

double ce_hist_mean(ce_hist *h) {
  uint64_t n = atomic_load(&h->n);
  pthread_mutex_lock(&h->lock);
  double s = h->sum;
  pthread_mutex_unlock(&h->lock);
  return n ? s / (double)n : -1;
}

double ce_hist_quantile(ce_hist *h, double q) {
  uint64_t n = atomic_load(&h->n);
  if (!n) return -1;
  uint64_t rank = (uint64_t)ceil(q * (double)n), seen = 0;
  if (rank < 1) rank = 1;
  for (int i = 0; i < HIST_N; i++) {
    seen += atomic_load(&h->b[i]);
    if (seen >= rank) {
      if (i == 0) return 0;
      double lo = 1e-6 * pow(10, (double)(i - 1) / HIST_PER_DECADE);
      double hi = 1e-6 * pow(10, (double)i / HIST_PER_DECADE);
      return sqrt(lo * hi);
    }
  }
  return -1;
}

void ce_hist_reset(ce_hist *h) {
  for (int i = 0; i < HIST_N; i++) atomic_store(&h->b[i], 0);
  atomic_store(&h->n, 0);
  pthread_mutex_lock(&h->lock);
  h->sum = 0;
  pthread_mutex_unlock(&h->lock);
}

void ce_hist_free(void *p) {
  ce_hist *h = p;
  if (!h) return;
  pthread_mutex_destroy(&h->lock);
  free(h);
}

/* ---- ring ---- */

struct ce_ring {
  pthread_mutex_t lock;
  int cap, head, count; /* head: where the next push goes */
  char **items;
  size_t *lens;
};

ce_ring *ce_ring_new(int capacity) {
  if (capacity < 1) capacity = 1;
  ce_ring *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->items = calloc((size_t)capacity, sizeof *r->items);
  r->lens = calloc((size_t)capacity, sizeof *r->lens);
  if (!r->items || !r->lens) {
    free(r->items);
    free(r->lens);
    free(r);
    return NULL;
  }
  r->cap = capacity;
  pthread_mutex_init(&r->lock, NULL);
  return r;
}

void ce_ring_push(ce_ring *r, const char *s, size_t len) {
  char *copy = malloc(len + 1);
  if (!copy) return;
  memcpy(copy, s, len);
  copy[len] = '\0';
  pthread_mutex_lock(&r->lock);
  free(r->items[r->head]);
  r->items[r->head] = copy;
  r->lens[r->head] = len;
  r->head = (r->head + 1) % r->cap;
  if (r->count < r->cap) r->count++;
  pthread_mutex_unlock(&r->lock);
}

char *ce_ring_pop(ce_ring *r, size_t *len) {
  pthread_mutex_lock(&r->lock);
  char *s = NULL;
  if (r->count > 0) {
    int oldest = (r->head - r->count + r->cap) % r->cap;
    s = r->items[oldest];
    *len = r->lens[oldest];
    r->items[oldest] = NULL;
    r->count--;
  }
  pthread_mutex_unlock(&r->lock);
  return s;
}

void ce_ring_last(ce_ring *r, int n, ce_ring_visit fn, void *ud) {
  pthread_mutex_lock(&r->lock);
  for (int i = 0; i < n && i < r->count; i++) {
    int at = (r->head - 1 - i + r->cap) % r->cap;
    fn(r->items[at], r->lens[at], ud);
  }
  pthread_mutex_unlock(&r->lock);
}

void ce_ring_free(void *p) {
  ce_ring *r = p;
  if (!r) return;
  for (int i = 0; i < r->cap; i++) free(r->items[i]);
  free(r->items);
  free(r->lens);
  pthread_mutex_destroy(&r->lock);
  free(r);
}
