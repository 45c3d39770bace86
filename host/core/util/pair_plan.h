/* SPDX-License-Identifier: MIT */
/* The plan of a generated benchmark's pairs, shared by a run's workers.
 *
 * No question of a set repeats an earlier one, so which draw pair p takes
 * depends on every question of the pairs before it: the plan is made in
 * pair order. Every worker of a run needs it for the questions it asks, and
 * each once made it alone, drawing every pair of the run (W workers, W
 * times the generation). Here the first worker to reach a pair records its
 * draw and its questions' identity hashes; the others read them. Two
 * workers that plan the same pair at once make the same choice (the draws
 * are deterministic), so the second record is a no-op.
 *
 * Which draw a pair takes needs the pairs before it, but its first draw
 * does not: a worker that takes a batch of tickets claims the batch's pairs,
 * draws each (draw 0) and proposes its two hashes. The plan accepts a
 * proposal once every pair before it is recorded and neither hash is seen,
 * the check the in-order planning makes of draw 0. A worker that reaches a
 * pair claimed but not yet proposed plans it too, as before (the same
 * draw): waiting for the proposal saved no draws worth the stall (1.163
 * draws a question against 1.167, with two workers). */
#ifndef CE_PAIR_PLAN_H
#define CE_PAIR_PLAN_H

#include <stdint.h>

typedef struct ce_plan ce_plan;
ce_plan *ce_plan_new(void);
void ce_plan_free(void *plan);
/* Pairs recorded so far: 0 .. upto-1. */
int64_t ce_plan_upto(ce_plan *pl);
/* 1 when a question of a pair before p has identity hash h. A hash first
 * recorded at p or later does not count: a worker re-planning pair p while
 * another records it must still find p's own questions new. */
int ce_plan_seen(ce_plan *pl, uint64_t h, int64_t p);
/* Records pair p as taking draw c, with its questions' hashes ka and kb.
 * 1: recorded; 0: p was recorded already; -1: out of memory; -2: p is past
 * the next pair (pairs are recorded in order). */
int ce_plan_accept(ce_plan *pl, int64_t p, int64_t c, uint64_t ka, uint64_t kb);
/* The draw pair p takes, or -1 when p is not recorded yet. */
int64_t ce_plan_draw(ce_plan *pl, int64_t p);
/* The state of the next pair to record, as ce_plan_advance reports it:
 * nobody claimed it, a worker is drawing it, its draw 0 gave two questions
 * that the plan cannot take (one repeats, or the two are the same: the
 * next draw is 1), or its draw 0 gave no pair. */
enum { CE_PLAN_OPEN = 0, CE_PLAN_CLAIMED = 1, CE_PLAN_REJECTED = 2, CE_PLAN_FAILED = 3 };
/* Claims pair p for the caller to propose: 1 when claimed, 0 when it is
 * recorded, claimed or proposed already; -1: out of memory. */
int ce_plan_claim(ce_plan *pl, int64_t p);
/* The caller's draw 0 of a pair it claimed: its hashes (ok) or no pair
 * (!ok). Records what proposals now can be, in order. 0, or -1: out of
 * memory. */
int ce_plan_propose(ce_plan *pl, int64_t p, int ok, uint64_t ka, uint64_t kb);
/* Records the proposals that can be, in order; returns the pairs recorded
 * (upto) and sets *state to the next pair's. -1: out of memory. */
int64_t ce_plan_advance(ce_plan *pl, int *state);
/* Pairs that took a draw other than the first. */
int64_t ce_plan_redraws(ce_plan *pl);

#endif
