-- SPDX-License-Identifier: MIT
-- Every model ever evaluated in a store, ranked on the questions they all
-- answered, with intervals and groups of models statistically tied.
--
-- A model is its label, across runs. Its answer to a question is the one
-- of the newest run that asked it (a model asked again after a fix counts
-- as it is now). Only answers that count in a run's accuracy are used (not
-- the bad_question records); a failed request or unparseable answer is a
-- wrong one, as in `results show`.
--
-- Shared questions: those every ranked model answered. While fewer than
-- min_shared, the model whose removal adds the most shared questions is
-- left out and listed as not ranked (with what it answered), until enough
-- are shared or no removal adds any.
--
-- Groups: every two ranked models are compared on the shared questions by
-- McNemar's test, Holm-corrected over all those pairs. The best model not
-- yet in a group leads a new group, which holds it and every model not yet
-- in a group whose difference with it is not significant (corrected p >=
-- alpha). Models in a leader's group are statistically tied with it; a
-- model may sit below one of another group in accuracy and still be tied
-- with its own leader. rank_best is 1 + the number of models significantly
-- better than the model: the best rank the data allow it.
--
-- Modes: a model asked with five solved examples and a chain of thought
-- is not the same evaluation as one asked zero-shot, so runs of different
-- evaluation modes (causal_eval.mode: template, shots, chain of thought,
-- samples, temperature) are never ranked together. A leaderboard ranks
-- the runs of one mode (opts.mode, else the mode with the most models,
-- the newest on a tie) and lists the others as not ranked. The judge of a
-- run is no part of its mode here: it grades free-text answers, which are
-- never ranked (they have no exact score), as results.summarize leaves
-- them out of accuracy.
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local stats = require "causal_eval.stats"
local bits = require "causal_eval.report.bits"
local mode_lib = require "causal_eval.mode"

local M = {}

M.DEFAULT_MODE = "default"

M.DEFAULTS = { min_shared = 50, alpha = 0.05, iters = 2000, seed = 0 }

local DAY = 86400

--- The evaluation mode a model of a run was asked in, as leaderboards
--- tell runs apart: a key (M.DEFAULT_MODE for the default mode; else its
--- name and its template's digest) and its name (mode.describe's).
function M.mode_of(run, label)
  local m = type(run.mode) == "table" and run.mode or nil
  if mode_lib.is_default(m) then return M.DEFAULT_MODE, mode_lib.describe(nil) end
  local t = m.template or (type(m.templates) == "table" and m.templates[label]) or nil
  -- the model's own template, and no judge (see the top)
  local own = { shots = m.shots, cot = m.cot, cot_budget = m.cot_budget, samples = m.samples, temperature = m.temperature,
                template = t }
  if mode_lib.is_default(own) then return M.DEFAULT_MODE, mode_lib.describe(nil) end
  local name = mode_lib.describe(own)
  local key = name
  if type(t) == "table" then key = key .. "\0" .. require("causal_eval.rng").hex(tostring(t.source or "")):sub(1, 12) end
  return key, name
end

