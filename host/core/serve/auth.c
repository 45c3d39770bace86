/* SPDX-License-Identifier: MIT */
#include "core/serve/auth.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LIMIT_KEYS 65536 /* buckets per login limit: some 3 MB at most */
#define STAMP_MAX 128

typedef struct {
  char name[CE_USER_MAX + 1];
  char hash[CE_PW_HASH_MAX];
} user;

struct ce_auth {
  pthread_mutex_t lock; /* users, dummy, stamp */
  user *users;          /* sorted by name */
  size_t n;
  char dummy[CE_PW_HASH_MAX];
  ce_pw_cost dummy_cost;
  char stamp[STAMP_MAX];

  pthread_mutex_t slot_lock; /* password checks running at once, and login jobs alive */
  pthread_cond_t slot_free, jobs_gone;
  int slots, jobs;

  ce_tokens *tokens;
  ce_limit *by_user, *by_addr, *requests;
};

ce_auth *ce_auth_new(const ce_auth_cfg *cfg, ce_err *err) {
  if (sodium_init() < 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "libsodium failed to start");
    return NULL;
  }
  ce_auth *a = calloc(1, sizeof *a);
  if (!a) goto oom;
  pthread_mutex_init(&a->lock, NULL);
  pthread_mutex_init(&a->slot_lock, NULL);
  pthread_cond_init(&a->slot_free, NULL);
  pthread_cond_init(&a->jobs_gone, NULL);
  a->slots = cfg->hash_slots > 0 ? cfg->hash_slots : (int)sysconf(_SC_NPROCESSORS_ONLN);
  if (a->slots < 1) a->slots = 1;
  a->tokens = ce_tokens_new(cfg->token_ttl, cfg->max_tokens_per_user);
  a->by_user = ce_limit_new(cfg->logins_per_minute, LIMIT_KEYS);
  a->by_addr = ce_limit_new(cfg->logins_per_minute, LIMIT_KEYS);
  a->requests = ce_limit_new(cfg->rate_per_minute, LIMIT_KEYS);
  if (a->tokens && a->by_user && a->by_addr && a->requests) return a;
  ce_auth_free(a);
oom:
  ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
  return NULL;
}

void ce_auth_free(void *p) {
  ce_auth *a = p;
  if (!a) return;
  pthread_mutex_lock(&a->slot_lock); /* a login job still running uses the store */
  while (a->jobs > 0) pthread_cond_wait(&a->jobs_gone, &a->slot_lock);
  pthread_mutex_unlock(&a->slot_lock);
  ce_tokens_free(a->tokens);
  ce_limit_free(a->by_user);
  ce_limit_free(a->by_addr);
  ce_limit_free(a->requests);
  if (a->users) sodium_memzero(a->users, a->n * sizeof *a->users);
  free(a->users);
  pthread_mutex_destroy(&a->lock);
  pthread_mutex_destroy(&a->slot_lock);
  pthread_cond_destroy(&a->slot_free);
  pthread_cond_destroy(&a->jobs_gone);
  free(a);
}

static int by_name(const void *x, const void *y) { return strcmp(((const user *)x)->name, ((const user *)y)->name); }

static const user *find_user(const user *list, size_t n, const char *name) {
  if (!n) return NULL; /* bsearch wants a base even for none */
  user key;
  snprintf(key.name, sizeof key.name, "%s", name);
  return bsearch(&key, list, n, sizeof *list, by_name);
}

/* The cost most users' hashes have: what an unknown name must cost too. */
static ce_pw_cost usual_cost(const user *list, size_t n) {
  ce_pw_cost best;
  ce_pw_cost_named("interactive", &best);
  size_t best_count = 0;
  for (size_t i = 0; i < n; i++) {
    ce_pw_cost c;
    if (ce_pw_cost_of(list[i].hash, &c, NULL) != 0) continue;
    size_t count = 0;
    for (size_t j = 0; j < n; j++) {
      ce_pw_cost d;
      if (ce_pw_cost_of(list[j].hash, &d, NULL) == 0 && d.ops == c.ops && d.mem == c.mem) count++;
    }
    if (count > best_count) best = c, best_count = count;
  }
  return best;
}

