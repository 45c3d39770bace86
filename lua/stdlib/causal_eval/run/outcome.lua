-- SPDX-License-Identifier: MIT
-- What a run keeps of one question asked of one model, decided in one place:
-- the record (scored once, by causal_eval.scoring), its outcome (correct,
-- wrong, unparseable or error), the tally bits the store counts it under
-- once committed, and the compact score line summaries read. The cost of
-- tokens and the error classes worth sending again live here too, so the
-- workers, the resume and the summaries agree.
local store_core = require "causal_eval.store_core"
local scoring = require "causal_eval.scoring"
local results = require "causal_eval.results"

local M = {}

--- Error classes of a failure that a later attempt may cure: the server was
--- busy, slow, unreachable or garbled. The rest (client 4xx, a refused key,
--- a bad question, a failing local command) would fail again.
M.TRANSIENT = { rate_limit = true, server = true, timeout = true, reset = true, connect = true, malformed = true }

local DONE, ERROR, CORRECT, UNPARSEABLE = store_core.DONE, store_core.ERROR, store_core.CORRECT, store_core.UNPARSEABLE
-- a judged answer is done, and neither right nor wrong in the exact tallies
M.TALLY = { correct = DONE | CORRECT, wrong = DONE, unparseable = DONE | UNPARSEABLE, error = DONE | ERROR, judged = DONE }

--- USD for tokens at a model's price ({ input, output } per million tokens);
--- 0 without a price.
function M.cost(price, tokens_in, tokens_out)
  if type(price) ~= "table" then return 0 end
  return ((tokens_in or 0) * (price.input or 0) + (tokens_out or 0) * (price.output or 0)) / 1e6
end

--- Why a run must stop dispatching, when tokens or cost (either may be
--- nil) reached a budget (--max-tokens-total, --budget-usd); else nil.
function M.over_budget(tokens, cost, max_tokens, max_usd)
  if max_tokens and tokens and tokens >= max_tokens then
    return ("token budget reached: %d tokens (--max-tokens-total %d)"):format(math.floor(tokens), max_tokens)
  end
  if max_usd and cost and cost >= max_usd then
    return ("cost budget reached: $%.4f (--budget-usd %g)"):format(cost, max_usd)
  end
  return nil
end

local day_of = { t = -1 } -- the UTC day of a second, computed once a second

-- How an answer is read in a mode: the chain of thought's final answer
-- only, or the model's probabilities of yes and no when it gave them.
local function read_answer(q, answer, mode)
  local lp = answer.logprobs
  if type(lp) == "table" and lp.answer and q.answer_type == "yes_no" then
    local s = { parsed = lp.answer, correct = lp.answer == q.ground_truth, scored_by = "logprobs", p_yes = lp.p_yes }
    s.score = s.correct and 1 or 0
    return s
  end
  if mode and mode.cot then
    local s = require("causal_eval.cot").score(q, answer.text)
    if s.unparseable and answer.finish_reason == "length" then
      s.reason = ("the token budget (%d) ran out before a final answer"):format(mode.cot_budget or 0)
    end
    return s
  end
  return scoring.score(q, answer.text)
end
M.read_answer = read_answer

--- The record of question q answered (answer) or failed (err) by a model,
--- scored (in mode, a causal_eval.mode table or nil). What depends on the
--- transfer (latency, HTTP version, cache layer, cost) the caller adds
--- before stored() encodes it.
function M.new_record(run_id, q, label, attempt, answer, err, mode)
  local t = os.time()
  if t ~= day_of.t then day_of.t, day_of.day = t, os.date("!%Y-%m-%d", t) end
  -- the fields an answer adds are named too (nil here): the constructor
  -- sizes the table for all of them, where adding them grew it (a rehash
  -- of every field) once a record
  local rec = {
    run_id = run_id, question_id = q.id, model = label, family = q.family, domain = q.domain,
    difficulty = q.difficulty, rung = q.rung, answer_type = q.answer_type, ground_truth = q.ground_truth,
    tolerance = q.tolerance, prompt = q.prompt, attempts = attempt, finished_at = t, day = day_of.day,
    response = nil, tokens = nil, parsed = nil, correct = nil, score = nil, latency_ms = nil, cost_usd = nil,
  }
  if err then
    rec.error = err
    rec.score = 0
    return rec
  end
  rec.response = answer.text
  rec.tokens = { input = answer.input_tokens, output = answer.output_tokens }
  local s = read_answer(q, answer, mode)
  rec.parsed, rec.correct, rec.score = s.parsed, s.correct, s.score
  if s.unparseable then rec.unparseable = s.reason end
  if s.reasoning then rec.reasoning = s.reasoning end
  if s.scored_by then rec.scored_by, rec.p_yes = s.scored_by, s.p_yes end
  if s.needs_judge then rec.needs_judge = true end
  return rec
