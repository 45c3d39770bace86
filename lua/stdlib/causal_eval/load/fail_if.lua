-- SPDX-License-Identifier: MIT
-- --fail-if conditions of `causal-eval load`: a run exits 1 when one holds.
--
--   COND   = [SCOPE ":"] METRIC OP VALUE
--   SCOPE  = an endpoint as the report names it ("/auth/login", "POST /auth/login",
--            "/runs/[id]"), or "any" (every endpoint); none: the total
--   METRIC = p50 p90 p95 p99 avg min max   response time; VALUE in ms (default), s or us
--          | errors                        percent of requests that failed (the % is optional)
--          | failures | requests           counts
--          | rps                           requests per second over the run
--   OP     = > >= < <=
--
--   p95>500ms   errors>1%   rps<100   /evaluate/single:p99>2s   "POST /auth/login:failures>0"   any:errors>5%
local M = {}

local LATENCY = { p50 = "p50_ms", p90 = "p90_ms", p95 = "p95_ms", p99 = "p99_ms", avg = "avg_ms", min = "min_ms", max = "max_ms" }
local METRICS = "p50, p90, p95, p99, avg, min, max, errors, failures, requests, rps"
local TO_MS = { [""] = 1, ms = 1, s = 1000, us = 0.001, ["µs"] = 0.001 }

local OPS = {
  [">"] = function(a, b) return a > b end,
  [">="] = function(a, b) return a >= b end,
  ["<"] = function(a, b) return a < b end,
  ["<="] = function(a, b) return a <= b end,
}

local function bad(text, why)
  return nil, ("--fail-if '%s': %s (e.g. p95>500ms, errors>1%%, rps<100, /evaluate/single:p99>2s)"):format(text, why)
end

--- Parses one condition: { text, scope = nil | "any" | {method, name}, metric, op, value }
--- (value in ms for times, a fraction for errors), or nil, message.
function M.parse(text)
  local scope, metric, op, rest = text:match("^(.*):%s*(%a[%w]*)%s*([<>]=?)%s*(.-)%s*$")
  if not scope then
    metric, op, rest = text:match("^%s*(%a[%w]*)%s*([<>]=?)%s*(.-)%s*$")
  end
  if not metric then return bad(text, "expected [ENDPOINT:]METRIC OP VALUE with OP one of > >= < <=") end
  metric = metric:lower()
  local num, unit = rest:match("^([%d.]+)%s*(.-)$")
  local value = num and tonumber(num)
  if not value then return bad(text, ("'%s' is not a number"):format(rest)) end
  unit = unit:lower()
  if LATENCY[metric] then
    if not TO_MS[unit] then return bad(text, ("unit '%s': a time takes ms, s or us"):format(unit)) end
    value = value * TO_MS[unit]
  elseif metric == "errors" then
    if unit ~= "" and unit ~= "%" then return bad(text, ("unit '%s': errors are a percentage"):format(unit)) end
    value = value / 100
  elseif metric == "rps" then
    if unit ~= "" and unit ~= "/s" then return bad(text, ("unit '%s': rps takes a plain number"):format(unit)) end
  elseif metric == "failures" or metric == "requests" then
    if unit ~= "" then return bad(text, ("unit '%s': %s is a count"):format(unit, metric)) end
  else
    return bad(text, ("unknown metric '%s' (one of %s)"):format(metric, METRICS))
  end
  local c = { text = text, metric = metric, op = op, value = value }
  if scope then
    scope = scope:match("^%s*(.-)%s*$")
    if scope == "" then return bad(text, "an empty endpoint before ':'") end
    if scope:lower() == "any" then
      c.scope = "any"
    else
      local method, name = scope:match("^(%u+)%s+(%S.*)$")
      c.scope = { method = method, name = name or scope }
    end
  end
  return c
end

local function measure(c, row)
  if c.metric == "errors" then return row.fail_ratio end
  if c.metric == "failures" then return row.failures end
  if c.metric == "requests" then return row.requests end
  if c.metric == "rps" then return row.rps end
  return row[LATENCY[c.metric]] -- nil without requests
end

local function show(c, v)
  if v == nil then return "no requests" end
  if c.metric == "errors" then return ("%.2f%%"):format(v * 100) end
  if c.metric == "rps" then return ("%.1f/s"):format(v) end
  if c.metric == "failures" or c.metric == "requests" then return ("%d"):format(v) end
  return ("%.1f ms"):format(v)
end

--- Evaluates c on a stats summary: holds (a run with no requests where the
--- condition looks holds too: nothing was shown to be fine), and a line
--- saying what was measured.
function M.evaluate(c, summary)
  local rows, label = {}, "total"
  if c.scope == nil then
    rows[1] = summary.total
  else
    for _, r in ipairs(summary.endpoints) do
      if c.scope == "any" or (r.name == c.scope.name and (not c.scope.method or r.method == c.scope.method)) then
        rows[#rows + 1] = r
      end
    end
    if #rows == 0 then
      local what = c.scope == "any" and "no requests at all"
        or ("no requests named '%s'%s"):format(c.scope.name, c.scope.method and (" with " .. c.scope.method) or "")
      return true, what
    end
  end
  local cmp = OPS[c.op]
  local worst
  for _, r in ipairs(rows) do
    local v = measure(c, r)
    local holds = v == nil or r.requests == 0 or cmp(v, c.value)
    local where = c.scope == nil and label or (r.method .. " " .. r.name)
    local line = ("%s %s = %s"):format(where, c.metric, show(c, v))
    if holds then return true, line end
    worst = worst or line
  end
  return false, worst
end

return M
