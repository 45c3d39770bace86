/* SPDX-License-Identifier: MIT */
#include "core/store/score_sums.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the summary's picker: the line itself, then its fields (score_fields) */
static const char *const FIELDS[] = {"e", "ft", "j", "s", "ti", "to", "k", "kc", "ag",
                                     "c", "u", "l", "cached", "f", "d", "r"};
enum { TOP, E, FT, J, S, TI, TO, K, KC, AG, C, U, L, CACHED, F, D, R, NPICK };

#define FREE_SLOT (INT64_MIN + 1)

void ce_score_sums_init(ce_score_sums *s, double log_step, int64_t zero_bucket) {
  memset(s, 0, sizeof *s);
  s->lat_min = HUGE_VAL;
  s->lat_max = -HUGE_VAL;
  s->log_step = log_step;
  s->zero_bucket = zero_bucket;
  s->set.npaths = NPICK;
  s->set.paths[TOP].n = 0;
  for (int k = 1; k < NPICK; k++) {
    s->set.paths[k].n = 1;
    s->set.paths[k].steps[0].key = FIELDS[k - 1];
    s->set.paths[k].steps[0].len = strlen(FIELDS[k - 1]);
  }
  ce_pick_prepare(&s->set);
  ce_buf_init(&s->strings);
  ce_buf_init(&s->scratch);
}

void ce_score_sums_free(ce_score_sums *s) {
  free(s->bk);
  free(s->bn);
  ce_buf_free(&s->strings);
  ce_buf_free(&s->scratch);
}

static size_t bucket_slot(const ce_score_sums *s, int64_t k) {
  size_t i = (size_t)(((uint64_t)k * 0x9e3779b97f4a7c15ull) >> 20) & (s->bcap - 1);
  while (s->bk[i] != FREE_SLOT && s->bk[i] != k) i = (i + 1) & (s->bcap - 1);
  return i;
}

/* room for one more bucket: 0, or -1 out of memory */
static int bucket_room(ce_score_sums *s) {
  if (s->bcap && (s->bused + 1) * 4 < s->bcap * 3) return 0;
  size_t cap = s->bcap ? s->bcap * 2 : 1024;
  int64_t *ok = s->bk;
  uint64_t *on = s->bn;
  size_t ocap = s->bcap;
  int64_t *nk = malloc(cap * sizeof *nk);
  uint64_t *nn = calloc(cap, sizeof *nn);
  if (!nk || !nn) {
    free(nk);
    free(nn);
    return -1;
  }
  for (size_t i = 0; i < cap; i++) nk[i] = FREE_SLOT;
  s->bk = nk;
  s->bn = nn;
  s->bcap = cap;
  for (size_t i = 0; i < ocap; i++) {
    if (ok[i] == FREE_SLOT) continue;
    size_t j = bucket_slot(s, ok[i]);
    s->bk[j] = ok[i];
    s->bn[j] = on[i];
  }
  free(ok);
  free(on);
  return 0;
}

int ce_score_sums_bucket(const ce_score_sums *s, size_t *i, int64_t *k, uint64_t *n) {
  for (; *i < s->bcap; (*i)++) {
    if (s->bk[*i] == FREE_SLOT) continue;
    *k = s->bk[*i];
    *n = s->bn[*i];
    (*i)++;
    return 1;
  }
  return 0;
}

/* The slot of key in t, or the next free one; -1 when t is full and has no key. */
static int find_key(const ce_sums_table *t, const char *key, size_t len) {
  for (int i = 0; i < t->n; i++)
    if (t->g[i].len == len && memcmp(t->g[i].key, key, len) == 0) return i;
  return t->n < CE_SUMS_GROUPS ? t->n : -1;
}

/* Lua's truth: all but nil and false */
static int truthy(const ce_picked *v) { return v->kind != CE_PICKED_NONE && !(v->kind == CE_PICKED_BOOL && !v->b); }

/* A group key as the summary names it: a string as it is, an integer as
 * its decimal text; 0 for anything else (a float, a boolean: Lua's
 * tostring of it is left to Lua) or a key too long to keep. */
static int key_text(const ce_score_sums *s, const ce_picked *v, char *out, size_t *len) {
  if (v->kind == CE_PICKED_STR) {
    if (v->len > CE_SUMS_KEY) return 0;
    if (v->len) memcpy(out, s->strings.data + v->off, v->len);
    *len = v->len;
    return 1;
  }
  if (v->kind == CE_PICKED_INT) { /* as "%lld" writes it: a rung per line went through snprintf */
    char tmp[24];
    size_t n = 0;
    uint64_t u = v->i < 0 ? 0 - (uint64_t)v->i : (uint64_t)v->i;
    do tmp[n++] = (char)('0' + u % 10); while (u /= 10);
    if (v->i < 0) tmp[n++] = '-';
    for (size_t j = 0; j < n; j++) out[j] = tmp[n - 1 - j];
    *len = n;
    return 1;
  }
  return 0;
}

