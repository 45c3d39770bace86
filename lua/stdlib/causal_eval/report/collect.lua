-- SPDX-License-Identifier: MIT
-- What a report shows, read from a results store: per model (a model of a
-- run) the figures of `results show` plus accuracy per domain, a latency
-- histogram, cost and the yes/no/other confusion per family; the paired
-- differences between every two models; samples of unparseable answers,
-- failures and the questions most models got wrong, with their records.
-- Runs in an evaluation mode (causal_eval.mode) add what the mode stores:
-- the reasoning of a chain of thought beside its final answer, the
-- figures of repeated samples, and free-text answers graded by a judge,
-- which are counted apart and never in an accuracy.
--
-- One pass over the score lines gives the counts (the rules and intervals
-- of results.summarize: a spec holds them equal); every second model's are
-- read on a thread (report/scan.lua). What a question is (domain, truth)
-- comes from one model's records per run, read on another thread
-- meanwhile (report/questions.lua); the records of anything shown in full
-- are then read one by one. Then one pass over the questions makes the
-- domains, the confusion tables, the hardest questions and the bit sets
-- the pairs are counted from (report/bits.lua).
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local stats = require "causal_eval.stats"
local host = require "causal_eval.host"
local questions = require "causal_eval.report.questions"
local scan = require "causal_eval.report.scan"
local bitset = require "causal_eval.report.bits"

local DB, SEP, NULL = results.DB, results.SEP, json.null

local M = {}

--- How much of the large sections a report shows: with many models, the
--- samples per model shrink so that all of them together stay within the
--- totals (a report of 50 models stays a few MB).
M.DEFAULTS = {
  unparseable = 25, -- answers shown per model
  unparseable_total = 300,
  failures = 10,    -- failed requests shown per model
  failures_total = 120,
  judged = 10,      -- free-text answers and their grades shown per model
  judged_total = 60,
  sample_texts = 3, -- texts of a question's repeated samples shown (each a share of answer_text)
  hardest = 20,     -- questions most models got wrong
  text = 1500,      -- characters of a prompt or raw answer
  answer_text = 1500, -- characters of each model's answer to a hardest question (400 past 5 models)
  bins = 36,        -- latency histogram bins
  iters = 2000,     -- bootstrap resamples of a paired difference (as results.comparisons)
  max_intervals = 45, -- pairs given a bootstrap interval (those of 10 models; past that the largest differences)
  seed = 0,
}

-- an answer's outcome, per question and model
local WRONG, RIGHT, UNPARSEABLE, FAILED = scan.WRONG, scan.RIGHT, scan.UNPARSEABLE, scan.FAILED
M.WRONG, M.RIGHT, M.UNPARSEABLE, M.FAILED = WRONG, RIGHT, UNPARSEABLE, FAILED

-- Every model's outcome of a question in one integer (3 bits a model:
-- the outcome + 1, 0 for none), 21 models to a table: a question is one
-- key for all of them, not a key in a table per model or a table of its own.
local PER_PACK = 21

local function code_of(packs, e, qid)
  local v = packs[e.pack][qid]
  if not v then return nil end
  local c = (v >> e.shift) & 7
  if c == 0 then return nil end
  return c - 1
end

-- a question's description, as questions.of_record lists it
local FAMILY, DOMAIN, ANSWER_TYPE, TRUTH = 1, 2, 4, 5

