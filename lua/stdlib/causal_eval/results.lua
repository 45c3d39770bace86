-- SPDX-License-Identifier: MIT
-- The results store's layout and the summaries read from it.
--
--   runs     run_id -> JSON { id, created, status, models, benchmarks, ... }
--   records  run_id \0 model \0 question_id -> JSON record (prompt, response, score, ...)
--   scores   the same key -> compact JSON { f, d, r, c, u, e, l, ti, to } for summaries
--   meta     "last" -> the latest run_id
--
-- Run ids sort by time ("20261126-173512-3fa9c2"), so listings are scans.
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"
local store_core = require "causal_eval.store_core"

local find, sub = string.find, string.sub

local M = {}

M.SEP = "\0"

--- The store's databases by name (results.DB.records == "records"): the
--- names live in host/core/store/store.h alone.
M.DB = {}
for _, name in ipairs(store_core.DATABASES) do M.DB[name] = name end
local DB = M.DB

function M.new_run_id(now)
  now = now or os.time()
  local host = require "causal_eval.host"
  return os.date("!%Y%m%d-%H%M%S", now) .. "-" .. rng.hex(tostring(host.clock()) .. tostring(host.getpid())):sub(1, 6)
end

--- A model's part of a key: its label, or a shortened label for long ones.
function M.model_key(label)
  if #label <= 120 then return label end
  return label:sub(1, 100) .. "~" .. rng.hex(label)
end

function M.key(run_id, model_label, qid)
  return run_id .. M.SEP .. M.model_key(model_label) .. M.SEP .. qid
end