int ce_auth_set_users(ce_auth *a, const char *const *names, const char *const *hashes, size_t n, const char *stamp,
                      const char *expect, ce_err *err) {
  user *list = n ? calloc(n, sizeof *list) : NULL;
  if (n && !list) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return -1;
  }
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(names[i]);
    ce_pw_cost c;
    ce_err why;
    if (len == 0 || len > CE_USER_MAX) {
      ce_err_setf(err, 1, NULL, 0, 0, "user name '%.80s': must have 1 to %d bytes", names[i], CE_USER_MAX);
      goto fail;
    }
    if (ce_pw_cost_of(hashes[i], &c, &why) != 0) {
      ce_err_setf(err, 1, NULL, 0, 0, "user '%s': %s", names[i], why.msg);
      goto fail;
    }
    memcpy(list[i].name, names[i], len + 1);
    memcpy(list[i].hash, hashes[i], strlen(hashes[i]) + 1);
  }
  if (n) qsort(list, n, sizeof *list, by_name);
  for (size_t i = 1; i < n; i++)
    if (strcmp(list[i - 1].name, list[i].name) == 0) {
      ce_err_setf(err, 1, NULL, 0, 0, "user '%s' appears twice", list[i].name);
      goto fail;
    }

  ce_pw_cost cost = usual_cost(list, n);
  char dummy[CE_PW_HASH_MAX] = "";
  pthread_mutex_lock(&a->lock);
  int remake = !a->dummy[0] || a->dummy_cost.ops != cost.ops || a->dummy_cost.mem != cost.mem;
  pthread_mutex_unlock(&a->lock);
  if (remake) {
    unsigned char pw[32];
    randombytes_buf(pw, sizeof pw);
    int rc = ce_pw_hash((const char *)pw, sizeof pw, &cost, dummy, err);
    sodium_memzero(pw, sizeof pw);
    if (rc != 0) goto fail;
  }

  pthread_mutex_lock(&a->lock);
  if (expect && strcmp(expect, a->stamp) != 0) {
    pthread_mutex_unlock(&a->lock);
    free(list);
    return 1;
  }
  user *old = a->users;
  size_t old_n = a->n;
  a->users = list;
  a->n = n;
  if (remake) {
    memcpy(a->dummy, dummy, sizeof dummy);
    a->dummy_cost = cost;
  }
  snprintf(a->stamp, sizeof a->stamp, "%s", stamp ? stamp : "");
  pthread_mutex_unlock(&a->lock);

  /* a password changed or a user removed: the tokens it gave are void */
  for (size_t i = 0; i < old_n; i++) {
    const user *now = find_user(list, n, old[i].name);
    if (!now || strcmp(now->hash, old[i].hash) != 0) ce_tokens_revoke_user(a->tokens, old[i].name);
  }
  if (old) sodium_memzero(old, old_n * sizeof *old);
  free(old);
  return 0;
fail:
  free(list);
  return -1;
}

void ce_auth_stamp(ce_auth *a, char *buf, size_t size) {
  pthread_mutex_lock(&a->lock);
  snprintf(buf, size, "%s", a->stamp);
  pthread_mutex_unlock(&a->lock);
}

size_t ce_auth_user_count(ce_auth *a) {
  pthread_mutex_lock(&a->lock);
  size_t n = a->n;
  pthread_mutex_unlock(&a->lock);
  return n;
}

/* The part of a remote address that names one client: an IPv4 address, the
 * /64 of an IPv6 one (a v4-mapped one as IPv4), else the text itself. A
 * port, as in "192.0.2.1:5000" or "[2001:db8::1]:5000", is dropped. */
