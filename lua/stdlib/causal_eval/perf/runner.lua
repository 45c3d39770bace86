-- SPDX-License-Identifier: MIT
-- Runs performance suites (causal_eval.perf) and gathers their figures:
-- every measure ctx.rounds times, round by round across the suite's
-- measures (so that a machine that slows down part way hits them all alike),
-- each metric as the median of its rounds with their spread, its target
-- checked. A measure that raises is an error, one that skips says why, one
-- whose run returns a second value (a message) has failed its own check;
-- the suite carries on with the rest, and its folders and servers are
-- always cleaned up.
local host = require "causal_eval.host"
local perf = require "causal_eval.perf"
local context = require "causal_eval.perf.context"
local summary = require "causal_eval.perf.summary"

local M = {}

M.FORMAT = "causal-eval-bench/1"

local clock = host.clock

-- what a mode measures when neither the benchmark nor the command line says
M.DEFAULTS = {
  quick = { rounds = 2, iterations = 100, duration = 0.25 },
  full = { rounds = 3, iterations = 1000, duration = 2 },
}

local function trace(e)
  if context.is_skip(e) then return e end
  if type(e) == "table" and e.message then return e end
  return debug.traceback(tostring(e), 2)
end

local function message(e)
  if type(e) == "table" and e.message then return tostring(e.message) end
  return tostring(e)
end

-- an error's first line for tables and messages, and the whole of it
-- (with its traceback) as the detail JUnit and the JSON keep
local function headline(e)
  local full = message(e)
  local first = full:match("^[^\n]*")
  return first, full ~= first and full or nil
end

-- The benchmark's latency_test as a measure: iterations timed calls a
-- round (after a warm-up), their mean and nearest-rank p50, p95, p99 in ms.
local function latency_measure(def, ctx, iterations, warmup)
  local lat = { "mean", "p50", "p95", "p99" }
  local metrics = {}
  for i, k in ipairs(lat) do
    metrics[i] = { name = "latency_" .. k, label = "latency, " .. k, unit = "ms", better = "lower" }
  end
  return {
    name = "latency", metrics = metrics,
    run = function()
      for _ = 1, warmup do def.latency_test(ctx) end
      local times = {}
      for i = 1, iterations do
        local t0 = clock()
        def.latency_test(ctx)
        times[i] = (clock() - t0) * 1000
      end
      ctx:samples("latency_mean", times)
      local l = summary.latency(times)
      return { latency_mean = l.mean, latency_p50 = l.p50, latency_p95 = l.p95, latency_p99 = l.p99 }
    end,
  }
end

-- The benchmark's throughput_test as a measure: called for `duration`
-- seconds, operations per second (a call may return how many it did).
local function throughput_measure(def, ctx, duration)
  return {
    name = "throughput", label = "throughput", unit = "ops/s", better = "higher",
    run = function()
      local ops, t0 = 0, clock()
      local deadline = t0 + duration
      repeat
        local k = def.throughput_test(ctx)
        ops = ops + ((type(k) == "number" and k >= 0) and k or 1)
      until clock() >= deadline
      return ops / (clock() - t0)
    end,
  }
end

