-- SPDX-License-Identifier: MIT
-- JUnit XML, so that CI systems (Jenkins, GitLab, GitHub's test reporters)
-- show results as tests: `causal-eval bench --junit FILE` (a testcase per
-- metric: a missed target, a failed check or a regression is a failure, a
-- measure that raised an error, one that could not run is skipped) and
-- `causal-eval run --junit FILE` (a testsuite per model, a testcase per
-- question: a wrong or unparseable answer is a failure, a request that
-- failed an error, a question the benchmark could not pose skipped).
-- The layout is the common one (testsuites > testsuite > properties,
-- testcase > skipped | error | failure, system-out), as Jenkins' and
-- Ant's schemas have it; spec/data/junit.xsd checks it.
local M = {}

local ENT = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&apos;" }

-- Text valid in XML 1.0: bytes that are not UTF-8, and control characters
-- other than tab, newline and carriage return (XML forbids them even
-- escaped), become U+FFFD. Model answers hold whatever a server sent.
local function clean(s)
  s = tostring(s)
  if not utf8.len(s) then
    local out, i = {}, 1
    while i <= #s do
      local _, bad = utf8.len(s, i)
      if not bad then
        out[#out + 1] = s:sub(i)
        break
      end
      out[#out + 1] = s:sub(i, bad - 1)
      out[#out + 1] = "\239\191\189"
      i = bad + 1
    end
    s = table.concat(out)
  end
  return (s:gsub("[%z\1-\8\11\12\14-\31\127]", "\239\191\189"))
end

--- Escaped text for an element's content.
function M.text(s) return (clean(s):gsub("[&<>]", ENT)) end

--- Escaped text for a double-quoted attribute (line breaks kept as such).
function M.attr(s)
  return (clean(s):gsub("[&<>\"']", ENT):gsub("\n", "&#10;"):gsub("\r", "&#13;"):gsub("\t", "&#9;"))
end

local function secs(x) return ("%.6f"):format(math.max(0, tonumber(x) or 0)) end

local function stamp(t) return os.date("!%Y-%m-%dT%H:%M:%S", t or os.time()) end

-- A writer appending to a list of strings (or to a file, for big runs).
local function writer(out)
  if type(out) == "table" and not out.write then -- a list of parts, not a file
    return function(...) for _, s in ipairs({ ... }) do out[#out + 1] = s end end
  end
  return function(...) out:write(...) end
end

-- <testcase> with its outcome: kind nil (passed), "failure", "error" or
-- "skipped"; message (an attribute), body (text), out (system-out).
local function testcase(w, c)
  w('    <testcase name="', M.attr(c.name), '" classname="', M.attr(c.classname), '" time="', secs(c.time), '"')
  if not c.kind and not c.out then
    w("/>\n")
    return
  end
  w(">\n")
  if c.kind == "skipped" then
    w('      <skipped message="', M.attr(c.message or ""), '"/>\n')
  elseif c.kind then
    w("      <", c.kind, ' message="', M.attr(c.message or ""), '" type="', M.attr(c.type or c.kind), '">',
      M.text(c.body or c.message or ""), "</", c.kind, ">\n")
  end
  if c.out then w("      <system-out>", M.text(c.out), "</system-out>\n") end
  w("    </testcase>\n")
end

local function counts(cases)
  local n = { tests = #cases, failures = 0, errors = 0, skipped = 0, time = 0 }
  for _, c in ipairs(cases) do
    if c.kind == "failure" then n.failures = n.failures + 1 end
    if c.kind == "error" then n.errors = n.errors + 1 end
    if c.kind == "skipped" then n.skipped = n.skipped + 1 end
    n.time = n.time + (c.time or 0)
  end
  return n
end

local function open_suite(w, s, n, t, host)
  w('  <testsuite name="', M.attr(s.name), '" tests="', n.tests, '" failures="', n.failures, '" errors="', n.errors,
    '" skipped="', n.skipped, '" time="', secs(s.time or n.time), '" timestamp="', stamp(t), '"',
    host and (' hostname="' .. M.attr(host) .. '"') or "", ' id="', s.id, '">\n')
  if s.properties and #s.properties > 0 then
    w("    <properties>\n")
    for _, p in ipairs(s.properties) do
      w('      <property name="', M.attr(p[1]), '" value="', M.attr(p[2]), '"/>\n')
    end
    w("    </properties>\n")
  end
end

--- The XML of suites = { { name, time, properties = { {k, v} }, cases =
--- { { name, classname, time, kind, message, type, body, out } } } }:
--- written to opts.file (an open file) when given, else returned; and the
--- totals (tests, failures, errors, skipped, time).
function M.document(name, suites, opts)
  opts = opts or {}
  local parts = {}
  local w = writer(opts.file or parts)
  local total = { tests = 0, failures = 0, errors = 0, skipped = 0, time = 0 }
  for _, s in ipairs(suites) do
    s.n = counts(s.cases)
    for k in pairs(total) do total[k] = total[k] + (k == "time" and (s.time or s.n.time) or s.n[k]) end
  end
  w('<?xml version="1.0" encoding="UTF-8"?>\n')
  w('<testsuites name="', M.attr(name), '" tests="', total.tests, '" failures="', total.failures, '" errors="',
    total.errors, '" skipped="', total.skipped, '" time="', secs(opts.time or total.time), '">\n')
  for i, s in ipairs(suites) do
    s.id = i - 1
    open_suite(w, s, s.n, opts.timestamp, opts.hostname)
    for _, c in ipairs(s.cases) do testcase(w, c) end
    w("  </testsuite>\n")
  end
  w("</testsuites>\n")
  return table.concat(parts), total
end

--- Writes the document of M.document to path; true, or nil and a message.
function M.write(path, name, suites, opts)
  -- whole or not at all: a full disk left a cut-off report for CI to read
  local out, err = require("causal_eval.outfile").open(path)
  if not out then return nil, err end
  opts = setmetatable({ file = out.file }, { __index = opts })
  local ok, werr = pcall(M.document, name, suites, opts)
  if not ok then
    out:abort()
    return nil, ("%s: %s"):format(path, tostring(werr))
  end
  return out:commit()
end

-- ---- bench ----

local function figure(v, unit)
  if type(v) ~= "number" then return "-" end
  return (("%.4g %s"):format(v, unit or ""):gsub("%s+$", ""))
end

--- The JUnit suites of `causal-eval bench` results (and the baseline
--- comparison of causal_eval.perf.baseline, if any), for M.document.
function M.bench_suites(results, comparison)
  local by_id = {}
  for _, r in ipairs(comparison and comparison.rows or {}) do by_id[r.id] = r end
  local describe = comparison and require("causal_eval.perf.baseline").describe
  local suites = {}
  for _, s in ipairs(results.suites) do
    local cases = {}
    local classname = "bench." .. s.name
    if #s.metrics == 0 then
      local kind = s.status == "skipped" and "skipped" or (s.status ~= "ok" and "error" or nil)
      cases[1] = { name = "setup", classname = classname, time = s.seconds, kind = kind, message = s.message,
                   body = s.detail }
    end
    for _, mt in ipairs(s.metrics) do
      local c = { name = mt.name, classname = classname, time = mt.seconds }
      local lines = {}
      if mt.median then
        lines[1] = ("median %s over %d rounds (%s .. %s, spread +-%.1f%%)"):format(figure(mt.median, mt.unit), mt.n,
          figure(mt.min, mt.unit), figure(mt.max, mt.unit), (mt.spread or 0) * 100)
      end
      if mt.target then
        lines[#lines + 1] = ("target %s %s: %s"):format(mt.target.max and "<=" or ">=",
          figure(mt.target.max or mt.target.min, mt.unit), mt.target_met and "met" or "missed")
      end
      local row = by_id[mt.id]
      if row and row.base then
        lines[#lines + 1] = ("baseline %s: %s"):format(figure(row.base, mt.unit), row.status)
      end
      if mt.status == "error" then
        c.kind, c.message, c.body = "error", mt.message, mt.detail
      elseif mt.status == "skipped" or mt.status == "interrupted" then
        c.kind, c.message = "skipped", mt.message
      elseif mt.status == "failed" then
        c.kind, c.type, c.message = "failure", mt.target_met == false and "target" or "check", mt.message
      end
      if row and row.status == "regression" then
        local msg = describe(row) .. (" (threshold %g%% + noise %.1f%%)"):format(comparison.threshold, row.noise)
        if c.kind == "failure" then
          c.message = c.message .. "; " .. msg
        elseif c.kind ~= "error" then
          c.kind, c.type, c.message = "failure", "regression", msg
        end
      end
      if #lines > 0 then c.out = table.concat(lines, "\n") end
      cases[#cases + 1] = c
    end
    local props = { { "file", s.file or "" }, { "rounds", tostring(s.rounds or results.rounds) },
                    { "quick", tostring(results.quick) } }
    if results.revision then props[#props + 1] = { "revision", results.revision } end
    for _, n in ipairs(s.notes or {}) do props[#props + 1] = { "note", n } end
    suites[#suites + 1] = { name = s.name, time = s.seconds, properties = props, cases = cases }
  end
  return suites
end

--- Writes the JUnit file of `causal-eval bench`; true, or nil and a message.
function M.write_bench(path, results, comparison)
  return M.write(path, "causal-eval bench", M.bench_suites(results, comparison),
    { time = results.seconds, timestamp = results.created, hostname = (results.machine or {}).hostname })
end

-- ---- run ----

local TRUNC = 4000

local function cut(s)
  s = tostring(s or "")
  if #s > TRUNC then return s:sub(1, TRUNC) .. ("... (%d more bytes)"):format(#s - TRUNC) end
  return s
end

--- The testcase of one stored record of `causal-eval run`.
function M.run_case(rec)
  local c = { name = rec.question_id or "?", classname = rec.family or "questions",
              time = type(rec.latency_ms) == "number" and rec.latency_ms / 1000 or 0 }
  local e = rec.error
  if type(e) == "table" then
    if e.class == "bad_question" then
      c.kind, c.message = "skipped", "invalid question: " .. tostring(e.message or "")
    else
      c.kind, c.type = "error", tostring(e.class or "error")
      c.message = ("%s after %s attempt(s): %s"):format(tostring(e.class), tostring(rec.attempts or 1),
        tostring(e.message or ""))
      c.body = e.first_bytes and ("first bytes of the reply: " .. tostring(e.first_bytes)) or c.message
    end
  elseif rec.unparseable then
    c.kind, c.type = "failure", "unparseable"
    c.message = ("no answer found (%s); expected %s"):format(tostring(rec.unparseable), tostring(rec.ground_truth))
    c.body = cut(rec.response)
  elseif not rec.correct then
    c.kind, c.type = "failure", "wrong_answer"
    c.message = ("answered %s, expected %s"):format(tostring(rec.parsed), tostring(rec.ground_truth))
    c.body = cut(rec.response)
  end
  return c
end

--- Writes the JUnit file of a finished run: its records read back from the
--- store (st: an open store; run: the run's table; summaries: per model, as
--- results.summarize gives them). true, or nil and a message.
function M.write_run(path, st, run, summaries)
  local results = require "causal_eval.results"
  local by_model, order = {}, {}
  for _, label in ipairs(run.models or {}) do
    local k = results.model_key(label)
    by_model[k] = { label = label, cases = {} }
    order[#order + 1] = k
  end
  local ok, err = st:scan(results.DB.records, run.id .. results.SEP, function(k, v)
    local _, mk = results.split_key(k)
    local m = by_model[mk]
    if not m then return end
    local rec = require("causal_eval.json").decode(v)
    if type(rec) == "table" then m.cases[#m.cases + 1] = M.run_case(rec) end
  end)
  if not ok then return nil, err end
  local sums = {}
  for _, s in ipairs(summaries or {}) do sums[s.model] = s end
  local suites = {}
  for _, k in ipairs(order) do
    local m = by_model[k]
    local s = sums[m.label] or {}
    local props = { { "run_id", run.id }, { "model", m.label },
                    { "benchmarks", table.concat(run.benchmarks or {}, ",") }, { "seed", tostring(run.seed or "") } }
    if type(s.accuracy) == "number" then
      props[#props + 1] = { "accuracy", ("%.6f"):format(s.accuracy) }
      if s.ci then props[#props + 1] = { "accuracy_ci95", ("%.6f,%.6f"):format(s.ci[1], s.ci[2]) } end
    end
    suites[#suites + 1] = { name = m.label, properties = props, cases = m.cases }
  end
  return M.write(path, "causal-eval run " .. run.id, suites, { timestamp = run.started or run.created,
    time = run.elapsed })
end

--- The JUnit file of a run just finished (runner.run's report), its
--- records read back from the store in data (store_cfg: results.config's).
function M.write_run_file(path, report, data, store_cfg)
  local results = require "causal_eval.results"
  local cfg = { writes = false }
  for k, v in pairs(store_cfg or {}) do
    if k ~= "writes" then cfg[k] = v end
  end
  local st, err = results.open(data, cfg)
  if not st then return nil, err end
  local ok, werr = M.write_run(path, st, report.run, report.summaries)
  st:close()
  return ok, werr
end

return M
