/* SPDX-License-Identifier: MIT */
#include "core/io/lineedit.h"
#include "core/util/paths.h"

#include <histedit.h>

#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

struct ce_lineedit {
  EditLine *el;       /* NULL when stdin is not a terminal */
  History *hist;
  HistEvent ev;
  char *prompt;
  char *history_path;
  int interrupted;
  ce_complete_fn complete;
  void *ud;
};

int ce_completions_add(ce_completions *c, const char *word, size_t len) {
  if (c->n == c->cap) {
    size_t cap = c->cap ? c->cap * 2 : 16;
    char **w = realloc(c->words, cap * sizeof *w);
    if (!w) return -1;
    c->words = w;
    c->cap = cap;
  }
  char *copy = malloc(len + 1);
  if (!copy) return -1;
  memcpy(copy, word, len);
  copy[len] = '\0';
  c->words[c->n++] = copy;
  return 0;
}

static void completions_free(ce_completions *c) {
  for (size_t i = 0; i < c->n; i++) free(c->words[i]);
  free(c->words);
  c->words = NULL;
  c->n = c->cap = 0;
}

static ce_lineedit *self(EditLine *el) {
  void *p = NULL;
  el_get(el, EL_CLIENTDATA, &p);
  return p;
}

static char *prompt_fn(EditLine *el) {
  ce_lineedit *le = self(el);
  return le && le->prompt ? le->prompt : "";
}

/* Ctrl-C while editing: show "^C" at the end of the line, then finish the line
 * through the ordinary newline path (a pushed "\n"), so the display moves to a
 * fresh line exactly as after Enter; read() then reports the cancellation. */
static unsigned char on_interrupt(EditLine *el, int ch) {
  (void)ch;
  ce_lineedit *le = self(el);
  const LineInfo *li = el_line(el);
  el_cursor(el, (int)(li->lastchar - li->cursor));
  el_insertstr(el, "^C");
  le->interrupted = 1;
  el_push(el, "\n");
  return CC_REFRESH;
}

static void list_words(EditLine *el, const ce_completions *c) {
  FILE *out = NULL;
  el_get(el, EL_GETFP, 1, &out);
  if (!out) out = stdout;
  size_t width = 0;
  for (size_t i = 0; i < c->n; i++) {
    size_t w = strlen(c->words[i]);
    if (w > width) width = w;
  }
  width += 2;
  int cols = 80;
  el_get(el, EL_GETTC, "co", &cols, NULL);
  size_t per = cols > 0 && (size_t)cols > width ? (size_t)cols / width : 1;
  fputc('\n', out);
  for (size_t i = 0; i < c->n; i++) {
    int last = (i + 1) % per == 0 || i + 1 == c->n;
    if (last) fprintf(out, "%s\n", c->words[i]);
    else fprintf(out, "%-*s", (int)width, c->words[i]);
  }
  fflush(out);
}

static unsigned char on_complete(EditLine *el, int ch) {
  (void)ch;
  ce_lineedit *le = self(el);
  if (!le || !le->complete) return CC_ERROR;
  const LineInfo *li = el_line(el);
  size_t cursor = (size_t)(li->cursor - li->buffer);
  char *buf = malloc(cursor + 1);
  if (!buf) return CC_ERROR;
  memcpy(buf, li->buffer, cursor);
  buf[cursor] = '\0';
  ce_completions c = {0};
  size_t typed = 0;
  int rc = le->complete(le->ud, buf, cursor, &c, &typed);
  free(buf);
  unsigned char ret = CC_ERROR;
  if (rc == 0 && c.n > 0) {
    size_t lcp = strlen(c.words[0]);
    for (size_t i = 1; i < c.n; i++) {
      size_t j = 0;
      while (j < lcp && c.words[i][j] == c.words[0][j]) j++;
      lcp = j;
    }
    if (lcp > typed) {
      char *ins = malloc(lcp - typed + 1);
      if (ins) {
        memcpy(ins, c.words[0] + typed, lcp - typed);
        ins[lcp - typed] = '\0';
        el_insertstr(el, ins);
        free(ins);
        ret = CC_REFRESH;
      }
    } else if (c.n > 1) {
      list_words(el, &c);
      ret = CC_REDISPLAY;
    } else {
      ret = CC_REFRESH;
    }
  }
  completions_free(&c);
  return ret;
}