static size_t address_key(const char *addr, unsigned char *out, size_t size) {
  char host[INET6_ADDRSTRLEN + 8];
  const char *s = addr;
  size_t len = strlen(addr);
  if (s[0] == '[' && strchr(s, ']')) {
    s++;
    len = (size_t)(strchr(s, ']') - s);
  } else if (strchr(s, '.') && strchr(s, ':') && strchr(s, ':') == strrchr(s, ':')) {
    len = (size_t)(strchr(s, ':') - s);
  }
  if (len < sizeof host) {
    memcpy(host, s, len);
    host[len] = '\0';
    unsigned char ip[16];
    if (inet_pton(AF_INET, host, ip) == 1) {
      memcpy(out, ip, 4);
      return 4;
    }
    if (inet_pton(AF_INET6, host, ip) == 1) {
      static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      if (memcmp(ip, mapped, 12) == 0) {
        memcpy(out, ip + 12, 4);
        return 4;
      }
      memcpy(out, ip, 8);
      return 8;
    }
  }
  len = strlen(addr) < size ? strlen(addr) : size;
  memcpy(out, addr, len);
  return len;
}

static void slot_take(ce_auth *a) {
  pthread_mutex_lock(&a->slot_lock);
  while (a->slots == 0) pthread_cond_wait(&a->slot_free, &a->slot_lock);
  a->slots--;
  pthread_mutex_unlock(&a->slot_lock);
}

static void slot_give(ce_auth *a) {
  pthread_mutex_lock(&a->slot_lock);
  a->slots++;
  pthread_cond_signal(&a->slot_free);
  pthread_mutex_unlock(&a->slot_lock);
}

int ce_auth_login(ce_auth *a, const char *name, size_t name_len, const char *pw, size_t pwlen, const char *addr,
                  double mono, double wall, ce_login_result *r, ce_err *err) {
  memset(r, 0, sizeof *r);
  /* a name no user can have still costs a check; those too long share one bucket */
  int possible = name_len > 0 && name_len <= CE_USER_MAX && !memchr(name, 0, name_len);
  if (name_len > CE_USER_MAX) name_len = CE_USER_MAX + 1;
  char nm[CE_USER_MAX + 1] = "";
  if (possible) memcpy(nm, name, name_len), nm[name_len] = '\0';
  unsigned char akey[256];
  size_t alen = addr && addr[0] ? address_key(addr, akey, sizeof akey) : 0;
  ce_limit_state st;
  if (!ce_limit_take(a->by_user, name, name_len, mono, &st)) {
    r->status = CE_LOGIN_LIMITED;
    r->retry_after = st.retry_after;
    return 0;
  }
  if (alen && !ce_limit_take(a->by_addr, akey, alen, mono, &st)) {
    ce_limit_give(a->by_user, name, name_len, mono);
    r->status = CE_LOGIN_LIMITED;
    r->retry_after = st.retry_after;
    return 0;
  }

  char hash[CE_PW_HASH_MAX];
  pthread_mutex_lock(&a->lock);
  const user *u = possible ? find_user(a->users, a->n, nm) : NULL;
  memcpy(hash, u ? u->hash : a->dummy, sizeof hash);
  pthread_mutex_unlock(&a->lock);

  slot_take(a);
  int ok = ce_pw_verify(hash, pw, pwlen) && u;
  slot_give(a);
  if (!ok) {
    r->status = CE_LOGIN_BAD;
    return 0;
  }
  ce_limit_give(a->by_user, name, name_len, mono);
  if (alen) ce_limit_give(a->by_addr, akey, alen, mono);
  if (ce_tokens_issue(a->tokens, nm, wall, r->token, &r->info) != 0) {
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return -1;
  }
  r->status = CE_LOGIN_OK;
  return 0;
}

/* ---- a login on a thread of its own ---- */

struct ce_login_job {
  ce_auth *a;
  char *name, *pw, *addr; /* copies, one block */
  size_t name_len, pw_len, size;
  double mono, wall;
  int rc;
  ce_login_result r;
  ce_err err;
  atomic_int done, refs; /* refs: the thread's and the owner's */
};

static void job_unref(ce_login_job *j) {
  if (atomic_fetch_sub(&j->refs, 1) != 1) return;
  sodium_memzero(j->name, j->size);
  free(j->name);
  sodium_memzero(&j->r, sizeof j->r);
  free(j);
}

