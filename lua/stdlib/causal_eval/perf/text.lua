-- SPDX-License-Identifier: MIT
-- `causal-eval bench` on a terminal: a table per suite (median, spread,
-- the rounds' range, target), then the comparison with a baseline and one
-- line per regression, "metric: X% slower".
local baseline = require "causal_eval.perf.baseline"

local M = {}

local TIME = { ns = 1e-9, us = 1e-6, ["µs"] = 1e-6, ms = 1e-3, s = 1 }

-- a time in the unit that shows it best: 0.0062 ms is 6.2 us
local function scaled(v, unit)
  local f = TIME[unit]
  if not f or v == 0 then return v, unit end
  local secs = math.abs(v) * f
  for _, u in ipairs({ { "s", 1 }, { "ms", 1e-3 }, { "us", 1e-6 }, { "ns", 1e-9 } }) do
    if secs >= u[2] * 0.9995 or u[1] == "ns" then return v * f / u[2], u[1] end
  end
end
M.scaled = scaled

-- four significant digits; thousands grouped from 10,000 up
local function number(v)
  if math.abs(v) >= 1e4 then
    return (("%.0f"):format(v):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^(-?),", "%1"))
  end
  return ("%.4g"):format(v)
end
M.number = number

local function fig(v, unit)
  if type(v) ~= "number" then return "-" end
  v, unit = scaled(v, unit)
  local s = number(v)
  return unit and unit ~= "" and (s .. " " .. unit) or s
end
M.figure = fig

-- "916 .. 1,393 q/s": both ends in the unit that suits the median
local function range(mt)
  local m, unit = scaled(mt.median, mt.unit)
  local f = mt.median ~= 0 and m / mt.median or 1
  return ("%s .. %s%s"):format(number(mt.min * f), number(mt.max * f), unit ~= "" and (" " .. unit) or "")
end

local function pad(s, w) return s .. (" "):rep(math.max(0, w - #s)) end
local function lpad(s, w) return (" "):rep(math.max(0, w - #s)) .. s end

local function target_text(mt)
  local t = mt.target
  if not t then return "" end
  local want = t.max and ("<= " .. fig(t.max, mt.unit)) or (">= " .. fig(t.min, mt.unit))
  if mt.target_met == nil then return want end
  return want .. (mt.target_met and ": PASS" or ": FAIL")
end

--- The results as text.
function M.results(results)
  local out = {}
  local m = results.machine or {}
  out[#out + 1] = ("causal-eval %s%s, %s; %s%s cores%s; %s rounds%s"):format(results.version or "?",
    results.revision and (" (" .. results.revision .. ")") or "", os.date("!%Y-%m-%d %H:%M UTC", results.created),
    m.cpu and (m.cpu .. ", ") or "", tostring(m.cores or "?"), m.load and (", load " .. m.load) or "",
    tostring(results.rounds), results.quick and ", --quick (small sizes: not comparable with a full run)" or "")
  for _, s in ipairs(results.suites) do
    out[#out + 1] = ""
    out[#out + 1] = ("%s: %s  [%s, %.1f s]"):format(s.name, s.description or s.file or "", s.status, s.seconds or 0)
    if s.message and #s.metrics == 0 then out[#out + 1] = "  " .. s.message end
    local rows = { { "metric", "median", "spread", "rounds (min .. max)", "target" } }
    for _, mt in ipairs(s.metrics) do
      if mt.median then
        rows[#rows + 1] = { mt.name, fig(mt.median, mt.unit), ("+-%.1f%%"):format((mt.spread or 0) * 100),
                            ("%d (%s)"):format(mt.n, range(mt)), target_text(mt) }
      else
        rows[#rows + 1] = { mt.name, "-", "", "", mt.status .. ": " .. tostring(mt.message or "") }
      end
      if mt.median and mt.status ~= "ok" and mt.message and not mt.target then
        rows[#rows][5] = mt.status .. ": " .. mt.message
      end
    end
    local w = { 0, 0, 0, 0 }
    for _, r in ipairs(rows) do
      for i = 1, 4 do w[i] = math.max(w[i], #r[i]) end
    end
    for _, r in ipairs(rows) do
      out[#out + 1] = ("  %s  %s  %s  %s  %s"):format(pad(r[1], w[1]), lpad(r[2], w[2]), lpad(r[3], w[3]),
        pad(r[4], w[4]), r[5]):gsub("%s+$", "")
    end
    for _, n in ipairs(s.notes or {}) do out[#out + 1] = "  note: " .. n end
  end
  return table.concat(out, "\n") .. "\n"
end

--- The comparison with a baseline as text: every compared metric, then
--- the regressions one per line.
function M.comparison(cmp, source)
  local out = {}
  local b = cmp.baseline or {}
  out[#out + 1] = ("baseline: %s%s%s; a metric regresses when worse by more than %g%% plus its noise"):format(
    source or "?", b.revision and not (source or ""):find(b.revision, 1, true) and (" (" .. b.revision .. ")") or "",
    b.created and (", " .. os.date("!%Y-%m-%d %H:%M UTC", b.created)) or "", cmp.threshold)
  if cmp.not_run and #cmp.not_run > 0 then
    out[#out + 1] = "  (suites of the baseline not run now: " .. table.concat(cmp.not_run, ", ") .. ")"
  end
  if cmp.baseline.quick ~= nil and cmp.quick ~= nil and cmp.baseline.quick ~= cmp.quick then
    out[#out + 1] = "  note: one of the two runs is --quick: their sizes differ, and so do their figures"
  end
  local w = 0
  for _, r in ipairs(cmp.rows) do w = math.max(w, #r.id) end
  for _, r in ipairs(cmp.rows) do
    local line
    if r.change then
      line = ("  %s  %s -> %s  %+.1f%%  %s (%s%.1f%% vs %g%% + noise %.1f%%)"):format(pad(r.id, w), fig(r.base, r.unit),
        fig(r.current, r.unit), r.delta, r.status, r.change >= 0 and "worse by " or "better by ",
        r.change >= 0 and r.change or (1 / r.ratio - 1) * 100, cmp.threshold, r.noise)
    else
      line = ("  %s  %s -> %s  %s%s"):format(pad(r.id, w), fig(r.base, r.unit), fig(r.current, r.unit), r.status,
        r.why and (": " .. r.why) or "")
    end
    out[#out + 1] = line
  end
  if #cmp.regressions > 0 then
    out[#out + 1] = ""
    out[#out + 1] = ("%d regression%s:"):format(#cmp.regressions, #cmp.regressions == 1 and "" or "s")
    for _, r in ipairs(cmp.regressions) do out[#out + 1] = baseline.describe(r) end
  end
  return table.concat(out, "\n") .. "\n"
end

return M
