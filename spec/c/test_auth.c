/* SPDX-License-Identifier: MIT */
/* The API's security state as a whole: password hashes, login (right,
 * wrong, unknown user, both limits), bearer headers, users replaced, and
 * the users file written whole with its mode. Hashes use argon2id's least
 * cost here so the checks run fast; the cost is the hash's own business. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/serve/auth.h"
#include "core/serve/auth_file.h"
#include "core/util/clock.h"

static const ce_pw_cost CHEAP = {1, 8192};

static void check_password(void) {
  char h[CE_PW_HASH_MAX], h2[CE_PW_HASH_MAX];
  ce_err e;
  CHECK(ce_pw_hash("correct horse", 13, &CHEAP, h, &e) == 0);
  CHECK(strncmp(h, "$argon2id$v=19$m=8,t=1,p=1$", 27) == 0);
  CHECK(ce_pw_hash("correct horse", 13, &CHEAP, h2, &e) == 0);
  CHECK(strcmp(h, h2) != 0); /* a fresh salt each time */
  CHECK(ce_pw_verify(h, "correct horse", 13) == 1);
  CHECK(ce_pw_verify(h, "correct hors", 12) == 0);
  CHECK(ce_pw_verify(h, "correct horse\0x", 15) == 0); /* every byte counts, NUL included */
  CHECK(ce_pw_verify("garbage", "x", 1) == 0);
  CHECK(ce_pw_hash("", 0, &CHEAP, h2, &e) == -1);
  CHECK_CONTAINS(e.msg, "1 to 1024 bytes");

  ce_pw_cost c;
  CHECK(ce_pw_cost_of(h, &c, &e) == 0);
  CHECK(c.ops == 1 && c.mem == 8192);
  CHECK(ce_pw_cost_named("interactive", &c) == 0);
  CHECK(c.ops == 2 && c.mem == 64u << 20);
  CHECK(ce_pw_cost_named("strong", &c) == -1);
  CHECK(ce_pw_cost_of("$2b$12$abcdefghijklmnopqrstuv", &c, &e) == -1);
  CHECK_CONTAINS(e.msg, "not an argon2id hash");
  CHECK(ce_pw_cost_of("$argon2id$v=19$m=8,t=1,p=1$", &c, &e) == -1);
  CHECK_CONTAINS(e.msg, "malformed");
  CHECK(ce_pw_cost_of("$argon2i$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA", &c, &e) == -1);
}

static ce_auth *make(double logins, double rate) {
  ce_auth_cfg cfg = {60, 100, rate, logins, 2};
  ce_err e;
  ce_auth *a = ce_auth_new(&cfg, &e);
  CHECK(a != NULL);
  char ha[CE_PW_HASH_MAX], hb[CE_PW_HASH_MAX];
  ce_pw_hash("alice-pw", 8, &CHEAP, ha, &e);
  ce_pw_hash("bob-pw", 6, &CHEAP, hb, &e);
  const char *names[] = {"bob", "alice"}, *hashes[] = {hb, ha};
  CHECK(ce_auth_set_users(a, names, hashes, 2, "v1", NULL, &e) == 0);
  return a;
}

static ce_login_status login(ce_auth *a, const char *user, const char *pw, const char *addr, double now,
                             ce_login_result *r) {
  ce_err e;
  CHECK(ce_auth_login(a, user, strlen(user), pw, strlen(pw), addr, now, 1000 + now, r, &e) == 0);
  return r->status;
}

