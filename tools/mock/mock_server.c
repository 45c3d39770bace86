/* SPDX-License-Identifier: MIT */
/* An OpenAI- and Anthropic-compatible model server for tests and benchmarks.
 *
 *   mock_server [--port N] [--questions FILE.jsonl]... [--accuracy P]
 *               [--latency-ms MS] [--fault-429 R] [--fault-500 R] [--fault-stall R]
 *               [--fault-malformed R] [--fault-drop R] [--retry-after S]
 *               [--stall-ms MS] [--max-concurrent N] [--api-key KEY] [--seed S]
 *               [--rate-limit N [--rate-window-ms W]] [--fault-huge R [--huge-mb MB]]
 *
 * It answers a question it was given (matched by its prompt, the last
 * message's content) correctly with probability P, decided by a hash of the
 * prompt and the seed, so a run is reproducible; unknown prompts get "Yes.".
 * The evaluation modes of a run are understood too:
 *  - a prompt with up to 3 paragraphs appended (after "\n\n") still matches
 *    its question; when an appended paragraph says "step by step", the reply
 *    is chain of thought: sentences of reasoning that name the opposite
 *    answer as a distractor, then a last line "Final answer: X";
 *  - with "temperature" > 0 the correct/wrong decision (and the reply's form)
 *    hash the prompt with the request's "seed", or without one with the
 *    question's attempt count, so samples vary yet repeat given seeds; at
 *    temperature 0 or none the reply is the one it always was;
 *  - "logprobs": true (OpenAI) adds choices[0].logprobs.content: the reply's
 *    tokens, the yes/no word one with min(top_logprobs, 5) alternatives
 *    (default 5) where the given answer has probability 0.6-0.95;
 *  - a judge's prompt ("[Reference answer]" and "[Response]" sections, the
 *    response closed by an "[End]" line) gets a sentence and "GRADE: C" when
 *    the response contains the reference (case-insensitive), else "GRADE: I".
 * Faults are drawn per attempt at the given rates: 429 with Retry-After, 500,
 * a stall past the client's timeout, malformed JSON, a dropped connection, a
 * reply of --huge-mb MB (default 100) streamed without a length. Over
 * --max-concurrent requests in progress it answers 429. With --rate-limit it
 * behaves like a provider's request budget: N requests per window of W ms
 * (default 1000), announced in x-ratelimit-remaining-requests /
 * x-ratelimit-reset-requests, and 429 beyond it. With --api-key, a wrong or
 * missing key gets 401. POST /hook receives webhooks (the first --fail-hooks
 * N get 500) and GET /hooks lists them. GET /stats reports counts; POST
 * /reset clears them. It prints
 * "mock_server listening on 127.0.0.1:PORT" once ready (--port 0: any port). */
#include <arpa/inet.h>
#include <microhttpd.h>

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util/json.h"
#include "core/stats/philox.h"

typedef struct {
  uint64_t hash;          /* of the prompt; 0: empty slot */
  int type;               /* 0 yes/no, 1 number, 2 choice */
  char truth[64];
  double number, tolerance;
  char wrong_choice[16];
  atomic_int attempts;
  atomic_int answered;    /* 200 OK responses */
} entry;

static struct {
  double accuracy, f429, f500, fstall, fmalformed, fdrop, fhuge, retry_after, huge_mb;
  long latency_ms, stall_ms;
  int max_concurrent;
  const char *api_key;
  uint64_t seed;
  entry *table;
  size_t cap, count;
  atomic_int in_progress, max_in_progress; /* the most handled at once since the last reset */
  atomic_long requests, ok, s429, s500, stalls, malformed, drops, s401, busy, huge;
  atomic_long other_attempts;
  /* a provider's request budget: --rate-limit N per --rate-window-ms W */
  long rate_limit, rate_window_ms;
  pthread_mutex_t window_lock;
  double window_start;
  long window_count;
  atomic_long limited;
  /* received webhooks */
  pthread_mutex_t hook_lock;
  ce_buf hooks;
  int fail_hooks;
} cfg;

/* Counts a request against the window. Returns the requests left (may be
 * negative: over the limit) and the milliseconds until the window resets. */
static long window_take(long *reset_ms) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  double now = (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
  pthread_mutex_lock(&cfg.window_lock);
  if (now - cfg.window_start >= (double)cfg.rate_window_ms) {
    cfg.window_start = now;
    cfg.window_count = 0;
  }
  long left = cfg.rate_limit - ++cfg.window_count;
  *reset_ms = (long)(cfg.window_start + (double)cfg.rate_window_ms - now) + 1;
  pthread_mutex_unlock(&cfg.window_lock);
  return left;
}

/* the budget headers of the response being built (one request per thread) */
static _Thread_local long hdr_remaining = -1, hdr_reset_ms = -1;

static uint64_t hash_bytes(const char *s, size_t n) { return ce_hash64(s, n, 0x6d6f636bull) | 1u; }

static double unit(uint64_t h) { return (double)(h >> 11) * 0x1.0p-53; }

static uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t v[2] = {a, b};
  return ce_hash64(v, sizeof v, cfg.seed);
}

