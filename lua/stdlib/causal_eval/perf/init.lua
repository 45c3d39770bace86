-- SPDX-License-Identifier: MIT
-- causal_eval.perf: what a performance benchmark is written with. A file
-- under benchmarks/perf/ (or any path given to `causal-eval bench`) returns
--
--   local perf = require "causal_eval.perf"
--   return perf.benchmark{
--     name = "scoring", description = "one line",
--     setup = function(ctx) ctx.q = ... end,      -- once, before the first round
--     latency_test = function(ctx) ... end,       -- one call = one operation, each timed alone:
--                                                 --   latency mean, p50, p95, p99 (ms) per round
--     throughput_test = function(ctx) ... end,    -- called again and again for ctx.duration s:
--                                                 --   operations/s (return a count when one call does several)
--     measures = {                                -- anything else, one value per round
--       { name = "rss", unit = "MB", better = "lower", run = function(ctx) return ... end },
--     },
--     teardown = function(ctx) ... end,           -- always, even after an error
--   }
--
-- Every measure runs ctx.rounds times, interleaved with the others, and is
-- reported as the median of its rounds with their spread. `measures` may
-- also be a function(ctx) returning the list (sizes that depend on
-- ctx.quick). A measure's run may return a table of several values, named
-- by its `metrics` list. The runner is causal_eval.perf.runner; what ctx
-- offers is causal_eval.perf.context.
local M = {}

M.KINDS = { time = true, rate = true, size = true, count = true }

-- what a unit says about a metric: how a change in it is worded
local UNIT_KIND = { ns = "time", us = "time", ["µs"] = "time", ms = "time", s = "time",
                    B = "size", KB = "size", MB = "size", GB = "size", bytes = "size" }

--- The kind of a metric (time, rate, size or count) from its unit:
--- "q/s" and the like are rates.
function M.kind_of(unit)
  unit = unit or ""
  if UNIT_KIND[unit] then return UNIT_KIND[unit] end
  if unit:match("/s$") then return "rate" end
  return "count"
end

local DEF_FIELDS = { name = true, description = true, setup = true, teardown = true, latency_test = true,
                     throughput_test = true, measures = true, iterations = true, duration = true, warmup = true }
local MEASURE_FIELDS = { name = true, label = true, unit = true, better = true, run = true, metrics = true,
                         target = true, series = true, x = true, kind = true }
local METRIC_FIELDS = { name = true, label = true, unit = true, better = true, target = true, series = true,
                        x = true, kind = true }

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__call ~= nil
end

