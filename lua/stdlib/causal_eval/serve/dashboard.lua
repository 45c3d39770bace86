-- SPDX-License-Identifier: MIT
-- The dashboard of `causal-eval serve`: GET / is one self-contained page
-- (inline CSS, script and SVG; nothing fetched from anywhere but the server
-- itself), GET /dashboard/data the JSON it polls every
-- dashboard.refresh_interval seconds with the bearer token of a login made
-- on the page (kept in the tab's sessionStorage).
--
-- The figures are read from the process's metrics registry, through the
-- same text /metrics serves, so the page and a Prometheus scrape agree:
-- evaluations are causal_eval_questions_total (stored, scored answers),
-- the error rate and latencies are the answers of POST /evaluate/* in
-- causal_eval_http_requests_total (status 400 or more is an error) and
-- causal_eval_http_request_duration_seconds, memory is
-- causal_eval_memory_bytes (anonymous resident memory, set here from
-- host.rss()). Accuracy per model is what GET /results/summary answers.
-- The server keeps no history: the JSON carries cumulative counts and the
-- page takes differences between the snapshots it keeps.
--
--   local dashboard = require "causal_eval.serve.dashboard"
--   dashboard.page(values)                    -- the HTML
--   local status, body, headers = dashboard.data(ctx, req)
--   dashboard.snapshot(metrics_text, { uptime =, time =, thresholds = })
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local metrics = require "causal_eval.metrics"

local M = {}

-- the routes whose answers are evaluations, for the error rate and latencies
M.EVALUATE_ROUTES = { ["/evaluate/single"] = true, ["/evaluate/batch"] = true }

-- a summary's cost per refresh stays under 1/RECOMPUTE of a worker's time
local RECOMPUTE = 50

-- ---- SHA-256, for the page's Content-Security-Policy ----

local K256 = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
}

local function rrot(x, n) return ((x >> n) | (x << (32 - n))) & 0xffffffff end

--- The SHA-256 digest of s (32 bytes). Lua has none built in, and the
--- page's script and style are hashed once per state, so speed is moot.
function M.sha256(s)
  local h = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 }
  local len = #s
  s = s .. "\128" .. ("\0"):rep((55 - len) % 64) .. string.pack(">I8", len * 8)
  local w = {}
  for chunk = 1, #s, 64 do
    for i = 1, 16 do w[i] = string.unpack(">I4", s, chunk + (i - 1) * 4) end
    for i = 17, 64 do
      local a, b = w[i - 15], w[i - 2]
      local s0 = rrot(a, 7) ~ rrot(a, 18) ~ (a >> 3)
      local s1 = rrot(b, 17) ~ rrot(b, 19) ~ (b >> 10)
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) & 0xffffffff
    end
    local a, b, c, d, e, f, g, hh = h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8]
    for i = 1, 64 do
      local t1 = (hh + (rrot(e, 6) ~ rrot(e, 11) ~ rrot(e, 25)) + ((e & f) ~ (~e & g)) + K256[i] + w[i]) & 0xffffffff
      local t2 = ((rrot(a, 2) ~ rrot(a, 13) ~ rrot(a, 22)) + ((a & b) ~ (a & c) ~ (b & c))) & 0xffffffff
      hh, g, f, e, d, c, b, a = g, f, e, (d + t1) & 0xffffffff, c, b, a, (t1 + t2) & 0xffffffff
    end
    h[1], h[2], h[3], h[4] = (h[1] + a) & 0xffffffff, (h[2] + b) & 0xffffffff, (h[3] + c) & 0xffffffff, (h[4] + d) & 0xffffffff
    h[5], h[6], h[7], h[8] = (h[5] + e) & 0xffffffff, (h[6] + f) & 0xffffffff, (h[7] + g) & 0xffffffff, (h[8] + hh) & 0xffffffff
  end
  return string.pack(">I4I4I4I4I4I4I4I4", table.unpack(h))
end

local B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

--- s in base64 (RFC 4648, with padding).
function M.base64(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = (a << 16) | ((b or 0) << 8) | (c or 0)
    local q = {}
    for k = 1, 4 do
      local v = (n >> (6 * (4 - k))) & 63
      q[k] = B64:sub(v + 1, v + 1)
    end
    if not b then q[3] = "=" end
    if not c then q[4] = "=" end
    out[#out + 1] = table.concat(q)
  end
  return table.concat(out)
end

-- ---- the registry's text, read back ----

-- Label values as the exposition escapes them (\\, \" and \n).
local function parse_labels(s)
  local out, p = {}, 1
  while true do
    local name, q = s:match("^%s*([%a_][%w_]*)%s*=%s*\"()", p)
    if not name then break end
    local parts = {}
    while true do
      local i = s:find("[\"\\]", q)
      if not i then return nil end
      parts[#parts + 1] = s:sub(q, i - 1)
      if s:sub(i, i) == "\"" then
        p = i + 1
        break
      end
      local e = s:sub(i + 1, i + 1)
      parts[#parts + 1] = e == "n" and "\n" or e
      q = i + 2
    end
    out[name] = table.concat(parts)
    p = s:match("^%s*,?()", p)
  end
  return out
end

local function number(v)
  if v == "+Inf" or v == "Inf" then return math.huge end
  if v == "-Inf" then return -math.huge end
  return tonumber(v) -- NaN and garbage: nil
end

--- The samples of the families wanted (a set of names) in Prometheus text:
--- { name, labels = {}, value } in the order they come.
function M.parse(text, wanted)
  local out = {}
  for line in text:gmatch("[^\n]+") do
    if line:byte(1) ~= 35 then -- '#': HELP and TYPE
      local name, rest = line:match("^([%a_:][%w_:]*)(.*)$")
      if name and (not wanted or wanted[name]) then
        local labels, value = {}, nil
        if rest:sub(1, 1) == "{" then
          local inner, tail = rest:match("^{(.*)}%s+(%S+)")
          labels = inner and parse_labels(inner)
          value = tail
        else
          value = rest:match("^%s+(%S+)")
        end
        local v = value and number(value)
        if labels and v then out[#out + 1] = { name = name, labels = labels, value = v } end
      end
    end
  end
  return out
end

local WANTED = {
  causal_eval_questions_total = true, causal_eval_http_requests_total = true,
  causal_eval_http_request_duration_seconds_bucket = true, causal_eval_http_request_duration_seconds_count = true,
  causal_eval_http_request_duration_seconds_sum = true, causal_eval_memory_bytes = true,
}

--- The dashboard's cumulative counts in a metrics text: evaluations (and
--- by outcome), requests and errors of the evaluate routes, their latency
--- histogram with the routes' buckets added up ({ le, counts, count, sum },
--- le finite, counts cumulative), memory_bytes (nil when never set).
function M.counts(text)
  local c = { evaluations = 0, outcomes = {}, requests = 0, errors = 0,
              latency = { le = {}, counts = {}, count = 0, sum = 0 } }
  local buckets = {}
  for _, s in ipairs(M.parse(text, WANTED)) do
    local name, l, v = s.name, s.labels, s.value
    if name == "causal_eval_questions_total" then
      c.evaluations = c.evaluations + v
      local o = l.outcome or "?"
      c.outcomes[o] = (c.outcomes[o] or 0) + v
    elseif name == "causal_eval_memory_bytes" then
      c.memory_bytes = v
    elseif M.EVALUATE_ROUTES[l.route] then
      if name == "causal_eval_http_requests_total" then
        c.requests = c.requests + v
        if (tonumber(l.status) or 0) >= 400 then c.errors = c.errors + v end
      elseif name == "causal_eval_http_request_duration_seconds_bucket" then
        local le = number(l.le or "")
        if le and le ~= math.huge then buckets[le] = (buckets[le] or 0) + v end
      elseif name == "causal_eval_http_request_duration_seconds_count" then
        c.latency.count = c.latency.count + v
      elseif name == "causal_eval_http_request_duration_seconds_sum" then
        c.latency.sum = c.latency.sum + v
      end
    end
  end
  local les = {}
  for le in pairs(buckets) do les[#les + 1] = le end
  table.sort(les)
  for i, le in ipairs(les) do
    c.latency.le[i] = le
    c.latency.counts[i] = buckets[le]
  end
  return c
end

--- The q-quantile of a histogram (finite upper bounds le, cumulative counts,
--- count in all, the +Inf bucket included) as Prometheus's
--- histogram_quantile takes it: linear within the bucket the rank falls in,
--- the highest finite bound when it falls in +Inf; nil without observations.
function M.quantile(q, le, counts, count)
  if not count or count <= 0 then return nil end
  local rank = q * count
  local prev_le, prev_c = 0, 0
  for i = 1, #le do
    if counts[i] >= rank then
      if i == 1 and le[1] <= 0 then return le[1] end
      if counts[i] == prev_c then return le[i] end
      return prev_le + (le[i] - prev_le) * (rank - prev_c) / (counts[i] - prev_c)
    end
    prev_le, prev_c = le[i], counts[i]
  end
  return le[#le]
end

local GIB = 1024 * 1024 * 1024

--- Each figure's value over counts c taken uptime seconds after the server
--- started, with its threshold crossed or not: what the page shows on its
--- first load.
function M.figures(c, uptime, thresholds)
  local lat = c.latency
  local f = {
    evaluations_per_s = uptime and uptime > 0 and c.evaluations / uptime or nil,
    error_rate = c.requests > 0 and c.errors / c.requests or nil,
    latency_p50 = M.quantile(0.5, lat.le, lat.counts, lat.count),
    latency_p95 = M.quantile(0.95, lat.le, lat.counts, lat.count),
    latency_p99 = M.quantile(0.99, lat.le, lat.counts, lat.count),
    memory_bytes = c.memory_bytes,
  }
  local t = thresholds or {}
  f.crossed = {
    error_rate = f.error_rate ~= nil and t.error_rate ~= nil and f.error_rate > t.error_rate,
    latency_p95 = f.latency_p95 ~= nil and t.latency_p95 ~= nil and f.latency_p95 > t.latency_p95,
    memory_bytes = f.memory_bytes ~= nil and t.memory_usage_gb ~= nil and f.memory_bytes > t.memory_usage_gb * GIB,
  }
  return f
end

--- The JSON the page polls, from a metrics text: opts.time (monotonic
--- seconds, comparable between workers), opts.uptime, opts.refresh,
--- opts.thresholds, opts.accuracy.
function M.snapshot(text, opts)
  local c = M.counts(text)
  local thresholds = opts.thresholds or {}
  local lat = c.latency
  return {
    time = opts.time, uptime_s = opts.uptime, refresh_interval = opts.refresh,
    thresholds = { error_rate = thresholds.error_rate, latency_p95 = thresholds.latency_p95,
                   memory_usage_gb = thresholds.memory_usage_gb },
    evaluations = c.evaluations, outcomes = c.outcomes, requests = c.requests, errors = c.errors,
    latency = { le = json.array(lat.le), counts = json.array(lat.counts), count = lat.count, sum = lat.sum },
    memory_bytes = c.memory_bytes or json.null,
    figures = M.figures(c, opts.uptime, thresholds),
    accuracy = opts.accuracy or json.null,
  }
end

-- ---- what a worker adds: uptime, memory, the store's summary ----

-- Seconds since the process started: /proc gives its start in clock ticks
-- since boot (USER_HZ, 100 on Linux) and the time since boot. Read once per
-- state; later calls add the monotonic clock's progress.
local started_at
local function uptime()
  if started_at == nil then
    started_at = false
    local f = io.open("/proc/uptime")
    local since_boot = f and f:read("n")
    if f then f:close() end
    f = io.open("/proc/self/stat")
    local stat = f and f:read("a")
    if f then f:close() end
    local fields = {}
    for w in ((stat or ""):match("%)%s+(.*)$") or ""):gmatch("%S+") do fields[#fields + 1] = w end
    local ticks = tonumber(fields[20]) -- field 22 of stat; the fields after ")" start at 3
    if since_boot and ticks then started_at = host.clock() - (since_boot - ticks / 100) end
  end
  return started_at and math.max(0, host.clock() - started_at) or nil
end

local memory_gauge
local function sample_memory()
  memory_gauge = memory_gauge or metrics.gauge("causal_eval_memory_bytes", "Resident memory of the process")
  memory_gauge:set((host.rss()))
end

-- GET /results/summary's own answer, so the two never disagree. It scans
-- the store, so a worker recomputes it only after RECOMPUTE times what the
-- last one took (and never more often than the page polls).
local function accuracy(ctx, refresh)
  local cached = ctx.dashboard_accuracy
  local now = host.clock()
  if cached and now < cached.next then return cached.value end
  local evaluate = require "causal_eval.serve.evaluate"
  local ok, status, body = pcall(evaluate.summary, ctx, { query = {}, headers = {} })
  local took = host.clock() - now
  local value
  if not ok then
    value = { error = "the results summary failed: " .. (tostring(status):gsub("^[^:\n]*%.lua:%d+: ", "")) }
  else
    local doc = json.decode(body or "")
    if status ~= 200 or type(doc) ~= "table" then
      value = { error = type(doc) == "table" and doc.error and doc.error.message or ("the results summary answered " .. tostring(status)) }
    else
      value = { days = doc.days, since = doc.since, models = doc.models or json.array({}) }
    end
  end
  value.at = os.time()
  ctx.dashboard_accuracy = { value = value, next = now + math.max(refresh, took * RECOMPUTE) }
  return value
end

--- GET /dashboard/data: the snapshot as JSON, never cached by a browser.
function M.data(ctx)
  local d = ctx.values.dashboard
  sample_memory()
  local snap = M.snapshot(metrics.expose(), {
    time = host.clock(), uptime = uptime(), refresh = d.refresh_interval, thresholds = d.thresholds,
    accuracy = accuracy(ctx, d.refresh_interval),
  })
  return 200, json.encode(snap), { ["Content-Type"] = "application/json", ["Cache-Control"] = "no-store" }
end

-- ---- the page ----

local STYLE = [[
:root { color-scheme: light; --bg: #f4f5f7; --card: #fff; --ink: #1d2330; --muted: #667085; --line: #d9dce3;
  --ok: #1f7a4d; --bad: #b42318; --bad-bg: #fef3f2; --accent: #3559c7; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
header { display: flex; align-items: baseline; gap: 1rem; padding: 0.9rem 1.5rem; background: var(--ink); color: #fff; }
header h1 { margin: 0; font-size: 1.15rem; font-weight: 600; }
header h1 span { font-weight: 400; opacity: 0.7; }
#status { margin: 0; flex: 1; font-size: 0.85rem; opacity: 0.85; }
#status.problem { color: #fecdca; opacity: 1; }
button { font: inherit; border: 1px solid var(--line); background: var(--card); color: var(--ink); border-radius: 6px;
  padding: 0.35rem 0.9rem; cursor: pointer; }
header button { background: transparent; color: #fff; border-color: #667085; }
main, #login { padding: 1.25rem 1.5rem; max-width: 1200px; margin: 0 auto; }
.tiles { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); gap: 0.9rem; }
@media (max-width: 800px) { .tiles { grid-template-columns: repeat(2, minmax(0, 1fr)); } }
.tile { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 0.8rem 1rem 0.6rem; }
.tile h2 { margin: 0; font-size: 0.8rem; font-weight: 600; color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em; }
.tile .v { display: block; font-size: 1.9rem; font-weight: 600; margin: 0.15rem 0; font-variant-numeric: tabular-nums; }
.tile .sub, .tile .limit { display: block; font-size: 0.78rem; color: var(--muted); min-height: 1.1em; }
.tile.crossed { border-color: var(--bad); background: var(--bad-bg); }
.tile.crossed .v, .tile.crossed .limit { color: var(--bad); }
.tile.ok .limit { color: var(--ok); }
svg.spark { display: block; width: 100%; height: 34px; margin-top: 0.3rem; }
svg.spark path { fill: none; stroke: var(--accent); stroke-width: 1.5; vector-effect: non-scaling-stroke; }
svg.spark line.dot { stroke: var(--accent); stroke-width: 5; stroke-linecap: round; vector-effect: non-scaling-stroke; }
.tile.crossed svg.spark line.dot { stroke: var(--bad); }
.tile.crossed svg.spark path { stroke: var(--bad); }
svg.spark line.limit { stroke: var(--bad); stroke-width: 1; stroke-dasharray: 3 3; vector-effect: non-scaling-stroke; }
h2.section { font-size: 1rem; margin: 1.6rem 0 0.5rem; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 10px; overflow: hidden; }
th, td { text-align: left; padding: 0.5rem 0.8rem; border-bottom: 1px solid var(--line); font-variant-numeric: tabular-nums; }
th { font-size: 0.78rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em; font-weight: 600; }
td.num, th.num { text-align: right; }
td.model { font-family: ui-monospace, "DejaVu Sans Mono", monospace; word-break: break-all; }
svg.ci { width: 160px; height: 14px; display: block; }
svg.ci rect.track { fill: #eef0f4; }
svg.ci rect.range { fill: #b7c4ef; }
svg.ci circle { fill: var(--accent); }
#accuracy-note { font-size: 0.8rem; color: var(--muted); margin: 0.4rem 0 0; }
form { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 1.2rem 1.4rem; max-width: 360px; }
form h2 { margin: 0 0 0.8rem; font-size: 1.1rem; }
form label { display: block; margin-bottom: 0.7rem; font-size: 0.85rem; color: var(--muted); }
form input { display: block; width: 100%; margin-top: 0.25rem; font: inherit; padding: 0.4rem 0.5rem; border: 1px solid var(--line); border-radius: 6px; }
#login-error { color: var(--bad); min-height: 1.2em; margin: 0.6rem 0 0; font-size: 0.85rem; }
[hidden] { display: none !important; }
]]

-- The page's only script. Values from the server reach the document as
-- text (textContent, attributes set one by one), never as markup: model
-- names are whatever clients sent.
local SCRIPT = [==[
"use strict";
(() => {
  const KEY = "causal-eval-token";
  const WINDOW = 300;  // seconds the figures span once the page has history, like rate(x[5m])
  const POINTS = 60;   // sparkline points kept per figure
  const GIB = 1024 * 1024 * 1024;
  const $ = (id) => document.getElementById(id);
  const dash = $("dash");
  let refresh = Number(dash.dataset.refresh) || 5;
  let snaps = [];      // snapshots no older than WINDOW, oldest first
  let history = {};    // figure -> the values of the last POINTS intervals
  let timer = null;

  const rate = (v) => v < 10 ? v.toFixed(2) : v < 1000 ? v.toFixed(1) : Math.round(v).toLocaleString("en");
  const pct = (v) => (v * 100).toFixed(2) + " %";
  const secs = (v) => v < 1 ? (v * 1000).toFixed(v < 0.01 ? 2 : 1) + " ms" : v.toFixed(2) + " s";
  const bytes = (v) => v >= GIB ? (v / GIB).toFixed(2) + " GiB" : (v / 1048576).toFixed(1) + " MiB";

  const TILES = [
    { key: "evaluations_per_s", label: "Evaluations/s", fmt: rate },
    { key: "error_rate", label: "Error rate", fmt: pct, limit: (t) => t.error_rate, limitFmt: pct },
    { key: "latency_p50", label: "Latency p50", fmt: secs },
    { key: "latency_p95", label: "Latency p95", fmt: secs, limit: (t) => t.latency_p95, limitFmt: secs },
    { key: "latency_p99", label: "Latency p99", fmt: secs },
    { key: "memory_bytes", label: "Memory (anonymous RSS)", fmt: bytes,
      limit: (t) => t.memory_usage_gb == null ? null : t.memory_usage_gb * GIB, limitFmt: bytes },
  ];

  function el(tag, attrs, text) {
    const e = document.createElementNS(tag.startsWith("svg:") ? "http://www.w3.org/2000/svg" : "http://www.w3.org/1999/xhtml",
      tag.replace(/^svg:/, ""));
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (text != null) e.textContent = text;
    return e;
  }

  for (const t of TILES) {
    const tile = el("section", { class: "tile", id: "t-" + t.key, "data-value": "", "data-crossed": "false" });
    tile.append(el("h2", null, t.label), el("span", { class: "v" }, "–"), el("span", { class: "sub" }),
      el("span", { class: "limit" }));
    const svg = el("svg:svg", { class: "spark", viewBox: "0 0 100 30", preserveAspectRatio: "none", "aria-hidden": "true" });
    // the dot: a line of no length with round caps stays round however the tile stretches the box
    svg.append(el("svg:line", { class: "limit", x1: 0, x2: 100, y1: -1, y2: -1 }), el("svg:path", { d: "" }),
      el("svg:line", { class: "dot", x1: -10, x2: -10, y1: -10, y2: -10 }));
    tile.append(svg);
    $("tiles").append(tile);
  }

  // Prometheus's histogram_quantile over finite bounds le and cumulative counts
  function quantile(q, le, counts, count) {
    if (!(count > 0)) return null;
    const rank = q * count;
    let prevLe = 0, prevC = 0;
    for (let i = 0; i < le.length; i++) {
      if (counts[i] >= rank) {
        if (i === 0 && le[0] <= 0) return le[0];
        if (counts[i] === prevC) return le[i];
        return prevLe + (le[i] - prevLe) * (rank - prevC) / (counts[i] - prevC);
      }
      prevLe = le[i]; prevC = counts[i];
    }
    return le.length ? le[le.length - 1] : null;
  }

  // The figures between snapshot a (null: the server's start, all zero) and b.
  function figures(a, b) {
    const span = a ? b.time - a.time : b.uptime_s;
    const d = (k) => b[k] - (a ? a[k] : 0);
    const la = a ? a.latency : null, lb = b.latency;
    const counts = lb.counts.map((c, i) => c - (la ? la.counts[i] : 0));
    const n = lb.count - (la ? la.count : 0);
    const ev = d("evaluations"), req = d("requests"), err = d("errors");
    return {
      span, evaluations: ev, requests: req, errors: err, observed: n,
      evaluations_per_s: span > 0 ? ev / span : null,
      error_rate: req > 0 ? err / req : null,
      latency_p50: quantile(0.5, lb.le, counts, n),
      latency_p95: quantile(0.95, lb.le, counts, n),
      latency_p99: quantile(0.99, lb.le, counts, n),
      memory_bytes: b.memory_bytes,
    };
  }

  // counters went down or the buckets changed: another server process
  function restarted(a, b) {
    return b.uptime_s < a.uptime_s || b.evaluations < a.evaluations || b.requests < a.requests ||
      a.latency.le.length !== b.latency.le.length;
  }

  function spark(tile, values, limit) {
    const svg = tile.querySelector("svg.spark");
    const ok = (v) => v != null && isFinite(v);
    const vals = values.filter(ok);
    const lo = Math.min(0, ...vals);
    let hi = Math.max(...vals, lo + 1e-9);
    if (limit != null && limit <= hi * 1.5) hi = Math.max(hi, limit);
    const x = (i) => values.length > 1 ? 2 + (i / (values.length - 1)) * 96 : 50;
    const y = (v) => 27 - ((v - lo) / (hi - lo)) * 24;
    // an interval with no value (no requests in it) breaks the line
    let d = "", pen = false, last = null;
    values.forEach((v, i) => {
      if (!ok(v)) { pen = false; return; }
      d += (pen ? " L" : " M") + x(i).toFixed(1) + "," + y(v).toFixed(1);
      pen = true;
      last = [i, v];
    });
    svg.querySelector("path").setAttribute("d", d.trim());
    // the latest value as a dot, so a single point shows too
    const dot = svg.querySelector("line.dot");
    for (const [k, v] of [["x1", last ? x(last[0]) : -10], ["x2", last ? x(last[0]) : -10],
      ["y1", last ? y(last[1]) : -10], ["y2", last ? y(last[1]) : -10]]) dot.setAttribute(k, v.toFixed(1));
    const line = svg.querySelector("line.limit");
    const ly = limit != null && limit <= hi ? y(limit).toFixed(1) : -1;
    line.setAttribute("y1", ly); line.setAttribute("y2", ly);
    tile.dataset.points = String(vals.length);
  }

  function span(s) {
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }

  function render(snap) {
    const b = snap;
    if (snaps.length && restarted(snaps[snaps.length - 1], b)) { snaps = []; history = {}; }
    const prev = snaps.length ? snaps[snaps.length - 1] : null;
    snaps.push(b);
    while (snaps.length > 1 && b.time - snaps[0].time > WINDOW) snaps.shift();
    // the window starts at the server's start when that is recent, else at the oldest snapshot kept
    const base = b.uptime_s <= WINDOW || snaps[0] === b ? null : snaps[0];
    const f = figures(base, b);
    const step = figures(prev, b);
    const where = base ? "last " + span(f.span) : "since start, " + span(f.span);
    dash.dataset.window = base ? "window" : "start";
    dash.dataset.span = String(f.span);
    const th = b.thresholds || {};
    for (const t of TILES) {
      const tile = $("t-" + t.key);
      const v = f[t.key];
      const limit = t.limit ? t.limit(th) : null;
      const crossed = v != null && limit != null && v > limit;
      tile.dataset.value = v == null ? "" : String(v);
      tile.dataset.crossed = String(crossed);
      tile.classList.toggle("crossed", crossed);
      tile.classList.toggle("ok", limit != null && !crossed && v != null);
      tile.querySelector(".v").textContent = v == null ? "–" : t.fmt(v);
      let sub = where;
      if (t.key === "evaluations_per_s") sub = f.evaluations + " evaluations, " + where;
      else if (t.key === "error_rate") sub = f.errors + " of " + f.requests + " requests, " + where;
      else if (t.key.startsWith("latency")) sub = f.observed + " requests, " + where;
      else if (t.key === "memory_bytes") sub = "now";
      tile.querySelector(".sub").textContent = sub;
      tile.querySelector(".limit").textContent = limit == null ? "" : (crossed ? "over " : "limit ") + t.limitFmt(limit);
      const h = history[t.key] || (history[t.key] = []);
      h.push(step[t.key]);
      if (h.length > POINTS) h.shift();
      spark(tile, h, limit);
    }
    accuracy(b.accuracy);
    dash.dataset.updates = String(Number(dash.dataset.updates || 0) + 1);
  }

  function accuracy(acc) {
    const body = $("accuracy-rows");
    body.replaceChildren();
    const note = $("accuracy-note");
    if (!acc || acc.error) { note.textContent = acc ? acc.error : "no summary"; return; }
    const models = acc.models || [];
    for (const m of models) {
      const tr = el("tr", { "data-model": m.model, "data-accuracy": String(m.average_score), "data-count": String(m.count),
        "data-errors": String(m.errors) });
      const ci = el("svg:svg", { class: "ci", viewBox: "0 0 100 10", preserveAspectRatio: "none",
        "aria-label": "95% interval " + pct(m.ci[0]) + " to " + pct(m.ci[1]) });
      ci.append(el("svg:rect", { class: "track", x: 0, y: 3, width: 100, height: 4 }),
        el("svg:rect", { class: "range", x: (m.ci[0] * 100).toFixed(2), y: 2, width: ((m.ci[1] - m.ci[0]) * 100).toFixed(2), height: 6 }),
        el("svg:circle", { cx: (m.average_score * 100).toFixed(2), cy: 5, r: 3 }));
      const cell = el("td");
      cell.append(ci);
      tr.append(el("td", { class: "model" }, m.model), el("td", { class: "num acc" }, (m.average_score * 100).toFixed(1) + " %"),
        cell, el("td", { class: "num n" }, String(m.count)), el("td", { class: "num errors" }, String(m.errors)));
      body.append(tr);
    }
    note.textContent = (models.length ? "" : "No evaluations stored yet. ") + "Stored answers of the last " + acc.days +
      " days (since " + acc.since + "), as GET /results/summary; read at " + new Date(acc.at * 1000).toLocaleTimeString("en-GB") + ".";
  }

  function status(text, problem) {
    const s = $("status");
    s.textContent = text;
    s.classList.toggle("problem", !!problem);
  }

  function schedule(seconds) {
    clearTimeout(timer);
    timer = setTimeout(tick, 1000 * (seconds || refresh));
  }

  function message(body, code) {
    return body && body.error && body.error.message ? body.error.message : "the server answered HTTP " + code;
  }

  function showLogin(why) {
    clearTimeout(timer);
    dash.hidden = true;
    $("logout").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = why || "";
    status("Log in with a user of the server's users file (causal-eval serve adduser NAME).");
    $("user").focus();
  }

  async function tick() {
    const token = sessionStorage.getItem(KEY);
    if (!token) return showLogin();
    let res, body = null;
    try {
      res = await fetch("/dashboard/data", { headers: { Authorization: "Bearer " + token }, cache: "no-store" });
      body = await res.json();
    } catch (e) {
      if (!res) { status("The server does not answer (" + e.message + "); trying again every " + refresh + " s.", true); return schedule(); }
    }
    if (res.status === 401) {
      sessionStorage.removeItem(KEY);
      return showLogin("Your session has ended (" + message(body, 401) + "): log in again.");
    }
    if (!res.ok || !body) {
      const wait = Number(res.headers.get("Retry-After")) || refresh;
      status(message(body, res.status) + "; trying again in " + wait + " s.", true);
      return schedule(wait);
    }
    if (body.refresh_interval > 0) refresh = body.refresh_interval;
    render(body);
    const until = sessionStorage.getItem(KEY + "-expires");
    status("Updated " + new Date().toLocaleTimeString("en-GB") + ", every " + refresh + " s" +
      (until ? "; session until " + new Date(until).toLocaleString("en-GB") : "") + ".");
    schedule();
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = $("login-error");
    err.textContent = "";
    let res, body = null;
    try {
      res = await fetch("/auth/login", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ username: $("user").value, password: $("password").value }), cache: "no-store" });
      body = await res.json();
    } catch (e) {
      if (!res) { err.textContent = "The server does not answer: " + e.message; return; }
    }
    if (!res.ok || !body || !body.token) {
      err.textContent = message(body, res.status) + (res.headers.get("Retry-After") ? " (wait " + res.headers.get("Retry-After") + " s)" : "");
      return;
    }
    $("password").value = "";
    sessionStorage.setItem(KEY, body.token);
    if (body.expires_at) sessionStorage.setItem(KEY + "-expires", body.expires_at);
    $("login").hidden = true;
    dash.hidden = false;
    $("logout").hidden = false;
    status("Loading…");
    tick();
  });

  $("logout").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    sessionStorage.removeItem(KEY + "-expires");
    snaps = []; history = {};
    showLogin("Logged out.");
  });

  document.addEventListener("visibilitychange", () => { if (!document.hidden && !dash.hidden) tick(); });

  if (sessionStorage.getItem(KEY)) {
    dash.hidden = false;
    $("logout").hidden = false;
    tick();
  } else {
    showLogin();
  }
})();
]==]

local function csp_hash(text) return "'sha256-" .. M.base64(M.sha256(text)) .. "'" end

-- Nothing may load from anywhere: only this script and style run, and the
-- page talks to its own origin. A meta element carries it, so the page is
-- the same wherever it is served from.
M.CSP = table.concat({
  "default-src 'none'", "script-src " .. csp_hash(SCRIPT), "style-src " .. csp_hash(STYLE),
  "connect-src 'self'", "img-src data:", "base-uri 'none'", "form-action 'none'",
}, "; ")

local BODY = [[
<header>
  <h1>causal-eval <span>serve</span></h1>
  <p id="status" role="status"></p>
  <button id="logout" type="button" hidden>Log out</button>
</header>
<section id="login" hidden>
  <form id="login-form">
    <h2>Log in</h2>
    <label>User <input id="user" name="username" autocomplete="username" required></label>
    <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
    <button type="submit">Log in</button>
    <p id="login-error" role="alert"></p>
  </form>
</section>
<main id="dash" hidden data-refresh="@REFRESH@" data-updates="0">
  <div class="tiles" id="tiles"></div>
  <h2 class="section">Accuracy per model</h2>
  <table>
    <thead><tr><th>Model</th><th class="num">Accuracy</th><th>95% interval</th><th class="num">Answers</th><th class="num">Errors</th></tr></thead>
    <tbody id="accuracy-rows"></tbody>
  </table>
  <p id="accuracy-note"></p>
</main>
]]

local pages = {}

--- The page (HTML), for config values (its dashboard section).
function M.page(values)
  local refresh = values and values.dashboard and values.dashboard.refresh_interval or 5
  local p = pages[refresh]
  if not p then
    p = table.concat({
      "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n",
      "<meta http-equiv=\"Content-Security-Policy\" content=\"", M.CSP, "\">\n",
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
      "<meta name=\"referrer\" content=\"no-referrer\">\n",
      "<link rel=\"icon\" href=\"data:,\">\n",
      "<title>causal-eval serve: dashboard</title>\n",
      "<style>", STYLE, "</style>\n</head>\n<body>\n",
      (BODY:gsub("@REFRESH@", tostring(math.max(1, math.ceil(refresh))))),
      "<script>", SCRIPT, "</script>\n</body>\n</html>\n",
    })
    pages[refresh] = p
  end
  return p
end

return M