typedef struct {
  int present;
  char key[CE_SUMS_KEY];
  size_t len;
  int slot;
} pending_key;

/* The key of v in table t, found or made room for: 1 (or absent: present
 * 0); 0 when the line is not taken. */
static int prepare_key(const ce_score_sums *s, const ce_sums_table *t, const ce_picked *v, pending_key *p) {
  p->present = 0;
  if (v->kind == CE_PICKED_NONE) return 1;
  if (!key_text(s, v, p->key, &p->len)) return 0;
  p->slot = find_key(t, p->key, p->len);
  if (p->slot < 0) return 0;
  p->present = 1;
  return 1;
}

static void apply_key(ce_sums_table *t, const pending_key *p, int correct) {
  if (!p->present) return;
  ce_sums_group *g = &t->g[p->slot];
  if (p->slot == t->n) {
    memcpy(g->key, p->key, p->len);
    g->len = p->len;
    g->n = g->correct = 0;
    t->n++;
  }
  g->n++;
  if (correct) g->correct++;
}

/* the index in v of a score line's key, 0 for another (the keys are one
 * to six bytes: their first byte and length tell most apart) */
static int field_of(const char *k, size_t n) {
  if (n == 0 || n > 6) return 0;
  for (int i = 1; i < NPICK; i++) {
    const char *f = FIELDS[i - 1];
    if (f[0] == k[0] && strncmp(f, k, n) == 0 && f[n] == '\0') return i; /* (k holds no zero byte) */
  }
  return 0;
}

/* past a string of printable ASCII without escapes at t (after its quote),
 * or NULL: the only strings read here */
static const char *plain_string(const char *t, const char *end) {
  while (t < end && *t != '"') {
    if (*t < 0x20 || *t > 0x7e || *t == '\\') return NULL;
    t++;
  }
  return t < end ? t : NULL;
}

/* A score line as a run writes it (host/lua/score_line.c): no space, each
 * key and string of printable ASCII without escapes, each number an
 * integer of up to 18 digits or one with a fraction and no exponent, or
 * true, false or null. Fills v as ce_json_pick does: 1; 0 for any other
 * line, which the picker reads. The picker's reading of such a line was
 * most of a summary's time. */
static int read_plain(ce_score_sums *s, const char *t, size_t len, ce_picked *v) {
  const char *end = t + len;
  for (int k = 0; k < NPICK; k++) v[k].kind = CE_PICKED_NONE;
  v[TOP].kind = CE_PICKED_CONTAINER;
  if (len < 2 || *t++ != '{') return 0;
  if (*t == '}') return t + 1 == end;
  for (;;) {
    if (t >= end || *t++ != '"') return 0;
    const char *k = t;
    if (!(t = plain_string(t, end))) return 0;
    int f = field_of(k, (size_t)(t - k));
    t++;
    if (t >= end || *t++ != ':' || t >= end) return 0;
    ce_picked other, *x = f ? &v[f] : &other; /* a key the sums do not read (day): its value checked */
    if (*t == '"') {
      const char *a = ++t;
      if (!(t = plain_string(t, end))) return 0;
      x->off = s->strings.len;
      x->len = (size_t)(t - a);
      if (f) ce_buf_add(&s->strings, a, x->len);
      if (s->strings.oom) return 0;
      x->kind = CE_PICKED_STR;
      t++;
    } else if (*t == '-' || (*t >= '0' && *t <= '9')) {
      const char *a = t;
      if (*t == '-') t++;
      const char *d = t;
      int64_t i = 0;
      while (t < end && *t >= '0' && *t <= '9') i = i * 10 + (*t++ - '0');
      size_t digits = (size_t)(t - d);
      if (digits == 0 || digits > 18 || (*d == '0' && digits > 1)) return 0;
      if (t < end && (*t == 'e' || *t == 'E')) return 0;
      if (t < end && *t == '.') {
        const char *frac = ++t;
        while (t < end && *t >= '0' && *t <= '9') t++;
        if (t == frac || (t < end && (*t == 'e' || *t == 'E'))) return 0;
        char tmp[64];
        size_t n = (size_t)(t - a);
        if (n >= sizeof tmp) return 0;
        memcpy(tmp, a, n);
        tmp[n] = '\0';
        x->kind = CE_PICKED_NUM;
        x->d = strtod(tmp, NULL); /* as the picker converts it */
      } else {
        x->kind = CE_PICKED_INT;
        x->i = *a == '-' ? -i : i;
      }
    } else if (end - t >= 4 && memcmp(t, "true", 4) == 0) {
      x->kind = CE_PICKED_BOOL, x->b = 1, t += 4;
    } else if (end - t >= 5 && memcmp(t, "false", 5) == 0) {
      x->kind = CE_PICKED_BOOL, x->b = 0, t += 5;
    } else if (end - t >= 4 && memcmp(t, "null", 4) == 0) {
      x->kind = CE_PICKED_NULL, t += 4;
    } else {
      return 0; /* a list or an object, or not JSON */
    }
    if (t >= end) return 0;
    if (*t == '}') return t + 1 == end;
    if (*t++ != ',') return 0;
  }
}