static void check_login(void) {
  ce_auth *a = make(0, 0);
  ce_login_result r;
  CHECK(login(a, "alice", "alice-pw", "192.0.2.1", 0, &r) == CE_LOGIN_OK);
  CHECK(strlen(r.token) == 43);
  CHECK_STR(r.info.user, "alice");
  CHECK(r.info.expires == 1060);
  CHECK(login(a, "alice", "bob-pw", "192.0.2.1", 0, &r) == CE_LOGIN_BAD);
  CHECK(r.token[0] == '\0');
  CHECK(login(a, "nobody", "alice-pw", "192.0.2.1", 0, &r) == CE_LOGIN_BAD);
  CHECK(login(a, "", "", NULL, 0, &r) == CE_LOGIN_BAD);
  CHECK(login(a, "alicealicealicealicealicealicealicealicealicealicealicealicealice", "alice-pw", NULL, 0, &r) ==
        CE_LOGIN_BAD);
  ce_err e;
  /* a name with a NUL inside is not the name before it */
  CHECK(ce_auth_login(a, "alice\0x", 7, "alice-pw", 8, NULL, 0, 0, &r, &e) == 0 && r.status == CE_LOGIN_BAD);

  char header[80];
  CHECK(login(a, "bob", "bob-pw", NULL, 0, &r) == CE_LOGIN_OK);
  ce_token_info info;
  snprintf(header, sizeof header, "Bearer %s", r.token);
  CHECK(ce_auth_check(a, header, 1010, &info) == CE_CHECK_OK);
  CHECK_STR(info.user, "bob");
  snprintf(header, sizeof header, "  bearer\t%s  ", r.token);
  CHECK(ce_auth_check(a, header, 1010, &info) == CE_CHECK_OK);
  CHECK(ce_auth_check(a, NULL, 1010, &info) == CE_CHECK_MISSING);
  CHECK(ce_auth_check(a, "", 1010, &info) == CE_CHECK_MISSING);
  CHECK(ce_auth_check(a, "Basic Ym9iOmJvYi1wdw==", 1010, &info) == CE_CHECK_MISSING);
  CHECK(ce_auth_check(a, "Bearer", 1010, &info) == CE_CHECK_MISSING);
  CHECK(ce_auth_check(a, "Bearer abc", 1010, &info) == CE_CHECK_INVALID);
  snprintf(header, sizeof header, "Bearer %s", r.token);
  CHECK(ce_auth_check(a, header, 1060, &info) == CE_CHECK_EXPIRED);
  CHECK(ce_auth_revoke(a, header) == 1);
  CHECK(ce_auth_check(a, header, 1010, &info) == CE_CHECK_INVALID);
  ce_auth_free(a);
}

/* Failed logins: a budget per user and one per address; a right password
 * gives its token back, so a user who gets in is never locked out by it. */
static void check_login_limits(void) {
  ce_auth *a = make(3, 0);
  ce_login_result r;
  for (int i = 0; i < 3; i++) CHECK(login(a, "alice", "wrong", "192.0.2.1", 0, &r) == CE_LOGIN_BAD);
  CHECK(login(a, "alice", "alice-pw", "192.0.2.1", 0, &r) == CE_LOGIN_LIMITED); /* even the right one */
  CHECK(r.retry_after > 19.9 && r.retry_after <= 20);
  /* from elsewhere too: the user's budget is spent */
  CHECK(login(a, "alice", "alice-pw", "198.51.100.7", 0, &r) == CE_LOGIN_LIMITED);
  /* the address's budget is spent as well: another user from it waits */
  CHECK(login(a, "bob", "bob-pw", "192.0.2.1", 0, &r) == CE_LOGIN_LIMITED);
  /* ... and that refusal cost bob nothing */
  CHECK(login(a, "bob", "bob-pw", "198.51.100.7", 0, &r) == CE_LOGIN_OK);
  CHECK(login(a, "alice", "alice-pw", "198.51.100.7", 20.5, &r) == CE_LOGIN_OK);

  /* right logins spend nothing */
  for (int i = 0; i < 10; i++) CHECK(login(a, "bob", "bob-pw", "203.0.113.5", 100, &r) == CE_LOGIN_OK);
  /* an unknown user is limited as a known one is: same answers */
  for (int i = 0; i < 3; i++) CHECK(login(a, "mallory", "x", "203.0.113.9", 100, &r) == CE_LOGIN_BAD);
  CHECK(login(a, "mallory", "x", "203.0.113.10", 100, &r) == CE_LOGIN_LIMITED);
  /* IPv6: one /64 is one client; a port is not part of the address */
  for (int i = 0; i < 3; i++) {
    char addr[64];
    snprintf(addr, sizeof addr, "2001:db8:0:1::%x", i + 1);
    CHECK(login(a, "bob", "nope", addr, 200, &r) == CE_LOGIN_BAD);
  }
  CHECK(login(a, "carol", "x", "[2001:db8:0:1:ffff::1]:4431", 200, &r) == CE_LOGIN_LIMITED);
  CHECK(login(a, "carol", "x", "2001:db8:0:2::1", 200, &r) == CE_LOGIN_BAD);
  const char *users[] = {"u1", "u2", "u3"};
  for (int i = 0; i < 3; i++) CHECK(login(a, users[i], "x", "198.18.0.1:1000", 300, &r) == CE_LOGIN_BAD);
  CHECK(login(a, "zoe", "x", "198.18.0.1:2000", 300.01, &r) == CE_LOGIN_LIMITED);
  CHECK(login(a, "zoe", "x", "::ffff:198.18.0.1", 300.01, &r) == CE_LOGIN_LIMITED);
  ce_auth_free(a);
}