static entry *lookup(uint64_t h, int insert) {
  if (!cfg.cap) return NULL;
  size_t i = (size_t)h & (cfg.cap - 1);
  while (cfg.table[i].hash) {
    if (cfg.table[i].hash == h) return &cfg.table[i];
    i = (i + 1) & (cfg.cap - 1);
  }
  if (!insert) return NULL;
  cfg.table[i].hash = h;
  cfg.count++;
  return &cfg.table[i];
}

/* ---- reading a question line: prompt, answer type, ground truth ---- */

typedef struct {
  int depth, in_choices;
  const char *key;
  char keybuf[64];
  ce_buf prompt;
  char answer_type[16];
  char truth[64];
  double truth_num, tolerance;
  int truth_is_num;
  char choices[8][16];
  int nchoices;
} qline;

static int q_key(void *ud, const char *s, size_t n) {
  qline *q = ud;
  size_t len = n < sizeof q->keybuf - 1 ? n : sizeof q->keybuf - 1;
  memcpy(q->keybuf, s, len);
  q->keybuf[len] = '\0';
  q->key = q->keybuf;
  return 0;
}
static int q_begin(void *ud) {
  qline *q = ud;
  if (q->depth == 1 && q->key && strcmp(q->key, "choices") == 0) q->in_choices = 1;
  q->depth++;
  q->key = NULL;
  return 0;
}
static int q_end(void *ud) {
  qline *q = ud;
  q->depth--;
  if (q->depth == 1) q->in_choices = 0;
  return 0;
}
static int q_str(void *ud, const char *s, size_t n) {
  qline *q = ud;
  if (q->in_choices && q->depth == 2 && q->nchoices < 8) {
    snprintf(q->choices[q->nchoices++], 16, "%.*s", (int)(n < 15 ? n : 15), s);
  } else if (q->depth == 1 && q->key) {
    if (strcmp(q->key, "prompt") == 0) ce_buf_add(&q->prompt, s, n);
    else if (strcmp(q->key, "answer_type") == 0) snprintf(q->answer_type, sizeof q->answer_type, "%.*s", (int)n, s);
    else if (strcmp(q->key, "ground_truth") == 0) snprintf(q->truth, sizeof q->truth, "%.*s", (int)(n < 63 ? n : 63), s);
  }
  q->key = NULL;
  return 0;
}
static int q_num(void *ud, double v) {
  qline *q = ud;
  if (q->depth == 1 && q->key) {
    if (strcmp(q->key, "ground_truth") == 0) { q->truth_num = v; q->truth_is_num = 1; }
    else if (strcmp(q->key, "tolerance") == 0) q->tolerance = v;
  }
  q->key = NULL;
  return 0;
}
static int q_int(void *ud, int64_t v) { return q_num(ud, (double)v); }
static int q_other(void *ud) { ((qline *)ud)->key = NULL; return 0; }
static int q_bool(void *ud, int v) { (void)v; return q_other(ud); }

static const ce_json_handler qhandler = {q_other, q_bool, q_int, q_num, q_str, q_begin, q_end, q_begin, q_key, q_end};

static int load_questions(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "mock_server: %s: %s\n", path, strerror(errno));
    return -1;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) > 0) {
    if (cfg.count * 2 >= cfg.cap) {
      size_t ncap = cfg.cap ? cfg.cap * 2 : 1024;
      entry *old = cfg.table;
      size_t oldcap = cfg.cap;
      cfg.table = calloc(ncap, sizeof *cfg.table);
      cfg.cap = ncap;
      cfg.count = 0;
      for (size_t i = 0; i < oldcap; i++)
        if (old[i].hash) {
          entry *e = lookup(old[i].hash, 1);
          e->type = old[i].type;
          memcpy(e->truth, old[i].truth, sizeof e->truth);
          e->number = old[i].number;
          e->tolerance = old[i].tolerance;
          memcpy(e->wrong_choice, old[i].wrong_choice, sizeof e->wrong_choice);
        }
      free(old);
    }
    qline q;
    memset(&q, 0, sizeof q);
    ce_buf_init(&q.prompt);
    ce_err err;
    if (ce_json_parse(line, (size_t)n, path, 0, &qhandler, &q, NULL, &err) == 0 && q.prompt.len > 0) {
      entry *e = lookup(hash_bytes(q.prompt.data, q.prompt.len), 1);
      e->type = strcmp(q.answer_type, "number") == 0 ? 1 : strcmp(q.answer_type, "choice") == 0 ? 2 : 0;
      snprintf(e->truth, sizeof e->truth, "%s", q.truth);
      e->number = q.truth_num;
      e->tolerance = q.tolerance > 0 ? q.tolerance : 0.01;
      for (int i = 0; i < q.nchoices; i++)
        if (strcmp(q.choices[i], q.truth) != 0) {
          snprintf(e->wrong_choice, sizeof e->wrong_choice, "%s", q.choices[i]);
          break;
        }
    }
    ce_buf_free(&q.prompt);
  }
  free(line);
  fclose(f);
  return 0;
}

/* ---- reading a request: the last message's content, the model, sampling ---- */

