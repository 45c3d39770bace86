-- SPDX-License-Identifier: MIT
-- Figures of repeated measurements: the median of a metric's rounds and how
-- far they spread, latency quantiles of many timed calls, and a coarse
-- log-spaced histogram of them for the report. Plain tables in and out.
local M = {}

local function sorted(xs)
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  return s
end
M.sorted = sorted

--- The median of a list of numbers (the mean of the middle two for an even count).
function M.median(xs)
  local s = sorted(xs)
  local n = #s
  if n == 0 then return nil end
  if n % 2 == 1 then return s[(n + 1) // 2] end
  return (s[n // 2] + s[n // 2 + 1]) / 2
end

--- Nearest-rank quantile p (0..1] of an ascending list.
function M.quantile(s, p)
  local n = #s
  if n == 0 then return nil end
  local r = math.min(n, math.max(1, math.ceil(p * n)))
  return s[r]
end

--- The rounds of one metric: n, median, min, max, mean and spread, the
--- half-range relative to the median (0.03: the rounds lie within about
--- +-3% of it). The half-range rather than a standard deviation: with the
--- three to five rounds a benchmark affords, it is the one figure that
--- says plainly how far apart the rounds fell.
function M.rounds(samples)
  local s = sorted(samples)
  local n = #s
  if n == 0 then return { n = 0 } end
  local sum = 0
  for _, v in ipairs(s) do sum = sum + v end
  local med = M.median(s)
  local spread = 0
  if n > 1 and med ~= 0 then spread = (s[n] - s[1]) / 2 / math.abs(med) end
  return { n = n, median = med, min = s[1], max = s[n], mean = sum / n, spread = spread }
end

--- Mean and nearest-rank p50, p95, p99 and max of many timed calls (any unit).
function M.latency(times)
  local s = sorted(times)
  local sum = 0
  for _, v in ipairs(s) do sum = sum + v end
  return { n = #s, mean = #s > 0 and sum / #s or nil, p50 = M.quantile(s, 0.5), p95 = M.quantile(s, 0.95),
           p99 = M.quantile(s, 0.99), max = s[#s] }
end

--- A histogram of positive values in `bins` log-spaced bins from the
--- smallest to the largest: { edges = { bins + 1 }, counts = { bins } }.
--- Values <= 0 go in the first bin. nil for no values.
function M.histogram(values, bins)
  bins = bins or 40
  local lo, hi = math.huge, 0
  for _, v in ipairs(values) do
    if v > 0 and v < lo then lo = v end
    if v > hi then hi = v end
  end
  if hi <= 0 then return nil end
  if hi <= lo then lo, hi = lo * 0.9, lo * 1.1 end
  -- a little room on both sides, so that the extremes fall inside a bin
  lo, hi = lo / 1.001, hi * 1.001
  local step = math.log(hi / lo) / bins
  local edges, counts = {}, {}
  for i = 0, bins do edges[i + 1] = lo * math.exp(step * i) end
  for i = 1, bins do counts[i] = 0 end
  for _, v in ipairs(values) do
    local b = v > lo and math.floor(math.log(v / lo) / step) + 1 or 1
    if b > bins then b = bins end
    counts[b] = counts[b] + 1
  end
  return { edges = edges, counts = counts }
end

return M