ce_lineedit *ce_lineedit_open(const ce_lineedit_cfg *cfg, ce_err *err) {
  ce_err_clear(err);
  ce_lineedit *le = calloc(1, sizeof *le);
  if (!le) {
    ce_err_setf(err, 1, "lineedit", 0, 0, "out of memory");
    return NULL;
  }
  le->complete = cfg->complete;
  le->ud = cfg->complete_ud;
  if (cfg->history_path) {
    le->history_path = strdup(cfg->history_path);
    char *slash = le->history_path ? strrchr(le->history_path, '/') : NULL;
    if (slash && slash != le->history_path) {
      *slash = '\0';
      int rc = ce_mkdirs(le->history_path, 0700, err);
      *slash = '/';
      if (rc) {
        ce_lineedit_close(le);
        return NULL;
      }
    }
  }
  le->hist = history_init();
  if (!le->hist) {
    ce_err_setf(err, 1, "lineedit", 0, 0, "cannot initialise history");
    ce_lineedit_close(le);
    return NULL;
  }
  history(le->hist, &le->ev, H_SETSIZE, cfg->history_size > 0 ? cfg->history_size : 1000);
  history(le->hist, &le->ev, H_SETUNIQUE, 1);
  if (le->history_path) history(le->hist, &le->ev, H_LOAD, le->history_path); /* may not exist yet */

  if (!isatty(STDIN_FILENO)) return le;
  setlocale(LC_CTYPE, ""); /* multibyte input in the user's encoding */
  le->el = el_init(cfg->prog ? cfg->prog : "causal-eval", stdin, stdout, stderr);
  if (!le->el) {
    ce_err_setf(err, 1, "lineedit", 0, 0, "cannot initialise the line editor");
    ce_lineedit_close(le);
    return NULL;
  }
  el_set(le->el, EL_CLIENTDATA, le);
  el_set(le->el, EL_EDITOR, "emacs");
  el_set(le->el, EL_SIGNAL, 1);
  el_set(le->el, EL_PROMPT, prompt_fn);
  el_set(le->el, EL_HIST, history, le->hist);
  /* el_wset with static wide names: the narrow el_set(EL_ADDFN) copies its
   * strings with wcsdup and libedit never frees them (LeakSanitizer sees it). */
  el_wset(le->el, EL_ADDFN, L"ce-complete", L"complete the word before the cursor", on_complete);
  el_set(le->el, EL_BIND, "^I", "ce-complete", NULL);
  el_wset(le->el, EL_ADDFN, L"ce-interrupt", L"cancel the current input", on_interrupt);
  el_set(le->el, EL_BIND, "^C", "ce-interrupt", NULL);
  el_set(le->el, EL_SETTY, "-d", "-isig", NULL);
  el_source(le->el, NULL);
  return le;
}

int ce_lineedit_is_tty(const ce_lineedit *le) { return le && le->el != NULL; }

static int read_plain(ce_lineedit *le, char **line) {
  fputs(le->prompt ? le->prompt : "", stdout);
  fflush(stdout);
  char *buf = NULL;
  size_t cap = 0;
  ssize_t n = getline(&buf, &cap, stdin);
  if (n < 0) {
    free(buf);
    return 0;
  }
  if (n > 0 && buf[n - 1] == '\n') buf[--n] = '\0';
  *line = buf;
  return 1;
}

/* libedit switches the terminal to raw input only around its own reads, so a
 * Ctrl-C typed in the short cooked window before it does arrives as SIGINT.
 * It must cancel the line like the key does, never end the process; a signal
 * handler has no context argument, hence the file-level flag. */
static volatile sig_atomic_t sigint_seen = 0;
static void on_sigint(int sig) { (void)sig; sigint_seen = 1; }

int ce_lineedit_read(ce_lineedit *le, const char *prompt, char **line) {
  *line = NULL;
  free(le->prompt);
  le->prompt = strdup(prompt ? prompt : "");
  if (!le->el) return read_plain(le, line);
  le->interrupted = 0;
  sigint_seen = 0;
  struct sigaction sa, old;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_sigint;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old);
  int count = 0;
  const char *s = el_gets(le->el, &count);
  sigaction(SIGINT, &old, NULL);
  if (le->interrupted || sigint_seen) {
    if (sigint_seen && !le->interrupted) fputs("^C\n", stdout);
    return -1;
  }
  if (!s || count <= 0) return 0;
  size_t n = strlen(s);
  if (n > 0 && s[n - 1] == '\n') n--;
  char *copy = malloc(n + 1);
  if (!copy) return 0;
  memcpy(copy, s, n);
  copy[n] = '\0';
  *line = copy;
  return 1;
}

int ce_lineedit_add_history(ce_lineedit *le, const char *entry, ce_err *err) {
  ce_err_clear(err);
  if (!entry || !*entry) return 0;
  history(le->hist, &le->ev, H_ENTER, entry);
  if (le->history_path && history(le->hist, &le->ev, H_SAVE, le->history_path) < 0) {
    ce_err_setf(err, 1, le->history_path, 0, 0, "cannot save history: %s", strerror(errno));
    return -1;
  }
  return 0;
}

void ce_lineedit_close(ce_lineedit *le) {
  if (!le) return;
  if (le->el) el_end(le->el);
  if (le->hist) history_end(le->hist);
  free(le->prompt);
  free(le->history_path);
  free(le);
}