end

--- The record of K samples of question q (parts[i] = { answer } or { err },
--- in sample order): the majority answer scored, with each sample's answer
--- and the agreement. An error in any sample (after its retries) makes the
--- record an error: a vote over fewer samples than asked is not the
--- figure the run promised.
function M.sampled_record(run_id, q, label, parts, mode)
  local samples_mod = require "causal_eval.samples"
  local n = #parts
  local attempts, tin, tout, any_tokens = 0, 0, 0, false
  for _, p in ipairs(parts) do
    attempts = math.max(attempts, p.attempt or 1)
    if p.err then return M.new_record(run_id, q, label, attempts, nil, p.err, mode) end
  end
  local rec = M.new_record(run_id, q, label, attempts, parts[1].answer, nil, mode)
  local parsed, list = {}, {}
  local correct = 0
  for i, p in ipairs(parts) do
    local a = p.answer
    local s = read_answer(q, a, mode)
    parsed[i] = s.parsed
    if s.correct then correct = correct + 1 end
    if a.input_tokens or a.output_tokens then any_tokens = true end
    tin, tout = tin + (a.input_tokens or 0), tout + (a.output_tokens or 0)
    list[i] = { response = a.text, parsed = s.parsed, correct = s.correct, reasoning = s.reasoning,
                unparseable = s.unparseable and s.reason or nil, cached = p.cached }
  end
  local v = samples_mod.vote(parsed, { n = n, answer_type = q.answer_type, tolerance = q.tolerance })
  rec.samples, rec.n_samples, rec.samples_correct, rec.agreement = list, n, correct, v.agreement
  rec.response, rec.reasoning = nil, nil
  rec.tokens = any_tokens and { input = tin, output = tout } or { }
  rec.parsed, rec.unparseable = v.answer, nil
  if v.answer == nil then
    rec.correct, rec.score, rec.unparseable = nil, 0, "no sample gave an answer"
  else
    local c = scoring.correct(q, v.answer)
    rec.correct, rec.score = c, c and 1 or 0
  end
  if v.tie then rec.vote_tie = true end
  return rec
end

--- Puts the judge's verdict on a free-text answer's record: grade (what
--- causal_eval.judge.read returned) or why there is none; answer is the
--- judge's reply (nil when its call failed: why says how), latency in ms,
--- cost in USD.
function M.judged(rec, label, answer, grade, why, latency, cost)
  if answer then
    rec.judge = { model = label, reply = answer.text, latency_ms = latency, cost_usd = cost,
                  tokens = { input = answer.input_tokens, output = answer.output_tokens } }
  end
  if not grade then
    rec.error = { class = "judge", message = ("judge %s: %s"):format(label, tostring(why)) }
    rec.score = 0
    return rec
  end
  rec.judge = rec.judge or { model = label }
  rec.judged, rec.needs_judge = true, nil
  rec.judge.grade, rec.judge.score, rec.judge.explanation = grade.grade, grade.score, grade.explanation
  rec.score = grade.score
  return rec
end

--- A record's outcome: "error", "unparseable", "correct" or "wrong".
function M.of(rec)
  if rec.error then return "error" end
  if rec.judged then return "judged" end
  if rec.unparseable then return "unparseable" end
  return rec.correct and "correct" or "wrong"
end

--- How a finished record is stored: its outcome, the tally bits it counts
--- under, and its score line (text).
function M.stored(rec)
  local outcome = M.of(rec)
  return outcome, M.TALLY[outcome], results.score_line(rec)
end

--- Questions stored (committed) so far in this process, all models
--- together: done, errors, correct.
function M.totals(st, nmodels)
  local done, errors, correct = 0, 0, 0
  for slot = 0, nmodels - 1 do
    local t = st:tally(slot)
    done, errors, correct = done + t.done, errors + t.errors, correct + t.correct
  end
  return done, errors, correct
end

return M