local function measures_of(def, ctx, opts, mode)
  local list = {}
  local iterations = opts.iterations or (not ctx.quick and def.iterations) or mode.iterations
  local duration = opts.duration or (not ctx.quick and def.duration) or mode.duration
  local warmup = def.warmup or math.min(100, iterations // 10)
  ctx.iterations, ctx.duration = iterations, duration
  if def.latency_test then list[#list + 1] = latency_measure(def, ctx, iterations, warmup) end
  if def.throughput_test then list[#list + 1] = throughput_measure(def, ctx, duration) end
  local own = def.measures
  if own ~= nil and type(own) ~= "table" then
    local ok, l = xpcall(own, trace, ctx)
    if not ok then error(l, 0) end
    local checked, err = perf.check_measures(l, "measures(ctx)")
    if not checked then error({ message = err }, 0) end
    own = checked
  end
  for _, m in ipairs(own or {}) do list[#list + 1] = m end
  return list
end

local function new_metric(suite, m, parent)
  return {
    id = suite .. "." .. m.name, name = m.name, label = m.label or m.name, unit = m.unit or "",
    better = m.better or parent.better, kind = m.kind or parent.kind or perf.kind_of(m.unit or parent.unit),
    target = m.target or parent.target, series = m.series or parent.series, x = m.x or parent.x,
    samples = {}, status = "ok",
  }
end

local function finish_metric(mt, raw)
  local r = summary.rounds(mt.samples)
  for k, v in pairs(r) do mt[k] = v end
  if mt.status == "ok" and mt.n == 0 then mt.status = "error" end
  if mt.target and mt.median then
    local t = mt.target
    mt.target_met = (t.max == nil or mt.median <= t.max) and (t.min == nil or mt.median >= t.min)
    if not mt.target_met and mt.status == "ok" then
      mt.status = "failed"
      mt.message = ("median %.4g %s misses its target %s %.4g"):format(mt.median, mt.unit, t.max and "<=" or ">=",
        t.max or t.min)
    end
  end
  if raw and #raw > 0 then
    mt.distribution = summary.histogram(raw, 40)
    mt.distribution.n = #raw
  end
end

local function record(st, ctx, v)
  local got = type(v) == "table" and v or { [st.metrics[1].name] = v }
  for _, mt in ipairs(st.metrics) do
    local x = got[mt.name]
    if type(x) ~= "number" or x ~= x then
      error({ message = ("%s: run returned %s for metric '%s' (a number expected)"):format(st.name,
        x == nil and "nothing" or tostring(x), mt.name) }, 0)
    end
    mt.samples[#mt.samples + 1] = x
  end
  for k in pairs(got) do
    if not st.by_name[k] then
      error({ message = ("%s: run returned '%s', which is not one of its metrics"):format(st.name, tostring(k)) }, 0)
    end
  end
  ctx.round_values = got
end

local function fmt(v, unit)
  if type(v) ~= "number" then return "-" end
  return ("%.4g %s"):format(v, unit or ""):gsub("%s+$", "")
end
M.fmt = fmt

--- Runs one suite ({ name, file, def } of causal_eval.perf.suite). opts:
--- quick, rounds, iterations, duration, bin, tmp, progress (a function
--- given one line at a time), interrupted (a function: true stops after
--- the measure running).
function M.run_suite(s, opts)
  local mode = opts.quick and M.DEFAULTS.quick or M.DEFAULTS.full
  local ctx = context.new{ quick = opts.quick, rounds = opts.rounds or mode.rounds, bin = opts.bin, tmp = opts.tmp }
  local raw = {}
  function ctx:samples(metric, list)
    local t = raw[metric] or {}
    raw[metric] = t
    for _, v in ipairs(list) do t[#t + 1] = v end
  end
  local progress = opts.progress or function() end
  local def = s.def
  local out = { name = s.name, file = s.file, description = def.description, status = "ok", metrics = {},
                notes = ctx.notes, rounds = ctx.rounds }
  local t0 = clock()
  progress(("%s: %s"):format(s.name, def.description or s.file))

  local function finish(status, msg)
    local errs = ctx:cleanup()
    if #errs > 0 then
      out.notes[#out.notes + 1] = "cleanup: " .. table.concat(errs, "; ")
    end
    if status then out.status, out.message = status, msg end
    out.seconds = clock() - t0
    return out
  end

  if def.setup then
    local ok, e = xpcall(def.setup, trace, ctx)
    if not ok then
      if context.is_skip(e) then
        progress(("  skipped: %s"):format(e.reason))
        return finish("skipped", e.reason)
      end
      local first, detail = headline(e)
      progress("  setup failed: " .. first)
      out.detail = detail
      return finish("error", "setup: " .. first)
    end
  end

  local ok, list = xpcall(measures_of, trace, def, ctx, opts, mode)
  if not ok then
    if def.teardown then pcall(def.teardown, ctx) end
    local first, detail = headline(list)
    out.detail = detail
    return finish("error", first)
  end
  local states = {}
  for i, m in ipairs(list) do
    local st = { name = m.name, def = m, metrics = {}, by_name = {}, status = "ok" }
    for j, md in ipairs(m.metrics or { m }) do
      local mt = new_metric(s.name, md, m)
      st.metrics[j], st.by_name[md.name] = mt, mt
    end
    states[i] = st
  end

  local stopped = false
  for round = 1, ctx.rounds do
    ctx.round = round
    for _, st in ipairs(states) do
      if st.status == "ok" or st.status == "failed" then
        if opts.interrupted and opts.interrupted() then
          stopped = true
          break
        end
        local t1 = clock()
        local ok2, v, fail = xpcall(st.def.run, trace, ctx)
        st.seconds = (st.seconds or 0) + (clock() - t1)
        if ok2 then
          ok2, v = xpcall(record, trace, st, ctx, v)
        end
        if not ok2 then
          if context.is_skip(v) then
            st.status, st.message = "skipped", v.reason
            progress(("  %s: skipped: %s"):format(st.name, v.reason))
          else
            st.status, st.message, st.detail = "error", headline(v)
            progress(("  %s: error: %s"):format(st.name, st.message))
          end
        else
          if fail ~= nil then st.status, st.message = "failed", tostring(fail) end
          local parts = {}
          for _, mt in ipairs(st.metrics) do parts[#parts + 1] = ("%s %s"):format(mt.name, fmt(mt.samples[#mt.samples], mt.unit)) end
          progress(("  round %d/%d: %s%s"):format(round, ctx.rounds, table.concat(parts, ", "),
            fail ~= nil and ("  FAILED: " .. tostring(fail)) or ""))
        end
      end
    end
    if stopped then break end
  end

  if def.teardown then
    local okt, e = xpcall(def.teardown, trace, ctx)
    if not okt then out.notes[#out.notes + 1] = "teardown: " .. message(e) end
  end
  for _, st in ipairs(states) do
    for _, mt in ipairs(st.metrics) do
      if st.status ~= "ok" then mt.status, mt.message, mt.detail = st.status, st.message, st.detail end
      if stopped and #mt.samples == 0 and mt.status == "ok" then
        mt.status, mt.message = "interrupted", "interrupted before it ran"
      end
      mt.seconds = (st.seconds or 0) / #st.metrics
      finish_metric(mt, raw[mt.name])
      out.metrics[#out.metrics + 1] = mt
    end
  end
  local worst = "ok"
  local rank = { ok = 0, skipped = 1, interrupted = 1, failed = 2, error = 3 }
  for _, mt in ipairs(out.metrics) do
    if rank[mt.status] > rank[worst] then worst = mt.status end
  end
  -- a suite all of whose measures were skipped is skipped; one with some is not
  if worst == "skipped" then
    local any = false
    for _, mt in ipairs(out.metrics) do if mt.status == "ok" then any = true end end
    if any then worst = "ok" end
  end
  if stopped then return finish("interrupted", "interrupted") end
  return finish(worst, nil)
end

--- The revision of the source tree the program came from, when it is a git
--- checkout: "abc1234" or "abc1234+" (with uncommitted changes); or nil.
function M.revision(root)
  root = root or host.root()
  if not root then return nil end
  local q = context.quote(root)
  local p = io.popen(("git -C %s rev-parse --short HEAD 2>/dev/null"):format(q))
  local rev = p and p:read("l")
  if p then p:close() end
  if not rev or rev == "" then return nil end
  p = io.popen(("git -C %s status --porcelain --untracked-files=no 2>/dev/null | head -1"):format(q))
  local dirty = p and p:read("l")
  if p then p:close() end
  return rev .. ((dirty and dirty ~= "") and "+" or "")
end

--- Runs suites and returns every figure: { format, created, version,
--- revision, machine, quick, rounds, suites = { ... } } (the --json file).
--- opts as run_suite's, and before_suite(s, i), after_suite(s, i): called
--- around each suite (the baseline of --baseline-ref runs there).
function M.run(suites, opts)
  opts = opts or {}
  local mode = opts.quick and M.DEFAULTS.quick or M.DEFAULTS.full
  local out = {
    format = M.FORMAT, created = os.time(), version = host.version, revision = M.revision(),
    machine = context.machine(), quick = opts.quick and true or false, rounds = opts.rounds or mode.rounds,
    suites = {},
  }
  local t0 = clock()
  for i, s in ipairs(suites) do
    if opts.before_suite then opts.before_suite(s, i) end
    local r = M.run_suite(s, opts)
    if opts.after_suite then opts.after_suite(s, i) end
    out.suites[#out.suites + 1] = r
    if r.status == "interrupted" then
      out.interrupted = true
      break
    end
  end
  out.seconds = clock() - t0
  return out
end

--- Every metric of a results table, in order, with its suite.
function M.metrics(results)
  local list = {}
  for _, s in ipairs(results.suites or {}) do
    for _, mt in ipairs(s.metrics or {}) do list[#list + 1] = mt end
  end
  return list
end

return M