int ce_score_sums_add(ce_score_sums *s, const char *text, size_t len) {
  ce_picked v[NPICK];
  ce_err err;
  s->strings.len = 0;
  if ((s->picker_only || !read_plain(s, text, len, v)) &&
      (s->strings.len = 0, ce_json_pick(text, len, "<score>", &s->set, v, &s->strings, &s->scratch, &err) != 0))
    return 0;
  if (v[TOP].kind != CE_PICKED_CONTAINER) return 0;
  /* an error class that is not text, a judged line: Lua's */
  if (v[E].kind != CE_PICKED_NONE && v[E].kind != CE_PICKED_STR) return 0;
  if (v[FT].kind != CE_PICKED_NONE) return 0;
  /* (an empty string's bytes may be nowhere: the buffer holds none) */
  int has_e = v[E].kind == CE_PICKED_STR;
  size_t el = has_e ? v[E].len : 0;
  const char *e = el ? s->strings.data + v[E].off : "";
  if (el == 12 && memcmp(e, "bad_question", 12) == 0) {
    s->invalid++;
    s->lines++;
    return 1;
  }
  /* tonumber(x) or 0 stays an integer sum only for integers */
  if ((v[TI].kind != CE_PICKED_NONE && v[TI].kind != CE_PICKED_INT) ||
      (v[TO].kind != CE_PICKED_NONE && v[TO].kind != CE_PICKED_INT))
    return 0;
  /* a latency is a number of milliseconds with a fraction; an integer one
   * would make Lua's sum an integer until the first fraction */
  int has_latency = !has_e && (v[L].kind == CE_PICKED_INT || v[L].kind == CE_PICKED_NUM);
  if (has_latency && v[L].kind == CE_PICKED_INT) return 0;
  int correct = (v[C].kind == CE_PICKED_INT && v[C].i == 1) || (v[C].kind == CE_PICKED_NUM && v[C].d == 1.0);
  pending_key cls = {0}, fam, diff, rung;
  if (has_e) {
    if (el > CE_SUMS_KEY) return 0;
    if (el) memcpy(cls.key, e, el);
    cls.len = el;
    cls.slot = find_key(&s->classes, cls.key, cls.len);
    if (cls.slot < 0) return 0;
    cls.present = 1;
  }
  if (!prepare_key(s, &s->fam, &v[F], &fam) || !prepare_key(s, &s->diff, &v[D], &diff) ||
      !prepare_key(s, &s->rung, &v[R], &rung))
    return 0;
  int64_t bucket = 0;
  if (has_latency) {
    double l = v[L].d;
    bucket = l > 0 ? (int64_t)floor(log(l) / s->log_step) : s->zero_bucket;
    if (bucket_room(s) != 0) return -1;
  }
  /* taken: from here on nothing refuses it */
  s->lines++;
  s->n++;
  if (has_e) {
    s->errors++;
    apply_key(&s->classes, &cls, 0);
  } else if (truthy(&v[U])) {
    s->unparseable++;
  } else {
    s->scored++;
  }
  if (correct) s->correct++;
  if (has_latency) {
    double l = v[L].d;
    s->lat_n++;
    s->lat_sum += l;
    if (l < s->lat_min) s->lat_min = l;
    if (l > s->lat_max) s->lat_max = l;
    size_t i = bucket_slot(s, bucket);
    if (s->bk[i] == FREE_SLOT) {
      s->bk[i] = bucket;
      s->bused++;
    }
    s->bn[i]++;
  }
  if (v[TI].kind == CE_PICKED_INT) s->tokens_in = (int64_t)((uint64_t)s->tokens_in + (uint64_t)v[TI].i);
  if (v[TO].kind == CE_PICKED_INT) s->tokens_out = (int64_t)((uint64_t)s->tokens_out + (uint64_t)v[TO].i);
  if (truthy(&v[CACHED])) s->cached++;
  apply_key(&s->fam, &fam, correct);
  apply_key(&s->diff, &diff, correct);
  apply_key(&s->rung, &rung, correct);
  return 1;
}