-- mode key -> { key, name, models = { label -> { answers = { qid -> 0/1 },
-- runs, last_run, last_time } }, used = runs with answers, order = how
-- new its newest run is (1: the newest run of all) }
local function gather(st, opts)
  local runs, err = results.list_runs(st)
  if not runs then return nil, err end
  local since = opts.days and (opts.now - opts.days * DAY) or nil
  local modes = {}
  for run_index, run in ipairs(runs) do -- newest first: the first answer seen wins
    if not since or (run.created or 0) >= since then
      local labels, mode_by = {}, {}
      for _, label in ipairs(run.models or {}) do
        local mk = results.model_key(label)
        labels[mk] = label
        local key, name = M.mode_of(run, label)
        local md = modes[key]
        if not md then
          md = { key = key, name = name, models = {}, used = 0, order = run_index }
          modes[key] = md
        end
        mode_by[mk] = md
      end
      local prefix = run.id .. results.SEP
      local from = #prefix + 1
      local any = {}
      local ok, serr = st:scan(results.DB.scores, prefix, function(k, v)
        local z = k:find(results.SEP, from, true)
        if not z then return end
        local mk = k:sub(from, z - 1)
        local label = labels[mk]
        if not label then return end
        local s = json.decode(v)
        if type(s) ~= "table" or not results.counts(s) then return end
        -- a free-text answer has no exact score (results.summarize leaves it out too)
        if s.ft then return end
        if opts.bench and s.f ~= opts.bench then return end
        local md = mode_by[mk]
        local models = md.models
        local m = models[label]
        if not m then
          m = { model = label, answers = {}, n = 0, runs = {}, nruns = 0 }
          models[label] = m
        end
        local qid = k:sub(z + 1)
        if m.answers[qid] == nil then
          m.answers[qid] = s.c == 1 and 1 or 0
          m.n = m.n + 1
        end
        if not m.runs[run.id] then
          m.runs[run.id] = true
          m.nruns = m.nruns + 1
          if not m.last_run then m.last_run, m.last_time = run.id, run.created end
        end
        if not any[md] then
          any[md] = true
          md.used = md.used + 1
          md.newest = md.newest or run_index
        end
      end)
      if not ok then return nil, serr end
    end
  end
  -- a name that two modes share (templates at one path, of different text) gets its digest
  local list, by_name = {}, {}
  for _, md in pairs(modes) do
    if md.newest then
      list[#list + 1] = md
      by_name[md.name] = (by_name[md.name] or 0) + 1
    end
  end
  for _, md in ipairs(list) do
    if by_name[md.name] > 1 then
      local digest = md.key:match("\0(%x+)$")
      if digest then md.name = ("%s [%s]"):format(md.name, digest) end
    end
    local n = 0
    for _ in pairs(md.models) do n = n + 1 end
    md.nmodels = n
  end
  -- the most models first, then the newest
  table.sort(list, function(a, b)
    if a.nmodels ~= b.nmodels then return a.nmodels > b.nmodels end
    return a.newest < b.newest
  end)
  return list
end

--- Whether text names mode md: its name, or "default" for the default mode.
local function names(md, text)
  return md.name == text or (text == M.DEFAULT_MODE and md.key == M.DEFAULT_MODE)
end

-- The shared questions of a set of models (label -> model).
local function shared_of(set)
  local counts, k = {}, 0
  for _, m in pairs(set) do
    k = k + 1
    for q in pairs(m.answers) do counts[q] = (counts[q] or 0) + 1 end
  end
  local shared = {}
  for q, c in pairs(counts) do if c == k then shared[#shared + 1] = q end end
  return shared, counts, k
end

-- Leaves out models until min_shared questions are shared (see the top).
local function choose(models, min_shared)
  local set, left_out = {}, {}
  for label, m in pairs(models) do set[label] = m end
  while true do
    local shared, counts, k = shared_of(set)
    if #shared >= min_shared or k <= 1 then return set, shared, left_out end
    -- removing m adds the questions all but m answered
    local gain = {}
    for q, c in pairs(counts) do
      if c == k - 1 then
        for label, m in pairs(set) do
          if m.answers[q] == nil then gain[label] = (gain[label] or 0) + 1 end
        end
      end
    end
    local best, best_gain
    for label, g in pairs(gain) do
      local m = set[label]
      if not best or g > best_gain or (g == best_gain and (m.n < set[best].n or (m.n == set[best].n and label > best))) then
        best, best_gain = label, g
      end
    end
    if not best then return set, shared, left_out end
    left_out[#left_out + 1] = set[best]
    set[best] = nil
  end
end

local function accuracy_of(answers, qids)
  local c = 0
  for _, q in ipairs(qids) do c = c + answers[q] end
  return c
end

--- The leaderboard of a store. opts: days (only runs created in the last
--- N days), bench (only questions of this family), mode (rank the runs of
--- this evaluation mode: its name, or "default"; else the mode with the
--- most models), min_shared, alpha, now. The result names its mode (mode,
--- nil when no model answered) and lists the modes it did not rank
--- (other_modes: { mode, runs, models = labels }). nil, message when the
--- store cannot be read or no run has the mode asked for.
function M.build(st, opts)
  local o = {}
  for k, v in pairs(M.DEFAULTS) do o[k] = v end
  for k, v in pairs(opts or {}) do o[k] = v end
  o.now = o.now or os.time()
  local list, gerr = gather(st, o)
  if not list then return nil, gerr end
  local pick = list[1]
  if o.mode then
    pick = nil
    for _, md in ipairs(list) do
      if names(md, o.mode) then pick = md break end
    end
    if not pick then
      local known = {}
      for _, md in ipairs(list) do known[#known + 1] = ("'%s'"):format(md.key == M.DEFAULT_MODE and M.DEFAULT_MODE or md.name) end
      return nil, ("no run of mode '%s' has answers here%s"):format(o.mode,
        #known > 0 and ("; the modes of these runs: " .. table.concat(known, ", ")) or "")
    end
  end
  local other_modes = {}
  for _, md in ipairs(list) do
    if md ~= pick then
      local labels = {}
      for label in pairs(md.models) do labels[#labels + 1] = label end
      table.sort(labels)
      other_modes[#other_modes + 1] = { mode = md.name, default = md.key == M.DEFAULT_MODE, runs = md.used,
                                        models = json.array(labels) }
    end
  end
  local models, used = pick and pick.models or {}, pick and pick.used or 0
  local set, shared, left_out = choose(models, o.min_shared)
  table.sort(shared)
  local ranked = {}
  for _, m in pairs(set) do
    local c = accuracy_of(m.answers, shared)
    local lo, hi = results.wilson(c, #shared)
    local all = 0
    for _, v in pairs(m.answers) do all = all + v end
    ranked[#ranked + 1] = { model = m.model, n = #shared, correct = c, accuracy = #shared > 0 and c / #shared or json.null,
                            ci = { lo, hi }, answered = m.n, accuracy_all = m.n > 0 and all / m.n or json.null,
                            runs = m.nruns, last_run = m.last_run, last_time = m.last_time, vec = {} }
  end
  table.sort(ranked, function(a, b)
    local x, y = tonumber(a.accuracy) or -1, tonumber(b.accuracy) or -1
    if x ~= y then return x > y end
    return a.model < b.model
  end)
  -- each model's right answers as a bit set over the shared questions
  local all, words = {}, (#shared + 63) // 64
  for t = 1, #shared do bits.set(all, t) end
  for i, r in ipairs(ranked) do
    -- competition ranking: equal accuracies share a rank
    r.rank = (i > 1 and ranked[i - 1].correct == r.correct) and ranked[i - 1].rank or i
    local answers = set[r.model].answers
    for t, q in ipairs(shared) do
      if answers[q] == 1 then bits.set(r.vec, t) end
    end
  end
  -- every pair, McNemar (as stats.mcnemar counts), Holm-corrected together
  local core = require "causal_eval.stats_core"
  local k = #ranked
  local pvals, index = {}, {}
  if #shared > 0 then
    for i = 1, k do
      for j = i + 1, k do
        local _, n10, n01 = bits.pair_counts(all, all, ranked[i].vec, ranked[j].vec, words)
        pvals[#pvals + 1] = core.mcnemar(n01, n10)
        index[#pvals] = { i, j }
      end
    end
  end
  local holm = stats.holm(pvals)
  local p = {}
  for i = 1, k do p[i] = {} end
  for n, ij in ipairs(index) do
    p[ij[1]][ij[2]], p[ij[2]][ij[1]] = holm[n], holm[n]
  end
  for i, r in ipairs(ranked) do
    local better = 0
    for j = 1, i - 1 do
      if p[i][j] and p[i][j] < o.alpha and ranked[j].correct > r.correct then better = better + 1 end
    end
    r.rank_best = better + 1
  end
  local groups = 0
  for i, r in ipairs(ranked) do
    if not r.group then
      groups = groups + 1
      r.group, r.leader = groups, r.model
      r.diff_leader, r.p_leader = 0, nil
      for j = i + 1, k do
        local o2 = ranked[j]
        if not o2.group and (p[i][j] == nil or p[i][j] >= o.alpha) then
          o2.group, o2.leader = groups, r.model
          o2.p_leader = p[i][j]
        end
      end
    end
  end
  -- the difference with the leader, with its paired bootstrap interval
  local lead_index = {}
  for i, r in ipairs(ranked) do if r.leader == r.model then lead_index[r.group] = i end end
  for i, r in ipairs(ranked) do
    local li = lead_index[r.group]
    if li ~= i and #shared > 0 then
      local d = bits.differences(all, all, ranked[li].vec, r.vec, words)
      local bt = stats.bootstrap(d, { iters = o.iters, seed = o.seed })
      r.diff_leader, r.diff_ci = bt.mean, { bt.low, bt.high }
    end
  end
  for _, r in ipairs(ranked) do r.vec = nil end
  local unranked = {}
  for _, m in ipairs(left_out) do
    local all = 0
    for _, v in pairs(m.answers) do all = all + v end
    local lo, hi = results.wilson(all, m.n)
    unranked[#unranked + 1] = { model = m.model, answered = m.n, accuracy_all = m.n > 0 and all / m.n or json.null,
                                ci_all = { lo, hi }, runs = m.nruns, last_run = m.last_run }
  end
  table.sort(unranked, function(a, b) return a.model < b.model end)
  return {
    generated = o.now, days = o.days, bench = o.bench, min_shared = o.min_shared, alpha = o.alpha,
    runs = used, shared = #shared, groups = groups, pairs = #pvals, ranked = ranked, unranked = unranked,
    mode = pick and pick.name or nil, mode_default = pick and pick.key == M.DEFAULT_MODE or nil,
    other_modes = other_modes,
  }
end

local function pct(x) return type(x) == "number" and ("%.1f%%"):format(x * 100) or "-" end

--- The leaderboard as text.
function M.format(lb)
  local out = {}
  local function line(s) out[#out + 1] = s end
  local scope = {}
  scope[#scope + 1] = lb.days and ("runs of the last %d days"):format(lb.days) or "all runs"
  if lb.bench then scope[#scope + 1] = "family " .. lb.bench end
  line(("leaderboard: %d models ranked on %d shared questions (%s; %d %s)"):format(#lb.ranked, lb.shared,
    table.concat(scope, ", "), lb.runs, lb.runs == 1 and "run" or "runs"))
  if lb.mode then line("mode: " .. lb.mode) end
  local function other_modes()
    if #(lb.other_modes or {}) == 0 then return end
    line("")
    line(("warning: runs of %d other evaluation %s are not ranked with these (a different evaluation); rank them "
      .. "with --mode NAME:"):format(#lb.other_modes, #lb.other_modes == 1 and "mode" or "modes"))
    for _, om in ipairs(lb.other_modes) do
      line(("  %s: %d %s, %d %s (%s)"):format(om.default and M.DEFAULT_MODE .. " (" .. om.mode .. ")" or om.mode, om.runs,
        om.runs == 1 and "run" or "runs", #om.models, #om.models == 1 and "model" or "models", table.concat(om.models, ", ")))
    end
  end
  if #lb.ranked == 0 then
    line("no model has answered any question" .. (lb.bench and (" of family " .. lb.bench) or ""))
    other_modes()
    return table.concat(out, "\n") .. "\n"
  end
  line("")
  local rows = { { "rank", "group", "model", "accuracy", "95% CI", "vs leader", "p (Holm)", "best rank", "answered", "runs" } }
  for _, r in ipairs(lb.ranked) do
    local vs = r.leader == r.model and "leader" or ("%+.1f%%"):format(r.diff_leader * 100)
    rows[#rows + 1] = { tostring(r.rank), tostring(r.group), r.model, pct(r.accuracy),
      ("[%s, %s]"):format(pct(r.ci[1]), pct(r.ci[2])), vs, r.p_leader and ("%.4f"):format(r.p_leader) or "-",
      tostring(r.rank_best), tostring(r.answered), tostring(r.runs) }
  end
  local w = {}
  for _, r in ipairs(rows) do for c, v in ipairs(r) do w[c] = math.max(w[c] or 0, utf8.len(v) or #v) end end
  for _, r in ipairs(rows) do
    local cells = {}
    for c, v in ipairs(r) do
      local pad = (" "):rep(w[c] - (utf8.len(v) or #v))
      cells[c] = c == 3 and (v .. pad) or (pad .. v)
    end
    line(table.concat(cells, "  "))
  end
  line("")
  line(("groups: a group's models are statistically tied with its leader (the first of the group): McNemar on the "
    .. "shared questions, Holm-corrected over all %d pairs, alpha %g. best rank: 1 + the models significantly better."):format(
    lb.pairs, lb.alpha))
  if #lb.unranked > 0 then
    line("")
    line(("not ranked (left out so that at least %d questions are shared):"):format(lb.min_shared))
    for _, u in ipairs(lb.unranked) do
      line(("  %s: %d questions answered, %s on them"):format(u.model, u.answered, pct(u.accuracy_all)))
    end
  end
  other_modes()
  return table.concat(out, "\n") .. "\n"
end

--- The leaderboard as JSON text.
function M.json(lb)
  local ranked = {}
  for i, r in ipairs(lb.ranked) do
    ranked[i] = { rank = r.rank, group = r.group, leader = r.leader, model = r.model, n = r.n, correct = r.correct,
                  accuracy = r.accuracy, ci = r.ci, diff_leader = r.diff_leader, diff_ci = r.diff_ci,
                  p_holm_leader = r.p_leader, rank_best = r.rank_best, answered = r.answered,
                  accuracy_all = r.accuracy_all, runs = r.runs, last_run = r.last_run }
  end
  return json.encode({ generated = lb.generated, days = lb.days, bench = lb.bench, min_shared = lb.min_shared,
                       alpha = lb.alpha, runs = lb.runs, shared_questions = lb.shared, groups = lb.groups,
                       pairs = lb.pairs, models = json.array(ranked), unranked = json.array(lb.unranked),
                       mode = lb.mode, other_modes = json.array(lb.other_modes or {}) })
end

return M
