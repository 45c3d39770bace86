-- SPDX-License-Identifier: MIT
-- Tuning policies: Lua functions that the runner calls every interval with
-- live statistics and the current settings, and that return new settings
-- within their bounds. A policy is plain Lua, so a researcher can write one.
--
--   stats:    { interval, p50, p95 (seconds, this interval; nil when no answer),
--               throughput (answers/s), responses, limited (429s), errors,
--               error_rate, rate_429, cpu (0..1 of the machine), memory (0..1 of RAM) }
--   settings: { concurrency, rate, batch_size }
--   policy(stats, settings) -> new settings (a table; missing fields unchanged)
--
--   local tuning = require "causal_eval.tuning"
--   runner.run{ ..., policy = tuning.aimd{ min = 1, max = 256 } }
--   tuning.DynamicConfig.auto_tune{ target_cpu_utilization = 0.8, target_memory_utilization = 0.7,
--                                   target_latency_p95 = 2.0 }
local M = {}

local function clamp(v, lo, hi) return math.max(lo, math.min(hi, v)) end

--- Additive increase, multiplicative decrease on concurrency, as TCP does
--- with its window: one more request in flight each quiet interval; on 429s
--- (or p95 above target_p95, when given) back off to `decrease` of it.
--- opts: min (1), max (256), increase (1), decrease (0.85), target_p95, max_429_rate (0).
function M.aimd(opts)
  opts = opts or {}
  local lo, hi = opts.min or 1, opts.max or 256
  local inc, dec = opts.increase or 1, opts.decrease or 0.85
  local max_429 = opts.max_429_rate or 0
  return function(stats, settings)
    local c = settings.concurrency
    local congested = (stats.rate_429 or 0) > max_429 or
      (opts.target_p95 and stats.p95 and stats.p95 > opts.target_p95)
    if congested then
      c = math.floor(c * dec)
    elseif (stats.responses or 0) > 0 then
      c = c + inc
    end
    return { concurrency = clamp(c, lo, hi) }
  end
end

--- The batch-size rule of the product's documentation: halve the batch
--- when p95 latency is above `slow` (5 s), double it when p95 is under
--- `fast` (1 s) while throughput is under `target_throughput`.
function M.batch_size(opts)
  opts = opts or {}
  local lo, hi = opts.min or 1, opts.max or 1024
  local slow, fast = opts.slow or 5, opts.fast or 1
  return function(stats, settings)
    local b = settings.batch_size or 10
    if stats.p95 and stats.p95 > slow then
      b = b // 2
    elseif stats.p95 and stats.p95 < fast and (not opts.target_throughput or (stats.throughput or 0) < opts.target_throughput) then
      b = b * 2
    end
    return { batch_size = clamp(b, lo, hi) }
  end
end

--- Several policies in turn; later ones see earlier ones' settings.
function M.chain(...)
  local policies = { ... }
  return function(stats, settings)
    local s = {}
    for k, v in pairs(settings) do s[k] = v end
    for _, p in ipairs(policies) do
      for k, v in pairs(p(stats, s) or {}) do s[k] = v end
    end
    return s
  end
end

M.DynamicConfig = {}

--- Concurrency steered to targets of machine use and latency: AIMD that
--- also backs off when CPU, memory or p95 latency are above their targets.
function M.DynamicConfig.auto_tune(opts)
  opts = opts or {}
  local base = M.aimd(opts)
  local cpu, mem, p95 = opts.target_cpu_utilization, opts.target_memory_utilization, opts.target_latency_p95
  local lo = opts.min or 1
  return function(stats, settings)
    local over = (cpu and stats.cpu and stats.cpu > cpu) or (mem and stats.memory and stats.memory > mem) or
      (p95 and stats.p95 and stats.p95 > p95)
    if over then
      return { concurrency = math.max(lo, math.floor(settings.concurrency * (opts.decrease or 0.85))) }
    end
    return base(stats, settings)
  end
end

--- The policy `run --optimize-for GOAL` uses from a starting concurrency,
--- and the most concurrency it may ask for.
function M.for_goal(goal, concurrency)
  if goal == "throughput" then
    local max = require("causal_eval.run.settings").ceiling(concurrency)
    return M.aimd{ min = 1, max = max }, max
  elseif goal == "latency" then
    local max = math.max(2 * concurrency, 64)
    return M.DynamicConfig.auto_tune{ target_latency_p95 = 2.0, min = 1, max = max }, max
  elseif goal == "memory" then
    return M.DynamicConfig.auto_tune{ target_memory_utilization = 0.5, min = 1, max = concurrency }, concurrency
  end
  return nil, ("--optimize-for: unknown goal '%s' (throughput, latency, memory)"):format(tostring(goal))
end

return M
