-- SPDX-License-Identifier: MIT
-- Latency and throughput helpers for custom benchmarks.
--
--   local monitoring = require "causal_eval.monitoring"
--   monitoring.summary{ 0.12, 0.3, ... }           -- exact: n, mean, min, max, p50, p95, p99
--   monitoring.from_histogram(h, { model_name = "m" })   -- from a causal_eval.metrics histogram
--   local w = monitoring.window(10)                 -- events per second over the last 10 s
--   w:add(1); w:rate()
local host = require "causal_eval.host"

local M = {}

--- The q-quantile of sorted samples, interpolated between order statistics
--- (numpy's default "linear" method).
function M.quantile(sorted, q)
  local n = #sorted
  if n == 0 then return nil end
  local pos = q * (n - 1) + 1
  local lo = math.floor(pos)
  local frac = pos - lo
  if lo >= n then return sorted[n] end
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo])
end

--- Exact summary of a list of numbers (the list is not modified).
function M.summary(samples)
  local s, sum = {}, 0
  for i, v in ipairs(samples) do
    if type(v) ~= "number" or v ~= v then error(("sample %d is not a number"):format(i), 2) end
    s[i] = v
    sum = sum + v
  end
  table.sort(s)
  local n = #s
  if n == 0 then return { n = 0 } end
  return {
    n = n, mean = sum / n, min = s[1], max = s[n],
    p50 = M.quantile(s, 0.5), p95 = M.quantile(s, 0.95), p99 = M.quantile(s, 0.99),
  }
end

--- The same figures from a metrics histogram (quantiles interpolated within
--- buckets, as Prometheus's histogram_quantile).
function M.from_histogram(h, tags)
  local n = h:value(tags)
  if n == 0 then return { n = 0 } end
  return {
    n = n, mean = h:sum(tags) / n,
    p50 = h:quantile(0.5, tags), p95 = h:quantile(0.95, tags), p99 = h:quantile(0.99, tags),
  }
end

local Window = {}
Window.__index = Window

--- Events per second over a sliding window of `seconds`, kept in 1/20ths.
function M.window(seconds, clock)
  local w = setmetatable({ span = seconds or 10, clock = clock or host.clock, slots = {}, n = 20 }, Window)
  w.width = w.span / w.n
  w.start = w.clock()
  return w
end

function Window:add(count, t)
  t = t or self.clock()
  local slot = math.floor(t / self.width)
  local cell = self.slots[slot % self.n]
  if not cell or cell.slot ~= slot then
    cell = { slot = slot, count = 0 }
    self.slots[slot % self.n] = cell
  end
  cell.count = cell.count + (count or 1)
end

function Window:rate(t)
  t = t or self.clock()
  local now = math.floor(t / self.width)
  local total = 0
  for _, cell in pairs(self.slots) do
    if cell.slot > now - self.n and cell.slot <= now then total = total + cell.count end
  end
  -- a window younger than its span counts only the time it has existed
  local span = math.min(self.span, math.max(t - self.start, self.width))
  return total / span
end

return M
