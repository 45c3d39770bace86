-- SPDX-License-Identifier: MIT
-- The HTML performance report of `causal-eval bench -o perf.html`: one
-- self-contained page made the way the evaluation report is (its template
-- language, its page and style, its histogram), with the scalability
-- curves, the latency distributions, baseline against current, and every
-- suite's figures. Numbers shown are written beside them in data-*
-- attributes at full precision, so a test can hold the page to the JSON.
local html = require "causal_eval.report.html"
local rcharts = require "causal_eval.report.charts"
local report = require "causal_eval.report"
local template = require "causal_eval.report.template"
local baseline = require "causal_eval.perf.baseline"
local charts = require "causal_eval.perf.charts"
local text = require "causal_eval.perf.text"

local M = {}

local TO_MS = { ns = 1e-6, us = 1e-3, ["µs"] = 1e-3, ms = 1, s = 1e3 }

local function num(x)
  if type(x) ~= "number" then return "" end
  if math.type(x) == "integer" then return tostring(x) end
  return ("%.17g"):format(x)
end

-- Scalability curves: the metrics of a suite that share a series, by x.
local function curves_of(results)
  local out, by = {}, {}
  for _, s in ipairs(results.suites) do
    for _, mt in ipairs(s.metrics) do
      if mt.series and mt.median then
        local key = s.name .. "\0" .. mt.series
        local c = by[key]
        if not c then
          c = { suite = s.name, series = mt.series, unit = mt.unit, points = {},
                title = ("%s over %s"):format(mt.unit, mt.series) }
          by[key] = c
          out[#out + 1] = c
        end
        c.points[#c.points + 1] = { x = mt.x, y = mt.median, lo = mt.min, hi = mt.max,
                                    data = { class = "point", ["data-id"] = mt.id, ["data-x"] = mt.x,
                                             ["data-y"] = mt.median, ["data-min"] = mt.min, ["data-max"] = mt.max } }
      end
    end
  end
  for _, c in ipairs(out) do
    table.sort(c.points, function(a, b) return a.x < b.x end)
    -- a curve over powers of two reads best on a log-2 axis
    local pow2 = #c.points > 2
    for _, p in ipairs(c.points) do
      if p.x <= 0 or math.log(p.x, 2) % 1 ~= 0 then pow2 = false end
    end
    c.log2 = pow2 and c.points[#c.points].x / c.points[1].x >= 16
  end
  return out
end

-- Latency distributions: metrics holding one, in ms, with the p50, p95
-- and p99 of their suite's sibling metrics as marks.
local function distributions_of(results)
  local out = {}
  for _, s in ipairs(results.suites) do
    local by = {}
    for _, mt in ipairs(s.metrics) do by[mt.name] = mt end
    for _, mt in ipairs(s.metrics) do
      local d = mt.distribution
      local f = TO_MS[mt.unit]
      if d and f then
        local edges = {}
        for i, e in ipairs(d.edges) do edges[i] = e * f end
        local marks = {}
        local stem = mt.name:match("^(.*_)%w+$") or ""
        for _, q in ipairs({ "p50", "p95", "p99" }) do
          local sib = by[stem .. q]
          if sib and sib.median and TO_MS[sib.unit] then
            marks[#marks + 1] = { name = q, value = sib.median * TO_MS[sib.unit] }
          end
        end
        out[#out + 1] = { id = mt.id, suite = s.name, edges = edges, counts = d.counts, n = d.n, marks = marks }
      end
    end
  end
  return out
end

local function pairs_rows_of(cmp)
  local rows = {}
  for _, r in ipairs(cmp and cmp.rows or {}) do
    if r.change then
      rows[#rows + 1] = {
        label = r.id, base = r.base, current = r.current, base_lo = r.base_min, base_hi = r.base_max, lo = r.min,
        hi = r.max, status = r.status, note = ("%+.1f%%"):format(r.delta),
        text = function(v) return text.figure(v, r.unit) end,
        data = { class = "pair " .. r.status, ["data-id"] = r.id, ["data-base"] = r.base, ["data-current"] = r.current },
      }
    end
  end
  return rows
end

local function machine_text(m)
  m = m or {}
  local parts = {}
  if m.cpu then parts[#parts + 1] = m.cpu end
  if m.cores then parts[#parts + 1] = m.cores .. " cores" end
  if m.memory_mb then parts[#parts + 1] = ("%.0f GB"):format(m.memory_mb / 1024) end
  if m.load then parts[#parts + 1] = "load " .. m.load end
  return table.concat(parts, ", ")
end

--- The page for results (causal_eval.perf.runner's) and, if any, the
--- comparison with a baseline (causal_eval.perf.baseline's). opts: title, now.
function M.html(results, cmp, opts)
  opts = opts or {}
  local curves, dists, pairs_rows = curves_of(results), distributions_of(results), pairs_rows_of(cmp)
  local sections = {}
  if cmp then sections[#sections + 1] = { "baseline", "Baseline" } end
  if #curves > 0 then sections[#sections + 1] = { "scalability", "Scalability" } end
  if #dists > 0 then sections[#sections + 1] = { "latency", "Latency" } end
  sections[#sections + 1] = { "suites", "Suites" }
  local helpers = {
    r = results, cmp = cmp, curves = curves, distributions = dists, pairs_rows = pairs_rows, sections = sections,
    machine = machine_text(results.machine), title = opts.title or "causal-eval performance report",
    version = results.version or "?", generated = opts.now or os.time(), num = num, int = html.int,
    fig = text.figure, describe = baseline.describe,
    date = function(t) return os.date("!%Y-%m-%d %H:%M UTC", math.floor(t)) end,
  }
  function helpers.rounds(mt)
    local m, unit = text.scaled(mt.median, mt.unit)
    local f = mt.median ~= 0 and m / mt.median or 1
    local parts = {}
    for i, v in ipairs(mt.samples or {}) do parts[i] = text.number(v * f) end
    return ("%s %s"):format(table.concat(parts, ", "), unit or "")
  end
  function helpers.target(mt)
    local t = mt.target
    if not t then return "" end
    local want = t.max and ("≤ " .. text.figure(t.max, mt.unit)) or ("≥ " .. text.figure(t.min, mt.unit))
    if mt.target_met == nil then return want end
    return want .. (mt.target_met and " met" or " missed")
  end
  function helpers.curve_chart(c)
    local ideal
    local first = c.points[1]
    if first and first.x > 0 and #c.points > 1 then
      ideal = {}
      for i, p in ipairs(c.points) do ideal[i] = { x = p.x, y = first.y * p.x / first.x } end
    end
    return charts.lines{
      title = ("%s: %s"):format(c.suite, c.title), xlabel = c.series, ylabel = c.unit, log2 = c.log2,
      format = function(v) return text.number(v) end, ideal = ideal, ideal_label = "linear scaling from the first point",
      series = { { label = c.unit, color = rcharts.color(1), points = c.points,
                   data = { class = "curve", ["data-suite"] = c.suite, ["data-series"] = c.series } } },
    }
  end
  function helpers.distribution_chart(d)
    return rcharts.histogram{ title = d.id, edges = d.edges, series = { {
      label = d.id:match("[^.]+$"), color = rcharts.color(1), counts = d.counts, marks = d.marks,
      data = { class = "distribution", ["data-id"] = d.id, ["data-n"] = d.n } } } }
  end
  function helpers.pairs_chart()
    return charts.pairs{ title = "baseline and current medians", rows = pairs_rows }
  end
  local sources = report.templates()
  for k, v in pairs(require "causal_eval.perf.templates") do sources[k] = v end
  sources.style = sources.style .. sources.perf_style
  local set = template.set(sources, helpers)
  return set:render("page", { body = set:render("perf") })
end

return M
