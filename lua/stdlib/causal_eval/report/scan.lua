-- SPDX-License-Identifier: MIT
-- The pass over a model's score lines: its counts by the rules of
-- results.summarize (accuracy, unparseable, failures by class, latencies,
-- tokens, groups by family, difficulty and rung; repeated samples; free-text
-- answers graded by a judge, counted apart and never in accuracy) and its
-- outcome of each question. Half of a report's models are read on a thread of their own
-- (M.main) while the report reads the rest (report/collect.lua).
local json = require "causal_eval.json"
local results = require "causal_eval.results"

local M = {}

local WRONG, RIGHT, UNPARSEABLE, FAILED = 0, 1, 2, 3
M.WRONG, M.RIGHT, M.UNPARSEABLE, M.FAILED = WRONG, RIGHT, UNPARSEABLE, FAILED

--- The counts of a model of a run, empty. samples_k: the samples the run
--- asked of each question (its mode's samples; nil for one answer), and
--- temperature, their temperature.
function M.new(run_id, model, samples_k, temperature)
  return {
    run_id = run_id, model = model, mk = results.model_key(model),
    n = 0, scored = 0, correct = 0, unparseable = 0, errors = 0, error_classes = {}, invalid = 0,
    lat = results.latencies(), tokens_in = 0, tokens_out = 0, cached = 0,
    fam = {}, diff = {}, rung = {}, unparseable_q = {}, failed_q = {},
    samples_k = samples_k, temperature = temperature, judged_q = {},
  }
end

local function group(groups, key)
  local g = groups[key]
  if not g then
    g = { n = 0, correct = 0 }
    groups[key] = g
  end
  return g
end
M.group = group

-- One score line into the counts; its outcome (nil: not counted). This
-- runs once per stored answer, so the family, difficulty and rung groups
-- of the line before are kept: lines come in key order (question id, which
-- starts with the family).
local function add(e, s, qid)
  if not results.counts(s) then
    e.invalid = e.invalid + 1
    return nil
  end
  if s.ft then
    -- a free-text answer, graded by a judge or not at all: a figure of its
    -- own, never an outcome (not in accuracy, pairs or the hardest questions)
    local j = e.judged_c
    if not j then
      j = { n = 0, graded = 0, sum = 0, errors = 0 }
      e.judged_c = j
    end
    j.n = j.n + 1
    if s.j then j.graded, j.sum = j.graded + 1, j.sum + (tonumber(s.s) or 0)
    elseif s.e then j.errors = j.errors + 1 end
    e.tokens_in = e.tokens_in + (tonumber(s.ti) or 0)
    e.tokens_out = e.tokens_out + (tonumber(s.to) or 0)
    e.judged_q[#e.judged_q + 1] = qid
    return nil
  end
  if e.samples_k then
    -- an error counts as K wrong samples, as in results.summarize
    local items = e.sampled
    if not items then
      items = {}
      e.sampled = items
    end
    items[#items + 1] = { n = tonumber(s.k) or e.samples_k, c = tonumber(s.kc) or 0, majority_correct = s.c == 1,
                          agreement = tonumber(s.ag) }
  end
  e.n = e.n + 1
  local correct = s.c == 1
  local code
  local err = s.e
  if err then
    e.errors = e.errors + 1
    e.error_classes[err] = (e.error_classes[err] or 0) + 1
    e.failed_q[#e.failed_q + 1] = qid
    code = FAILED
  elseif s.u then
    e.unparseable = e.unparseable + 1
    e.unparseable_q[#e.unparseable_q + 1] = qid
    code = UNPARSEABLE
  else
    e.scored = e.scored + 1
    code = WRONG
  end
  if correct then
    e.correct = e.correct + 1
    code = RIGHT
  end
  local l = s.l
  if not err and type(l) == "number" then results.latency_add(e.lat, l) end
  local ti, to = s.ti, s.to
  if ti then e.tokens_in = e.tokens_in + (tonumber(ti) or 0) end
  if to then e.tokens_out = e.tokens_out + (tonumber(to) or 0) end
  if s.cached then e.cached = e.cached + 1 end
  -- as in results.summarize: no key, no group; keys by tostring
  local f, d, r = s.f, s.d, s.r
  if f ~= nil then
    if f ~= e.last_f then e.last_f, e.last_fg = f, group(e.fam, tostring(f)) end
    local g = e.last_fg
    g.n = g.n + 1
    if correct then g.correct = g.correct + 1 end
  end
  if d ~= nil then
    if d ~= e.last_d then e.last_d, e.last_dg = d, group(e.diff, tostring(d)) end
    local g = e.last_dg
    g.n = g.n + 1
    if correct then g.correct = g.correct + 1 end
  end
  if r ~= nil then
    if r ~= e.last_r then e.last_r, e.last_rg = r, group(e.rung, tostring(r)) end
    local g = e.last_rg
    g.n = g.n + 1
    if correct then g.correct = g.correct + 1 end
  end
  return code
end

--- Reads e's score lines; each outcome goes to on_code(question id, code).
--- A failed read raises { message }.
function M.read(st, e, on_code)
  local prefix = e.run_id .. results.SEP .. e.mk .. results.SEP
  local from = #prefix + 1
  local sub, decode = string.sub, json.decode
  local ok, err = st:scan(results.DB.scores, prefix, function(k, v)
    local s = decode(v)
    if type(s) ~= "table" then return end
    local qid = sub(k, from)
    local code = add(e, s, qid)
    if code then on_code(qid, code) end
  end)
  if not ok then error({ message = err }, 0) end
end

-- A model's latencies at up to 20,000 evenly spaced ranks (every rank
-- below that), from results.latency_quantiles (within 0.1%); each stands
-- for n / ranks answers: what the histograms are drawn from.
local MAX_RANKS = 20000

--- The latency figures of e (the quantiles of results.summarize) and its
--- ranks, set in e.latency_ms, e.ranks, e.rank_weight; e.lat is dropped.
--- With repeated samples, e.samples: causal_eval.samples.summarize's
--- figures as results.summarize gives them (k: the samples asked), or
--- e.samples_error saying why there are none; with free-text answers,
--- e.judged = { n, graded, errors, mean_score }.
function M.finish(e)
  local lat, NULL = e.lat, json.null
  local q = results.latency_quantiles(lat, { 0.5, 0.95, 0.99 })
  e.latency_ms = {
    mean = lat.n > 0 and lat.sum / lat.n or NULL,
    p50 = q[1] or NULL, p95 = q[2] or NULL, p99 = q[3] or NULL,
    min = lat.n > 0 and lat.min or NULL, max = lat.n > 0 and lat.max or NULL,
  }
  local m = math.min(lat.n, MAX_RANKS)
  local ps = {}
  for i = 1, m do ps[i] = (i - 0.5) / m end
  e.ranks = m > 0 and results.latency_quantiles(lat, ps) or {}
  e.rank_weight = m > 0 and lat.n / m or 0
  e.lat, e.last_f, e.last_fg, e.last_d, e.last_dg, e.last_r, e.last_rg = nil, nil, nil, nil, nil, nil, nil
  if e.sampled then
    local ok, s = pcall(require("causal_eval.samples").summarize, e.sampled,
      { k_values = { 1, e.samples_k }, temperature = e.temperature })
    if ok then
      s.k = e.samples_k
      e.samples = s
    else
      e.samples_error = tostring(s)
    end
    e.sampled = nil
  end
  local j = e.judged_c
  if j then
    e.judged = { n = j.n, graded = j.graded, errors = j.errors, mean_score = j.graded > 0 and j.sum / j.graded or NULL }
    e.judged_c = nil
  end
  return e
end

-- The fields of a finished e that cross from a thread, as JSON.
local FIELDS = { "run_id", "model", "n", "scored", "correct", "unparseable", "errors", "error_classes", "invalid",
                 "latency_ms", "ranks", "rank_weight", "tokens_in", "tokens_out", "cached", "fam", "diff", "rung",
                 "unparseable_q", "failed_q", "samples", "samples_error", "judged", "judged_q" }

--- count evenly spaced items of list (in its order): a sample spread over
--- families, as question ids start with their family.
function M.spread(list, count)
  if #list <= count then return list end
  local out = {}
  for i = 1, count do out[i] = list[math.floor((i - 0.5) * #list / count) + 1] end
  return out
end

--- On a thread: config is JSON { store = id, entries = { { run_id, model,
--- samples_k, temperature } }, unparseable = N, failures = N, judged = N }
--- (how many of those question ids to keep);
--- returns JSON: per entry its finished counts, its question ids in key
--- order joined by newlines (`qids`, left out when the entry before had the
--- same), and its outcomes as digits in that order (`codes`).
function M.main(config)
  local cfg = assert(json.decode(config, "report scan config"))
  local st = assert(require("causal_eval.store_core").attach(cfg.store))
  local out = {}
  local ok, err = pcall(function()
    local last_qids
    for i, d in ipairs(cfg.entries) do
      local e = M.new(d.run_id, d.model, d.samples_k, d.temperature)
      local qids, codes = {}, {}
      M.read(st, e, function(qid, code)
        local n = #qids + 1
        qids[n], codes[n] = qid, code
      end)
      M.finish(e)
      local t = {}
      for _, k in ipairs(FIELDS) do t[k] = e[k] end
      t.ranks = json.array(t.ranks)
      t.unparseable_q = json.array(M.spread(t.unparseable_q, cfg.unparseable))
      t.failed_q = json.array(M.spread(t.failed_q, cfg.failures))
      t.judged_q = json.array(M.spread(t.judged_q, cfg.judged or 0))
      local joined = table.concat(qids, "\n")
      if joined ~= last_qids then t.qids = joined end
      last_qids = joined
      t.codes = table.concat(codes)
      out[i] = t
    end
  end)
  st:close()
  if not ok then error(type(err) == "table" and err.message or tostring(err), 0) end
  return json.encode(json.array(out))
end

return M