typedef struct {
  const char *key;
  char keybuf[32];
  ce_buf content;
  char model[64];
  int depth;
  double temperature;
  int has_seed, logprobs;
  int64_t seed, top_logprobs;
} req;

static int r_key(void *ud, const char *s, size_t n) {
  req *r = ud;
  size_t len = n < sizeof r->keybuf - 1 ? n : sizeof r->keybuf - 1;
  memcpy(r->keybuf, s, len);
  r->keybuf[len] = '\0';
  r->key = r->keybuf;
  return 0;
}
static int r_str(void *ud, const char *s, size_t n) {
  req *r = ud;
  if (r->key && (strcmp(r->key, "content") == 0 || strcmp(r->key, "text") == 0)) {
    r->content.len = 0; /* the last message wins */
    ce_buf_add(&r->content, s, n);
  } else if (r->key && r->depth == 1 && strcmp(r->key, "model") == 0) {
    snprintf(r->model, sizeof r->model, "%.*s", (int)(n < 63 ? n : 63), s);
  }
  r->key = NULL;
  return 0;
}
static int r_begin(void *ud) { req *r = ud; r->depth++; r->key = NULL; return 0; }
static int r_end(void *ud) { ((req *)ud)->depth--; return 0; }
static int r_other(void *ud) { ((req *)ud)->key = NULL; return 0; }
static int r_bool(void *ud, int v) {
  req *r = ud;
  if (r->key && r->depth == 1 && strcmp(r->key, "logprobs") == 0) r->logprobs = v;
  return r_other(ud);
}
static int r_num(void *ud, double v) {
  req *r = ud;
  if (r->key && r->depth == 1) {
    if (strcmp(r->key, "temperature") == 0) r->temperature = v;
    else if (strcmp(r->key, "seed") == 0 && v == v && fabs(v) < 9e18) { r->seed = (int64_t)v; r->has_seed = 1; }
    else if (strcmp(r->key, "top_logprobs") == 0 && v == v) r->top_logprobs = v < 0 ? 0 : v > 100 ? 100 : (int64_t)v;
  }
  return r_other(ud);
}
static int r_int(void *ud, int64_t v) {
  req *r = ud;
  if (r->key && r->depth == 1 && strcmp(r->key, "seed") == 0) {
    r->seed = v; /* exact: a seed beyond 2^53 stays itself */
    r->has_seed = 1;
    return r_other(ud);
  }
  return r_num(ud, (double)v);
}

static const ce_json_handler rhandler = {r_other, r_bool, r_int, r_num, r_str, r_begin, r_end, r_begin, r_key, r_end};

/* ---- responses ---- */

