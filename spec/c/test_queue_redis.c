/* SPDX-License-Identifier: MIT */
/* host/core/queue/redis_conn against a real redis-server on loopback:
 * urls, an unreachable server, replies (an error reply is a reply), a
 * pipeline, a blocking read longer than the timeout, a refused AUTH, a
 * lost server and the reconnect after it is back. */
#include "check.h"
#include "core/queue/redis_conn.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

static void nap(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

/* redis-server on port, ready to answer; its pid, or -1 */
static pid_t start_redis(int port, char *url, size_t size) {
  char p[16];
  snprintf(p, sizeof p, "%d", port);
  pid_t pid = fork();
  if (pid == 0) {
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull >= 0) {
      dup2(devnull, 1);
      dup2(devnull, 2);
    }
    execlp("redis-server", "redis-server", "--port", p, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
           (char *)NULL);
    _exit(127);
  }
  snprintf(url, size, "redis://127.0.0.1:%d/0", port);
  for (int i = 0; i < 250; i++) {
    ce_err e;
    ce_rconn *c = ce_rconn_open(url, 0.2, &e);
    if (c) {
      ce_rconn_close(c);
      return pid;
    }
    nap(0.02);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

static void stop_redis(pid_t pid) {
  if (pid <= 0) return;
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

static redisReply *one(ce_rconn *c, double wait, ce_err *e, int argc, const char **argv) {
  const char *const *argvs[1] = {argv};
  const size_t *lens[1] = {NULL};
  redisReply *r = NULL;
  if (ce_rconn_exec(c, 1, &argc, argvs, lens, wait, &r, e) != 0) return NULL;
  return r;
}

static void test_urls(void) {
  ce_err e;
  CHECK(ce_rconn_check_url("redis://127.0.0.1:6379/0", &e) == 0);
  CHECK(ce_rconn_check_url("redis://h", &e) == 0);
  CHECK(ce_rconn_check_url("notaurl", &e) != 0);
  CHECK(e.code == CE_RCONN_EURL);
  CHECK_CONTAINS(e.msg, "bad redis url 'notaurl'");
  CHECK(ce_rconn_check_url("redis://:s3cret@h:99999/0", &e) != 0);
  CHECK(strstr(e.msg, "s3cret") == NULL); /* a password is never repeated */
  CHECK_CONTAINS(e.msg, "redis://***@h:99999/0");
  CHECK(ce_rconn_open("http://h:1", 0.1, &e) == NULL);
  CHECK(e.code == CE_RCONN_EURL);
}

static void test_unreachable(void) {
  int port = free_port();
  char url[64];
  snprintf(url, sizeof url, "redis://127.0.0.1:%d/0", port);
  ce_err e;
  CHECK(ce_rconn_open(url, 0.2, &e) == NULL);
  CHECK(e.code == CE_RCONN_EIO);
  char want[80];
  snprintf(want, sizeof want, "redis 127.0.0.1:%d/0: Connection refused", port);
  CHECK_CONTAINS(e.msg, want);
}

static void test_server(void) {
  int port = free_port();
  char url[64];
  pid_t pid = start_redis(port, url, sizeof url);
  CHECK(pid > 0);
  if (pid <= 0) return;
  ce_err e;
  ce_rconn *c = ce_rconn_open(url, 0.2, &e);
  CHECK(c != NULL);
  if (!c) {
    stop_redis(pid);
    return;
  }
  char where[64];
  snprintf(where, sizeof where, "127.0.0.1:%d/0", port);
  CHECK_STR(ce_rconn_where(c), where);

  const char *set[] = {"SET", "k", "v"};
  redisReply *r = one(c, 0, &e, 3, set);
  CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "OK") == 0);
  freeReplyObject(r);
  /* an error reply is a reply: the connection is fine */
  const char *bad[] = {"INCR", "k"};
  r = one(c, 0, &e, 2, bad);
  CHECK(r && r->type == REDIS_REPLY_ERROR);
  freeReplyObject(r);

  /* a pipeline: n replies in order */
  const char *a1[] = {"RPUSH", "l", "x"}, *a2[] = {"RPUSH", "l", "y"}, *a3[] = {"LRANGE", "l", "0", "-1"};
  int argcs[3] = {3, 3, 4};
  const char *const *argvs[3] = {a1, a2, a3};
  const size_t *lens[3] = {NULL, NULL, NULL};
  redisReply *reps[3];
  CHECK(ce_rconn_exec(c, 3, argcs, argvs, lens, 0, reps, &e) == 0);
  CHECK(reps[0]->type == REDIS_REPLY_INTEGER && reps[0]->integer == 1);
  CHECK(reps[1]->type == REDIS_REPLY_INTEGER && reps[1]->integer == 2);
  CHECK(reps[2]->type == REDIS_REPLY_ARRAY && reps[2]->elements == 2 && strcmp(reps[2]->element[1]->str, "y") == 0);
  for (int i = 0; i < 3; i++) freeReplyObject(reps[i]);

  /* a blocking read of 0.5 s outlives the 0.2 s timeout when told to wait */
  const char *blpop[] = {"BLPOP", "empty", "0.5"};
  r = one(c, 0.5, &e, 3, blpop);
  CHECK(r && r->type == REDIS_REPLY_NIL);
  freeReplyObject(r);
  /* and without the wait it is a timeout, said in words */
  r = one(c, 0, &e, 3, blpop);
  CHECK(r == NULL);
  CHECK(e.code == CE_RCONN_EIO);
  CHECK_CONTAINS(e.msg, "no answer within 0.2s");
  /* the next call connects again */
  const char *get[] = {"GET", "k"};
  r = one(c, 0, &e, 2, get);
  CHECK(r && r->type == REDIS_REPLY_STRING && strcmp(r->str, "v") == 0);
  freeReplyObject(r);

  /* a password the server does not have */
  char pwurl[96];
  snprintf(pwurl, sizeof pwurl, "redis://:nope@127.0.0.1:%d/0", port);
  CHECK(ce_rconn_open(pwurl, 0.2, &e) == NULL);
  CHECK(e.code == CE_RCONN_EAUTH);
  CHECK_CONTAINS(e.msg, "AUTH refused");
  /* a database that does not exist */
  char dburl[96];
  snprintf(dburl, sizeof dburl, "redis://127.0.0.1:%d/99", port);
  CHECK(ce_rconn_open(dburl, 0.2, &e) == NULL);
  CHECK_CONTAINS(e.msg, "SELECT refused");

  /* the server goes: the call fails and says so; back: the next call works */
  stop_redis(pid);
  r = one(c, 0, &e, 2, get);
  CHECK(r == NULL);
  CHECK(e.code == CE_RCONN_EIO);
  CHECK_CONTAINS(e.msg, where);
  r = one(c, 0, &e, 2, get);
  CHECK(r == NULL); /* still down: a fresh connect is refused */
  CHECK_CONTAINS(e.msg, "Connection refused");
  /* a server that accepts and never answers (a stopped or swamped one):
   * each connect costs a whole timeout, so after one the calls fail at
   * once for a while instead of each trying again */
  int silent = socket(AF_INET, SOCK_STREAM, 0);
  int one_ = 1;
  setsockopt(silent, SOL_SOCKET, SO_REUSEADDR, &one_, sizeof one_);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons((uint16_t)port);
  CHECK(bind(silent, (struct sockaddr *)&a, sizeof a) == 0);
  CHECK(listen(silent, 64) == 0);
  nap(0.3); /* past the pause the refused connects began */
  for (int i = 0; i < 10; i++) {
    r = one(c, 0, &e, 2, get);
    CHECK(r == NULL);
  }
  CHECK_CONTAINS(e.msg, "no answer within 0.2s");
  int tries = 0;
  fcntl(silent, F_SETFL, O_NONBLOCK);
  for (int fd; (fd = accept(silent, NULL, NULL)) >= 0; tries++) close(fd);
  CHECK(tries == 1);
  close(silent);
  pid = start_redis(port, url, sizeof url);
  CHECK(pid > 0);
  const char *ping[] = {"PING"};
  /* back: within the longest pause between tries (5 s) the next call connects */
  r = NULL;
  for (int i = 0; i < 600 && !r; i++) {
    r = one(c, 0, &e, 1, ping);
    if (!r) nap(0.01);
  }
  CHECK(r && r->type == REDIS_REPLY_STATUS && strcmp(r->str, "PONG") == 0);
  freeReplyObject(r);
  ce_rconn_close(c);
  ce_rconn_close(NULL);
  stop_redis(pid);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  test_urls();
  test_unreachable();
  test_server();
  return check_report("test_queue_redis");
}
