-- SPDX-License-Identifier: MIT
-- One worker thread of `causal-eval run` (started by causal_eval.runner
-- through causal_eval.threads, in a Lua state of its own). It takes question
-- tickets from a shared counter, a batch at a time, makes or reads the
-- question, sends it to every model (up to its share of the run's
-- concurrency in flight on its own curl multi handle), and queues one record
-- per question and model to the store's writer. Everything it shares with
-- other threads is a native object attached by id; nothing Lua crosses.
--
-- main() is a loop over named stages working on one table, the worker `w`:
-- settle (live settings), requeue (retries due), refill (questions in),
-- dispatch (requests out), collect (answers in) or nap. The queue's workers
-- (causal_eval.queue_worker) run the same stages with their own question
-- source and shared objects: setup(cfg, index, over), loop(w), finish(w).
local json = require "causal_eval.json"
local http = require "causal_eval.http"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local store_core = require "causal_eval.store_core"
local results = require "causal_eval.results"
local rng = require "causal_eval.rng"
local outcome = require "causal_eval.run.outcome"
local settings = require "causal_eval.run.settings"

local M = {}

M.RETRYABLE = outcome.TRANSIENT
M.STOP_INTERRUPT, M.STOP_AUTH, M.STOP_BUDGET = 1, 2, 3

--- The record of a question and its tally bits (causal_eval.run.outcome).
function M.new_record(...)
  local rec = outcome.new_record(...)
  return rec, outcome.TALLY[outcome.of(rec)]
end

local function attach(kind, id)
  if not id then return nil end
  return assert(shared.attach(kind, id))
end

local now = host.clock

-- answers a worker writes to the disk cache in one transaction
local CACHE_BATCH = 256

-- ---- question sources ----