static void check_request_limit(void) {
  ce_auth *a = make(0, 3);
  ce_limit_state st;
  for (int i = 0; i < 3; i++) CHECK(ce_auth_limit(a, "tok1", 4, 0, &st) == 1);
  CHECK(st.remaining == 0 && st.limit == 3);
  CHECK(ce_auth_limit(a, "tok1", 4, 0, &st) == 0);
  CHECK(st.retry_after == 20);
  CHECK(ce_auth_limit(a, "tok2", 4, 0, &st) == 1);
  ce_auth_free(a);
}

/* New users replace old ones; a user removed or with a new password loses
 * the tokens it had; a bad entry changes nothing. */
static void check_users(void) {
  ce_auth *a = make(0, 0);
  ce_login_result ra, rb;
  login(a, "alice", "alice-pw", NULL, 0, &ra);
  login(a, "bob", "bob-pw", NULL, 0, &rb);
  char hdr_a[80], hdr_b[80], stamp[64];
  snprintf(hdr_a, sizeof hdr_a, "Bearer %s", ra.token);
  snprintf(hdr_b, sizeof hdr_b, "Bearer %s", rb.token);
  ce_auth_stamp(a, stamp, sizeof stamp);
  CHECK_STR(stamp, "v1");

  ce_err e;
  char h[CE_PW_HASH_MAX];
  ce_pw_hash("bob-new", 7, &CHEAP, h, &e);
  const char *bad_names[] = {"bob"}, *bad_hashes[] = {"plain text"};
  CHECK(ce_auth_set_users(a, bad_names, bad_hashes, 1, "v2", NULL, &e) == -1);
  CHECK_CONTAINS(e.msg, "user 'bob': not an argon2id hash");
  const char *dup[] = {"bob", "bob"}, *dup_h[] = {h, h};
  CHECK(ce_auth_set_users(a, dup, dup_h, 2, "v2", NULL, &e) == -1);
  CHECK_CONTAINS(e.msg, "user 'bob' appears twice");
  const char *long_name[] = {"a-name-that-is-far-too-long-to-be-anyones-name-0123456789abcdefghij"};
  CHECK(ce_auth_set_users(a, long_name, dup_h, 1, "v2", NULL, &e) == -1);
  CHECK_CONTAINS(e.msg, "must have 1 to 64 bytes");
  ce_auth_stamp(a, stamp, sizeof stamp);
  CHECK_STR(stamp, "v1");
  CHECK(ce_auth_check(a, hdr_a, 1001, NULL) == CE_CHECK_OK);

  const char *names[] = {"bob"}, *hashes[] = {h};
  CHECK(ce_auth_set_users(a, names, hashes, 1, "v3", NULL, &e) == 0);
  CHECK(ce_auth_user_count(a) == 1);
  CHECK(ce_auth_check(a, hdr_a, 1001, NULL) == CE_CHECK_INVALID); /* alice is gone */
  CHECK(ce_auth_check(a, hdr_b, 1001, NULL) == CE_CHECK_INVALID); /* bob's password changed */
  CHECK(login(a, "bob", "bob-pw", NULL, 0, &rb) == CE_LOGIN_BAD);
  CHECK(login(a, "bob", "bob-new", NULL, 0, &rb) == CE_LOGIN_OK);
  snprintf(hdr_b, sizeof hdr_b, "Bearer %s", rb.token);
  CHECK(ce_auth_set_users(a, names, hashes, 1, "v4", NULL, &e) == 0); /* the same hash: tokens stay */
  CHECK(ce_auth_check(a, hdr_b, 1001, NULL) == CE_CHECK_OK);
  /* a reader that saw v3 before another thread set v4 puts nothing back */
  CHECK(ce_auth_set_users(a, names, dup_h, 1, "v3-late", "v3", &e) == 1);
  ce_auth_stamp(a, stamp, sizeof stamp);
  CHECK_STR(stamp, "v4");
  CHECK(ce_auth_check(a, hdr_b, 1001, NULL) == CE_CHECK_OK);
  CHECK(ce_auth_set_users(a, names, hashes, 1, "v4b", "v4", &e) == 0);
  CHECK(ce_auth_set_users(a, NULL, NULL, 0, "v5", NULL, &e) == 0);
  CHECK(login(a, "bob", "bob-new", NULL, 0, &rb) == CE_LOGIN_BAD);
  ce_auth_free(a);
  ce_auth_free(NULL);
}