--- A key's run id, model part and question id; nil when it has no two
--- separators. (Two plain finds: the pattern this replaces walked a
--- character class per byte, a sixth of a run's summary.)
function M.split_key(k)
  local a = find(k, "\0", 1, true)
  local b = a and find(k, "\0", a + 1, true)
  if not b then return nil end
  return sub(k, 1, a - 1), sub(k, a + 1, b - 1), sub(k, b + 1)
end

--- What results.open takes from the configuration values: the store
--- section, and with a PostgreSQL URL (url: --store, else store.url) the
--- database section. A URL given on the command line other than store.url
--- leaves store.read_url out (it names the other server's replica).
function M.config(values, url)
  local s, d = values.store, values.database
  local cfg = { map_size_mb = s.map_size_mb, sync = s.sync, batch_size = s.batch_size }
  if not url or url == "" then url = s.url end
  if url == nil or url == "" then return cfg end
  cfg.url = url
  if s.read_url ~= "" and (s.url == "" or s.url == url) then cfg.read_url = s.read_url end
  for _, k in ipairs({ "pool_size", "max_overflow", "pool_timeout", "pool_recycle", "statement_timeout",
                       "connect_timeout", "retry_for", "buffer_mb", "writers" }) do
    cfg[k] = d[k]
  end
  cfg.batch_size = d.batch_size
  return cfg
end

--- nil when url (a --store value) is a PostgreSQL URL, else what is wrong with it.
function M.check_url(url)
  local ok, err = store_core.check_url(url)
  if not ok then return err end
end

--- Opens the store of a data folder (cfg: results.config's, or the store.*
--- settings). With cfg.url the store is PostgreSQL's, dir holding only its
--- journal and run locks; cfg.writes = false opens it for reading (its
--- schema is checked, not created) and cfg.reads = "replica" sends reads to
--- cfg.read_url. LMDB damage met by any read raises an error table
--- { damaged = true, message = ... } (cfg.raise_damage = false: returns nil,
--- message, "damaged" instead), so no caller carries on with part of what it
--- asked for. A failed open returns nil, message, kind ("damaged", "full" or
--- nil); a damaged one's message ends with what to run about it.
function M.open(dir, cfg)
  cfg = cfg or {}
  if cfg.url then
    return store_core.open{ path = dir, url = cfg.url, read_url = cfg.read_url, writes = cfg.writes ~= false,
                            reads = cfg.reads, pool_size = cfg.pool_size, max_overflow = cfg.max_overflow,
                            pool_timeout = cfg.pool_timeout, pool_recycle = cfg.pool_recycle,
                            statement_timeout = cfg.statement_timeout, connect_timeout = cfg.connect_timeout,
                            retry_for = cfg.retry_for, buffer_mb = cfg.buffer_mb, writers = cfg.writers }
  end
  local st, err, kind = store_core.open{ path = dir, map_size_mb = cfg.map_size_mb or 1024, sync = cfg.sync ~= false,
                                         raise_damage = cfg.raise_damage ~= false }
  if not st and kind == "damaged" then err = err .. "\n" .. M.damage_hint(dir) end
  return st, err, kind
end

--- Where a store's results are, as messages name them: the PostgreSQL
--- server (no password) or the data folder.
function M.where(st, dir)
  if st and st:backend() == "postgresql" then return st:pool().server end
  return dir
end

--- The file a run's process holds locked while it works (causal_eval.lockfile).
function M.lock_path(dir, run_id) return ("%s/run-%s.lock"):format(dir, run_id) end

--- A run stored as running whose lock no live process holds ended without
--- finishing (kill -9, a second Ctrl-C, a crash, power loss): it is shown
--- as interrupted, with what to do, though the store still says running.
function M.settle_status(st, run)
  if run.status ~= "running" then return run end
  -- a queued run is worked by `causal-eval worker`s, which hold no lock
  -- here: one of them writes its end (docs/queue.md)
  if type(run.queue) == "table" then return run end
  local path = M.lock_path(st:dir(), run.id)
  local holder = require("causal_eval.lockfile").holder(path)
  -- a PostgreSQL store is shared: a run without a lock file here may be
  -- working on another machine
  if holder == false and st:backend() == "postgresql" then
    local f = io.open(path, "rb")
    if not f then return run end
    f:close()
  end
  if holder == false then
    run.status = "interrupted"
    run.message = ("its process ended without finishing (killed?); causal-eval run --resume %s continues it"):format(run.id)
  end
  return run
end

--- What a person can do about a damaged store in dir.
function M.damage_hint(dir)
  return ("`causal-eval results check --data %s` lists every damaged record; with --salvage FILE it saves the rest")
    :format(dir)
end

--- The run with this id ("last": the latest), or nil, message.
function M.get_run(st, id)
  if id == "last" then
    local last, err = st:get(DB.meta, "last")
    if err then return nil, err end
    if not last then return nil, "no runs in this store yet" end
    id = last
  end
  local v, err = st:get(DB.runs, id)
  if err then return nil, err end
  if not v then return nil, ("no run '%s' in this store"):format(id) end
  return json.decode(v, "run " .. id)
end

--- Writes a run (and makes it the latest). A write that fails raises
--- { message }: an expected failure (a server gone), said as such, with
--- the store's own failure when it has one (what a resume will do).
function M.put_run(st, run)
  local ok, err = st:put(DB.runs, run.id, json.encode(run))
  if ok then ok, err = st:put(DB.meta, "last", run.id) end
  if not ok then
    local failed, state = st:trouble()
    if state == "failed" then err = "writing results failed: " .. failed end
    error({ message = (("run %s: %s"):format(run.id, tostring(err)):gsub("RUN_ID", run.id)) }, 0)
  end
end

--- Runs, newest first: list of run tables (at most limit); nil, message.
function M.list_runs(st, limit)
  local out = {}
  local ok, err = st:scan(DB.runs, "", function(_, v)
    out[#out + 1] = json.decode(v) or { id = "?" }
  end, { reverse = true, limit = limit or 0 })
  if not ok then return nil, err end
  return out
end

--- The compact score line stored with each record, as a table (the store
--- encodes it as it queues the record: st:enqueue_record takes tables).
function M.score_fields(rec)
  local line = {
    f = rec.family, d = rec.difficulty, r = rec.rung,
    c = rec.correct == nil and json.null or (rec.correct and 1 or 0),
    u = rec.unparseable and 1 or nil,
    e = rec.error and rec.error.class or nil,
    l = rec.latency_ms,
    ti = rec.tokens and rec.tokens.input or nil,
    to = rec.tokens and rec.tokens.output or nil,
    cached = rec.cached and 1 or nil,
    day = rec.day,
  }
  -- what a mode adds, set only when there is some (a constructor with these
  -- keys sizes every line's table for them, and encoding walks the room)
  if rec.n_samples then
    -- repeated samples: how many were asked and how many were right
    line.k, line.kc, line.ag = rec.n_samples, rec.samples_correct, rec.agreement
  end
  if rec.answer_type == "free_text" then
    -- a free-text answer and the judge's score: never counted with exact scores
    line.ft = 1
    if rec.judged then line.j, line.s = 1, rec.score end
  end
  return line
end

--- The compact score line stored with each record, as text: written from
--- the record in C (store_core.score_line, the same text without the
--- table), else the table encoded.
local write_line = store_core.score_line
function M.score_line(rec)
  return write_line(rec) or json.encode(M.score_fields(rec))
end

-- ---- statistics ----

--- Wilson score interval for k successes in n trials.
function M.wilson(k, n, z)
  z = z or 1.959963984540054
  if n == 0 then return 0, 1 end
  local p = k / n
  local z2 = z * z
  local den = 1 + z2 / n
  local centre = (p + z2 / (2 * n)) / den
  local half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / den
  return math.max(0, centre - half), math.min(1, centre + half)
end

-- Latencies in bounded memory: a count per bucket 1/1024 wide in log space
-- (values within 0.1% share one), with the exact count, sum, min and max.
-- Keeping every latency for exact ranks cost 8 MB at 200,000 questions and
-- grew with the run; a run's summary must not.
local LOG_STEP = math.log(1 + 1 / 1024)
local ZERO = math.mininteger -- the bucket of latencies <= 0

function M.latencies()
  return { n = 0, sum = 0, min = math.huge, max = -math.huge, buckets = {} }
end

function M.latency_add(h, v)
  h.n, h.sum = h.n + 1, h.sum + v
  if v < h.min then h.min = v end
  if v > h.max then h.max = v end
  local k = v > 0 and math.floor(math.log(v) / LOG_STEP) or ZERO
  h.buckets[k] = (h.buckets[k] or 0) + 1
end

--- Nearest-rank quantiles of the latencies for each p in ps (ascending):
--- within 0.1% of the exact ones, the extreme ranks exact.
function M.latency_quantiles(h, ps)
  local out = {}
  if h.n == 0 then return out end
  local keys = {}
  for k in pairs(h.buckets) do keys[#keys + 1] = k end
  table.sort(keys)
  local i, cum = 1, 0
  for j, p in ipairs(ps) do
    local r = math.min(h.n, math.max(1, math.ceil(p * h.n)))
    while cum + h.buckets[keys[i]] < r do
      cum = cum + h.buckets[keys[i]]
      i = i + 1
    end
    local k = keys[i]
    local v = k == ZERO and 0 or math.exp((k + 0.5) * LOG_STEP)
    if r == 1 or v < h.min then v = h.min end
    if r == h.n or v > h.max then v = h.max end
    out[j] = v
  end
  return out
end

-- the texts of small integer keys (rungs), made once: tostring was a tenth
-- of reading a run's summary
local int_text = {}
for i = 0, 63 do int_text[i] = tostring(i) end

local function group_add(groups, key, correct)
  if key == nil then return end
  if type(key) ~= "string" then
    key = math.type(key) == "integer" and int_text[key] or tostring(key)
  end
  local g = groups[key]
  if not g then
    g = { n = 0, correct = 0 }
    groups[key] = g
  end
  g.n = g.n + 1
  if correct then g.correct = g.correct + 1 end
end

local function finish_groups(groups)
  local out = {}
  for k, g in pairs(groups) do
    local lo, hi = M.wilson(g.correct, g.n)
    out[k] = { n = g.n, accuracy = g.n > 0 and g.correct / g.n or json.null, ci = { lo, hi } }
  end
  return out
end

--- Whether a score line counts in accuracy: a question the file got wrong
--- (bad_question: no ground truth, bad JSON...) is no fault of the model's,
--- and is counted apart as invalid. A failed request does count, as wrong:
--- a provider that drops hard questions must not raise a model's score.
function M.counts(s) return s.e ~= "bad_question" end

-- the fields of a score line (score_fields) the summary reads, after the
-- line itself. A field that holds an object or array (a damaged line)
-- reads as json.container: one group for all such lines, where decoding
-- each made a group of each table's address (or of an address used again)
local SCORE = json.picker({}, { "e" }, { "ft" }, { "j" }, { "s" }, { "ti" }, { "to" }, { "k" }, { "kc" }, { "ag" },
  { "c" }, { "u" }, { "l" }, { "cached" }, { "f" }, { "d" }, { "r" })

--- Per-model summaries of a run from the scores database: n, scored (parsed
--- answers), accuracy over scored-or-not (unparseable and errors count as
--- wrong), a Wilson 95% interval, unparseable, errors by class, invalid
--- questions (not in n), latencies, tokens, and accuracy by family,
--- difficulty and rung. nil, message when the scores cannot be read.
function M.summarize(st, run)
  local models, order = {}, {}
  for i, label in ipairs(run.models or {}) do
    local key = M.model_key(label)
    models[key] = { model = label, n = 0, scored = 0, correct = 0, unparseable = 0, errors = 0, error_classes = {}, invalid = 0,
                    lat = M.latencies(), tokens_in = 0, tokens_out = 0, cached = 0, fam = {}, diff = {}, rung = {},
                    sampled = nil, judged = nil }
    order[i] = key
  end
  local per_q = #order > 1 and {} or nil -- question -> model -> 0/1, for paired comparisons
  local samples_k = type(run.mode) == "table" and run.mode.samples or nil
  -- a model's lines at a time (its keys' prefix): the key need not be
  -- split, and a line's fields are read without making its table (the
  -- summary is read once a run ends: 5 us a line, json.decode and the
  -- split most of it)
  local m, mk, prefix_len
  local function add(qid, e, ft, j, sc, ti, to, sk, kc, ag, c, u, l, cached, f, d, r)
    if e == "bad_question" then -- not M.counts
      m.invalid = m.invalid + 1
      return
    end
    if ft then
      -- graded by a model, or not at all: a figure of its own
      local jd = m.judged or { n = 0, graded = 0, sum = 0, errors = 0 }
      m.judged = jd
      jd.n = jd.n + 1
      if j then jd.graded, jd.sum = jd.graded + 1, jd.sum + (tonumber(sc) or 0)
      elseif e then jd.errors = jd.errors + 1 end
      m.tokens_in = m.tokens_in + (tonumber(ti) or 0)
      m.tokens_out = m.tokens_out + (tonumber(to) or 0)
      return
    end
    if samples_k then
      -- an error counts as K wrong samples, as it counts as wrong elsewhere
      local items = m.sampled or {}
      m.sampled = items
      items[#items + 1] = { n = tonumber(sk) or samples_k, c = tonumber(kc) or 0, majority_correct = c == 1,
                            agreement = tonumber(ag) }
    end
    m.n = m.n + 1
    local correct = c == 1
    if per_q then
      local row = per_q[qid]
      if not row then
        row = {}
        per_q[qid] = row
      end
      row[mk] = correct and 1 or 0
    end
    if e then
      m.errors = m.errors + 1
      -- a class that is not text (a damaged line's null, number or list)
      -- is counted as one, by a name JSON can hold as a key
      local class = type(e) == "string" and e or "invalid"
      m.error_classes[class] = (m.error_classes[class] or 0) + 1
    elseif u then
      m.unparseable = m.unparseable + 1
    else
      m.scored = m.scored + 1
    end
    if correct then m.correct = m.correct + 1 end
    if type(l) == "number" and not e then M.latency_add(m.lat, l) end
    m.tokens_in = m.tokens_in + (tonumber(ti) or 0)
    m.tokens_out = m.tokens_out + (tonumber(to) or 0)
    if cached then m.cached = m.cached + 1 end
    group_add(m.fam, f, correct)
    group_add(m.diff, d, correct)
    group_add(m.rung, r, correct)
  end
  local container = json.container
  local function visit(k, v)
    local ok, top, e, ft, j, sc, ti, to, sk, kc, ag, c, u, l, cached, f, d, r = SCORE:pick(v)
    if not ok or top ~= container then return end -- no object: not a score line
    return add(per_q and sub(k, prefix_len + 1) or nil, e, ft, j, sc, ti, to, sk, kc, ag, c, u, l, cached, f, d, r)
  end
  -- What st:score_sums added up in C (the lines of a model as a score line
  -- is written), before the lines it left to visit: merged into the
  -- model's fresh totals, so its latency sum goes on from this one as the
  -- lines' own would.
  local function merge(t)
    m.n, m.scored, m.correct = m.n + t.n, m.scored + t.scored, m.correct + t.correct
    m.unparseable, m.errors, m.invalid = m.unparseable + t.unparseable, m.errors + t.errors, m.invalid + t.invalid
    m.cached = m.cached + t.cached
    m.tokens_in, m.tokens_out = m.tokens_in + t.tokens_in, m.tokens_out + t.tokens_out
    for class, n in pairs(t.classes) do m.error_classes[class] = (m.error_classes[class] or 0) + n end
    if t.lat_n > 0 then
      local h = m.lat
      h.n, h.sum, h.min, h.max = t.lat_n, t.lat_sum, t.lat_min, t.lat_max
      for k, n in pairs(t.buckets) do h.buckets[k] = n end
    end
    for name, groups in pairs({ fam = m.fam, diff = m.diff, rung = m.rung }) do
      for k, g in pairs(t[name]) do groups[k] = { n = g.n, correct = g.correct } end
    end
  end
  -- per question (two models) and samples are Lua's alone (and every line,
  -- with M._lua_summary set: the spec's reference)
  local summed = not per_q and not samples_k and not M._lua_summary and st.score_sums
  local ok, err = true, nil
  for _, key in ipairs(order) do
    m, mk = models[key], key
    local prefix = run.id .. M.SEP .. key .. M.SEP
    prefix_len = #prefix
    if summed then
      ok, err = st:score_sums(DB.scores, prefix, LOG_STEP, ZERO, merge, visit)
    else
      ok, err = st:scan(DB.scores, prefix, visit)
    end
    if not ok then break end
  end
  if not ok then return nil, err end
  local out = {}
  local wall = (run.finished or os.time()) - (run.started or run.created or os.time())
  for _, key in ipairs(order) do
    local m = models[key]
    local lat = m.lat
    local q = M.latency_quantiles(lat, { 0.5, 0.95, 0.99 })
    local lo, hi = M.wilson(m.correct, m.n)
    out[#out + 1] = {
      model = m.model, n = m.n, scored = m.scored, correct = m.correct,
      accuracy = m.n > 0 and m.correct / m.n or json.null,
      ci = { lo, hi },
      unparseable = m.unparseable,
      unparseable_rate = m.n > 0 and m.unparseable / m.n or 0,
      errors = m.errors, error_classes = m.error_classes, invalid = m.invalid,
      latency_ms = {
        mean = lat.n > 0 and lat.sum / lat.n or json.null,
        p50 = q[1] or json.null,
        p95 = q[2] or json.null,
        p99 = q[3] or json.null,
      },
      throughput = wall > 0 and m.n / wall or json.null,
      tokens = { input = m.tokens_in, output = m.tokens_out, total = m.tokens_in + m.tokens_out },
      cached = m.cached,
      by_family = finish_groups(m.fam),
      by_difficulty = finish_groups(m.diff),
      by_rung = finish_groups(m.rung),
    }
    local row = out[#out]
    if m.sampled then
      row.samples = require("causal_eval.samples").summarize(m.sampled,
        { k_values = { 1, samples_k }, temperature = run.mode.temperature })
      row.samples.k = samples_k
    end
    if m.judged then
      local j = m.judged
      row.judged = { n = j.n, graded = j.graded, errors = j.errors, mean_score = j.graded > 0 and j.sum / j.graded or json.null,
                     model = run.mode and run.mode.judge and run.mode.judge.model.label or json.null }
    end
  end
  return out, per_q and M.comparisons(order, models, per_q) or nil
end

--- Every pair of a run's models on the questions both answered: the paired
--- difference with a bootstrap interval, McNemar's p, Holm-corrected (the
--- causal_eval.stats API; a fixed seed, so a table printed twice is the same).
function M.comparisons(order, models, per_q)
  local stats = require "causal_eval.stats"
  local rows, ps = {}, {}
  -- in question order: pairs() visits them in an order that changes from
  -- one process to the next, and so did the bootstrap's resamples
  local qids = {}
  for q in pairs(per_q) do qids[#qids + 1] = q end
  table.sort(qids)
  for i = 1, #order do
    for j = i + 1, #order do
      local a, b = {}, {}
      for _, q in ipairs(qids) do
        local row = per_q[q]
        if row[order[i]] and row[order[j]] then
          a[#a + 1], b[#b + 1] = row[order[i]], row[order[j]]
        end
      end
      if #a > 0 then
        local d = stats.paired(b, a, { iters = 2000, seed = 0 })
        local mc = stats.mcnemar(b, a)
        rows[#rows + 1] = { a = models[order[i]].model, b = models[order[j]].model, n = #a, diff = d.diff,
                            ci = { d.low, d.high }, p_mcnemar = mc.p }
        ps[#ps + 1] = mc.p
      end
    end
  end
  local holm = stats.holm(ps)
  for k, r in ipairs(rows) do r.p_holm = holm[k] end
  return rows
end

-- ---- totals the PostgreSQL store keeps ----

--- Whether a store keeps daily totals per model and run (PostgreSQL: a
--- trend, the 30-day average or the latest runs' accuracies read those, not
--- every score line).
function M.has_totals(st) return st:backend() == "postgresql" end

--- Per run and model: { [run_id] = { [model key] = { n, correct, errors,
--- invalid } } } for the runs given (tables with id); nil, message.
function M.run_totals(st, runs)
  local ids = {}
  for i, r in ipairs(runs) do ids[i] = r.id end
  local out = {}
  for _, r in ipairs(runs) do out[r.id] = {} end
  if #ids == 0 then return out end
  local rows, err = st:totals{ by = "run_model", runs = ids }
  if not rows then return nil, err end
  for _, t in ipairs(rows) do
    local per = out[t.run]
    if per then
      per[t.model] = { n = t.counted, correct = t.correct, errors = t.errors, invalid = t.answers - t.counted }
    end
  end
  return out
end

--- A run's models with n, accuracy and its interval from run_totals' entry
--- for it, in the run's order (as summarize gives them).
function M.accuracies(run, per)
  local out = {}
  for _, label in ipairs(run.models or {}) do
    local t = per and per[M.model_key(label)] or { n = 0, correct = 0 }
    local lo, hi = M.wilson(t.correct, t.n)
    out[#out + 1] = { model = label, n = t.n, accuracy = t.n > 0 and t.correct / t.n or json.null, ci = { lo, hi } }
  end
  return out
end

-- ---- the table people read ----

local function pct(x) return type(x) == "number" and ("%.1f%%"):format(x * 100) or "-" end
local function ms(x) return type(x) == "number" and ("%.0f"):format(x) or "-" end
local function cell(acc, ci)
  if type(acc) ~= "number" then return "-" end
  return ("%5.1f%% [%4.1f,%5.1f]"):format(acc * 100, ci[1] * 100, ci[2] * 100)
end

local function pad(s, w, right)
  local n = #s
  if n >= w then return s end
  return right and (s .. (" "):rep(w - n)) or ((" "):rep(w - n) .. s)
end

--- The summary of a run as text: one row per model, then accuracy by family,
--- difficulty and rung with models as columns (#1, #2, ... as numbered in the
--- first table). Every accuracy has its Wilson 95% interval.
function M.format_summary(run, summaries, comparisons)
  local out = {}
  local function line(s) out[#out + 1] = s end
  line(("run %s: %s%s"):format(run.id, run.status or "?",
    type(run.elapsed) == "number" and ("  (%.1f s)"):format(run.elapsed) or ""))
  local mode_lib = require "causal_eval.mode"
  if not mode_lib.is_default(run.mode) then line("mode: " .. mode_lib.describe(run.mode)) end
  line("")
  local head = { "#", "model", "n", "accuracy", "95% CI", "unparseable", "errors", "mean ms", "p50 ms", "p95 ms",
                 "p99 ms", "q/s", "tokens in/out" }
  local rows = { head }
  for i, s in ipairs(summaries) do
    rows[#rows + 1] = {
      "#" .. i, s.model, tostring(s.n), pct(s.accuracy),
      ("[%s, %s]"):format(pct(s.ci[1]), pct(s.ci[2])), pct(s.unparseable_rate), tostring(s.errors),
      ms(s.latency_ms.mean), ms(s.latency_ms.p50), ms(s.latency_ms.p95), ms(s.latency_ms.p99),
      type(s.throughput) == "number" and ("%.1f"):format(s.throughput) or "-",
      ("%d/%d"):format(s.tokens.input, s.tokens.output),
    }
  end
  local widths = {}
  for _, r in ipairs(rows) do
    for c, v in ipairs(r) do widths[c] = math.max(widths[c] or 0, #v) end
  end
  for _, r in ipairs(rows) do
    local cells = {}
    for c, v in ipairs(r) do cells[c] = pad(v, widths[c], c <= 2) end
    line(table.concat(cells, "  "))
  end
  for i, s in ipairs(summaries) do
    if next(s.error_classes) then
      local parts = {}
      for k, v in pairs(s.error_classes) do parts[#parts + 1] = k .. " " .. v end
      table.sort(parts)
      line(("#%d errors: %s"):format(i, table.concat(parts, ", ")))
    end
    if (s.invalid or 0) > 0 then
      line(("#%d invalid questions, not counted in n or accuracy: %d (bad_question records)"):format(i, s.invalid))
    end
    if s.samples then
      for _, l in ipairs(require("causal_eval.samples").format(s.samples)) do line(("#%d %s"):format(i, l)) end
    end
    if s.judged then
      local j = s.judged
      if type(j.model) ~= "string" then
        line(("#%d free-text answers (not in n or accuracy): %d, not graded: give --judge MODEL"):format(i, j.n))
      else
        line(("#%d free-text answers, graded by %s (not in n or accuracy): %d, graded %d, mean score %s, judge errors %d")
          :format(i, j.model, j.n, j.graded, type(j.mean_score) == "number" and ("%.3f"):format(j.mean_score) or "-",
            j.errors))
      end
    end
  end
  for _, grp in ipairs({ { "family", "by_family" }, { "difficulty", "by_difficulty" }, { "rung", "by_rung" } }) do
    local keys, seen = {}, {}
    for _, s in ipairs(summaries) do
      for k in pairs(s[grp[2]]) do
        if not seen[k] then
          seen[k] = true
          keys[#keys + 1] = k
        end
      end
    end
    if #keys > 0 then
      table.sort(keys, function(a, b)
        local na, nb = tonumber(a), tonumber(b)
        if na and nb then return na < nb end
        if grp[1] == "difficulty" then
          local order = { easy = 1, medium = 2, hard = 3 }
          if order[a] and order[b] then return order[a] < order[b] end
        end
        return a < b
      end)
      local kw = #grp[1]
      for _, k in ipairs(keys) do kw = math.max(kw, #k) end
      line("")
      local hdr = { pad(grp[1], kw, true), pad("n", 5) }
      for i in ipairs(summaries) do hdr[#hdr + 1] = pad("#" .. i, 21) end
      line(table.concat(hdr, "  "))
      for _, k in ipairs(keys) do
        local n = 0
        local cells = { pad(k, kw, true), "" }
        for _, s in ipairs(summaries) do
          local g = s[grp[2]][k]
          if g then n = math.max(n, g.n) end
          cells[#cells + 1] = pad(g and cell(g.accuracy, g.ci) or "-", 21)
        end
        cells[2] = pad(tostring(n), 5)
        line(table.concat(cells, "  "))
      end
    end
  end
  if comparisons and #comparisons > 0 then
    line("")
    line("paired differences (B - A on the questions both answered; McNemar, Holm-corrected):")
    for _, c in ipairs(comparisons) do
      local ia, ib
      for i, s in ipairs(summaries) do
        if s.model == c.a then ia = i end
        if s.model == c.b then ib = i end
      end
      line(("  #%d - #%d  %+6.1f%%  [%+.1f%%, %+.1f%%]  n=%d  p=%.4g  p(Holm)=%.4g"):format(ib or 0, ia or 0, c.diff * 100,
        c.ci[1] * 100, c.ci[2] * 100, c.n, c.p_mcnemar, c.p_holm))
    end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
