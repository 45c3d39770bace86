-- SPDX-License-Identifier: MIT
-- What the runner does on its interval while the workers work: a tuning
-- policy that changes the live settings, and alert rules over live values.
-- Both read the same live objects (`live`, built by the runner):
--   limit, batch    shared counters holding the concurrency and the batch size
--   bucket          the rate's token bucket (nil when the run has no rate)
--   responses, limited   shared counters: HTTP responses and 429s so far
--   window          latencies since the tuner last looked
--   latency         every latency of this run
--   st, nmodels     the store (its tallies) and the number of models
--   min_concurrency, max_concurrency   the bounds of the live concurrency
local host = require "causal_eval.host"
local json = require "causal_eval.json"
local outcome = require "causal_eval.run.outcome"
local results = require "causal_eval.results"

local M = {}

local function mem_total()
  local f = io.open("/proc/meminfo", "r")
  if not f then return nil end
  local kb = f:read("a"):match("MemTotal:%s*(%d+)")
  f:close()
  return kb and tonumber(kb) * 1024
end

local function ncpu()
  local p = io.popen("nproc 2>/dev/null")
  if not p then return 2 end
  local n = tonumber(p:read("l")) or 2
  p:close()
  return n
end

-- 429s among the responses since the last call, per caller.
local function rate_429_meter(live)
  local last_resp, last_lim = live.responses:get(), live.limited:get()
  return function()
    local resp, lim = live.responses:get(), live.limited:get()
    local n, k = resp - last_resp, lim - last_lim
    last_resp, last_lim = resp, lim
    return n > 0 and k / n or 0, n, k
  end
end

--- Calls policy(stats, settings) every `interval` seconds with the
--- interval's statistics and applies what it returns, within the live
--- bounds. The trace keeps one entry per call: t, concurrency, rate,
--- batch_size, p50, p95, throughput, responses, limited (429s), errors.
function M.tuner(policy, interval, live)
  interval = interval or 0.1
  local settings = { concurrency = live.limit:get(), rate = live.rate or 0, batch_size = live.batch:get() }
  local t0 = host.clock()
  local last_t, last_cpu = t0, host.cpu_time()
  local last_done, last_err = 0, 0
  local cpus, ram = ncpu(), mem_total()
  local rate_429 = rate_429_meter(live)
  local self = { trace = {}, policy = policy }
  function self.tick()
    local now = host.clock()
    if now - last_t < interval then return end
    local dt = now - last_t
    local done, errs = outcome.totals(live.st, live.nmodels)
    local cpu = host.cpu_time()
    local r429, n_resp, n_lim = rate_429()
    local stats = {
      interval = dt, responses = n_resp, limited = n_lim, errors = errs - last_err, rate_429 = r429,
      throughput = (done - last_done) / dt,
      p50 = live.window:count() > 0 and live.window:quantile(0.5) or nil,
      p95 = live.window:count() > 0 and live.window:quantile(0.95) or nil,
      cpu = (cpu - last_cpu) / dt / cpus,
      memory = ram and (host.rss() / ram) or nil,
    }
    stats.error_rate = (done - last_done) > 0 and stats.errors / (done - last_done) or 0
    live.window:reset()
    last_t, last_cpu, last_done, last_err = now, cpu, done, errs
    local ok, new = pcall(self.policy, stats, { concurrency = settings.concurrency, rate = settings.rate,
                                                batch_size = settings.batch_size })
    if not ok then
      io.stderr:write("causal-eval: tuning policy failed: ", tostring(new), " (settings kept)\n")
      self.policy = function() return {} end
      return
    end
    if type(new) == "table" then
      if type(new.concurrency) == "number" and new.concurrency == new.concurrency then
        local c = math.max(live.min_concurrency, math.min(live.max_concurrency, math.floor(new.concurrency)))
        if c ~= settings.concurrency then
          live.limit:add(c - live.limit:get())
          settings.concurrency = c
        end
      end
      if type(new.rate) == "number" and new.rate >= 0 and new.rate ~= settings.rate and live.bucket then
        live.bucket:set(new.rate, math.max(1, new.rate / 10))
        settings.rate = new.rate
      end
      if type(new.batch_size) == "number" and new.batch_size == new.batch_size then
        local b = math.max(1, math.min(1000000, math.floor(new.batch_size)))
        if b ~= settings.batch_size then
          live.batch:add(b - live.batch:get())
          settings.batch_size = b
        end
      end
    end
    self.trace[#self.trace + 1] = {
      t = now - t0, concurrency = settings.concurrency, rate = settings.rate, batch_size = settings.batch_size,
      p50 = stats.p50, p95 = stats.p95, throughput = stats.throughput, responses = stats.responses,
      limited = stats.limited, errors = stats.errors,
    }
  end
  return self
end

--- Evaluates the alert rules of `engine` (causal_eval.alerts) every
--- `interval` seconds (1) over the run's live values; the log channel's
--- events are kept in the store (meta: alert \0 run \0 n).
function M.alerting(engine, interval, run_id, live, t0)
  interval = interval or 1
  local st, latency = live.st, live.latency
  local ram = mem_total()
  local last_t, last_cpu = host.clock(), host.cpu_time()
  local seq = 0
  local inflight = require("causal_eval.run_metrics").families().inflight
  local rate_429 = rate_429_meter(live)
  local self = { events = {} }
  engine.record = function(ev)
    seq = seq + 1
    st:put(results.DB.meta, ("alert\0%s\0%06d"):format(run_id, seq), json.encode(ev))
  end
  function self.tick(force)
    local now = host.clock()
    if not force and now - last_t < interval then return end
    local done, errors = outcome.totals(st, live.nmodels)
    local cpu = host.cpu_time()
    local values = {
      questions_done = done, errors = errors, error_rate = done > 0 and errors / done or 0,
      throughput = done / math.max(1e-9, now - t0),
      memory_usage_percent = ram and host.rss() / ram * 100 or nil,
      cpu_usage_percent = (cpu - last_cpu) / math.max(1e-9, now - last_t) * 100,
      inflight = inflight:value(),
      rate_429 = (rate_429()),
    }
    if latency:count() > 0 then
      values.p50_latency, values.p95_latency, values.p99_latency =
        latency:quantile(0.5), latency:quantile(0.95), latency:quantile(0.99)
    end
    last_t, last_cpu = now, cpu
    for _, ev in ipairs(engine:evaluate(values)) do self.events[#self.events + 1] = ev end
  end
  return self
end

return M