/* An unknown name is checked against a dummy hash of the users' cost:
 * it takes as long as a known name with a wrong password. */
static void check_timing(void) {
  ce_auth_cfg cfg = {60, 100, 0, 0, 1};
  ce_err e;
  ce_auth *a = ce_auth_new(&cfg, &e);
  const ce_pw_cost cost = {2, 4u << 20};
  char h[CE_PW_HASH_MAX];
  ce_pw_hash("pw", 2, &cost, h, &e);
  const char *names[] = {"alice"}, *hashes[] = {h};
  ce_auth_set_users(a, names, hashes, 1, "", NULL, &e);
  double known = 0, unknown = 0;
  ce_login_result r;
  for (int i = 0; i < 10; i++) {
    double t0 = ce_clock_thread_cpu();
    login(a, "alice", "wrong", NULL, 0, &r);
    double t1 = ce_clock_thread_cpu();
    login(a, "nobody", "wrong", NULL, 0, &r);
    double t2 = ce_clock_thread_cpu();
    known += t1 - t0;
    unknown += t2 - t1;
  }
  printf("login CPU: known user %.2f ms, unknown user %.2f ms\n", known * 100, unknown * 100);
  CHECK(unknown > 0.7 * known && unknown < 1.4 * known);
  ce_auth_free(a);
}

static ce_auth *shared;
static void *logins(void *arg) {
  int *ok = arg;
  for (int i = 0; i < 20; i++) {
    ce_login_result r;
    ce_token_info info;
    char hdr[80];
    ce_err e; /* no CHECK on these threads: its counters are not atomic */
    if (ce_auth_login(shared, "alice", 5, "alice-pw", 8, NULL, 0, 1000, &r, &e) != 0 || r.status != CE_LOGIN_OK) continue;
    snprintf(hdr, sizeof hdr, "Bearer %s", r.token);
    if (ce_auth_check(shared, hdr, 1001, &info) == CE_CHECK_OK && strcmp(info.user, "alice") == 0) (*ok)++;
  }
  return NULL;
}

