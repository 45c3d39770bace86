-- SPDX-License-Identifier: MIT
-- The report of a load test: a table per endpoint and a total (like
-- locust's), the failures by reason, errors raised by tasks, the --fail-if
-- verdicts; and the same as one JSON document.
local json = require "causal_eval.json"

local M = {}

local function ms(v)
  if v == nil then return "-" end
  if v < 10 then return ("%.2f"):format(v) end
  if v < 100 then return ("%.1f"):format(v) end
  return ("%.0f"):format(v)
end

local function cut(s, w)
  if #s <= w then return s end
  return s:sub(1, w - 3) .. "..."
end

local COLS = { "requests", "failures", "req/s", "p50 ms", "p95 ms", "p99 ms", "max ms" }

local function cells(r)
  return {
    tostring(r.requests),
    r.failures > 0 and ("%d (%.1f%%)"):format(r.failures, r.fail_ratio * 100) or "0",
    ("%.1f"):format(r.rps),
    ms(r.p50_ms), ms(r.p95_ms), ms(r.p99_ms), ms(r.max_ms),
  }
end

--- The text report. doc: what M.document returns.
function M.text(doc)
  local out = {}
  local run = doc.run
  out[#out + 1] = ("%s against %s: %d users (%s/s), %.1f s, the tool's CPU %.0f%%%s"):format(
    run.scenario, run.host, run.users_spawned, tostring(run.spawn_rate), run.elapsed_s,
    run.elapsed_s > 0 and (run.cpu_s or 0) / run.elapsed_s * 100 or 0,
    run.stopped and (", stopped early: " .. run.stopped) or "")
  out[#out + 1] = ""
  local rows = {}
  for _, r in ipairs(doc.endpoints) do rows[#rows + 1] = { r.method, cut(r.name, 48), cells(r) } end
  rows[#rows + 1] = { "", "total", cells(doc.total) }
  local wm, wn = #"method", #"name"
  local wc = {}
  for i, c in ipairs(COLS) do wc[i] = #c end
  for _, r in ipairs(rows) do
    wm, wn = math.max(wm, #r[1]), math.max(wn, #r[2])
    for i, c in ipairs(r[3]) do wc[i] = math.max(wc[i], #c) end
  end
  local function line(m, n, cs)
    local parts = { ("%-" .. wm .. "s  %-" .. wn .. "s"):format(m, n) }
    for i, c in ipairs(cs) do parts[#parts + 1] = ("%" .. wc[i] .. "s"):format(c) end
    return (table.concat(parts, "  "):gsub("%s+$", ""))
  end
  out[#out + 1] = line("method", "name", COLS)
  for i, r in ipairs(rows) do
    if i == #rows then out[#out + 1] = line("", ("-"):rep(wn), {}) end
    out[#out + 1] = line(r[1], r[2], r[3])
  end
  if #doc.failures > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "failures:"
    for _, f in ipairs(doc.failures) do
      out[#out + 1] = ("  %7d  %s %s: %s"):format(f.count, f.method, f.name, f.reason)
    end
  end
  if #doc.errors > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "errors raised by tasks:"
    for _, e in ipairs(doc.errors) do
      out[#out + 1] = ("  %7d  %s"):format(e.count, (e.message:gsub("\n", "\n           ")))
    end
  end
  if #doc.fail_if > 0 then
    out[#out + 1] = ""
    out[#out + 1] = "fail-if:"
    local w = 0
    for _, c in ipairs(doc.fail_if) do w = math.max(w, #c.condition) end
    for _, c in ipairs(doc.fail_if) do
      out[#out + 1] = ("  %-" .. w .. "s  %-4s  %s"):format(c.condition, c.holds and "FAIL" or "ok", c.measured)
    end
  end
  return table.concat(out, "\n") .. "\n"
end

local function round(v, places)
  if v == nil then return nil end
  local m = 10 ^ places
  return math.floor(v * m + 0.5) / m
end

local function json_row(r)
  return {
    method = r.method, name = r.name, requests = r.requests, failures = r.failures,
    fail_ratio = round(r.fail_ratio, 6), rps = round(r.rps, 3), fail_rps = round(r.fail_rps, 3),
    avg_ms = round(r.avg_ms, 3), min_ms = round(r.min_ms, 3), max_ms = round(r.max_ms, 3),
    p50_ms = round(r.p50_ms, 3), p90_ms = round(r.p90_ms, 3), p95_ms = round(r.p95_ms, 3), p99_ms = round(r.p99_ms, 3),
  }
end

--- The report as plain data: run (settings and what happened), endpoints,
--- total, failures, errors, fail_if ({condition, holds, measured}).
function M.document(run, summary, verdicts)
  local doc = { run = run, endpoints = json.array(), failures = json.array(), errors = json.array(), fail_if = json.array() }
  for _, r in ipairs(summary.endpoints) do doc.endpoints[#doc.endpoints + 1] = json_row(r) end
  doc.total = json_row(summary.total)
  doc.total.method = nil
  for _, f in ipairs(summary.failures) do doc.failures[#doc.failures + 1] = f end
  for _, e in ipairs(summary.errors) do doc.errors[#doc.errors + 1] = e end
  for _, v in ipairs(verdicts or {}) do doc.fail_if[#doc.fail_if + 1] = v end
  return doc
end

function M.json(doc) return json.encode(doc) end

return M
