/* SPDX-License-Identifier: MIT */
/* The ceiling libcurl itself puts on `causal-eval run`: THREADS threads, each
 * with one curl multi handle and its share of K requests always in flight,
 * POSTing BODYFILE to URL over keep-alive connections and discarding the
 * answers, for SECONDS seconds. No question is generated, rendered, parsed,
 * scored or stored: what it reaches is the most the pipeline could reach on
 * this machine with the HTTP engine it uses (the same options: no signals,
 * the same headers), so tools/bench/pipeline.sh prints it beside wrk.
 *
 *   http_floor URL BODYFILE [THREADS=2] [K=32] [SECONDS=4]
 *
 * Prints "requests/s N" (and errors, if any, on stderr). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
  const char *url, *body;
  size_t body_len;
  int k;
  double until;
  long done, errors;
} worker;

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static size_t discard(char *p, size_t size, size_t n, void *u) {
  (void)p, (void)u;
  return size * n;
}

static void *run(void *arg) {
  worker *w = arg;
  CURLM *m = curl_multi_init();
  curl_multi_setopt(m, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)w->k);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, "Accept: */*");
  CURL **e = calloc((size_t)w->k, sizeof *e);
  /* the URL parsed once, as causal-eval's HTTP engine gives it to libcurl
   * (its text was parsed again for every request) */
  CURLU *u = curl_url();
  if (curl_url_set(u, CURLUPART_URL, w->url, CURLU_GUESS_SCHEME | CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK) {
    fprintf(stderr, "http_floor: cannot parse %s\n", w->url);
    exit(1);
  }
  for (int i = 0; i < w->k; i++) {
    e[i] = curl_easy_init();
    curl_easy_setopt(e[i], CURLOPT_CURLU, u);
    curl_easy_setopt(e[i], CURLOPT_POSTFIELDS, w->body);
    curl_easy_setopt(e[i], CURLOPT_POSTFIELDSIZE, (long)w->body_len);
    curl_easy_setopt(e[i], CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(e[i], CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e[i], CURLOPT_TIMEOUT_MS, 10000L);
    curl_multi_add_handle(m, e[i]);
  }
  int active = w->k;
  while (active > 0) {
    int running;
    curl_multi_perform(m, &running);
    CURLMsg *msg;
    int left;
    int stop = now() >= w->until;
    while ((msg = curl_multi_info_read(m, &left))) {
      if (msg->msg != CURLMSG_DONE) continue;
      CURL *x = msg->easy_handle;
      long code = 0;
      curl_easy_getinfo(x, CURLINFO_RESPONSE_CODE, &code);
      if (msg->data.result == CURLE_OK && code == 200) w->done++;
      else w->errors++;
      curl_multi_remove_handle(m, x);
      if (stop) active--;
      else curl_multi_add_handle(m, x);
    }
    if (active > 0) curl_multi_poll(m, NULL, 0, 100, NULL);
  }
  for (int i = 0; i < w->k; i++) curl_easy_cleanup(e[i]);
  curl_url_cleanup(u);
  free(e);
  curl_slist_free_all(h);
  curl_multi_cleanup(m);
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: http_floor URL BODYFILE [THREADS=2] [K=32] [SECONDS=4]\n");
    return 2;
  }
  int threads = argc > 3 ? atoi(argv[3]) : 2, k = argc > 4 ? atoi(argv[4]) : 32;
  double seconds = argc > 5 ? atof(argv[5]) : 4;
  if (threads < 1 || threads > 64 || k < threads || seconds <= 0) {
    fprintf(stderr, "http_floor: need 1 <= THREADS <= 64, K >= THREADS, SECONDS > 0\n");
    return 2;
  }
  FILE *f = fopen(argv[2], "rb");
  if (!f) {
    perror(argv[2]);
    return 1;
  }
  static char body[1 << 20];
  size_t len = fread(body, 1, sizeof body - 1, f);
  fclose(f);
  if (curl_global_init(CURL_GLOBAL_ALL) != CURLE_OK) return 1;
  worker *w = calloc((size_t)threads, sizeof *w);
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  double t0 = now();
  for (int i = 0; i < threads; i++) {
    /* K split as the runner splits --concurrency among its workers */
    w[i] = (worker){argv[1], body, len, k / threads + (i < k % threads), t0 + seconds, 0, 0};
    pthread_create(&tid[i], NULL, run, &w[i]);
  }
  long done = 0, errors = 0;
  for (int i = 0; i < threads; i++) {
    pthread_join(tid[i], NULL);
    done += w[i].done;
    errors += w[i].errors;
  }
  double elapsed = now() - t0;
  if (errors) fprintf(stderr, "http_floor: %ld requests failed\n", errors);
  printf("requests/s %.0f\n", (double)done / elapsed);
  free(w);
  free(tid);
  curl_global_cleanup();
  return errors ? 1 : 0;
}