static void *job_main(void *arg) {
  ce_login_job *j = arg;
  ce_auth *a = j->a;
  j->rc = ce_auth_login(a, j->name, j->name_len, j->pw, j->pw_len, j->addr, j->mono, j->wall, &j->r, &j->err);
  sodium_memzero(j->pw, j->pw_len);
  atomic_store(&j->done, 1);
  job_unref(j);
  pthread_mutex_lock(&a->slot_lock);
  if (--a->jobs == 0) pthread_cond_broadcast(&a->jobs_gone);
  pthread_mutex_unlock(&a->slot_lock);
  return NULL;
}

ce_login_job *ce_auth_login_start(ce_auth *a, const char *name, size_t name_len, const char *pw, size_t pw_len,
                                  const char *addr, double mono, double wall, ce_err *err) {
  ce_login_job *j = calloc(1, sizeof *j);
  size_t alen = addr ? strlen(addr) : 0;
  size_t size = name_len + pw_len + alen + 3;
  char *mem = j ? malloc(size) : NULL;
  if (!mem) {
    free(j);
    ce_err_setf(err, 1, NULL, 0, 0, "out of memory");
    return NULL;
  }
  j->a = a;
  j->size = size;
  j->name = mem;
  j->pw = mem + name_len + 1;
  j->addr = addr ? j->pw + pw_len + 1 : NULL;
  memcpy(j->name, name, name_len);
  j->name[name_len] = '\0';
  memcpy(j->pw, pw, pw_len);
  j->pw[pw_len] = '\0';
  if (addr) memcpy(j->addr, addr, alen + 1);
  j->name_len = name_len;
  j->pw_len = pw_len;
  j->mono = mono;
  j->wall = wall;
  atomic_init(&j->done, 0);
  atomic_init(&j->refs, 2);
  pthread_mutex_lock(&a->slot_lock);
  a->jobs++;
  pthread_mutex_unlock(&a->slot_lock);
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int started = pthread_create(&t, &attr, job_main, j) == 0;
  pthread_attr_destroy(&attr);
  if (!started) job_main(j); /* no thread to be had: the caller waits, as it would without jobs */
  return j;
}

int ce_login_job_done(ce_login_job *j) { return atomic_load(&j->done); }

int ce_login_job_result(ce_login_job *j, ce_login_result *r, ce_err *err) {
  while (!atomic_load(&j->done)) {
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
  }
  *r = j->r;
  if (j->rc != 0 && err) *err = j->err;
  return j->rc;
}

void ce_login_job_free(ce_login_job *j) {
  if (j) job_unref(j);
}

/* The token in "Bearer <token>" (the scheme in any case, RFC 7235), or NULL. */
static const char *bearer(const char *header, size_t *len) {
  if (!header) return NULL;
  while (*header == ' ' || *header == '\t') header++;
  if (strncasecmp(header, "bearer", 6) != 0 || (header[6] != ' ' && header[6] != '\t')) return NULL;
  const char *t = header + 7;
  while (*t == ' ' || *t == '\t') t++;
  size_t n = strlen(t);
  while (n && (t[n - 1] == ' ' || t[n - 1] == '\t')) n--;
  *len = n;
  return t;
}

ce_check_status ce_auth_check(ce_auth *a, const char *header, double wall, ce_token_info *info) {
  size_t len;
  const char *t = bearer(header, &len);
  if (!t || !len) return CE_CHECK_MISSING;
  int rc = ce_tokens_check(a->tokens, t, len, wall, info);
  return rc > 0 ? CE_CHECK_OK : rc < 0 ? CE_CHECK_EXPIRED : CE_CHECK_INVALID;
}

int ce_auth_revoke(ce_auth *a, const char *header) {
  size_t len;
  const char *t = bearer(header, &len);
  return t && ce_tokens_revoke(a->tokens, t, len);
}

int ce_auth_limit(ce_auth *a, const void *key, size_t len, double mono, ce_limit_state *st) {
  return ce_limit_take(a->requests, key, len, mono, st);
}

size_t ce_auth_token_count(ce_auth *a) { return ce_tokens_count(a->tokens); }