static void check_threads(void) {
  shared = make(0, 0);
  pthread_t t[4];
  int ok[4] = {0};
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, logins, &ok[i]);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  CHECK(ok[0] + ok[1] + ok[2] + ok[3] == 80);
  CHECK(ce_auth_token_count(shared) == 80);
  ce_auth_free(shared);
}

/* A login on its own thread: the same answers; a job dropped before it is
 * done finishes by itself, and freeing the store waits for it. */
static void check_jobs(void) {
  ce_auth *a = make(0, 0);
  ce_err e;
  ce_login_job *j = ce_auth_login_start(a, "alice", 5, "alice-pw", 8, "192.0.2.1", 0, 1000, &e);
  CHECK(j != NULL);
  while (!ce_login_job_done(j)) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
  }
  ce_login_result r;
  CHECK(ce_login_job_result(j, &r, &e) == 0);
  CHECK(r.status == CE_LOGIN_OK);
  CHECK_STR(r.info.user, "alice");
  ce_login_job_free(j);
  j = ce_auth_login_start(a, "alice", 5, "nope", 4, NULL, 0, 1000, &e);
  CHECK(ce_login_job_result(j, &r, &e) == 0); /* waits */
  CHECK(r.status == CE_LOGIN_BAD);
  ce_login_job_free(j);
  for (int i = 0; i < 8; i++) ce_login_job_free(ce_auth_login_start(a, "bob", 3, "bob-pw", 6, NULL, 0, 1000, &e));
  ce_auth_free(a); /* returns once the eight are done */
  ce_login_job_free(NULL);
}

static void check_file(void) {
  char dir[] = "/tmp/test_auth_XXXXXX";
  CHECK(mkdtemp(dir) != NULL);
  char path[64], stamp1[128], stamp2[128];
  snprintf(path, sizeof path, "%s/users.yaml", dir);
  unsigned mode;
  ce_err e;
  CHECK(ce_auth_file_stat(path, &mode, stamp1, sizeof stamp1, &e) == 0);
  CHECK(ce_auth_file_replace(path, "users: {}\n", 10, 0600, &e) == 0);
  CHECK(ce_auth_file_stat(path, &mode, stamp1, sizeof stamp1, &e) == 1);
  CHECK(mode == 0600);
  chmod(path, 0640); /* an existing file keeps the mode its owner gave it */
  CHECK(ce_auth_file_replace(path, "users:\n  a: b\n", 14, 0600, &e) == 0);
  CHECK(ce_auth_file_stat(path, &mode, stamp2, sizeof stamp2, &e) == 1);
  CHECK(mode == 0640);
  CHECK(strcmp(stamp1, stamp2) != 0);
  FILE *f = fopen(path, "r");
  char buf[64] = "";
  CHECK(f && fread(buf, 1, sizeof buf - 1, f) == 14);
  if (f) fclose(f);
  CHECK_STR(buf, "users:\n  a: b\n");
  CHECK(ce_auth_file_stat(dir, &mode, stamp2, sizeof stamp2, &e) == -1);
  CHECK_CONTAINS(e.msg, "not a regular file");
  char missing[96];
  snprintf(missing, sizeof missing, "%s/no/such/users.yaml", dir);
  CHECK(ce_auth_file_replace(missing, "x", 1, 0600, &e) == -1);
  CHECK_CONTAINS(e.msg, "cannot create a file beside it");
  char cmd[128];
  snprintf(cmd, sizeof cmd, "ls %s | wc -l", dir);
  FILE *p = popen(cmd, "r");
  int files = 0;
  CHECK(p && fscanf(p, "%d", &files) == 1);
  if (p) pclose(p);
  CHECK(files == 1); /* no temporary file left behind */
  unlink(path);
  rmdir(dir);
}

int main(void) {
  check_password();
  check_login();
  check_login_limits();
  check_request_limit();
  check_users();
  check_timing();
  check_threads();
  check_jobs();
  check_file();
  return check_report("test_auth");
}
