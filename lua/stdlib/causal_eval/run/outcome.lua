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
M.TALLY = { correct = DONE | CORRECT, wrong = DONE, unparseable = DONE | UNPARSEABLE, error = DONE | ERROR }

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

--- The record of question q answered (answer) or failed (err) by a model,
--- scored. What depends on the transfer (latency, HTTP version, cache
--- layer, cost) the caller adds before stored() encodes it.
function M.new_record(run_id, q, label, attempt, answer, err)
  local t = os.time()
  if t ~= day_of.t then day_of.t, day_of.day = t, os.date("!%Y-%m-%d", t) end
  local rec = {
    run_id = run_id, question_id = q.id, model = label, family = q.family, domain = q.domain,
    difficulty = q.difficulty, rung = q.rung, answer_type = q.answer_type, ground_truth = q.ground_truth,
    tolerance = q.tolerance, prompt = q.prompt, attempts = attempt, finished_at = t, day = day_of.day,
  }
  if err then
    rec.error = err
    rec.score = 0
    return rec
  end
  rec.response = answer.text
  rec.tokens = { input = answer.input_tokens, output = answer.output_tokens }
  local s = scoring.score(q, answer.text)
  rec.parsed, rec.correct, rec.score = s.parsed, s.correct, s.score
  if s.unparseable then rec.unparseable = s.reason end
  return rec
end

--- A record's outcome: "error", "unparseable", "correct" or "wrong".
function M.of(rec)
  if rec.error then return "error" end
  if rec.unparseable then return "unparseable" end
  return rec.correct and "correct" or "wrong"
end

--- How a finished record is stored: its outcome, the tally bits it counts
--- under, and its score line.
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
