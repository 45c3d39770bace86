/* SPDX-License-Identifier: MIT */
/* ce_json_pick (core/util/json_pick.h): the values at fixed paths of a
 * document read as a decoder that builds it would find them: the last of a
 * repeated key, nothing under a value of the wrong kind, arrays by index. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/util/json_pick.h"

static ce_pick_step step(const char *key, int64_t index) {
  return (ce_pick_step){.key = key, .len = key ? strlen(key) : 0, .index = index};
}

static ce_pick_path path(const char *a, int64_t ia, const char *b, int64_t ib, const char *c, int n) {
  ce_pick_path p = {.n = n};
  p.steps[0] = step(a, ia);
  p.steps[1] = step(b, ib);
  p.steps[2] = step(c, 0);
  return p;
}

static ce_picked out[CE_PICK_MAX_PATHS];
static ce_pick_set set;
static ce_buf strings, scratch;

static int pick(const char *text, const ce_pick_path *paths, int n) {
  ce_err e;
  strings.len = 0;
  set.npaths = n;
  memcpy(set.paths, paths, (size_t)n * sizeof *paths);
  ce_pick_prepare(&set);
  return ce_json_pick(text, strlen(text), "t", &set, out, &strings, &scratch, &e);
}

static int str_is(const ce_picked *v, const char *s) {
  return v->kind == CE_PICKED_STR && v->len == strlen(s) && memcmp(strings.data + v->off, s, v->len) == 0;
}

int main(void) {
  int right;
  ce_buf_init(&strings);
  ce_buf_init(&scratch);
  /* choices[1].text, usage.n, choices[1], flag */
  ce_pick_path p[4] = {path("choices", 0, NULL, 1, "text", 3), path("usage", 0, "n", 0, NULL, 2),
                       path("choices", 0, NULL, 1, NULL, 2), path("flag", 0, NULL, 0, NULL, 1)};

  CHECK(pick("{\"id\":\"x\",\"choices\":[{\"text\":\"a\\u00e9\\n\",\"z\":[1,{\"text\":\"no\"}]},{\"text\":\"b\"}],"
             "\"usage\":{\"n\":7,\"m\":1.5},\"flag\":true}", p, 4) == 0);
  CHECK(str_is(&out[0], "a\xc3\xa9\n"));
  CHECK(out[1].kind == CE_PICKED_INT && out[1].i == 7);
  CHECK(out[2].kind == CE_PICKED_CONTAINER);
  CHECK(out[3].kind == CE_PICKED_BOOL && out[3].b == 1);

  /* absent, null, a number that is not an integer, false */
  CHECK(pick("{\"choices\":[],\"usage\":{\"n\":2.5},\"flag\":null}", p, 4) == 0);
  CHECK(out[0].kind == CE_PICKED_NONE && out[2].kind == CE_PICKED_NONE);
  CHECK(out[1].kind == CE_PICKED_NUM && out[1].d == 2.5);
  CHECK(out[3].kind == CE_PICKED_NULL);

  /* the wrong kind on the way: an object where an array is named, an
   * array where an object is; a top-level array */
  CHECK(pick("{\"choices\":{\"1\":{\"text\":\"a\"}},\"usage\":[{\"n\":1}]}", p, 4) == 0);
  CHECK(out[0].kind == CE_PICKED_NONE && out[1].kind == CE_PICKED_NONE && out[2].kind == CE_PICKED_NONE);
  CHECK(pick("[{\"choices\":[{\"text\":\"a\"}]}]", p, 4) == 0);
  CHECK(out[0].kind == CE_PICKED_NONE);

  /* a repeated key: the last counts, also where it repeats above the leaf */
  CHECK(pick("{\"flag\":1,\"flag\":\"two\",\"usage\":{\"n\":1,\"n\":2}}", p, 4) == 0);
  CHECK(str_is(&out[3], "two") && out[1].kind == CE_PICKED_INT && out[1].i == 2);
  CHECK(pick("{\"choices\":[{\"text\":\"a\"}],\"choices\":[{\"other\":1}]}", p, 4) == 0);
  CHECK(out[0].kind == CE_PICKED_NONE && out[2].kind == CE_PICKED_CONTAINER);
  CHECK(pick("{\"usage\":{\"n\":1},\"usage\":5}", p, 4) == 0);
  CHECK(out[1].kind == CE_PICKED_NONE);

  /* the whole text is checked, skipped parts too */
  CHECK(pick("{\"id\":[1,2,}", p, 4) != 0);
  CHECK(pick("{\"choices\":[{\"text\":\"a\"}]} x", p, 4) != 0);
  CHECK(pick("{\"other\":{\"deep\":\"\\q\"}}", p, 4) != 0);

  /* deeper than any path, and deeper than the levels kept */
  char deep[4096];
  size_t n = 0;
  n += (size_t)snprintf(deep + n, sizeof deep - n, "{\"choices\":[{\"text\":\"t\",\"z\":");
  for (int i = 0; i < 40; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "[{\"text\":%d,\"a\":", i);
  n += (size_t)snprintf(deep + n, sizeof deep - n, "0");
  for (int i = 0; i < 40; i++) n += (size_t)snprintf(deep + n, sizeof deep - n, "}]");
  snprintf(deep + n, sizeof deep - n, "}],\"flag\":3}");
  CHECK(pick(deep, p, 4) == 0);
  CHECK(str_is(&out[0], "t") && out[3].kind == CE_PICKED_INT && out[3].i == 3);

  /* keys of 8 bytes and past 8 (the index holds the first), sharing their
   * first 8 bytes; the empty key; a first step that is an index */
  ce_pick_path k8[5] = {path("abcdefgh", 0, NULL, 0, NULL, 1), path("abcdefghi", 0, NULL, 0, NULL, 1),
                        path("", 0, NULL, 0, NULL, 1), path("a_rather_long_key", 0, "x", 0, NULL, 2),
                        path(NULL, 1, NULL, 0, NULL, 1)};
  CHECK(pick("{\"abcdefghi\":9,\"\":0,\"abcdefgh\":8,\"a_rather_long_key\":{\"x\":\"y\"},\"abcdefg\":7}", k8, 5) == 0);
  CHECK(out[0].kind == CE_PICKED_INT && out[0].i == 8 && out[1].kind == CE_PICKED_INT && out[1].i == 9);
  CHECK(out[2].kind == CE_PICKED_INT && out[2].i == 0 && str_is(&out[3], "y") && out[4].kind == CE_PICKED_NONE);

  /* first keys past 8 bytes told apart by their last 8 (9 to 16 bytes) or
   * by the bytes between (past 16); 32 first keys, the index's most */
  ce_pick_path kl[4] = {path("answer_type", 0, NULL, 0, NULL, 1), path("answer_text", 0, NULL, 0, NULL, 1),
                        path("abcdefgh_X_ijklmnop", 0, NULL, 0, NULL, 1),
                        path("abcdefgh_Y_ijklmnop", 0, NULL, 0, NULL, 1)};
  CHECK(pick("{\"abcdefgh_Y_ijklmnop\":2,\"answer_text\":1,\"abcdefgh_Z_ijklmnop\":9,\"answer_typ\":9,"
             "\"abcdefgh_X_ijklmnop\":3,\"xanswer_type\":9}", kl, 4) == 0);
  CHECK(out[0].kind == CE_PICKED_NONE && out[1].kind == CE_PICKED_INT && out[1].i == 1);
  CHECK(out[2].kind == CE_PICKED_INT && out[2].i == 3 && out[3].kind == CE_PICKED_INT && out[3].i == 2);
  ce_pick_path keys32[CE_PICK_MAX_PATHS];
  static char names[CE_PICK_MAX_PATHS][24];
  char obj[2048] = "{";
  size_t at = 1;
  for (int k = 0; k < CE_PICK_MAX_PATHS; k++) {
    snprintf(names[k], sizeof names[k], k % 2 ? "field_number_%02d" : "f%d", k);
    keys32[k] = path(names[k], 0, NULL, 0, NULL, 1);
    at += (size_t)snprintf(obj + at, sizeof obj - at, "\"%.20s\":%d,\"%.20sx\":-1,", names[k], k, names[k]);
  }
  snprintf(obj + at, sizeof obj - at, "\"last\":0}");
  CHECK(pick(obj, keys32, CE_PICK_MAX_PATHS) == 0);
  right = 1;
  for (int k = 0; k < CE_PICK_MAX_PATHS; k++) right &= out[k].kind == CE_PICKED_INT && out[k].i == k;
  CHECK(right);

  /* the document itself: the empty path */
  ce_pick_path top[2] = {{.n = 0}, path("flag", 0, NULL, 0, NULL, 1)};
  CHECK(pick("{\"flag\":2}", top, 2) == 0);
  CHECK(out[0].kind == CE_PICKED_CONTAINER && out[1].kind == CE_PICKED_INT);
  CHECK(pick(" \"s\" ", top, 2) == 0);
  CHECK(str_is(&out[0], "s") && out[1].kind == CE_PICKED_NONE);

  /* one path of the most steps, and the most paths */
  ce_pick_path eight = {.n = 8};
  for (int i = 0; i < 8; i++) eight.steps[i] = step(NULL, i < 7 ? 1 : 2);
  CHECK(pick("[[[[[[[[1,2]]]]]]]]", &eight, 1) == 0);
  CHECK(out[0].kind == CE_PICKED_INT && out[0].i == 2);
  ce_pick_path many[CE_PICK_MAX_PATHS];
  char doc[512] = "[";
  for (int k = 0; k < CE_PICK_MAX_PATHS; k++) {
    many[k] = (ce_pick_path){.n = 1};
    many[k].steps[0] = step(NULL, CE_PICK_MAX_PATHS - k);
    snprintf(doc + strlen(doc), sizeof doc - strlen(doc), "%s%d", k ? "," : "", 100 + k);
  }
  strcat(doc, "]");
  CHECK(pick(doc, many, CE_PICK_MAX_PATHS) == 0);
  right = 1;
  for (int k = 0; k < CE_PICK_MAX_PATHS; k++) right &= out[k].kind == CE_PICKED_INT && out[k].i == 100 + CE_PICK_MAX_PATHS - 1 - k;
  CHECK(right);

  ce_buf_free(&strings);
  ce_buf_free(&scratch);
  return check_report("json_pick");
}
