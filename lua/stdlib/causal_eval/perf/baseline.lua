-- SPDX-License-Identifier: MIT
-- The regression gate of `causal-eval bench`: this run's figures against a
-- baseline (an earlier --json file, or one made from a git revision by
-- causal_eval.perf.gitref). A metric regresses when it is worse than the
-- baseline by more than the threshold plus its measured noise: the
-- half-range of the baseline's rounds plus that of this run's, both
-- relative to their medians. Worse is a cost ratio, so that every kind of
-- metric reads the same way: current/baseline for one where lower is
-- better (latency, memory), baseline/current for one where higher is
-- better (a rate: 1,000 q/s down to 800 q/s is each question taking 25%
-- longer, "25% slower").
local json = require "causal_eval.json"
local runner = require "causal_eval.perf.runner"

local M = {}

M.WORDS = {
  time = { "slower", "faster" }, rate = { "slower", "faster" },
  size = { "larger", "smaller" }, count = { "worse", "better" },
}

--- Reads a --json file of `causal-eval bench`; its table, or nil and a
--- message naming the file and what is wrong with it.
function M.load(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local text = f:read("a")
  f:close()
  local d, jerr = json.decode(text, path)
  if type(d) ~= "table" then return nil, jerr or (path .. ": not a JSON object") end
  if d.format ~= runner.FORMAT then
    return nil, ("%s: field format: '%s' expected, got %s (a file written by `causal-eval bench --json`)"):format(path,
      runner.FORMAT, d.format == nil and "none" or ("'" .. tostring(d.format) .. "'"))
  end
  if type(d.suites) ~= "table" then return nil, path .. ": field suites: a list expected" end
  for i, s in ipairs(d.suites) do
    if type(s) ~= "table" or type(s.name) ~= "string" or type(s.metrics) ~= "table" then
      return nil, ("%s: suites[%d]: name and metrics expected"):format(path, i)
    end
    for j, mt in ipairs(s.metrics) do
      if type(mt) ~= "table" or type(mt.id) ~= "string" then
        return nil, ("%s: suites[%d].metrics[%d]: an id expected"):format(path, i, j)
      end
      if mt.median ~= nil and type(mt.median) ~= "number" then
        return nil, ("%s: %s: field median: a number expected"):format(path, mt.id)
      end
    end
  end
  return d
end

local function index(results)
  local by, order = {}, {}
  for _, mt in ipairs(runner.metrics(results)) do
    by[mt.id] = mt
    order[#order + 1] = mt.id
  end
  return by, order
end

--- One metric compared: { id, label, unit, kind, better, base, current,
--- ratio (cost ratio, > 1 worse), change (% worse, negative when better),
--- delta (% the median moved, in the metric's own terms),
--- noise (%), status = regression | improvement | same | new | missing |
--- info | not_compared, why }.
local function compare_one(b, c, threshold)
  local mt = c or b
  local row = { id = mt.id, label = mt.label, unit = mt.unit, kind = mt.kind or "count", better = mt.better,
                base = b and b.median, current = c and c.median, base_min = b and b.min, base_max = b and b.max,
                min = c and c.min, max = c and c.max }
  if not b then row.status = "new"; return row end
  if not c then row.status = "missing"; return row end
  if not mt.better then row.status = "info"; return row end
  if type(b.median) ~= "number" or b.status == "error" or b.status == "skipped" then
    row.status, row.why = "not_compared", "no baseline figure (" .. tostring(b.status) .. ")"
    return row
  end
  if type(c.median) ~= "number" or c.status == "error" or c.status == "skipped" then
    row.status, row.why = "not_compared", "no current figure (" .. tostring(c.status) .. ")"
    return row
  end
  local base, cur = b.median, c.median
  local ratio
  if mt.better == "lower" then
    if base <= 0 then row.status, row.why = "not_compared", "baseline is 0"; return row end
    ratio = cur / base
  else
    if cur <= 0 then
      ratio = math.huge
    else
      ratio = base / cur
    end
  end
  row.ratio = ratio
  row.change = (ratio - 1) * 100
  -- the change in the metric's own terms, for people: +1,334% for a rate 14 times higher
  row.delta = (cur - base) / math.abs(base) * 100
  row.noise = ((b.spread or 0) + (c.spread or 0)) * 100
  local limit = threshold + row.noise
  if row.change > limit then
    row.status = "regression"
  elseif ratio > 0 and (1 / ratio - 1) * 100 > limit then
    row.status = "improvement"
  else
    row.status = "same"
  end
  return row
end

--- Compares current results with a baseline. threshold in percent (10).
--- Returns { threshold, baseline = { created, revision, quick }, rows,
--- regressions, improvements }.
function M.compare(base, current, threshold)
  threshold = threshold or 10
  local bi, border = index(base)
  local ci, corder = index(current)
  local rows, regressions, improvements = {}, {}, {}
  for _, id in ipairs(corder) do
    local r = compare_one(bi[id], ci[id], threshold)
    rows[#rows + 1] = r
    if r.status == "regression" then regressions[#regressions + 1] = r end
    if r.status == "improvement" then improvements[#improvements + 1] = r end
  end
  -- a suite this run left out is not "missing" metric by metric: it is named once
  local ran, not_run, seen = {}, {}, {}
  for _, s in ipairs(current.suites or {}) do ran[s.name] = true end
  for _, s in ipairs(base.suites or {}) do
    if not ran[s.name] and not seen[s.name] then
      seen[s.name] = true
      not_run[#not_run + 1] = s.name
    end
  end
  for _, id in ipairs(border) do
    if not ci[id] and ran[id:match("^(.-)%.")] then rows[#rows + 1] = compare_one(bi[id], nil, threshold) end
  end
  return { threshold = threshold, rows = rows, regressions = regressions, improvements = improvements,
           not_run = not_run, quick = current.quick,
           baseline = { created = base.created, revision = base.revision, quick = base.quick, source = base.source } }
end

--- "cache.lmdb_hit: 23.1% slower" (or faster, larger, smaller, worse, better).
function M.describe(row)
  local words = M.WORDS[row.kind] or M.WORDS.count
  if row.status == "improvement" then
    return ("%s: %.1f%% %s"):format(row.id, (1 / row.ratio - 1) * 100, words[2])
  end
  if row.ratio == math.huge then return ("%s: fell to 0"):format(row.id) end
  return ("%s: %.1f%% %s"):format(row.id, row.change, words[1])
end

return M