-- questions of `causal-eval generate`, one per ticket
local function bench_source(cfg, tickets)
  local bench = require "causal_eval.bench"
  local fams = {}
  for i, name in ipairs(cfg.benches) do fams[i] = assert(bench.load(name)) end
  local opts = assert(bench.options(cfg.options or {}))
  local n, seed = cfg.n, cfg.seed
  -- one plan of each family's pairs for all the run's workers
  for i, id in ipairs(cfg.plans or {}) do bench.share_plan(fams[i], opts, seed, attach("plan", id)) end
  -- the rest of the batch a ticket starts (within its family), drawn when
  -- the first of its questions is made (bench.prepare)
  local batch_last, prepare_to = -1, nil
  local function prepare(fam, i)
    if prepare_to and i <= prepare_to then
      bench.prepare(fam, opts, seed, i, prepare_to)
      prepare_to = nil
    end
  end
  return function()
    local g = tickets:next()
    if not g then return nil end
    local fam = fams[g // n + 1]
    if not fam then return nil end
    local i = g % n
    if g > batch_last then
      batch_last = math.min(g + (tickets.left and tickets.left() or 0), (g // n + 1) * n - 1)
      prepare_to = batch_last % n
    end
    return { id = bench.question_id(fam, opts, seed, i), make = function()
      prepare(fam, i)
      return bench.question(fam, opts, seed, i)
    end }
  end
end

-- items of a --questions file: { id, q }, { id, make } or { id, bad } (causal_eval.question_file)
local function file_source(cfg, tickets)
  return require("causal_eval.question_file").source(cfg, tickets)
end

--- A worker's view of the run's tickets: next() hands them out one by one
--- from a batch taken from the shared counter in one step. The batch size
--- (evaluation.batch_size) is read again for every batch, so a tuning
--- policy or run:set changes it while the run works.
function M.batched(tickets, batch)
  local first, left = 0, 0
  return {
    next = function()
      if left == 0 then
        local got
        first, got = tickets:next(batch and math.max(1, batch:get()) or 1)
        if not first then return nil end
        left = got
      end
      local v = first
      first, left = first + 1, left - 1
      return v
    end,
    left = function() return left end,
  }
end

-- A call is looked up only when its answer is meant to be the same every
-- time: greedy decoding or a fixed seed (or the model says cache: always).
local function cacheable(model, req)
  if model.cache == "off" then return false end
  if model.cache == "always" then return true end
  local f = req.fields
  if type(f) ~= "table" then return false end
  return f.temperature == 0 or f.seed ~= nil
end

--- The run's questions as a function giving { id, make } or { id, q } (or { id, bad })
--- per ticket that tickets:next() hands out, nil when they are used up.
function M.source(cfg, tickets)
  if cfg.kind == "bench" then return bench_source(cfg, tickets) end
  return file_source(cfg, tickets)
end

-- ---- setup ----

local function open_cache(w, cfg)
  if not cfg.cache then return end
  local lib = require "causal_eval.cache"
  w.cache, w.cache_lib = assert(lib.attach(cfg.cache.id)), lib
  w.cache_read = cfg.cache.mode == "readwrite" or cfg.cache.mode == "read"
  w.cache_write = cfg.cache.mode == "readwrite" or cfg.cache.mode == "write"
  w.pending_cache, w.cache_since = {}, {}
  w.model_ids = {} -- what the cache knows a model by: its name and where it is served
  for slot, m in ipairs(w.models) do
    w.model_ids[slot] = (m.model or m.label) .. "@" .. (m.base_url or "")
    w.pending_cache[slot] = {}
  end
end

-- The run's evaluation mode (causal_eval.mode): an asker per model that
-- writes the conversation and the settings of each request, and the judge.
-- The default mode leaves w.askers nil: requests as before modes existed.
local function setup_mode(w, cfg)
  local mode = cfg.mode
  w.mode = mode
  w.mode_keys = {}
  for slot in ipairs(w.models) do w.mode_keys[slot] = "" end
  if require("causal_eval.mode").is_default(mode) then return end
  local mode_lib, prompt = require "causal_eval.mode", require "causal_eval.mode.prompt"
  local src = cfg.source or {}
  w.askers = {}
  for slot, m in ipairs(w.models) do
    w.askers[slot] = prompt.asker(mode, m, src.kind == "bench" and src.options or nil, src.seed or 0)
    w.mode_keys[slot] = mode_lib.key(mode, m.label)
  end
  w.samples = mode.samples
  if mode.judge then
    local judge = require "causal_eval.judge"
    local jm = mode.judge.model
    w.judge = {
      model = jm, adapter = require("adapters." .. jm.adapter),
      key = jm.api_key_env and os.getenv(jm.api_key_env) or nil,
      rubric = assert(judge.load(mode.judge.rubric.path, mode.judge.rubric.source)),
      -- what the cache knows the judge by: the rubric's calls are its own
      model_id = (jm.model or jm.label) .. "@" .. (jm.base_url or "") .. "#judge",
    }
    if w.judge.rubric.max_tokens then
      -- the rubric knows how long a verdict runs
      w.judge.model = setmetatable({ max_tokens = w.judge.rubric.max_tokens }, { __index = jm })
    end
  end
end

local function flush_cache(w, slot)
  local p = w.pending_cache[slot]
  if #p > 0 then
    w.cache:set_many(p, { tags = { "model:" .. w.models[slot].label } })
    w.pending_cache[slot] = {}
  end
end

-- over: fields that replace what cfg would attach (a queue's run gives
-- its own stop flag, bucket, sums, done set and question source), and the
-- optional hooks tick(w, t) (each turn of the loop) and on_settled(src,
-- outcome) (each record of a source question, and once with no outcome for
-- a question whose models all had records already); w.held counts slots
-- taken by answers not yet committed.
function M.setup(cfg, index, over)
  local w = {
    cfg = cfg, index = index, run_id = cfg.run_id, models = cfg.models, nworkers = math.max(1, cfg.nworkers or 1),
    st = assert(store_core.attach(cfg.store)),
    stop = attach("flag", cfg.stop), bucket = attach("bucket", cfg.bucket),
    tokens_sum = attach("sum", cfg.tokens_sum), cost_sum = attach("sum", cfg.cost_sum),
    done = attach("set", cfg.done), latency = attach("histogram", cfg.latency),
    -- live settings (a tuning policy, run:set) and what a policy reads
    limit = attach("counter", cfg.limit), batch = attach("counter", cfg.batch),
    responses = attach("counter", cfg.responses), limited = attach("counter", cfg.limited),
    window = attach("histogram", cfg.window), paused = attach("counter", cfg.paused),
    recent = attach("ring", cfg.recent), -- run:recent(n)
    -- the process's Prometheus families, unless the run says nothing reads
    -- them (no metrics endpoint, alert rules or REPL: cfg.metrics false)
    meter = cfg.metrics ~= false and require("causal_eval.run_metrics").recorder() or nil,
    retries = cfg.retries or {},
    adapters = {}, keys = {},
    tokens_per_request = {}, -- per model slot: a running mean, for the token budget headers
    pause_until = {},        -- per model slot: the provider asked us to slow down
    ready = {},              -- items to send: { q, slot, attempt, at }
    waiting = {},            -- items waiting for a retry time
    inflight = {}, n_inflight = 0, tag = 0, sent = 0, recorded = 0, source_done = false, held = 0,
  }
  for k, v in pairs(over or {}) do w[k] = v end
  -- the stop flag is this run's own (a queue's workers share theirs with
  -- every machine of the queue: one worker's store is not theirs)
  w.own_stop = not (over and over.stop)
  if not w.next_item then
    local view = M.batched(attach("counter", cfg.tickets), w.batch)
    w.next_item, w.batch_left = M.source(cfg.source, view), view.left
  end
  -- a run's set of answers stored before it started is made before its
  -- workers and never grows: empty (a new run), no question needs a lookup
  w.done_empty = w.done.size ~= nil and not (over and over.done) and w.done:size() == 0
  local use_http = false
  if cfg.mode and cfg.mode.judge then
    use_http = require("adapters." .. cfg.mode.judge.model.adapter).kind == "http"
  end
  for i, m in ipairs(w.models) do
    w.adapters[i] = require("adapters." .. m.adapter)
    if w.adapters[i].kind == "http" then use_http = true end
    w.keys[i] = m.api_key_env and os.getenv(m.api_key_env) or nil
  end
  open_cache(w, cfg)
  setup_mode(w, cfg)
  w.total = cfg.concurrency
  w.K = settings.share(w.total, w.nworkers, index)
  -- the connection pool allows the most a policy or run:set may ask for
  w.K_max = math.max(w.K, settings.share(cfg.max_concurrency or w.total, w.nworkers, index))
  w.client = use_http and assert(http.client{ max_connections = w.K_max, max_body = w.cfg.max_response_bytes }) or nil
  w.jitter = rng.new(rng.hash(w.run_id .. "|jitter"), index)
  return w
end

-- ---- recording ----

-- Tokens and cost of an answer: the running totals and the budgets.
-- Returns the answer's cost in USD, nil when the model has no price. The
-- totals are kept for the budgets alone (as a queue's are): without one,
-- the workers do not take turns at a shared lock for them every answer.
local function spend(w, slot, m, answer)
  local tin, tout = answer.input_tokens or 0, answer.output_tokens or 0
  local cfg, why, cost = w.cfg, nil, nil
  if tin + tout > 0 then
    local mean = w.tokens_per_request[slot]
    w.tokens_per_request[slot] = mean and (0.9 * mean + 0.1 * (tin + tout)) or (tin + tout)
    if cfg.max_tokens_total then
      why = outcome.over_budget(w.tokens_sum:add(tin + tout), nil, cfg.max_tokens_total, nil)
    end
  end
  if type(m.price) == "table" then
    cost = outcome.cost(m.price, tin, tout)
    if cfg.budget_usd then why = why or outcome.over_budget(nil, w.cost_sum:add(cost), nil, cfg.budget_usd) end
  end
  if why then w.stop:set(M.STOP_BUDGET, why) end
  return cost
end

-- the record goes to the store with its score line
local function commit(w, item, rec)
  local q, m = item.q, w.models[item.slot]
  local oc, tally, line = outcome.stored(rec)
  local meter = w.meter
  if meter then meter.record(m.label, q.family, rec, oc) end
  if w.recent then
    w.recent:push(json.encode({ question_id = q.id, model = m.label, family = q.family, parsed = rec.parsed,
                                correct = rec.correct, latency_ms = rec.latency_ms, error = rec.error and rec.error.class,
                                cached = rec.cached, at = rec.finished_at }))
  end
  -- record and score line (what resume and the tallies count) commit
  -- together, encoded by the store as it queues them
  local kept = w.st:enqueue_record(results.key(w.run_id, m.label, q.id), rec, line,
    w.tally_slot or item.slot - 1, tally)
  w.recorded = w.recorded + 1
  -- a store that failed keeps no more answers: no more questions are sent
  -- from this one on (the run's watch saw it up to 0.1 s later, the answers
  -- paid for meanwhile lost until a resume asked them again)
  if not kept and w.own_stop then w.stop:set(M.STOP_INTERRUPT, "the results store failed") end
  if w.on_settled and item.src then w.on_settled(item.src, oc) end
end

local judging = {} -- (below) a free-text answer goes to the judge before it is stored

-- One sample of a question settled: the record once all K are.
local function sample_settled(w, item, answer, err, latency, cost)
  local g = item.group
  g.parts[item.sample] = { answer = answer, err = err, attempt = item.attempt, cached = item.cached }
  if latency and latency > (g.latency or 0) then g.latency = latency end
  if cost then g.cost = (g.cost or 0) + cost end
  if not item.cached then g.all_cached = false end
  g.left = g.left - 1
  if g.left > 0 then return nil end
  local m = w.models[item.slot]
  local rec = outcome.sampled_record(w.run_id, item.q, m.label, g.parts, w.mode)
  -- the samples are asked side by side: the question took as long as the slowest
  rec.latency_ms, rec.cost_usd = g.latency, g.cost
  if g.all_cached and not rec.error then rec.cached = g.parts[1].cached end
  return rec
end

local function record(w, item, answer, err, res, started)
  if item.judge_of then return judging.settled(w, item, answer, err, started) end
  local q, m = item.q, w.models[item.slot]
  local latency = started and (now() - started) * 1000 or nil
  local cost
  if not err then
    cost = spend(w, item.slot, m, answer)
    if latency then
      if w.latency then w.latency:add(latency / 1000) end
      if w.window then w.window:add(latency / 1000) end
    end
  end
  local rec
  if item.group then
    rec = sample_settled(w, item, answer, err, latency, cost)
    if not rec then return end
  else
    rec = outcome.new_record(w.run_id, q, m.label, item.attempt, answer, err, w.mode)
    rec.latency_ms, rec.cost_usd = latency, cost
    if not err then
      if res and res.http_version then rec.http_version = res.http_version end
      if item.cached then rec.cached = item.cached end
    end
  end
  if rec.needs_judge and w.judge and not rec.error then return judging.ask(w, item, rec) end
  commit(w, item, rec)
end

local function fail(w, item, class, message, status, body, started)
  local err = { class = class, message = message, status = status }
  if body and #body > 0 then err.first_bytes = body:sub(1, 200) end
  local retries = w.retries
  local asked = item.judge_of and w.judge.model or w.models[item.slot]
  local max_attempts = asked.max_attempts or retries.max_attempts or 5
  if M.RETRYABLE[class] and item.attempt < max_attempts and not w.stop_code then
    local base = (retries.base or 0.5) * 2 ^ (item.attempt - 1)
    local delay = math.min(retries.cap or 30, base) * (0.5 + 0.5 * w.jitter:uniform())
    if item.retry_after and item.retry_after > delay then delay = item.retry_after end
    item.attempt = item.attempt + 1
    item.at = now() + delay
    w.waiting[#w.waiting + 1] = item
    return
  end
  record(w, item, nil, err, nil, started)
end

local function auth_stop(w, item, status)
  local m, key = w.models[item.slot], w.keys[item.slot]
  if item.judge_of then m, key = w.judge.model, w.judge.key end
  local var = m.api_key_env
  local msg = ("%s %s: the server refused the API key (HTTP %d)%s"):format(item.judge_of and "judge" or "model",
    m.label, status, var and ((" - check the variable %s%s"):format(var, key and "" or ", which is not set")) or "")
  w.stop:set(M.STOP_AUTH, msg)
end

-- the provider's budget headers: slow down before a 429, not after. With
-- fewer requests left in the window than could be in flight at once, or
-- fewer tokens than those requests would use, wait for the window to reset.
local function heed_budget_headers(w, slot, res)
  local pause_until, total = w.pause_until, w.total
  if res.remaining_requests and res.remaining_requests <= total then
    pause_until[slot] = math.max(pause_until[slot] or 0, now() + (res.reset_requests or 1))
  end
  local per_request = w.tokens_per_request[slot]
  if res.remaining_tokens and per_request and res.remaining_tokens < per_request * total then
    pause_until[slot] = math.max(pause_until[slot] or 0, now() + (res.reset_tokens or res.reset_requests or 1))
  end
end

local function on_response(w, item, res)
  local started = item.started
  local slot = item.slot
  if res.error then return fail(w, item, res.error, res.message, nil, nil, started) end
  local status = res.status
  if w.responses then
    w.responses:add(1)
    if status == 429 then w.limited:add(1) end
  end
  heed_budget_headers(w, slot, res)
  if status == 401 or status == 403 then return auth_stop(w, item, status) end
  if status == 429 then
    item.retry_after = res.retry_after
    if res.retry_after then w.pause_until[slot] = math.max(w.pause_until[slot] or 0, now() + res.retry_after) end
    return fail(w, item, "rate_limit", "HTTP 429", status, res.body, started)
  end
  if status >= 500 then return fail(w, item, "server", ("HTTP %d"):format(status), status, res.body, started) end
  if status < 200 or status >= 300 then
    return fail(w, item, "client", ("HTTP %d"):format(status), status, res.body, started)
  end
  local m, adapter = w.models[slot], w.adapters[slot]
  if item.judge_of then m, adapter = w.judge.model, w.judge.adapter end
  local answer, class, message = adapter.parse(m, res.body)
  if not answer then return fail(w, item, class, message, status, res.body, started) end
  if w.cache_write and item.cache_key then
    -- written in batches: one disk transaction for many answers. Answers
    -- land at random keys, so a transaction writes a page or more for
    -- each, and a batch of 64 wrote its pages and the tree's upper pages
    -- four times as often as one of 256 (5% of a worker's CPU); a second
    -- bounds how long an answer waits when they come slowly
    local p = w.pending_cache[slot]
    local n = #p + 1
    p[n] = { item.cache_key, res.body, item.cache_labels }
    if n == 1 then w.cache_since[slot] = now() end
    if n >= CACHE_BATCH or now() - w.cache_since[slot] >= 1 then flush_cache(w, slot) end
  end
  record(w, item, answer, nil, res, started)
end

-- ---- stages ----

-- Live settings: this worker's share of the run's concurrency, pause, stop.
-- Returns true while the run is paused.
local function settle(w)
  local total = w.limit:get()
  if total ~= w.total then
    w.total = total
    w.K = math.min(w.K_max, math.max(1, settings.share(total, w.nworkers, w.index)))
  end
  local code = w.stop:get()
  if code then w.stop_code = code end
  return w.paused:get() > 0
end

-- retries whose time has come
local function requeue(w, t)
  if #w.waiting == 0 then return end
  local keep, ready = {}, w.ready
  for _, it in ipairs(w.waiting) do
    if it.at <= t then ready[#ready + 1] = it else keep[#keep + 1] = it end
  end
  w.waiting = keep
end

-- one question from the source fans out to every model not yet done
local function refill(w)
  local ready, models, done, batch_left = w.ready, w.models, w.done, w.batch_left
  local done_empty = w.done_empty
  -- a batch taken is made at once (up to 64 more than the share): the plan
  -- of a benchmark's pairs goes in ticket order, and another worker whose
  -- batch comes next would otherwise plan this batch's pairs itself
  while (#ready < w.K or (batch_left and batch_left() > 0 and #ready < w.K + 64)) and not w.source_done
    and not w.stop_code do
    local src = w.next_item()
    if not src then
      w.source_done = true
      break
    end
    local open_slots = {} -- models that have not answered this question yet
    for slot, m in ipairs(models) do
      if done_empty or not done:has(results.model_key(m.label) .. "\0" .. src.id) then
        open_slots[#open_slots + 1] = slot
      end
    end
    if w.on_settled then
      src.open = #open_slots
      if #open_slots == 0 then w.on_settled(src) end
    end
    local q, bad = src.q, src.bad
    if #open_slots > 0 and not bad and not q then
      -- a family that fails on one question costs that question, not the run
      local ok, made = pcall(src.make)
      if ok then q = made else bad = tostring(made) end
    end
    local k = w.samples
    for _, slot in ipairs(open_slots) do
      if bad then
        record(w, { q = { id = src.id }, slot = slot, attempt = 1, src = src }, nil, { class = "bad_question", message = bad })
      elseif k then
        -- K samples of the question, recorded together once all have settled
        local group = { parts = {}, left = k, all_cached = true }
        for i = 1, k do ready[#ready + 1] = { q = q, slot = slot, attempt = 1, src = src, group = group, sample = i } end
      else
        -- sized for the fields send and the cache add (nil until then)
        ready[#ready + 1] = { q = q, slot = slot, attempt = 1, src = src, asked = nil, started = nil,
                              cache_key = nil, cache_labels = nil }
      end
    end
  end
end

-- The cache key of a request asked of key_model, and when the run writes
-- the cache the labels its answer is stored with (as label_model's): made
-- together, one pass hashes the body and its messages.
local function cache_key(w, adapter, key_model, label_model, req, task)
  if w.cache_write then
    return w.cache_lib.request_key_labels(adapter, key_model, label_model, req.body, task, req.fields or {},
      req.field_json)
  end
  return w.cache_lib.request_key(adapter, key_model, req.body, task), nil
end

-- A cached answer to item's request, recorded; true when there was one.
-- Looks item's request up in the cache under key (asked of model through
-- adapter), and records a stored answer; true when there was one. The key
-- and labels are kept on the item, so the answer is stored once it comes.
local function from_cache(w, item, key, labels, adapter, model)
  item.cache_key, item.cache_labels = key, labels
  if not w.cache_read then return false end
  local t0 = now()
  local body, layer = w.cache:get(key)
  if not body then return false end
  local answer = adapter.parse(model, body)
  if not answer then
    w.cache:delete(key) -- a stored body that no longer parses
    return false
  end
  item.cached = layer
  record(w, item, answer, nil, nil, t0)
  return true
end

-- A cached answer to item's request, recorded; true when there was one.
local function answer_from_cache(w, item, req)
  local slot, m = item.slot, w.models[item.slot]
  if not (w.cache and cacheable(m, req)) then return false end
  -- a mode's template, examples, chain of thought or sample is a question of its own
  local mode_key = w.mode_keys[slot]
  if item.sample then mode_key = mode_key .. "s" .. item.sample end
  local key, labels = cache_key(w, m.adapter, w.model_ids[slot] .. mode_key, w.model_ids[slot], req, item.q.family)
  return from_cache(w, item, key, labels, w.adapters[slot], item.asked or m)
end

-- The question and model settings a request of item sends: the mode's
-- conversation and sample settings, else the question as it is. nil,
-- message when the mode cannot ask it (no few-shot examples for its family).
local function asked(w, item)
  local asker = w.askers and w.askers[item.slot]
  if not asker then return item.q, w.models[item.slot] end
  -- the samples of a question share one conversation, written once
  local q2 = item.q2 or (item.group and item.group.q2)
  if not q2 then
    local ok, made, err = pcall(asker.question, item.q)
    if not ok then return nil, tostring(made) end
    if not made then return nil, err end
    q2 = made
    if item.group then item.group.q2 = q2 end
  end
  item.q2 = q2
  return q2, asker.model(item.sample)
end

-- Puts item's request in flight, with m's timeouts.
local function submit(w, item, req, m)
  w.tag = w.tag + 1
  req.tag = w.tag
  req.timeout = m.timeout or w.cfg.timeout or 60
  req.connect_timeout = m.connect_timeout or w.cfg.connect_timeout or 10
  item.started = now()
  local ok, err = w.client:submit(req)
  if not ok then return fail(w, item, "transport", err) end
  w.inflight[w.tag] = item
  w.n_inflight = w.n_inflight + 1
  w.sent = w.sent + 1
  if w.meter then w.meter.inflight:add(1) end
end

local function send(w, item)
  if item.judge_of then return judging.send(w, item) end
  local slot = item.slot
  local q2, m = asked(w, item)
  if not q2 then return record(w, item, nil, { class = "mode", message = m }) end
  item.asked = m
  local req = w.adapters[slot].request(m, q2, w.keys[slot])
  if answer_from_cache(w, item, req) then return end
  return submit(w, item, req, m)
end

-- ---- the judge ----

-- A free-text answer, recorded but not yet stored: the judge is asked with
-- the rubric's prompt, its own retries, and the grade goes on the record.
function judging.ask(w, item, rec)
  local judge = require "causal_eval.judge"
  local ok, jq, jerr = pcall(judge.question, w.judge.rubric, item.q, rec.parsed or rec.response or "")
  if not ok or not jq then
    outcome.judged(rec, w.judge.model.label, nil, nil, ok and jerr or jq)
    return commit(w, item, rec)
  end
  local jitem = { q = item.q, slot = item.slot, attempt = 1, src = item.src, judge_of = rec, judge_q = jq }
  -- ahead of new questions: an answer waits for its grade before it is stored
  table.insert(w.ready, 1, jitem)
end

function judging.send(w, item)
  local j = w.judge
  local req = j.adapter.request(j.model, item.judge_q, j.key)
  -- the same response to grade is the same call: a run asked again pays no judge
  if w.cache and cacheable(j.model, req) then
    local key, labels = cache_key(w, j.model.adapter, j.model_id, j.model_id, req, item.q.family)
    if from_cache(w, item, key, labels, j.adapter, j.model) then return end
  end
  return submit(w, item, req, j.model)
end

function judging.settled(w, item, answer, err, started)
  local j, rec = w.judge, item.judge_of
  local label = j.model.label
  if err then
    outcome.judged(rec, label, nil, nil, err.message or err.class)
    return commit(w, item, rec)
  end
  local cost = spend(w, item.slot, j.model, answer)
  local grade, why = require("causal_eval.judge").read(j.rubric, answer.text)
  outcome.judged(rec, label, answer, grade, why, started and (now() - started) * 1000 or nil, cost)
  return commit(w, item, rec)
end

-- requests out, up to this worker's share
local function dispatch(w, t)
  local ready, i = w.ready, 1
  while i <= #ready and w.n_inflight + w.held < w.K and not w.stop_code do
    local item = ready[i]
    local slot = item.slot
    if (w.pause_until[slot] or 0) > t then
      i = i + 1
    elseif (item.judge_of and w.judge.adapter or w.adapters[slot]).kind == "local" then
      table.remove(ready, i)
      local started = now()
      local q2, m, class, message, answer = item.q, w.models[slot], nil, nil, nil
      if item.judge_of then
        q2, m = item.judge_q, w.judge.model
        answer, class, message = w.judge.adapter.answer(m, q2)
      else
        q2, m = asked(w, item)
        if q2 then answer, class, message = w.adapters[slot].answer(m, q2)
        else class, message = "mode", m end
      end
      if answer then record(w, item, answer, nil, nil, started)
      elseif class == "mode" then record(w, item, nil, { class = class, message = message })
      else fail(w, item, class, message, nil, nil, started) end
    else
      local wait = w.bucket and w.bucket:take() or 0
      if wait > 0 then
        w.pause_until[0] = t + wait
        break
      end
      table.remove(ready, i)
      send(w, item)
    end
    if w.stop:get() then break end
  end
end

-- answers in (up to 50 ms), or a nap while everything waits
local function collect(w, t, hold)
  if w.n_inflight > 0 then
    -- slots held by answers on their way to the store free within
    -- milliseconds: a long wait for the next answer would leave them idle
    for _, res in ipairs(w.client:poll(w.held > 0 and 0.005 or 0.05)) do
      local item = w.inflight[res.tag]
      w.inflight[res.tag] = nil
      w.n_inflight = w.n_inflight - 1
      if w.meter then w.meter.inflight:add(-1) end
      if item then on_response(w, item, res) end
    end
  elseif hold then
    host.sleep(0.02)
  elseif #w.ready > 0 or #w.waiting > 0 then
    -- everything is paused or waiting for a retry time
    local soonest = math.huge
    for _, it in ipairs(w.waiting) do soonest = math.min(soonest, it.at) end
    for _, u in pairs(w.pause_until) do if u > t then soonest = math.min(soonest, u) end end
    -- slots held by answers on their way to the store free within milliseconds
    if w.held > 0 then soonest = math.min(soonest, t + 0.005) end
    host.sleep(math.max(0.001, math.min(0.05, soonest - t)))
  end
end

function M.finish(w)
  if w.client then w.client:close() end
  if w.cache then
    for slot in ipairs(w.models) do flush_cache(w, slot) end
    w.cache:close()
  end
  if w.n_inflight > 0 and w.meter then w.meter.inflight:add(-w.n_inflight) end
  return json.encode({ worker = w.index, sent = w.sent, recorded = w.recorded, abandoned = w.n_inflight })
end

-- ---- the worker ----

--- Runs the stages until the source is used up (or the run stops) and
--- nothing is in flight.
function M.loop(w)
  -- a profile of the run samples this state too
  local pcore = require "causal_eval.profiling_core"
  local profiled = pcore.active() and pcore.attach()
  while true do
    -- a profile started while the run works (run:profile(5)) samples this state too
    if not profiled and pcore.active() then profiled = pcore.attach() elseif profiled and not pcore.active() then profiled = false end
    local t = now()
    if w.tick then w.tick(w, t) end
    local hold = settle(w)
    if w.stop_code == M.STOP_AUTH or w.stop_code == M.STOP_INTERRUPT then break end
    requeue(w, t)
    if not hold then
      if not w.stop_code then refill(w) end
      dispatch(w, t)
    end
    if w.stop_code and w.n_inflight == 0 then break end
    if w.n_inflight == 0 and #w.ready == 0 and #w.waiting == 0 and w.source_done then break end
    collect(w, t, hold)
  end
end

function M.main(config_json, index)
  -- a worker's young objects (a request, a reply, a record) live until
  -- their answer is stored, a few turns of the loop: with the young
  -- generation grown to half the heap, not a fifth, fewer of them are
  -- promoted and collected by a full pass (0.8% fewer instructions a
  -- question of `run --questions`, about 2 MB more heap; docs/development.md)
  collectgarbage("generational", 50, 100)
  local w = M.setup(assert(json.decode(config_json, "worker config")), index)
  M.loop(w)
  return M.finish(w)
end

return M
