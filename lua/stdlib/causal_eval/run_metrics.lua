-- SPDX-License-Identifier: MIT
-- The built-in metrics of `causal-eval run`, in the process's registry
-- (causal_eval.metrics): every worker state registers the same families and
-- updates them without locks; the runner adds what only it sees (cache
-- layers, memory) and serves them all on --metrics-port.
local metrics = require "causal_eval.metrics"

local M = {}

function M.families()
  return {
    duration = metrics.histogram("causal_eval_evaluation_duration_seconds",
      "Time from sending a question to a model to having its answer, per model and task",
      { "model_name", "task_type" }, { 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60 }),
    questions = metrics.counter("causal_eval_questions_total",
      "Questions answered and scored, per model, task and outcome (correct, wrong, unparseable, error)",
      { "model_name", "task_type", "outcome" }),
    errors = metrics.counter("causal_eval_errors_total", "Model calls that failed for good, per model and error class",
      { "model_name", "error_class" }),
    tokens = metrics.counter("causal_eval_tokens_total", "Tokens reported by the model servers, per model and direction",
      { "model_name", "direction" }),
    inflight = metrics.gauge("causal_eval_requests_in_flight", "Model requests sent and not yet answered"),
    cache_hits = metrics.counter("causal_eval_cache_hits_total", "Model-call cache hits per layer", { "layer" }),
    cache_misses = metrics.counter("causal_eval_cache_misses_total", "Model-call cache misses per layer", { "layer" }),
    memory = metrics.gauge("causal_eval_memory_bytes", "Resident memory of the process"),
    lua_memory = metrics.gauge("causal_eval_lua_memory_bytes", "Memory held by the Lua state of the runner"),
    native_memory = metrics.gauge("causal_eval_native_memory_bytes",
      "Memory held by native buffers outside the Lua states (store queue, memory cache)", { "kind" }),
  }
end

--- What a worker updates per record: handles per (model, task) made on first use.
function M.recorder()
  local f = M.families()
  -- nested tables of handles: no key strings built per record
  local cache = {}
  local function h(family, a, b, c)
    local t1 = cache[family]
    if not t1 then t1 = {}; cache[family] = t1 end
    local t2 = t1[a]
    if not t2 then t2 = {}; t1[a] = t2 end
    if c == nil then
      local s = t2[b]
      if not s then s = f[family]:labels(a, b); t2[b] = s end
      return s
    end
    local t3 = t2[b]
    if not t3 then t3 = {}; t2[b] = t3 end
    local s = t3[c]
    if not s then s = f[family]:labels(a, b, c); t3[c] = s end
    return s
  end
  -- what the records of a (model, task) update, found with one lookup per
  -- record; each handle made on first use, as h makes it (a series shows
  -- once it has something to count)
  local bundles = {}
  local function bundle(model, task)
    local per_model = bundles[model]
    if not per_model then per_model = {}; bundles[model] = per_model end
    local b = per_model[task]
    if not b then
      b = { questions = {} }
      per_model[task] = b
    end
    return b
  end
  return {
    inflight = f.inflight:labels(),
    -- outcome: as causal_eval.run.outcome decided it for the stored record
    record = function(model, task, rec, outcome)
      task = task or ""
      local b = bundle(model, task)
      local q = b.questions[outcome]
      if not q then q = h("questions", model, task, outcome); b.questions[outcome] = q end
      q:inc()
      if rec.error then
        h("errors", model, rec.error.class or "unknown"):inc()
      elseif rec.latency_ms then
        local d = b.duration
        if not d then d = h("duration", model, task); b.duration = d end
        d:observe(rec.latency_ms / 1000)
      end
      local tokens = rec.tokens
      if tokens then
        if tokens.input then
          local t = b.tokens_in
          if not t then t = h("tokens", model, "input"); b.tokens_in = t end
          t:inc(tokens.input)
        end
        if tokens.output then
          local t = b.tokens_out
          if not t then t = h("tokens", model, "output"); b.tokens_out = t end
          t:inc(tokens.output)
        end
      end
    end,
  }
end

--- The runner's periodic part: cache layers (as increments of counters) and memory.
function M.sampler(cache)
  local f = M.families()
  local host = require "causal_eval.host"
  local seen = {}
  return function()
    local rss = host.rss()
    f.memory:set(rss)
    f.lua_memory:set(collectgarbage("count") * 1024)
    for kind, bytes in pairs(require("causal_eval.profiling_core").native()) do f.native_memory:set(bytes, { kind = kind }) end
    if cache then
      for layer, s in pairs(cache:stats()) do
        local last = seen[layer] or { hits = 0, misses = 0 }
        if s.hits > last.hits then f.cache_hits:inc(s.hits - last.hits, { layer = layer }) end
        if s.misses > last.misses then f.cache_misses:inc(s.misses - last.misses, { layer = layer }) end
        seen[layer] = { hits = s.hits, misses = s.misses }
      end
    end
  end
end

return M
