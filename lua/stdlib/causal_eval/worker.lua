-- SPDX-License-Identifier: MIT
-- One worker thread of `causal-eval run` (started by causal_eval.runner
-- through causal_eval.threads, in a Lua state of its own). It takes question
-- tickets from a shared counter, makes or reads the question, sends it to
-- every model (up to `concurrency` HTTP requests in flight on its own curl
-- multi handle), scores the answers and queues one record per question and
-- model to the store's writer. Everything it shares with other threads is a
-- native object attached by id; nothing Lua crosses.
local json = require "causal_eval.json"
local http = require "causal_eval.http"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local store_core = require "causal_eval.store_core"
local scoring = require "causal_eval.scoring"
local results = require "causal_eval.results"
local rng = require "causal_eval.rng"

local M = {}

-- error classes a later attempt may cure
M.RETRYABLE = { rate_limit = true, server = true, timeout = true, reset = true, connect = true, malformed = true }
M.STOP_INTERRUPT, M.STOP_AUTH, M.STOP_BUDGET = 1, 2, 3

local function attach(kind, id)
  if not id then return nil end
  return assert(shared.attach(kind, id))
end

-- ---- question sources ----

local function bench_source(cfg, tickets)
  local bench = require "causal_eval.bench"
  local fams = {}
  for i, name in ipairs(cfg.benches) do fams[i] = assert(bench.load(name)) end
  local opts = assert(bench.options(cfg.options or {}))
  local n, seed = cfg.n, cfg.seed
  return function()
    local g = tickets:next()
    if not g then return nil end
    local fam = fams[g // n + 1]
    if not fam then return nil end
    local i = g % n
    return { id = bench.question_id(fam, opts, seed, i), make = function() return bench.question(fam, opts, seed, i) end }
  end
end

-- items of a --questions file: { id, make } or { id, bad } (causal_eval.question_file)
local function file_source(cfg, tickets)
  return require("causal_eval.question_file").source(cfg, tickets)
end

local day_of = { t = -1 } -- the UTC day of a second, computed once a second

--- The stored record of one question answered (answer) or failed (err) by
--- a model, scored, and the tally bits it counts under. What depends on the
--- transfer (latency, HTTP version, cache layer, cost) the caller adds.
function M.new_record(run_id, q, label, attempt, answer, err)
  local t = os.time()
  if t ~= day_of.t then day_of.t, day_of.day = t, os.date("!%Y-%m-%d", t) end
  local rec = {
    run_id = run_id, question_id = q.id, model = label, family = q.family, domain = q.domain,
    difficulty = q.difficulty, rung = q.rung, answer_type = q.answer_type, ground_truth = q.ground_truth,
    tolerance = q.tolerance, prompt = q.prompt, attempts = attempt, finished_at = t, day = day_of.day,
  }
  local tally = store_core.DONE
  if err then
    rec.error = err
    rec.score = 0
    return rec, tally | store_core.ERROR
  end
  rec.response = answer.text
  rec.tokens = { input = answer.input_tokens, output = answer.output_tokens }
  local s = scoring.score(q, answer.text)
  rec.parsed, rec.correct, rec.score = s.parsed, s.correct, s.score
  if s.unparseable then
    rec.unparseable = s.reason
    tally = tally | store_core.UNPARSEABLE
  elseif s.correct then
    tally = tally | store_core.CORRECT
  end
  return rec, tally
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

-- ---- the worker ----

function M.main(config_json, index)
  -- a profile of the run samples this state too
  local pcore = require "causal_eval.profiling_core"
  local profiled = pcore.active() and pcore.attach()
  local cfg = assert(json.decode(config_json, "worker config"))
  local st = assert(store_core.attach(cfg.store))
  local tickets = attach("counter", cfg.tickets)
  local stop = attach("flag", cfg.stop)
  local bucket = attach("bucket", cfg.bucket)
  local tokens_sum = attach("sum", cfg.tokens_sum)
  local cost_sum = attach("sum", cfg.cost_sum)
  local done = attach("set", cfg.done)
  local latency = attach("histogram", cfg.latency)
  local meter = require("causal_eval.run_metrics").recorder()
  local next_item = cfg.source.kind == "bench" and bench_source(cfg.source, tickets) or file_source(cfg.source, tickets)
  local models = cfg.models
  local adapters, keys = {}, {}
  local use_http = false
  for i, m in ipairs(models) do
    adapters[i] = require("adapters." .. m.adapter)
    if adapters[i].kind == "http" then use_http = true end
    keys[i] = m.api_key_env and os.getenv(m.api_key_env) or nil
  end
  -- the layered cache: look a deterministic call up before sending it
  local cache, cache_read, cache_write
  if cfg.cache then
    cache = assert(require("causal_eval.cache").attach(cfg.cache.id))
    cache_read = cfg.cache.mode == "readwrite" or cfg.cache.mode == "read"
    cache_write = cfg.cache.mode == "readwrite" or cfg.cache.mode == "write"
  end
  local cache_lib = cache and require "causal_eval.cache"
  local pending_cache = {}
  local model_ids = {} -- what the cache knows a model by: its name and where it is served
  for slot, m in ipairs(cfg.models) do model_ids[slot] = (m.model or m.label) .. "@" .. (m.base_url or "") end
  for slot in ipairs(cfg.models) do pending_cache[slot] = {} end
  local function flush_cache(slot)
    local p = pending_cache[slot]
    if #p > 0 then
      cache:set_many(p, { tags = { "model:" .. cfg.models[slot].label } })
      pending_cache[slot] = {}
    end
  end
  local K = math.max(1, cfg.concurrency or 8)
  local total_concurrency = cfg.total_concurrency or K
  -- a tuning policy may change the run's concurrency while it works: each
  -- worker takes its share of the shared limit at every turn of its loop
  local limit = attach("counter", cfg.limit)
  local responses = attach("counter", cfg.responses)
  local limited = attach("counter", cfg.limited)
  local window = attach("histogram", cfg.window)
  local nworkers = math.max(1, cfg.nworkers or 1)
  local paused = attach("counter", cfg.paused) -- run:pause() from the live REPL
  local recent = attach("ring", cfg.recent)    -- run:recent(n)
  local K_max = math.max(K, cfg.max_concurrency_per_worker or K)
  local tokens_per_request = {} -- per model slot: a running mean, for the token budget headers
  local client = use_http and assert(http.client{ max_connections = K_max }) or nil
  local jitter = rng.new(rng.hash(cfg.run_id .. "|jitter"), index)
  local retries = cfg.retries or {}
  local max_attempts = retries.max_attempts or 5
  local now = host.clock
  local pause_until = {} -- per model slot: the provider asked us to slow down
  local ready = {}       -- items to send: { q, slot, attempt, at }
  local waiting = {}     -- items waiting for a retry time
  local inflight, n_inflight, tag = {}, 0, 0
  local sent, recorded, source_done = 0, 0, false
  local stop_code

  local function record(item, answer, err, res, started)
    local q, m = item.q, models[item.slot]
    local rec, tally = M.new_record(cfg.run_id, q, m.label, item.attempt, answer, err)
    if started then rec.latency_ms = (now() - started) * 1000 end
    if not err then
      if res and res.http_version then rec.http_version = res.http_version end
      if item.cached then rec.cached = item.cached end
      -- budgets
      local tin, tout = answer.input_tokens or 0, answer.output_tokens or 0
      if tin + tout > 0 then
        local mean = tokens_per_request[item.slot]
        tokens_per_request[item.slot] = mean and (0.9 * mean + 0.1 * (tin + tout)) or (tin + tout)
      end
      if tokens_sum and (tin + tout) > 0 then
        local total = tokens_sum:add(tin + tout)
        if cfg.max_tokens_total and total >= cfg.max_tokens_total then
          stop:set(M.STOP_BUDGET, ("token budget reached: %d tokens (--max-tokens-total %d)"):format(math.floor(total), cfg.max_tokens_total))
        end
      end
      if cost_sum and type(m.price) == "table" then
        local cost = (tin * (m.price.input or 0) + tout * (m.price.output or 0)) / 1e6
        rec.cost_usd = cost
        local total = cost_sum:add(cost)
        if cfg.budget_usd and total >= cfg.budget_usd then
          stop:set(M.STOP_BUDGET, ("cost budget reached: $%.4f (--budget-usd %g)"):format(total, cfg.budget_usd))
        end
      end
      if latency and rec.latency_ms then latency:add(rec.latency_ms / 1000) end
      if window and rec.latency_ms then window:add(rec.latency_ms / 1000) end
    end
    meter.record(m.label, q.family, rec)
    if recent then
      recent:push(json.encode({ question_id = q.id, model = m.label, family = q.family, parsed = rec.parsed,
                                correct = rec.correct, latency_ms = rec.latency_ms, error = rec.error and rec.error.class,
                                cached = rec.cached, at = rec.finished_at }))
    end
    local key = results.key(cfg.run_id, m.label, q.id)
    -- record and score line (what resume and the tallies count) commit together
    st:enqueue_pair("records", json.encode(rec), "scores", results.score_line(rec), key, item.slot - 1, tally)
    recorded = recorded + 1
  end

  local function fail(item, class, message, status, body, started)
    local err = { class = class, message = message, status = status }
    if body and #body > 0 then err.first_bytes = body:sub(1, 200) end
    if M.RETRYABLE[class] and item.attempt < max_attempts and not stop_code then
      local base = (retries.base or 0.5) * 2 ^ (item.attempt - 1)
      local delay = math.min(retries.cap or 30, base) * (0.5 + 0.5 * jitter:uniform())
      if item.retry_after and item.retry_after > delay then delay = item.retry_after end
      item.attempt = item.attempt + 1
      item.at = now() + delay
      waiting[#waiting + 1] = item
      return
    end
    record(item, nil, err, nil, started)
  end

  local function auth_stop(item, status)
    local m = models[item.slot]
    local var = m.api_key_env
    local msg = ("model %s: the server refused the API key (HTTP %d)%s"):format(m.label, status,
      var and ((" - check the variable %s%s"):format(var, keys[item.slot] and "" or ", which is not set")) or "")
    stop:set(M.STOP_AUTH, msg)
  end

  local function on_response(item, res)
    local started = item.started
    local m = models[item.slot]
    if res.error then
      return fail(item, res.error, res.message, nil, nil, started)
    end
    local status = res.status
    if responses then responses:add(1) end
    if status == 429 and limited then limited:add(1) end
    -- the provider's budget headers: slow down before a 429, not after. With
    -- fewer requests left in the window than could be in flight at once, or
    -- fewer tokens than those requests would use, wait for the window to reset.
    if res.remaining_requests and res.remaining_requests <= total_concurrency then
      pause_until[item.slot] = math.max(pause_until[item.slot] or 0, now() + (res.reset_requests or 1))
    end
    local per_request = tokens_per_request[item.slot]
    if res.remaining_tokens and per_request and res.remaining_tokens < per_request * total_concurrency then
      pause_until[item.slot] = math.max(pause_until[item.slot] or 0, now() + (res.reset_tokens or res.reset_requests or 1))
    end
    if status == 401 or status == 403 then
      auth_stop(item, status)
      return
    end
    if status == 429 then
      item.retry_after = res.retry_after
      if res.retry_after then pause_until[item.slot] = math.max(pause_until[item.slot] or 0, now() + res.retry_after) end
      return fail(item, "rate_limit", "HTTP 429", status, res.body, started)
    end
    if status >= 500 then return fail(item, "server", ("HTTP %d"):format(status), status, res.body, started) end
    if status < 200 or status >= 300 then
      return fail(item, "client", ("HTTP %d"):format(status), status, res.body, started)
    end
    local answer, class, message = adapters[item.slot].parse(m, res.body)
    if not answer then return fail(item, class, message, status, res.body, started) end
    if cache_write and item.cache_key then
      -- written in batches: one disk transaction for many answers
      local p = pending_cache[item.slot]
      p[#p + 1] = { item.cache_key, res.body,
                    cache_lib.request_labels(m.adapter, model_ids[item.slot], item.cache_fields or {}, item.q.family) }
      if #p >= 64 then flush_cache(item.slot) end
    end
    record(item, answer, nil, res, started)
  end

  -- one local (non-HTTP) answer, straight away
  local function answer_local(item)
    local started = now()
    local answer, class, message = adapters[item.slot].answer(models[item.slot], item.q)
    if not answer then return fail(item, class, message, nil, nil, started) end
    record(item, answer, nil, nil, started)
  end

  local function refill()
    -- one question from the source fans out to every model not yet done
    while #ready < K and not source_done and not stop_code do
      local src = next_item()
      if not src then
        source_done = true
        break
      end
      local open_slots = {} -- models that have not answered this question yet
      for slot, m in ipairs(models) do
        if not (done and done:has(results.model_key(m.label) .. "\0" .. src.id)) then open_slots[#open_slots + 1] = slot end
      end
      if #open_slots > 0 then
        if src.bad then
          for _, slot in ipairs(open_slots) do
            record({ q = { id = src.id }, slot = slot, attempt = 1 }, nil, { class = "bad_question", message = src.bad })
          end
        else
          -- a family that fails on one question costs that question, not the run
          local ok, q = pcall(src.make)
          if ok then
            for _, slot in ipairs(open_slots) do ready[#ready + 1] = { q = q, slot = slot, attempt = 1 } end
          else
            for _, slot in ipairs(open_slots) do
              record({ q = { id = src.id }, slot = slot, attempt = 1 }, nil, { class = "bad_question", message = tostring(q) })
            end
          end
        end
      end
    end
  end

  while true do
    -- a profile started while the run works (run:profile(5)) samples this state too
    if not profiled and pcore.active() then profiled = pcore.attach() elseif profiled and not pcore.active() then profiled = false end
    local hold = paused and paused:get() > 0
    if limit then
      K = math.min(K_max, math.max(1, math.ceil(limit:get() / nworkers)))
      total_concurrency = K * nworkers
    end
    local code = stop:get()
    if code then stop_code = code end
    if stop_code == M.STOP_AUTH or stop_code == M.STOP_INTERRUPT then break end
    local t = now()
    -- retries whose time has come
    if #waiting > 0 then
      local keep = {}
      for _, it in ipairs(waiting) do
        if it.at <= t then ready[#ready + 1] = it else keep[#keep + 1] = it end
      end
      waiting = keep
    end
    if not stop_code and not hold then refill() end
    -- dispatch
    local i = 1
    while not hold and i <= #ready and n_inflight < K and not stop_code do
      local item = ready[i]
      local slot = item.slot
      if (pause_until[slot] or 0) > t then
        i = i + 1
      elseif adapters[slot].kind == "local" then
        table.remove(ready, i)
        answer_local(item)
      else
        local wait = bucket and bucket:take() or 0
        if wait > 0 then
          pause_until[0] = t + wait
          break
        end
        table.remove(ready, i)
        tag = tag + 1
        local req = adapters[slot].request(models[slot], item.q, keys[slot])
        if cache and cacheable(models[slot], req) then
          item.cache_key = cache_lib.request_key(models[slot].adapter, model_ids[slot], req.body, item.q.family)
          item.cache_fields = req.fields
          if cache_read then
            local t0 = now()
            local body, layer = cache:get(item.cache_key)
            if body then
              local answer = adapters[slot].parse(models[slot], body)
              if answer then
                item.cached = layer
                record(item, answer, nil, nil, t0)
                goto continue
              end
              cache:delete(item.cache_key) -- a stored body that no longer parses
            end
          end
        end
        req.tag = tag
        req.timeout = models[slot].timeout or cfg.timeout or 60
        req.connect_timeout = models[slot].connect_timeout or cfg.connect_timeout or 10
        item.started = now()
        local ok, err = client:submit(req)
        if not ok then
          fail(item, "transport", err)
        else
          inflight[tag] = item
          n_inflight = n_inflight + 1
          sent = sent + 1
          meter.inflight:add(1)
        end
      end
      ::continue::
      if stop:get() then break end
    end
    if stop_code and n_inflight == 0 then break end
    if n_inflight == 0 and #ready == 0 and #waiting == 0 and source_done then break end
    if n_inflight > 0 then
      local timeout = 0.05
      local res_list = client:poll(timeout)
      for _, res in ipairs(res_list) do
        local item = inflight[res.tag]
        inflight[res.tag] = nil
        n_inflight = n_inflight - 1
        meter.inflight:add(-1)
        if item then on_response(item, res) end
      end
    elseif hold then
      host.sleep(0.02)
    elseif #ready > 0 or #waiting > 0 then
      -- everything is paused or waiting for a retry time
      local soonest = math.huge
      for _, it in ipairs(waiting) do soonest = math.min(soonest, it.at) end
      for s, u in pairs(pause_until) do if u > t then soonest = math.min(soonest, u) end end
      local nap = math.max(0.001, math.min(0.05, soonest - t))
      host.sleep(nap)
    end
  end
  if client then client:close() end
  if cache then
    for slot in ipairs(models) do flush_cache(slot) end
    cache:close()
  end
  if n_inflight > 0 then meter.inflight:add(-n_inflight) end
  return json.encode({ worker = index, sent = sent, recorded = recorded, abandoned = n_inflight })
end

return M