--- The runs of these ids ("last" allowed), each once, in the order given;
--- nil, message for the first that is not in the store.
function M.runs(st, ids)
  local out, seen = {}, {}
  for _, id in ipairs(ids) do
    local run, err = results.get_run(st, id)
    if not run then return nil, err end
    results.settle_status(st, run)
    if not seen[run.id] then
      seen[run.id] = true
      out[#out + 1] = run
    end
  end
  return out
end

local group = scan.group

local function finish_groups(groups)
  local out = {}
  for k, g in pairs(groups) do
    local lo, hi = results.wilson(g.correct, g.n)
    out[k] = { n = g.n, correct = g.correct, accuracy = g.n > 0 and g.correct / g.n or NULL, ci = { lo, hi } }
  end
  return out
end

local DIFFICULTY = { easy = 1, medium = 2, hard = 3 }

--- Group keys in reading order: numbers as numbers, difficulties easy to
--- hard, the rest alphabetically.
function M.sort_keys(keys, kind)
  table.sort(keys, function(a, b)
    local na, nb = tonumber(a), tonumber(b)
    if na and nb then return na < nb end
    if kind == "difficulty" and DIFFICULTY[a] and DIFFICULTY[b] then return DIFFICULTY[a] < DIFFICULTY[b] end
    return a < b
  end)
  return keys
end

-- Every model of every run as one entry; a label in two runs is shown
-- with its run's id.
local mode_lib = require "causal_eval.mode"

-- A run's mode and its one-line name.
local function mode_of(run)
  local m = type(run.mode) == "table" and run.mode or nil
  return m, mode_lib.describe(m)
end

local function entries_of(runs)
  local count = {}
  for _, run in ipairs(runs) do
    for _, label in ipairs(run.models or {}) do count[label] = (count[label] or 0) + 1 end
  end
  local entries = {}
  for _, run in ipairs(runs) do
    local specs = {}
    for _, sp in ipairs(run.model_specs or {}) do
      if type(sp) == "table" and sp.label then specs[sp.label] = sp end
    end
    local mode, mode_name = mode_of(run)
    -- as results.summarize reads it
    local samples_k = mode and mode.samples or nil
    for _, label in ipairs(run.models or {}) do
      local e = scan.new(run.id, label, samples_k, samples_k and mode.temperature or nil)
      e.index, e.spec, e.elapsed, e.dom = #entries + 1, specs[label], run.elapsed, {}
      e.mode_name, e.judge_model = mode_name, mode and type(mode.judge) == "table" and type(mode.judge.model) == "table"
        and mode.judge.model.label or nil
      e.label = count[label] > 1 and (label .. " @ " .. run.id) or label
      -- its outcomes live in packs[pack][question id], 3 bits at shift
      e.pack, e.shift = #entries // PER_PACK + 1, #entries % PER_PACK * 3
      entries[#entries + 1] = e
    end
  end
  return entries
end

-- The record of (entry, question), decoded; nil when it is not stored.
local function get_record(st, e, qid)
  local v, err = st:get(DB.records, results.key(e.run_id, e.model, qid))
  if err then error({ message = err }, 0) end
  if not v then return nil end
  local rec = json.decode(v)
  if type(rec) ~= "table" then
    error({ message = ("record %s / %s / %s: the stored record is not a JSON object"):format(e.run_id, e.model, qid) }, 0)
  end
  return rec
end

M.spread = scan.spread
local spread = M.spread

local function value(v)
  if v == NULL then return nil end
  return v
end

-- The pass over every question's outcomes (in id order, the order
-- results.comparisons resamples in): per model two bit sets over the
-- questions, answered and right (64 a word), that the pairs are counted
-- from (a pass over every pair and question took 3 s for 30 models), and
-- the buckets of the hardest questions. It needs no question's
-- description, so it runs while those are still being read.
local function outcomes_pass(entries, qids, packs)
  local k = #entries
  local pack_of, shift_of = {}, {}
  for i, e in ipairs(entries) do pack_of[i], shift_of[i] = e.pack, e.shift end
  local npacks = #packs
  local vs = {}
  local answered_bits, right_bits = {}, {}
  for i = 1, k do answered_bits[i], right_bits[i] = {}, {} end
  local buckets, order = {}, {}
  for t, q in ipairs(qids) do
    local w, bit = (t - 1) // 64 + 1, 1 << ((t - 1) % 64)
    for g = 1, npacks do vs[g] = packs[g][q] or 0 end
    local answered, wrong = 0, 0
    for i = 1, k do
      local code = (vs[pack_of[i]] >> shift_of[i]) & 7
      if code ~= 0 then
        local ab = answered_bits[i]
        ab[w] = (ab[w] or 0) | bit
        answered = answered + 1
        if code - 1 == RIGHT then
          local rb = right_bits[i]
          rb[w] = (rb[w] or 0) | bit
        else
          wrong = wrong + 1
        end
      end
    end
    if wrong > 0 then
      local key = wrong * 65536 + answered
      local b = buckets[key]
      if not b then
        b = { wrong = wrong, answered = answered, qids = {} }
        buckets[key] = b
        order[#order + 1] = b
      end
      b.qids[#b.qids + 1] = q
    end
  end
  return { answered = answered_bits, right = right_bits, words = (#qids + 63) // 64 }, order
end

-- The pass over every question with its description: accuracy per domain
-- and the yes/no/other table per family (a wrong parsed answer to a
-- yes/no question is the other label; numeric and multiple-choice
-- questions as right, wrong, other).
local function descriptions_pass(entries, qids, qinfo, packs)
  local k = #entries
  local pack_of, shift_of = {}, {}
  for i, e in ipairs(entries) do pack_of[i], shift_of[i] = e.pack, e.shift end
  local npacks = #packs
  local vs = {}
  local yn, other = {}, {}
  for i = 1, k do yn[i], other[i] = {}, {} end
  for _, q in ipairs(qids) do
    local info = qinfo[q]
    if info then
      for g = 1, npacks do vs[g] = packs[g][q] or 0 end
      local dom = value(info[DOMAIN])
      if dom ~= nil then dom = tostring(dom) end
      local fam = tostring(value(info[FAMILY]) or "?")
      local truth = info[TRUTH]
      local is_yn = info[ANSWER_TYPE] == "yes_no" and (truth == "yes" or truth == "no")
      for i = 1, k do
        local code = (vs[pack_of[i]] >> shift_of[i]) & 7
        if code ~= 0 then
          code = code - 1
          if dom ~= nil then
            local g = group(entries[i].dom, dom)
            g.n = g.n + 1
            if code == RIGHT then g.correct = g.correct + 1 end
          end
          if is_yn then
            local f = yn[i][fam]
            if not f then
              f = { yes = { yes = 0, no = 0, other = 0 }, no = { yes = 0, no = 0, other = 0 } }
              yn[i][fam] = f
            end
            local ans
            if code == RIGHT then ans = truth
            elseif code == WRONG then ans = truth == "yes" and "no" or "yes"
            else ans = "other" end
            local tt = f[truth]
            tt[ans] = tt[ans] + 1
          else
            local f = other[i][fam]
            if not f then
              f = { right = 0, wrong = 0, other = 0 }
              other[i][fam] = f
            end
            local key = code == RIGHT and "right" or code == WRONG and "wrong" or "other"
            f[key] = f[key] + 1
          end
        end
      end
    end
  end
  return yn, other
end

-- Every two models on the questions both answered: B - A with a bootstrap
-- interval and McNemar's p, Holm-corrected over the pairs: the definition,
-- resamples and question order of results.comparisons, so `results show`
-- prints the same figures. stats.paired's sign-flip test, which neither
-- uses, is left out (it took 85% of the time). Past max_intervals pairs,
-- only those with the largest differences get an interval (the forest plot
-- draws no more); every pair gets its p-values.
local function comparisons(entries, bits, opts)
  local core = require "causal_eval.stats_core"
  local rows, ps = {}, {}
  local k = #entries
  for i = 1, k do
    for j = i + 1, k do
      local n, n10, n01 = bitset.pair_counts(bits.answered[i], bits.answered[j], bits.right[i], bits.right[j], bits.words)
      if n > 0 then
        -- stats.mcnemar(b, a) with b the second model: its "b" count is
        -- second right and first wrong
        local pv = core.mcnemar(n01, n10)
        rows[#rows + 1] = { a = entries[i].label, b = entries[j].label, ia = i, ib = j, n = n,
                            diff = (n01 - n10) / n, p_mcnemar = pv }
        ps[#ps + 1] = pv
      end
    end
  end
  local holm = stats.holm(ps)
  for r, row in ipairs(rows) do row.p_holm = holm[r] end
  local by = {}
  for r = 1, #rows do by[r] = r end
  if #rows > opts.max_intervals then
    table.sort(by, function(x, y)
      local dx, dy = math.abs(rows[x].diff), math.abs(rows[y].diff)
      if dx ~= dy then return dx > dy end
      return x < y
    end)
  end
  for r = 1, math.min(#rows, opts.max_intervals) do
    local row = rows[by[r]]
    local i, j = row.ia, row.ib
    local d = bitset.differences(bits.answered[i], bits.answered[j], bits.right[i], bits.right[j], bits.words)
    local bt = stats.bootstrap(d, { iters = opts.iters, seed = opts.seed })
    row.diff, row.ci = bt.mean, { bt.low, bt.high }
  end
  return rows
end

-- The hardest questions: buckets of (wrong, answered), the worst share
-- first, then the most answers; a sample spread over each bucket.
local function hardest(order, k, limit)
  table.sort(order, function(x, y)
    local fx, fy = x.wrong / x.answered, y.wrong / y.answered
    if fx ~= fy then return fx > fy end
    return x.answered > y.answered
  end)
  local picked, total, all_wrong = {}, 0, 0
  for _, b in ipairs(order) do
    total = total + #b.qids
    if b.wrong == b.answered and b.answered == k then all_wrong = all_wrong + #b.qids end
  end
  for _, b in ipairs(order) do
    if #picked >= limit then break end
    for _, q in ipairs(spread(b.qids, limit - #picked)) do
      picked[#picked + 1] = { qid = q, wrong = b.wrong, answered = b.answered, bucket = #b.qids }
    end
  end
  return picked, total, all_wrong
end

-- Histograms of every model's latencies over shared bins, log-spaced from
-- the least positive latency to the greatest.
local function histograms(entries, nbins)
  local lo, hi = math.huge, 0
  local values = {}
  for i, e in ipairs(entries) do
    local v, w = e.ranks, e.rank_weight
    values[i] = { v = v, w = w }
    for _, x in ipairs(v) do
      if x > 0 and x < lo then lo = x end
      if x > hi then hi = x end
    end
  end
  if hi == 0 then return {}, {} end
  if hi <= lo then hi = lo * 1.1 end
  local span = math.log(hi / lo)
  local edges = {}
  for b = 0, nbins do edges[b + 1] = lo * math.exp(span * b / nbins) end
  local counts = {}
  for i, vw in ipairs(values) do
    local c = {}
    for b = 1, nbins do c[b] = 0 end
    for _, x in ipairs(vw.v) do
      local b = x <= lo and 1 or math.min(nbins, math.floor(math.log(x / lo) / span * nbins) + 1)
      c[b] = c[b] + vw.w
    end
    for b = 1, nbins do c[b] = math.floor(c[b] + 0.5) end
    counts[i] = c
  end
  return edges, counts
end

-- A model's figures as `results show --json` gives them, and more.
local function summary_of(e)
  local lo, hi = results.wilson(e.correct, e.n)
  local price = e.spec and e.spec.price
  local cost
  if type(price) == "table" then cost = require("causal_eval.run.outcome").cost(price, e.tokens_in, e.tokens_out) end
  return {
    model = e.model, label = e.label, run_id = e.run_id, n = e.n, scored = e.scored, correct = e.correct,
    accuracy = e.n > 0 and e.correct / e.n or NULL, ci = { lo, hi },
    unparseable = e.unparseable, unparseable_rate = e.n > 0 and e.unparseable / e.n or 0,
    errors = e.errors, error_classes = e.error_classes, invalid = e.invalid,
    latency_ms = e.latency_ms,
    -- as `results show` has it: answers over the run's elapsed seconds
    throughput = (e.elapsed or 0) > 0 and e.n / e.elapsed or NULL,
    tokens = { input = e.tokens_in, output = e.tokens_out, total = e.tokens_in + e.tokens_out },
    cost_usd = cost, price = price, cached = e.cached,
    by_family = finish_groups(e.fam), by_difficulty = finish_groups(e.diff), by_rung = finish_groups(e.rung),
    by_domain = finish_groups(e.dom),
    -- the run's mode; repeated samples (results.summarize's figures); free-text
    -- answers graded apart, with the judge model of the run (nil: none given)
    mode = e.mode_name, samples = e.samples, samples_error = e.samples_error,
    judged = e.judged and { n = e.judged.n, graded = e.judged.graded, errors = e.judged.errors,
                            mean_score = e.judged.mean_score, model = e.judge_model } or nil,
  }
end

local function clip(s, max)
  if s == nil or s == NULL then return nil end
  local text, cut = require("causal_eval.report.html").truncate(s, max)
  return { text = text, cut = cut }
end

-- A reply as the report shows it: with a chain of thought, its reasoning
-- and its final part apart (the final part is what follows the reasoning
-- in the reply; a reply that is all reasoning has none), else the reply.
local function reply_parts(text, reasoning, max)
  text, reasoning = value(text), value(reasoning)
  if type(reasoning) ~= "string" or not reasoning:find("%S") then return { response = clip(text, max) } end
  if type(text) == "string" then
    local _, e = text:find(reasoning, 1, true)
    if e then
      local final = text:sub(e + 1):gsub("^%s+", ""):gsub("%s+$", "")
      return { reasoning = clip(reasoning, max), final = final ~= "" and clip(final, max) or nil }
    end
  end
  return { reasoning = clip(reasoning, max), response = clip(text, max) }
end

-- What a record shows of its answer (reply_parts' fields), into t: with
-- repeated samples, every sample's answer and outcome and the texts of the
-- first o.sample_texts, each a share of max.
local function answer_of(rec, t, max, o)
  if type(rec.samples) == "table" then
    t.n_samples, t.samples_correct = value(rec.n_samples) or #rec.samples, value(rec.samples_correct)
    t.agreement, t.vote_tie = value(rec.agreement), rec.vote_tie == true
    local each = math.max(200, max // math.max(1, o.sample_texts))
    t.samples = {}
    for i, sm in ipairs(rec.samples) do
      if type(sm) == "table" then
        local x = { parsed = value(sm.parsed), correct = sm.correct == true, unparseable = value(sm.unparseable),
                    cached = sm.cached == true }
        if i <= o.sample_texts then
          for k, v in pairs(reply_parts(sm.response, sm.reasoning, each)) do x[k] = v end
        end
        t.samples[#t.samples + 1] = x
      end
    end
  else
    for k, v in pairs(reply_parts(rec.response, rec.reasoning, max)) do t[k] = v end
  end
  return t
end

-- A free-text answer and its grade, as the report shows it.
local function judged_of(rec, qid, o)
  local j = type(rec.judge) == "table" and rec.judge or {}
  local er = type(rec.error) == "table" and rec.error or nil
  local t = { qid = qid, family = value(rec.family), judged = rec.judged == true, grade = value(j.grade),
              score = rec.judged and value(j.score) or nil, explanation = clip(j.explanation, o.text),
              error = er and clip(er.message or er.class, o.text), error_class = er and value(er.class),
              needs_judge = rec.needs_judge == true and not er }
  return answer_of(rec, t, o.text, o)
end

-- The records behind the samples: unparseable answers, failures, free-text
-- answers with their grades, and every model's answer to each of the
-- hardest questions.
local function samples(st, entries, picked, o, packs)
  local shown = {}
  for i, e in ipairs(entries) do
    local s = { unparseable_shown = {}, failures_shown = {}, judged_shown = {} }
    shown[i] = s
    for _, q in ipairs(spread(e.unparseable_q, o.unparseable)) do
      local rec = get_record(st, e, q)
      if rec then
        s.unparseable_shown[#s.unparseable_shown + 1] = answer_of(rec, { qid = q, family = value(rec.family),
          reason = value(rec.unparseable) }, o.text, o)
      end
    end
    for _, q in ipairs(spread(e.judged_q or {}, o.judged)) do
      local rec = get_record(st, e, q)
      if rec then s.judged_shown[#s.judged_shown + 1] = judged_of(rec, q, o) end
    end
    for _, q in ipairs(spread(e.failed_q, o.failures)) do
      local rec = get_record(st, e, q)
      if rec then
        local er = type(rec.error) == "table" and rec.error or {}
        s.failures_shown[#s.failures_shown + 1] = { qid = q, family = value(rec.family), class = value(er.class),
          message = clip(er.message, o.text), status = value(er.status), first_bytes = clip(er.first_bytes, o.text),
          attempts = value(rec.attempts) }
      end
    end
  end
  for _, h in ipairs(picked) do
    h.answers = {}
    for i, e in ipairs(entries) do
      local code = code_of(packs, e, h.qid)
      local rec = code and get_record(st, e, h.qid)
      if rec then
        if not h.prompt then
          h.prompt = clip(rec.prompt, o.text)
          h.family, h.domain, h.difficulty = value(rec.family), value(rec.domain), value(rec.difficulty)
          h.rung, h.answer_type, h.truth = value(rec.rung), value(rec.answer_type), value(rec.ground_truth)
        end
        local er = type(rec.error) == "table" and rec.error or nil
        h.answers[#h.answers + 1] = answer_of(rec, { index = i, code = code, parsed = value(rec.parsed),
          error = er and value(er.class), reason = value(rec.unparseable) }, o.answer_text, o)
      end
    end
  end
  return shown
end

local function timed(timings, name, t0)
  local t = host.clock()
  timings[#timings + 1] = { name = name, seconds = t - t0 }
  return t
end

-- The score lines of the entries given, on a thread; a function that waits
-- for it and returns its entries' counts (scan.main's), or nil and why.
local function start_scan(st, list, o)
  if #list == 0 or type(st.id) ~= "function" then return nil end
  local ok, threads = pcall(require, "causal_eval.threads")
  if not ok then return nil end
  local cfg = { store = st:id(), entries = {}, unparseable = o.unparseable, failures = o.failures, judged = o.judged }
  for i, e in ipairs(list) do
    cfg.entries[i] = { run_id = e.run_id, model = e.model, samples_k = e.samples_k, temperature = e.temperature }
  end
  local started, group_ = pcall(threads.start, 1, "causal_eval.report.scan", json.encode(cfg))
  if not started then return nil end
  return function()
    local r = group_:join()[1]
    if not (r and r.ok) then return nil, r and r.error end
    return json.decode(r.result, "report scan")
  end
end

-- An entry's counts from the scan thread, and its outcomes into packs.
local function take_scanned(e, t, qids, packs)
  for k, v in pairs(t) do
    if k ~= "qids" and k ~= "codes" then e[k] = v end
  end
  local pack, shift, codes = packs[e.pack], e.shift, t.codes
  local byte = string.byte
  for i, q in ipairs(qids) do
    pack[q] = (pack[q] or 0) | ((byte(codes, i) - 47) << shift)
  end
end

local function read_here(st, e, packs)
  local pack, shift = packs[e.pack], e.shift
  scan.read(st, e, function(qid, code) pack[qid] = (pack[qid] or 0) | ((code + 1) << shift) end)
  scan.finish(e)
end

local function gather(st, runs, o, timings)
  local t0 = host.clock()
  local entries = entries_of(runs)
  -- the questions' descriptions: the first model's records of each run
  local prefixes = {}
  for _, run in ipairs(runs) do
    if run.models and run.models[1] then
      prefixes[#prefixes + 1] = run.id .. SEP .. results.model_key(run.models[1]) .. SEP
    end
  end
  local wait = questions.start(st, prefixes)
  -- every second model's score lines on another thread, the rest here
  local here, there = {}, {}
  for i, e in ipairs(entries) do
    if i % 2 == 0 then there[#there + 1] = e else here[#here + 1] = e end
  end
  local wait_scan = start_scan(st, there, o)
  if not wait_scan then
    here, there = entries, {}
  end
  local packs = {}
  for g = 1, (#entries - 1) // PER_PACK + 1 do packs[g] = {} end
  local ok, err = pcall(function()
    for _, e in ipairs(here) do read_here(st, e, packs) end
  end)
  -- the threads are waited for whatever happened here
  local scanned, why
  if wait_scan then
    local sok, s1, s2 = pcall(wait_scan)
    if sok then scanned, why = s1, s2 else why = s1 end
  end
  if not ok then
    pcall(wait)
    error(err, 0)
  end
  local on_threads = { questions = false, scores = 0 }
  if #there > 0 then
    if type(scanned) ~= "table" or #scanned ~= #there then
      -- the thread failed: read them here, which raises what it met
      for _, e in ipairs(there) do read_here(st, e, packs) end
      timings[#timings + 1] = { name = "score lines thread failed: " .. tostring(why), seconds = 0 }
    else
      local qids
      for i, t in ipairs(scanned) do
        if t.qids then
          qids = {}
          for q in t.qids:gmatch("[^\n]+") do qids[#qids + 1] = q end
        end
        if qids and #qids == #t.codes then
          take_scanned(there[i], t, qids, packs)
          on_threads.scores = on_threads.scores + 1
        else
          -- question ids that do not survive the trip (a newline in one)
          read_here(st, there[i], packs)
        end
      end
    end
  end
  t0 = timed(timings, "score lines", t0)
  local qids, seen = {}, #packs > 1 and {} or nil
  for _, pack in ipairs(packs) do
    for q in pairs(pack) do
      if not seen or not seen[q] then
        if seen then seen[q] = true end
        qids[#qids + 1] = q
      end
    end
  end
  table.sort(qids)
  return entries, qids, packs, wait, on_threads, t0
end

-- The questions' descriptions, when the thread has them; those of
-- questions the first model of their run did not answer are read here.
local function descriptions(st, wait, entries, qids, packs, on_threads)
  local qinfo, _, on_thread = wait()
  on_threads.questions = on_thread == true
  for _, q in ipairs(qids) do
    if not qinfo[q] then
      for _, e in ipairs(entries) do
        local rec = code_of(packs, e, q) and get_record(st, e, q)
        if rec then
          qinfo[q] = questions.of_record(rec)
          break
        end
      end
    end
  end
  return qinfo
end

--- The report's data for runs (tables from M.runs); opts: the limits of
--- M.DEFAULTS. Damage met while reading raises as every store read does,
--- and so does a failed read ({ message }).
function M.collect(st, runs, opts)
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  local k = 0
  for _, run in ipairs(runs) do k = k + #(run.models or {}) end
  if k > 0 then
    o.unparseable = math.min(o.unparseable, math.max(1, math.ceil(o.unparseable_total / k)))
    o.failures = math.min(o.failures, math.max(1, math.ceil(o.failures_total / k)))
    o.judged = math.min(o.judged, math.max(1, math.ceil(o.judged_total / k)))
    if k > 5 then o.answer_text = math.min(o.answer_text, 400) end
  end
  local timings = {}
  local entries, qids, packs, wait, on_threads, t0 = gather(st, runs, o, timings)
  -- what needs no question's description, while the thread reads them
  local ok, part = pcall(function()
    local bits, order = outcomes_pass(entries, qids, packs)
    t0 = timed(timings, "outcomes", t0)
    local comps = comparisons(entries, bits, o)
    t0 = timed(timings, "paired differences", t0)
    local picked, wrong_total, all_wrong = hardest(order, #entries, o.hardest)
    local shown = samples(st, entries, picked, o, packs)
    t0 = timed(timings, "samples", t0)
    local edges, counts = histograms(entries, o.bins)
    t0 = timed(timings, "histograms", t0)
    return { comps = comps, picked = picked, wrong_total = wrong_total, all_wrong = all_wrong, shown = shown,
             edges = edges, counts = counts }
  end)
  -- the thread is waited for whatever happened here
  local dok, qinfo = pcall(descriptions, st, wait, entries, qids, packs, on_threads)
  if not ok then error(part, 0) end
  if not dok then error(qinfo, 0) end
  t0 = timed(timings, "waiting for the questions", t0)
  local yn, other = descriptions_pass(entries, qids, qinfo, packs)
  t0 = timed(timings, "domains and answers", t0)

  local models = {}
  for i, e in ipairs(entries) do
    local s = summary_of(e)
    s.index, s.confusion, s.other_types = i, yn[i], other[i]
    s.unparseable_shown, s.failures_shown = part.shown[i].unparseable_shown, part.shown[i].failures_shown
    s.judged_shown = part.shown[i].judged_shown
    s.latency_bins = part.counts[i]
    models[i] = s
  end
  local keys = {}
  for _, kind in ipairs({ "family", "difficulty", "rung", "domain" }) do
    local seen, list = {}, {}
    for _, m in ipairs(models) do
      for key in pairs(m["by_" .. kind]) do
        if not seen[key] then
          seen[key] = true
          list[#list + 1] = key
        end
      end
    end
    keys[kind] = M.sort_keys(list, kind)
  end
  local records = 0
  for _, e in ipairs(entries) do records = records + e.n + e.invalid + (e.judged and e.judged.n or 0) end
  return {
    runs = runs, models = models, comparisons = part.comps, keys = keys, latency_edges = part.edges,
    questions = #qids, records = records,
    hardest = part.picked, hardest_total = part.wrong_total, all_wrong = part.all_wrong,
    limits = o, timings = timings, on_threads = on_threads,
  }
end

return M