local function unknown(t, known)
  local bad = {}
  for k in pairs(t) do
    if not known[k] then bad[#bad + 1] = tostring(k) end
  end
  table.sort(bad)
  return bad[1]
end

-- Checks the fields a metric shares with a measure; nil or what is wrong.
local function check_metric(m, where)
  if type(m.name) ~= "string" or not m.name:match("^[%a_][%w_]*$") then
    return ("%s.name: an identifier (letters, digits, _) expected, got %s"):format(where, tostring(m.name))
  end
  if m.label ~= nil and type(m.label) ~= "string" then return where .. ".label: a string expected" end
  if m.unit ~= nil and type(m.unit) ~= "string" then return where .. ".unit: a string expected" end
  if m.better ~= nil and m.better ~= "lower" and m.better ~= "higher" then
    return ("%s.better: 'lower' or 'higher' expected, got %s"):format(where, tostring(m.better))
  end
  if m.kind ~= nil and not M.KINDS[m.kind] then
    return ("%s.kind: time, rate, size or count expected, got %s"):format(where, tostring(m.kind))
  end
  if m.target ~= nil then
    local t = m.target
    if type(t) ~= "table" or (t.max == nil and t.min == nil) then
      return where .. ".target: { max = number } or { min = number } expected"
    end
    for _, k in ipairs({ "max", "min" }) do
      if t[k] ~= nil and type(t[k]) ~= "number" then return ("%s.target.%s: a number expected"):format(where, k) end
    end
  end
  if m.series ~= nil and type(m.series) ~= "string" then return where .. ".series: a string expected" end
  if (m.series == nil) ~= (m.x == nil) then return where .. ": series and x go together" end
  if m.x ~= nil and type(m.x) ~= "number" then return where .. ".x: a number expected" end
end

--- Checks a list of measures; it or nil, message naming the field.
function M.check_measures(list, where)
  where = where or "measures"
  if type(list) ~= "table" then return nil, ("%s: a list expected, got %s"):format(where, type(list)) end
  local names = {}
  for i, m in ipairs(list) do
    local at = ("%s[%d]"):format(where, i)
    if type(m) ~= "table" then return nil, ("%s: a table expected, got %s"):format(at, type(m)) end
    local bad = unknown(m, MEASURE_FIELDS)
    if bad then
      return nil, ("%s: unknown field '%s' (a measure has name, label, unit, better, run, metrics, target, series, x)")
        :format(at, bad)
    end
    local err = check_metric(m, at)
    if err then return nil, err end
    if not callable(m.run) then return nil, ("%s.run: a function expected, got %s"):format(at, type(m.run)) end
    local metrics = m.metrics or { m }
    if type(metrics) ~= "table" or #metrics == 0 then return nil, at .. ".metrics: a non-empty list expected" end
    for j, mt in ipairs(metrics) do
      if m.metrics then
        local mat = ("%s.metrics[%d]"):format(at, j)
        if type(mt) ~= "table" then return nil, mat .. ": a table expected" end
        local b = unknown(mt, METRIC_FIELDS)
        if b then return nil, ("%s: unknown field '%s'"):format(mat, b) end
        err = check_metric(mt, mat)
        if err then return nil, err end
      end
      if names[mt.name] then return nil, ("%s: metric '%s' is named twice"):format(at, mt.name) end
      names[mt.name] = true
    end
  end
  for k in pairs(list) do
    if math.type(k) ~= "integer" then return nil, ("%s: '%s' is not a list position"):format(where, tostring(k)) end
  end
  return list
end

local Benchmark = {}
Benchmark.__index = Benchmark

--- Checks a benchmark's table; it, or nil and a message naming the field.
function M.check(def)
  if type(def) ~= "table" then return nil, ("a benchmark is a table, got %s"):format(type(def)) end
  local bad = unknown(def, DEF_FIELDS)
  if bad then
    return nil, ("unknown field '%s' (a benchmark has name, description, setup, latency_test, throughput_test, " ..
                 "measures, teardown, iterations, duration, warmup)"):format(bad)
  end
  if def.name ~= nil and (type(def.name) ~= "string" or not def.name:match("^[%a_][%w_]*$")) then
    return nil, ("name: an identifier (letters, digits, _) expected, got %s"):format(tostring(def.name))
  end
  if def.description ~= nil and type(def.description) ~= "string" then return nil, "description: a string expected" end
  for _, k in ipairs({ "setup", "teardown", "latency_test", "throughput_test" }) do
    if def[k] ~= nil and not callable(def[k]) then return nil, ("%s: a function expected, got %s"):format(k, type(def[k])) end
  end
  for _, k in ipairs({ "iterations", "warmup" }) do
    if def[k] ~= nil and (math.type(def[k]) ~= "integer" or def[k] < 0) then
      return nil, ("%s: an integer >= 0 expected, got %s"):format(k, tostring(def[k]))
    end
  end
  if def.duration ~= nil and (type(def.duration) ~= "number" or not (def.duration > 0)) then
    return nil, ("duration: seconds > 0 expected, got %s"):format(tostring(def.duration))
  end
  if def.measures ~= nil and not callable(def.measures) then
    local _, err = M.check_measures(def.measures)
    if err then return nil, err end
  end
  if def.latency_test == nil and def.throughput_test == nil and def.measures == nil then
    return nil, "nothing to measure: give latency_test, throughput_test or measures"
  end
  return setmetatable(def, Benchmark)
end

--- A benchmark file's return value: the table, checked (a mistake raises,
--- naming the field and the line that called perf.benchmark).
function M.benchmark(def)
  local b, err = M.check(def)
  if not b then error("perf.benchmark: " .. err, 2) end
  return b
end

function M.is_benchmark(v) return getmetatable(v) == Benchmark end

return M
