/* SPDX-License-Identifier: MIT */
#include <math.h>

#include "check.h"
#include "core/engine/scm.h"

#define CLOSE(a, b, tol) CHECK(fabs((a) - (b)) <= (tol))

static ce_scm_set set(uint32_t mask, uint32_t value) {
  ce_scm_set s = {mask, value};
  return s;
}

int main(void) {
  ce_err e;
  double r;
  ce_scm_set none = set(0, 0);

  /* CLadder model 0 (mediation): tables and exact values from the sample data
   * (models.json, models-exact.json) */
  const char *px[] = {"X"}, *pxv[] = {"X", "V2"};
  double tx[] = {0.799855572488023}, tv2[] = {0.29399155089401574, 0.6771082736023898},
         ty[] = {0.12653813739025568, 0.5767174517485514, 0.5575814842191897, 0.9915298438621044};
  ce_scm_var med[] = {
    {"X", 0, NULL, tx, 1}, {"V2", 1, px, tv2, 2}, {"Y", 2, pxv, ty, 4},
  };
  ce_scm *m = ce_scm_new(med, 3, &e);
  CHECK(m != NULL);
  if (m) {
    int X = 0, V2 = 1, Y = 2;
    CHECK(ce_scm_ate(m, X, Y, &r, &e) == 0); CLOSE(r, 0.592524456650737, 1e-12);
    CHECK(ce_scm_ett(m, X, Y, &r, &e) == 0); CLOSE(r, 0.592524456650737, 1e-12);
    CHECK(ce_scm_nde(m, X, Y, &r, &e) == 0); CLOSE(r, 0.4262715832796687, 1e-12);
    CHECK(ce_scm_nie(m, X, Y, &r, &e) == 0); CLOSE(r, 0.17247122354805317, 1e-12);
    CHECK(ce_scm_prob(m, set(1u << Y, 1u << Y), set(1u << X, 1u << X), none, &r, &e) == 0);
    CLOSE(r, 0.8514115088495927, 1e-12);
    CHECK(ce_scm_prob(m, set(1u << Y, 1u << Y), set(1u << X, 0), none, &r, &e) == 0);
    CLOSE(r, 0.2588870521988557, 1e-12);
    CHECK(ce_scm_prob(m, set(1u << V2, 1u << V2), none, none, &r, &e) == 0); CLOSE(r, 0.6004295964656574, 1e-12);
    CHECK(ce_scm_prob(m, set(1u << Y, 1u << Y), none, none, &r, &e) == 0); CLOSE(r, 0.7328210406863856, 1e-12);
    ce_scm_free(m);
  }

  /* confounding by hand: Z ~ 0.5, P(X|Z) = .2/.8, P(Y|Z,X) = [[.1,.5],[.3,.9]] */
  const char *pz[] = {"Z"}, *pzx[] = {"Z", "X"};
  double tz[] = {0.5}, txz[] = {0.2, 0.8}, tyzx[] = {0.1, 0.5, 0.3, 0.9};
  ce_scm_var conf[] = {{"Z", 0, NULL, tz, 1}, {"X", 1, pz, txz, 2}, {"Y", 2, pzx, tyzx, 4}};
  m = ce_scm_new(conf, 3, &e);
  CHECK(m != NULL);
  if (m) {
    int X = 1, Y = 2;
    CHECK(ce_scm_ate(m, X, Y, &r, &e) == 0); CLOSE(r, 0.5, 1e-12);
    CHECK(ce_scm_ett(m, X, Y, &r, &e) == 0); CLOSE(r, 0.56, 1e-12);
    CHECK(ce_scm_prob(m, set(4, 4), set(2, 2), none, &r, &e) == 0); CLOSE(r, 0.82, 1e-12);
    CHECK(ce_scm_prob(m, set(4, 4), set(2, 0), none, &r, &e) == 0); CLOSE(r, 0.14, 1e-12);
    CHECK(ce_scm_prob(m, set(4, 4), none, set(2, 2), &r, &e) == 0); CLOSE(r, 0.7, 1e-12);
    CHECK(ce_scm_nde(m, X, Y, &r, &e) == 0); CLOSE(r, 0.5, 1e-12); /* no mediator: NDE = ATE */
    CHECK(ce_scm_nie(m, X, Y, &r, &e) == 0); CLOSE(r, 0.0, 1e-12);
    /* evidence of probability zero */
    ce_scm_var z0[] = {{"Z", 0, NULL, (double[]){0.0}, 1}, {"X", 1, pz, txz, 2}, {"Y", 2, pzx, tyzx, 4}};
    ce_scm *m0 = ce_scm_new(z0, 3, &e);
    CHECK(m0 && ce_scm_prob(m0, set(4, 4), set(1, 1), none, &r, &e) == -1);
    CHECK_CONTAINS(e.msg, "probability zero");
    ce_scm_free(m0);
    ce_scm_free(m);
  }

  /* probability of necessity in the threshold model: X ~ .5, P(Y|X) = .2/.6:
   * P(Y_{X=0} = 0 | X=1, Y=1) = (P(y) - P(y_{x'})) / P(x, y) = 2/3 */
  double tx5[] = {0.5}, tyx[] = {0.2, 0.6};
  ce_scm_var pn[] = {{"X", 0, NULL, tx5, 1}, {"Y", 1, px, tyx, 2}};
  m = ce_scm_new(pn, 2, &e);
  CHECK(m != NULL);
  if (m) {
    CHECK(ce_scm_counterfactual(m, set(2, 0), set(1, 0), set(3, 3), &r, &e) == 0);
    CLOSE(r, 2.0 / 3.0, 1e-12);
    ce_scm_free(m);
  }

  /* deterministic counterfactual: Y = X and W; with W=1, X=1 observed, do(X=0) -> Y=0 */
  const char *pxw[] = {"X", "W"};
  double one[] = {1.0}, half[] = {0.5}, and_t[] = {0, 0, 0, 1};
  ce_scm_var det[] = {{"W", 0, NULL, one, 1}, {"X", 0, NULL, half, 1}, {"Y", 2, pxw, and_t, 4}};
  m = ce_scm_new(det, 3, &e);
  CHECK(m != NULL);
  if (m) {
    CHECK(ce_scm_counterfactual(m, set(4, 4), set(2, 0), set(3, 3), &r, &e) == 0);
    CLOSE(r, 0.0, 0.0);
    CHECK(ce_scm_counterfactual(m, set(4, 4), set(2, 2), set(3, 1), &r, &e) == 0);
    CLOSE(r, 1.0, 0.0);
    ce_scm_free(m);
  }

  /* errors name the variable */
  const char *py[] = {"Y"}, *pq[] = {"Q"};
  ce_scm_var cyc[] = {{"X", 1, py, NULL, 0}, {"Y", 1, px, NULL, 0}};
  CHECK(ce_scm_new(cyc, 2, &e) == NULL);
  CHECK_CONTAINS(e.msg, "cycle: ");
  CHECK(strstr(e.msg, "X -> Y -> X") || strstr(e.msg, "Y -> X -> Y"));
  ce_scm_var unk[] = {{"X", 1, pq, NULL, 0}};
  CHECK(ce_scm_new(unk, 1, &e) == NULL);
  CHECK_CONTAINS(e.msg, "variable 'X': unknown parent 'Q'");
  double bad3[] = {0.1, 0.2, 0.3};
  ce_scm_var shape[] = {{"X", 0, NULL, tx, 1}, {"Y", 1, px, bad3, 3}};
  CHECK(ce_scm_new(shape, 2, &e) == NULL);
  CHECK_CONTAINS(e.msg, "variable 'Y': table has 3 entries, expected 2 (one per configuration of X)");
  double bad_p[] = {0.1, 1.5};
  ce_scm_var range[] = {{"X", 0, NULL, tx, 1}, {"Y", 1, px, bad_p, 2}};
  CHECK(ce_scm_new(range, 2, &e) == NULL);
  CHECK_CONTAINS(e.msg, "variable 'Y': P(Y=1 | X=1) = 1.5 is outside [0, 1]");
  double nan_p[] = {NAN};
  ce_scm_var nanv[] = {{"X", 0, NULL, nan_p, 1}};
  CHECK(ce_scm_new(nanv, 1, &e) == NULL);
  CHECK_CONTAINS(e.msg, "variable 'X': P(X=1) = nan is outside [0, 1]");
  ce_scm_var dup[] = {{"X", 0, NULL, tx, 1}, {"X", 0, NULL, tx, 1}};
  CHECK(ce_scm_new(dup, 2, &e) == NULL);
  CHECK_CONTAINS(e.msg, "duplicate variable 'X'");
  ce_scm_var nt[] = {{"X", 0, NULL, NULL, 0}, {"Y", 1, px, tyx, 2}};
  m = ce_scm_new(nt, 2, &e);
  CHECK(m != NULL);
  if (m) {
    CHECK(ce_scm_prob(m, set(2, 2), none, none, &r, &e) == -1);
    CHECK_CONTAINS(e.msg, "variable 'X' has no table");
    CHECK(ce_scm_prob(m, set(2, 2), none, set(1, 1), &r, &e) == 0); /* do(X) needs no table for X */
    CLOSE(r, 0.6, 1e-15);
    ce_scm_free(m);
  }

  /* 24 variables in a chain: the enumeration streams (no 2^24 table) and is exact */
  ce_scm_var big[24];
  const char *names[24] = {"v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v8", "v9", "v10", "v11",
                           "v12", "v13", "v14", "v15", "v16", "v17", "v18", "v19", "v20", "v21", "v22", "v23"};
  static double t_root[] = {0.5}, t_copy[] = {0.1, 0.9};
  for (int i = 0; i < 24; i++) {
    big[i].name = names[i];
    big[i].nparents = i ? 1 : 0;
    big[i].parents = i ? &names[i - 1] : NULL;
    big[i].p1 = i ? t_copy : t_root;
    big[i].np1 = i ? 2 : 1;
  }
  m = ce_scm_new(big, 24, &e);
  CHECK(m != NULL);
  if (m) {
    /* P(v23=1 | v0=1) for a symmetric channel flipping with 0.1, 23 times: (1 + 0.8^23)/2 */
    CHECK(ce_scm_prob(m, set(1u << 23, 1u << 23), set(1, 1), none, &r, &e) == 0);
    CLOSE(r, (1.0 + pow(0.8, 23)) / 2.0, 1e-13);
    CHECK(ce_scm_ate(m, 0, 23, &r, &e) == 0);
    CLOSE(r, pow(0.8, 23), 1e-13);
    ce_scm_free(m);
  }
  return check_report("test_scm");
}