static enum MHD_Result send_text(struct MHD_Connection *c, int status, const char *body, const char *ctype,
                                 const char *retry_after) {
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(strlen(body), (void *)body, MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(resp, "Content-Type", ctype ? ctype : "application/json");
  if (retry_after) MHD_add_response_header(resp, "Retry-After", retry_after);
  if (hdr_remaining >= 0) {
    char v[32];
    snprintf(v, sizeof v, "%ld", hdr_remaining);
    MHD_add_response_header(resp, "x-ratelimit-remaining-requests", v);
    snprintf(v, sizeof v, "%ldms", hdr_reset_ms);
    MHD_add_response_header(resp, "x-ratelimit-reset-requests", v);
  } else {
    MHD_add_response_header(resp, "x-ratelimit-remaining-requests", "1000");
  }
  enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

static void sleep_ms(long ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

/* ---- the question a request asks ---- */

/* Where needle first occurs in hay; ci: ignoring ASCII case. */
static const char *find(const char *hay, size_t hn, const char *needle, size_t nn, int ci) {
  for (size_t i = 0; i + nn <= hn; i++) {
    size_t j = 0;
    if (ci)
      while (j < nn && tolower((unsigned char)hay[i + j]) == tolower((unsigned char)needle[j])) j++;
    else
      while (j < nn && hay[i + j] == needle[j]) j++;
    if (j == nn) return hay + i;
  }
  return NULL;
}

/* A prompt with an instruction appended (a template's "Think step by step.")
 * is still its question: the content less its last 1, 2 or 3 paragraphs.
 * On a match, *ph becomes the question's hash, so the answer is the one the
 * bare prompt gets, and *cot says whether the removed part asked for
 * reasoning step by step. */
static entry *match_trimmed(const char *s, size_t n, uint64_t *ph, int *cot) {
  size_t end = n;
  for (int k = 0; k < 3; k++) {
    while (end >= 2 && !(s[end - 2] == '\n' && s[end - 1] == '\n')) end--;
    if (end < 2) return NULL;
    end -= 2;
    while (end > 0 && s[end - 1] == '\n') end--; /* a run of blank lines is one break */
    uint64_t h = hash_bytes(s, end);
    entry *e = lookup(h, 0);
    if (e) {
      *ph = h;
      *cot = find(s + end, n - end, "step by step", 12, 1) != NULL;
      return e;
    }
  }
  return NULL;
}

/* The text under a "[Marker]" line up to the first of the end marks (or the
 * end), trimmed; NULL when the marker is absent. */
static const char *section(const char *s, size_t n, const char *marker, const char *const *end_marks,
                           size_t *len) {
  const char *p = find(s, n, marker, strlen(marker), 0);
  if (!p) return NULL;
  const char *stop = s + n;
  p += strlen(marker);
  while (p < stop && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
  if (p < stop && *p == '\n') p++;
  for (const char *const *m = end_marks; *m; m++) {
    const char *q = find(p, (size_t)(stop - p), *m, strlen(*m), 0);
    if (q) stop = q;
  }
  while (p < stop && isspace((unsigned char)*p)) p++;
  while (stop > p && isspace((unsigned char)stop[-1])) stop--;
  *len = (size_t)(stop - p);
  return p;
}

/* A model-graded answer: a judge's prompt holds "[Reference answer]" and
 * "[Response]" sections (the response closed by an "[End]" line), as
 * lua/stdlib/causal_eval/rubrics/default.lua writes them. The grade
 * is C when the response contains the reference, ignoring case. Returns 0
 * when s is not a judge's prompt. */
static int judge_reply(const char *s, size_t n, char *out, size_t size) {
  size_t rl = 0, al = 0;
  static const char *const ref_end[] = {"[Response]", "[Notes]", "[Question]", "[End]", NULL};
  static const char *const resp_end[] = {"\n[End]", NULL};
  const char *ref = section(s, n, "[Reference answer]", ref_end, &rl);
  const char *resp = ref ? section(s, n, "[Response]", resp_end, &al) : NULL;
  if (!ref || !resp) return 0;
  int c = rl > 0 && find(resp, al, ref, rl, 1) != NULL;
  int shown = rl > 60 ? 60 : (int)rl;
  snprintf(out, size,
           c ? "The response states the reference answer \"%.*s\".\nGRADE: C"
             : "The response does not state the reference answer \"%.*s\".\nGRADE: I",
           shown, ref);
  return 1;
}

/* ---- answers ---- */

/* Chain of thought: the first %s is the other answer, named as a distractor
 * so that an extractor must read the final line only. */
static const char *const COT[] = {
    "Let me work through it step by step. One might first answer %s, but that reads an association as an "
    "effect. Following the arrows of the graph settles it.\nFinal answer: %s",
    "First, list the paths between the two variables. At first sight the answer looks like %s, but the intervention cuts "
    "the arrows into the treated variable. With that taken into account the conclusion differs.\nFinal answer: %s",
    "The question asks for a causal effect, not a correlation. It is tempting to say %s here, but the back-door "
    "path has to be blocked first.\nFinal answer: %s",
};

/* The reply to question e (NULL: an unknown prompt), decided by the hash ph;
 * cot: as chain of thought. Returns 1 when its answer is "Yes", 0 "No", -1
 * for a number or a choice. */
static int answer_text(entry *e, uint64_t ph, int cot, char *out, size_t size) {
  int correct = !e || unit(mix(ph, 0xacc)) < cfg.accuracy;
  int form = (int)(mix(ph, 0xf04) % 4);
  if (!e) { snprintf(out, size, "Yes."); return 1; }
  char given[80], other[80];
  const char *const *fmt;
  int yes = -1;
  if (e->type == 1) {
    double right = e->number, wrong = e->number + 5 * e->tolerance + 0.05;
    snprintf(given, sizeof given, "%.4f", correct ? right : wrong);
    snprintf(other, sizeof other, "%.4f", correct ? wrong : right);
    static const char *const f[] = {"%s", "The answer is %s.", "Answer: %s", "Approximately %s"};
    fmt = f;
  } else if (e->type == 2) {
    const char *wrong = e->wrong_choice[0] ? e->wrong_choice : "Z";
    snprintf(given, sizeof given, "%s", correct ? e->truth : wrong);
    snprintf(other, sizeof other, "%s", correct ? wrong : e->truth);
    static const char *const f[] = {"%s", "Answer: %s", "The answer is (%s).", "Option %s."};
    fmt = f;
  } else {
    yes = strcmp(e->truth, "yes") == 0;
    if (!correct) yes = !yes;
    snprintf(given, sizeof given, "%s", yes ? "Yes" : "No");
    snprintf(other, sizeof other, "%s", yes ? "no" : "yes");
    static const char *const f[] = {"%s.", "Answer: %s", "Let me think. The effect follows from the graph.\nFinal answer: %s",
                                    "**%s**"};
    fmt = f;
  }
  if (cot) snprintf(out, size, COT[mix(ph, 0xc07) % 3], other, given);
  else snprintf(out, size, fmt[form], given);
  return yes;
}

/* ---- log probabilities ---- */

static void lp_entry(ce_buf *b, const char *tok, size_t n, double logprob) {
  ce_buf_adds(b, "{\"token\":");
  ce_json_write_string(b, tok, n);
  ce_buf_adds(b, ",\"logprob\":");
  ce_json_write_double(b, logprob);
}

/* A position that is certain: the token itself is its only alternative. */
static void lp_certain(ce_buf *b, const char *tok, size_t n, int64_t top) {
  lp_entry(b, tok, n, 0.0);
  ce_buf_adds(b, ",\"top_logprobs\":[");
  if (top > 0) {
    lp_entry(b, tok, n, 0.0);
    ce_buf_addc(b, '}');
  }
  ce_buf_adds(b, "]}");
}

typedef struct { char token[8]; double p; } alt;

static int alt_cmp(const void *a, const void *b) {
  double x = ((const alt *)a)->p, y = ((const alt *)b)->p;
  return x < y ? 1 : x > y ? -1 : 0;
}

/* ,"logprobs":{"content":[...]} of an OpenAI choice: the reply as tokens
 * (the text before the answer word, the word, the text after it). The word
 * has probability p in 0.6-0.95 from the hash ph, its opposite most of the
 * rest, and the lower-case variants the remainder, so the chosen answer is
 * the likeliest. A reply with no yes/no answer (yes < 0) is one token. */
static void write_logprobs(ce_buf *b, const char *reply, int yes, uint64_t ph, int64_t top) {
  ce_buf_adds(b, ",\"logprobs\":{\"content\":[");
  size_t n = strlen(reply);
  const char *word = yes == 1 ? "Yes" : "No", *at = NULL;
  if (yes >= 0)
    for (const char *p = reply; (p = find(p, (size_t)(reply + n - p), word, strlen(word), 0)); p++) at = p;
  if (!at) {
    lp_certain(b, reply, n, top);
    ce_buf_adds(b, "]}");
    return;
  }
  size_t wl = strlen(word);
  if (at > reply) {
    lp_certain(b, reply, (size_t)(at - reply), top);
    ce_buf_addc(b, ',');
  }
  double p = 0.6 + 0.35 * unit(mix(ph, 0x109b));
  const char *opp = yes ? "No" : "Yes";
  alt alts[5] = {{"", p * 0.9}, {"", (1 - p) * 0.8}, {" ", p * 0.07}, {" ", (1 - p) * 0.15}, {"", p * 0.03}};
  strcat(alts[0].token, word);
  strcat(alts[1].token, opp);
  strcat(alts[2].token, yes ? "yes" : "no");
  strcat(alts[3].token, yes ? "no" : "yes");
  strcat(alts[4].token, yes ? "yes" : "no");
  lp_entry(b, word, wl, log(alts[0].p));
  qsort(alts, 5, sizeof alts[0], alt_cmp);
  ce_buf_adds(b, ",\"top_logprobs\":[");
  int64_t k = top < 5 ? top : 5;
  for (int64_t i = 0; i < k; i++) {
    if (i) ce_buf_addc(b, ',');
    lp_entry(b, alts[i].token, strlen(alts[i].token), log(alts[i].p));
    ce_buf_addc(b, '}');
  }
  ce_buf_adds(b, "]}");
  if (at + wl < reply + n) {
    ce_buf_addc(b, ',');
    lp_certain(b, at + wl, (size_t)(reply + n - at - wl), top);
  }
  ce_buf_adds(b, "]}");
}

/* ---- a huge reply, made as it is sent (a 100 MB body is never in memory) ---- */

typedef struct {
  uint64_t left; /* bytes of content still to send */
  int stage;     /* 0 head, 1 content, 2 tail, 3 done */
  size_t pos;
} huge_state;

static const char HUGE_HEAD[] = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"";
static const char HUGE_TAIL[] = "\"},\"finish_reason\":\"stop\"}]}";

static ssize_t huge_read(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  huge_state *h = cls;
  size_t n = 0;
  while (n < max && h->stage < 3) {
    const char *part = h->stage == 0 ? HUGE_HEAD : HUGE_TAIL;
    if (h->stage == 1) {
      size_t k = max - n < h->left ? max - n : (size_t)h->left;
      memset(buf + n, 'x', k);
      n += k;
      h->left -= k;
      if (h->left == 0) h->stage = 2;
      continue;
    }
    size_t len = strlen(part) - h->pos;
    size_t k = max - n < len ? max - n : len;
    memcpy(buf + n, part + h->pos, k);
    n += k;
    h->pos += k;
    if (h->pos == strlen(part)) {
      h->stage++;
      h->pos = 0;
    }
  }
  return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static enum MHD_Result send_huge(struct MHD_Connection *c) {
  huge_state *h = calloc(1, sizeof *h);
  if (!h) return MHD_NO;
  h->left = (uint64_t)(cfg.huge_mb * 1024 * 1024);
  if (h->left == 0) h->stage = 2;
  struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 65536, huge_read, h, free);
  if (!resp) {
    free(h);
    return MHD_NO;
  }
  MHD_add_response_header(resp, "Content-Type", "application/json");
  enum MHD_Result ret = MHD_queue_response(c, 200, resp);
  MHD_destroy_response(resp);
  return ret;
}

typedef struct { ce_buf body; } conn_ctx;

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **con_cls) {
  (void)cls;
  (void)version;
  conn_ctx *ctx = *con_cls;
  if (!ctx) {
    ctx = calloc(1, sizeof *ctx);
    if (!ctx) return MHD_NO;
    ce_buf_init(&ctx->body);
    *con_cls = ctx;
    return MHD_YES;
  }
  if (*upload_size) {
    ce_buf_add(&ctx->body, upload, *upload_size);
    *upload_size = 0;
    return MHD_YES;
  }
  /* a webhook receiver for alert tests: POST /hook keeps the body (after
   * failing the first --fail-hooks with 500), GET /hooks returns them as
   * JSON lines */
  if (strcmp(method, "POST") == 0 && strcmp(url, "/hook") == 0) {
    pthread_mutex_lock(&cfg.hook_lock);
    int fail = cfg.fail_hooks > 0;
    if (fail) cfg.fail_hooks--;
    else {
      ce_buf_add(&cfg.hooks, ctx->body.data ? ctx->body.data : "", ctx->body.len);
      ce_buf_addc(&cfg.hooks, '\n');
    }
    pthread_mutex_unlock(&cfg.hook_lock);
    return send_text(c, fail ? 500 : 200, fail ? "{\"error\":\"failing on purpose\"}" : "{\"ok\":true}", NULL, NULL);
  }
  if (strcmp(method, "GET") == 0 && strcmp(url, "/hooks") == 0) {
    pthread_mutex_lock(&cfg.hook_lock);
    enum MHD_Result r = send_text(c, 200, cfg.hooks.data ? cfg.hooks.data : "", "application/x-ndjson", NULL);
    pthread_mutex_unlock(&cfg.hook_lock);
    return r;
  }
  if (strcmp(method, "GET") == 0 && strcmp(url, "/stats") == 0) {
    long twice = 0, answered = 0;
    for (size_t i = 0; i < cfg.cap; i++)
      if (cfg.table[i].hash) {
        int a = atomic_load(&cfg.table[i].answered);
        if (a > 0) answered++;
        if (a > 1) twice += a - 1;
      }
    char buf[512];
    snprintf(buf, sizeof buf,
             "{\"requests\":%ld,\"ok\":%ld,\"429\":%ld,\"500\":%ld,\"stall\":%ld,\"malformed\":%ld,\"drop\":%ld,"
             "\"401\":%ld,\"busy\":%ld,\"limited\":%ld,\"huge\":%ld,\"questions_answered\":%ld,\"answered_more_than_once\":%ld,"
             "\"in_flight\":%d,\"max_in_flight\":%d}",
             atomic_load(&cfg.requests), atomic_load(&cfg.ok), atomic_load(&cfg.s429), atomic_load(&cfg.s500),
             atomic_load(&cfg.stalls), atomic_load(&cfg.malformed), atomic_load(&cfg.drops),
             atomic_load(&cfg.s401), atomic_load(&cfg.busy), atomic_load(&cfg.limited), atomic_load(&cfg.huge), answered,
             twice, atomic_load(&cfg.in_progress), atomic_load(&cfg.max_in_progress));
    return send_text(c, 200, buf, NULL, NULL);
  }
  if (strcmp(method, "POST") == 0 && strcmp(url, "/reset") == 0) {
    atomic_store(&cfg.requests, 0); atomic_store(&cfg.ok, 0); atomic_store(&cfg.s429, 0);
    atomic_store(&cfg.s500, 0); atomic_store(&cfg.stalls, 0); atomic_store(&cfg.malformed, 0);
    atomic_store(&cfg.drops, 0); atomic_store(&cfg.s401, 0); atomic_store(&cfg.busy, 0); atomic_store(&cfg.limited, 0);
    atomic_store(&cfg.huge, 0);
    atomic_store(&cfg.max_in_progress, atomic_load(&cfg.in_progress));
    for (size_t i = 0; i < cfg.cap; i++) {
      atomic_store(&cfg.table[i].answered, 0);
      atomic_store(&cfg.table[i].attempts, 0);
    }
    return send_text(c, 200, "{}", NULL, NULL);
  }
  if (strcmp(method, "GET") == 0 && strcmp(url, "/v1/models") == 0)
    return send_text(c, 200, "{\"object\":\"list\",\"data\":[{\"id\":\"mock\",\"object\":\"model\"}]}", NULL, NULL);
  int anthropic = strcmp(url, "/v1/messages") == 0;
  if (strcmp(method, "POST") != 0 || (!anthropic && strcmp(url, "/v1/chat/completions") != 0))
    return send_text(c, 404, "{\"error\":{\"message\":\"not found\"}}", NULL, NULL);
  atomic_fetch_add(&cfg.requests, 1);
  if (cfg.api_key) {
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, anthropic ? "x-api-key" : "Authorization");
    char want[300];
    snprintf(want, sizeof want, anthropic ? "%s" : "Bearer %s", cfg.api_key);
    if (!auth || strcmp(auth, want) != 0) {
      atomic_fetch_add(&cfg.s401, 1);
      return send_text(c, 401, "{\"error\":{\"message\":\"invalid api key\",\"type\":\"authentication_error\"}}", NULL, NULL);
    }
  }
  hdr_remaining = -1;
  if (cfg.rate_limit > 0) {
    long reset_ms;
    long left = window_take(&reset_ms);
    hdr_remaining = left > 0 ? left : 0;
    hdr_reset_ms = reset_ms;
    if (left < 0) {
      atomic_fetch_add(&cfg.limited, 1);
      atomic_fetch_add(&cfg.s429, 1);
      char ra[32];
      snprintf(ra, sizeof ra, "%.3f", (double)reset_ms / 1000.0);
      return send_text(c, 429, "{\"error\":{\"message\":\"rate limit reached for requests\",\"type\":\"requests\"}}", NULL, ra);
    }
  }
  int now = atomic_fetch_add(&cfg.in_progress, 1) + 1;
  for (int max = atomic_load(&cfg.max_in_progress); now > max;)
    if (atomic_compare_exchange_weak(&cfg.max_in_progress, &max, now)) break;
  enum MHD_Result ret;
  if (cfg.max_concurrent > 0 && now > cfg.max_concurrent) {
    atomic_fetch_add(&cfg.busy, 1);
    atomic_fetch_add(&cfg.s429, 1);
    char ra[32];
    snprintf(ra, sizeof ra, "%g", cfg.retry_after);
    ret = send_text(c, 429, "{\"error\":{\"message\":\"too many concurrent requests\"}}", NULL, ra);
    atomic_fetch_sub(&cfg.in_progress, 1);
    return ret;
  }
  req r;
  memset(&r, 0, sizeof r);
  r.top_logprobs = 5;
  ce_buf_init(&r.content);
  ce_err err;
  if (ce_json_parse(ctx->body.data ? ctx->body.data : "", ctx->body.len, "request", 0, &rhandler, &r, NULL, &err) != 0 ||
      r.content.len == 0) {
    ce_buf_free(&r.content);
    atomic_fetch_sub(&cfg.in_progress, 1);
    return send_text(c, 400, "{\"error\":{\"message\":\"bad request: no message content\"}}", NULL, NULL);
  }
  /* a question's own prompt, else a judge's prompt, else a question's
   * prompt with an instruction appended, else an unknown prompt */
  uint64_t ph = hash_bytes(r.content.data, r.content.len);
  entry *e = lookup(ph, 0);
  char answer[1024];
  int cot = 0, judge = 0;
  if (!e) judge = judge_reply(r.content.data, r.content.len, answer, sizeof answer);
  if (!e && !judge) e = match_trimmed(r.content.data, r.content.len, &ph, &cot);
  int attempt = e ? atomic_fetch_add(&e->attempts, 1) : (int)atomic_fetch_add(&cfg.other_attempts, 1);
  double u = unit(mix(ph, 0xfa17 + (uint64_t)attempt * 0x9e3779b97f4a7c15ull));
  sleep_ms(cfg.latency_ms);
  double acc = 0;
  if (u < (acc += cfg.f429)) {
    atomic_fetch_add(&cfg.s429, 1);
    char ra[32];
    snprintf(ra, sizeof ra, "%g", cfg.retry_after);
    ret = send_text(c, 429, "{\"error\":{\"message\":\"rate limited\",\"type\":\"rate_limit_error\"}}", NULL, ra);
  } else if (u < (acc += cfg.f500)) {
    atomic_fetch_add(&cfg.s500, 1);
    ret = send_text(c, 500, "{\"error\":{\"message\":\"mock internal error\"}}", NULL, NULL);
  } else if (u < (acc += cfg.fstall)) {
    atomic_fetch_add(&cfg.stalls, 1);
    sleep_ms(cfg.stall_ms);
    ret = send_text(c, 500, "{\"error\":{\"message\":\"stalled\"}}", NULL, NULL);
  } else if (u < (acc += cfg.fmalformed)) {
    atomic_fetch_add(&cfg.malformed, 1);
    ret = send_text(c, 200, "{\"choices\": [{\"message\": {\"content\": \"Yes", NULL, NULL);
  } else if (u < (acc += cfg.fdrop)) {
    atomic_fetch_add(&cfg.drops, 1);
    ret = MHD_NO; /* close the connection without a response */
  } else if (u < (acc += cfg.fhuge)) {
    atomic_fetch_add(&cfg.huge, 1);
    ret = send_huge(c);
  } else {
    /* sampling: a draw per seed, or per attempt without one; greedy
     * decoding keeps the prompt's hash, so its reply never changes */
    uint64_t dh = ph;
    if (r.temperature > 0)
      dh = mix(ph ^ (r.has_seed ? mix((uint64_t)r.seed, 0x5eed) : mix((uint64_t)attempt, 0xa77e)), 0x5a3);
    int yes = judge ? -1 : answer_text(e, dh, cot, answer, sizeof answer);
    ce_buf out;
    ce_buf_init(&out);
    size_t prompt_tokens = r.content.len / 4 + 8, completion_tokens = strlen(answer) / 4 + 1;
    const char *model = r.model[0] ? r.model : "mock";
    char head[256];
    if (anthropic) {
      snprintf(head, sizeof head, "{\"id\":\"msg_mock\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"%s\",\"content\":[{\"type\":\"text\",\"text\":", model);
      ce_buf_adds(&out, head);
      ce_json_write_string(&out, answer, strlen(answer));
      snprintf(head, sizeof head, "}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":%zu,\"output_tokens\":%zu}}",
               prompt_tokens, completion_tokens);
      ce_buf_adds(&out, head);
    } else {
      snprintf(head, sizeof head, "{\"id\":\"chatcmpl-mock\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"%s\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":", model);
      ce_buf_adds(&out, head);
      ce_json_write_string(&out, answer, strlen(answer));
      ce_buf_addc(&out, '}');
      if (r.logprobs) write_logprobs(&out, answer, yes, dh, r.top_logprobs);
      snprintf(head, sizeof head, ",\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":%zu,\"completion_tokens\":%zu,\"total_tokens\":%zu}}",
               prompt_tokens, completion_tokens, prompt_tokens + completion_tokens);
      ce_buf_adds(&out, head);
    }
    atomic_fetch_add(&cfg.ok, 1);
    if (e) atomic_fetch_add(&e->answered, 1);
    ret = send_text(c, 200, out.data, NULL, NULL);
    ce_buf_free(&out);
  }
  ce_buf_free(&r.content);
  atomic_fetch_sub(&cfg.in_progress, 1);
  return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
  (void)cls;
  (void)c;
  (void)t;
  conn_ctx *ctx = *con_cls;
  if (ctx) {
    ce_buf_free(&ctx->body);
    free(ctx);
  }
  *con_cls = NULL;
}

static volatile sig_atomic_t stop = 0;
static void on_signal(int s) { (void)s; stop = 1; }

static double argd(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) { fprintf(stderr, "mock_server: %s needs a value\n", argv[*i]); exit(2); }
  return atof(argv[++*i]);
}

int main(int argc, char **argv) {
  int port = 0;
  const char *bind = "127.0.0.1";
  cfg.accuracy = 1.0;
  cfg.retry_after = 1;
  cfg.stall_ms = 30000;
  cfg.rate_window_ms = 1000;
  cfg.huge_mb = 100;
  pthread_mutex_init(&cfg.window_lock, NULL);
  pthread_mutex_init(&cfg.hook_lock, NULL);
  ce_buf_init(&cfg.hooks);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--port")) port = (int)argd(argc, argv, &i);
    else if (!strcmp(a, "--questions")) { if (i + 1 >= argc || load_questions(argv[++i])) return 2; }
    else if (!strcmp(a, "--accuracy")) cfg.accuracy = argd(argc, argv, &i);
    else if (!strcmp(a, "--latency-ms")) cfg.latency_ms = (long)argd(argc, argv, &i);
    else if (!strcmp(a, "--fault-429")) cfg.f429 = argd(argc, argv, &i);
    else if (!strcmp(a, "--fault-500")) cfg.f500 = argd(argc, argv, &i);
    else if (!strcmp(a, "--fault-stall")) cfg.fstall = argd(argc, argv, &i);
    else if (!strcmp(a, "--fault-malformed")) cfg.fmalformed = argd(argc, argv, &i);
    else if (!strcmp(a, "--fault-drop")) cfg.fdrop = argd(argc, argv, &i);
    else if (!strcmp(a, "--fault-huge")) cfg.fhuge = argd(argc, argv, &i);
    else if (!strcmp(a, "--huge-mb")) cfg.huge_mb = argd(argc, argv, &i);
    else if (!strcmp(a, "--retry-after")) cfg.retry_after = argd(argc, argv, &i);
    else if (!strcmp(a, "--stall-ms")) cfg.stall_ms = (long)argd(argc, argv, &i);
    else if (!strcmp(a, "--max-concurrent")) cfg.max_concurrent = (int)argd(argc, argv, &i);
    else if (!strcmp(a, "--fail-hooks")) cfg.fail_hooks = (int)argd(argc, argv, &i);
    else if (!strcmp(a, "--rate-limit")) cfg.rate_limit = (long)argd(argc, argv, &i);
    else if (!strcmp(a, "--rate-window-ms")) cfg.rate_window_ms = (long)argd(argc, argv, &i);
    else if (!strcmp(a, "--seed")) cfg.seed = (uint64_t)argd(argc, argv, &i);
    else if (!strcmp(a, "--api-key")) { if (i + 1 >= argc) return 2; cfg.api_key = argv[++i]; }
    else if (!strcmp(a, "--bind")) { if (i + 1 >= argc) return 2; bind = argv[++i]; }
    else {
      fprintf(stderr, "mock_server: unknown option %s\n", a);
      return 2;
    }
  }
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, bind, &addr.sin_addr) != 1) {
    fprintf(stderr, "mock_server: bad address %s\n", bind);
    return 2;
  }
  struct MHD_Daemon *d = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
      handle, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, completed,
      NULL, MHD_OPTION_CONNECTION_LIMIT, (unsigned)4096, MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
      MHD_OPTION_END);
  if (!d) {
    fprintf(stderr, "mock_server: cannot listen on %s:%d\n", bind, port);
    return 1;
  }
  const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
  printf("mock_server listening on %s:%u (%zu questions)\n", bind, info ? info->port : (unsigned)port, cfg.count);
  fflush(stdout);
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);
  signal(SIGPIPE, SIG_IGN);
  while (!stop) pause();
  MHD_stop_daemon(d);
  return 0;
}
