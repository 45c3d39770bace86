-- SPDX-License-Identifier: MIT
-- Per-endpoint figures of a load test: requests, failures and their
-- reasons, and response times in a histogram, so memory stays fixed however
-- long the run (an hour at 20,000 req/s is 72 million samples). Buckets are
-- exact below 256 µs and 1/128 wide (under 0.8%) above, like HdrHistogram
-- with two significant digits; percentiles are nearest-rank on them.
local M = {}

local floor, huge = math.floor, math.huge

local Stats = {}
Stats.__index = Stats

function M.new()
  return setmetatable({
    by_method = {},     -- method -> name -> entry
    entries = {},       -- in order of first request
    failures = {},      -- "method\0name\0reason" -> count
    errors = {},        -- task error message -> { count, task }
    n = 0, fails = 0,   -- totals, for progress lines
  }, Stats)
end

local function bucket(us)
  local e = 0
  while us >= 256 do
    us = us >> 1
    e = e + 1
  end
  return e * 256 + us
end

-- The middle of a bucket, in µs.
local function bucket_value(b)
  local e, v = b // 256, b % 256
  if e == 0 then return v end
  return ((v << e) + ((v + 1) << e) - 1) / 2
end
M._bucket, M._bucket_value = bucket, bucket_value

--- Records one request: its time in seconds, and why it failed (nil: it did not).
function Stats:record(method, name, seconds, reason)
  local by = self.by_method[method]
  if not by then
    by = {}
    self.by_method[method] = by
  end
  local e = by[name]
  if not e then
    e = { method = method, name = name, n = 0, fails = 0, sum = 0, min = huge, max = 0, hist = {} }
    by[name] = e
    self.entries[#self.entries + 1] = e
  end
  e.n = e.n + 1
  e.sum = e.sum + seconds
  if seconds > e.max then e.max = seconds end
  if seconds < e.min then e.min = seconds end
  local us = floor(seconds * 1e6 + 0.5)
  if us < 0 then us = 0 end
  local b = bucket(us)
  local h = e.hist
  h[b] = (h[b] or 0) + 1
  self.n = self.n + 1
  if reason then
    e.fails = e.fails + 1
    self.fails = self.fails + 1
    local k = method .. "\0" .. name .. "\0" .. reason
    self.failures[k] = (self.failures[k] or 0) + 1
  end
end

--- Records an error raised by a task (or by on_start): message -> count.
function Stats:task_error(task, message)
  local e = self.errors[message]
  if e then e.count = e.count + 1
  else self.errors[message] = { count = 1, task = task } end
end

local PERCENTILES = { 50, 90, 95, 99 }

local function row(method, name, n, fails, sum, min, max, hist, elapsed)
  local r = {
    method = method, name = name, requests = n, failures = fails,
    fail_ratio = n > 0 and fails / n or 0,
    rps = elapsed > 0 and n / elapsed or 0,
    fail_rps = elapsed > 0 and fails / elapsed or 0,
  }
  if n == 0 then return r end
  r.avg_ms = sum / n * 1e3
  r.min_ms, r.max_ms = min * 1e3, max * 1e3
  local keys = {}
  for b in pairs(hist) do keys[#keys + 1] = b end
  table.sort(keys)
  local cum, k = 0, 1
  for _, p in ipairs(PERCENTILES) do
    local rank = math.max(1, math.ceil(p / 100 * n))
    while cum < rank do
      cum = cum + hist[keys[k]]
      k = k + 1
    end
    local v = bucket_value(keys[k - 1]) / 1e3
    if v < r.min_ms then v = r.min_ms end
    if v > r.max_ms then v = r.max_ms end
    r["p" .. p .. "_ms"] = v
  end
  return r
end

--- The figures over elapsed seconds: { endpoints = {rows by name, method},
--- total = row, failures = { {method, name, reason, count} }, errors = { {message, task, count} } }.
--- A row: method, name, requests, failures, fail_ratio, rps, fail_rps, and
--- with requests: avg_ms, min_ms, max_ms, p50_ms, p90_ms, p95_ms, p99_ms.
function Stats:summary(elapsed)
  local out = { endpoints = {}, failures = {}, errors = {} }
  local n, fails, sum, min, max, hist = 0, 0, 0, huge, 0, {}
  for _, e in ipairs(self.entries) do
    out.endpoints[#out.endpoints + 1] = row(e.method, e.name, e.n, e.fails, e.sum, e.min, e.max, e.hist, elapsed)
    n, fails, sum = n + e.n, fails + e.fails, sum + e.sum
    if e.min < min then min = e.min end
    if e.max > max then max = e.max end
    for b, c in pairs(e.hist) do hist[b] = (hist[b] or 0) + c end
  end
  table.sort(out.endpoints, function(a, b)
    if a.name ~= b.name then return a.name < b.name end
    return a.method < b.method
  end)
  out.total = row(nil, "total", n, fails, sum, min, max, hist, elapsed)
  for k, count in pairs(self.failures) do
    local method, name, reason = k:match("^(.-)%z(.-)%z(.*)$")
    out.failures[#out.failures + 1] = { method = method, name = name, reason = reason, count = count }
  end
  table.sort(out.failures, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.name .. a.reason < b.name .. b.reason
  end)
  for message, e in pairs(self.errors) do
    out.errors[#out.errors + 1] = { message = message, task = e.task, count = e.count }
  end
  table.sort(out.errors, function(a, b)
    if a.count ~= b.count then return a.count > b.count end
    return a.message < b.message
  end)
  return out
end

return M
