-- SPDX-License-Identifier: MIT
-- The regression gates: `causal-eval bench --baseline FILE --threshold T`
-- (a metric worse than the baseline by more than T% beyond its measured
-- noise prints "metric: X% slower" and exits 1; --baseline-ref builds a
-- git revision first) and `causal-eval compare RUN_A RUN_B
-- --fail-on-regression` (a significant drop in accuracy after Holm's
-- correction exits 1), both on real measurements and real runs.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local baseline = require "causal_eval.perf.baseline"

-- a results table with one suite of metrics given as { name, unit, better, samples }
local function results(list)
  local metrics = {}
  for i, m in ipairs(list) do
    local summary = require("causal_eval.perf.summary").rounds(m[4])
    metrics[i] = { id = "s." .. m[1], name = m[1], unit = m[2], better = m[3], kind = require("causal_eval.perf").kind_of(m[2]),
                   median = summary.median, min = summary.min, max = summary.max, spread = summary.spread,
                   samples = m[4], status = m[5] or "ok" }
  end
  return { format = "causal-eval-bench/1", suites = { { name = "s", metrics = metrics } } }
end

local function row(cmp, id)
  for _, r in ipairs(cmp.rows) do if r.id == id then return r end end
end

describe("perf.baseline.compare", function()
  it("flags a metric worse by more than the threshold plus the noise of both runs", function()
    local base = results{
      { "lat", "ms", "lower", { 10, 10, 10 } },
      { "noisy", "ms", "lower", { 9, 10, 11 } },         -- +-10% in the baseline
      { "rate", "q/s", "higher", { 1000, 1000, 1000 } },
      { "mem", "MB", "lower", { 50, 50, 50 } },
      { "info", "%", nil, { 3, 3, 3 } },
      { "gone", "ms", "lower", { 1, 1, 1 } },
      { "broken", "ms", "lower", { 1, 1, 1 } },
    }
    local cur = results{
      { "lat", "ms", "lower", { 11.5, 11.5, 11.5 } },     -- +15%
      { "noisy", "ms", "lower", { 11.5, 11.5, 11.5 } },   -- +15%, within 10% + its 10% noise
      { "rate", "q/s", "higher", { 800, 800, 800 } },    -- 25% slower per question
      { "mem", "MB", "lower", { 40, 40, 40 } },          -- 20% smaller: better
      { "info", "%", nil, { 9, 9, 9 } },
      { "new", "ms", "lower", { 1, 1, 1 } },
      { "broken", "ms", "lower", { 5 }, "error" },
    }
    local cmp = baseline.compare(base, cur, 10)
    assert.are.equal("regression", row(cmp, "s.lat").status)
    assert.near(15, row(cmp, "s.lat").change, 1e-9)
    assert.are.equal("same", row(cmp, "s.noisy").status)
    assert.near(10, row(cmp, "s.noisy").noise, 1e-9)
    assert.are.equal("regression", row(cmp, "s.rate").status)
    assert.near(25, row(cmp, "s.rate").change, 1e-9)
    assert.are.equal("improvement", row(cmp, "s.mem").status)
    assert.are.equal("info", row(cmp, "s.info").status)
    assert.are.equal("new", row(cmp, "s.new").status)
    assert.are.equal("missing", row(cmp, "s.gone").status)
    assert.are.equal("not_compared", row(cmp, "s.broken").status)
    assert.are.equal(2, #cmp.regressions)
    assert.are.equal("s.lat: 15.0% slower", baseline.describe(row(cmp, "s.lat")))
    assert.are.equal("s.rate: 25.0% slower", baseline.describe(row(cmp, "s.rate")))
    assert.are.equal("s.mem: 25.0% smaller", baseline.describe(row(cmp, "s.mem")))
    -- a threshold above the change: nothing to report
    assert.are.equal(0, #baseline.compare(base, cur, 30).regressions)
  end)

  it("refuses a baseline file that is not bench's JSON, naming the file", function()
    local dir = H.tmpdir()
    local _, err = baseline.load(H.write(dir .. "/a.json", "{"))
    assert.matches("a%.json:1:", err)
    _, err = baseline.load(H.write(dir .. "/b.json", '{"format":"other"}'))
    assert.matches("b%.json: field format: 'causal%-eval%-bench/1' expected, got 'other'", err)
    _, err = baseline.load(H.write(dir .. "/c.json", '{"format":"causal-eval-bench/1","suites":[{"name":"x","metrics":[{"median":1}]}]}'))
    assert.matches("c%.json: suites%[1%]%.metrics%[1%]: an id expected", err)
    _, err = baseline.load(dir .. "/none.json")
    assert.matches("none%.json", err)
    H.rm(dir)
  end)
end)

describe("causal-eval bench --baseline", function()
  local dir, path
  setup(function()
    dir = H.tmpdir()
    -- a benchmark whose speed the environment sets: a nap of NAP_MS per call
    path = H.write(dir .. "/nap.lua", [[
local host = require "causal_eval.host"
local nap = tonumber(os.getenv("NAP_MS")) / 1000
return {
  name = "nap",
  latency_test = function() host.sleep(nap) end,
  measures = { { name = "rss", unit = "MB", run = function() return host.rss() / 2^20 end } },
}]])
  end)
  teardown(function() H.rm(dir) end)

  local function bench(nap, extra)
    return H.run(H.concat({ "bench", path, "--quick", "--rounds", "3", "--iterations", "20", "--quiet" }, extra or {}),
      { env = { NAP_MS = nap } })
  end

  it("exits 1 and prints 'metric: X% slower' when a metric got slower beyond threshold and noise", function()
    local r = bench(2, { "--json", dir .. "/base.json" })
    assert.are.equal(0, r.code, r.stderr)
    r = bench(6, { "--baseline", dir .. "/base.json", "--threshold", "10", "--json", dir .. "/cur.json",
                   "--junit", dir .. "/gate.xml" })
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    local pct = r.stdout:match("\nnap%.latency_p50: ([%d.]+)%% slower\n")
    assert.truthy(pct, r.stdout)
    -- 2 ms -> 6 ms naps: about 200% slower (sleeps overshoot a little)
    assert.truthy(tonumber(pct) > 100 and tonumber(pct) < 260, pct)
    assert.matches("regression", r.stdout)
    -- the figures and the comparison are in the JSON, the regression in JUnit
    local d = json.decode(H.read(dir .. "/cur.json"))
    assert.truthy(#d.comparison.regressions >= 2)
    local xml = H.read(dir .. "/gate.xml")
    assert.matches('<failure message="nap%.latency_p50: [%d.]+%% slower %(threshold 10%% %+ noise', xml)
    -- an informational metric (no `better`) is never a regression
    assert.is_nil(r.stdout:match("nap%.rss: "))
  end)

  it("exits 0 when nothing is worse beyond threshold and noise", function()
    -- the same naps: a p99 of 20 naps is their slowest, and one woken 4 ms
    -- late on a loaded machine (CI's sanitizer build, two tests at once)
    -- made it 177% slower than the baseline's; a tenfold threshold leaves
    -- only a stall of 20 ms to fail it
    local r = bench(2, { "--baseline", dir .. "/base.json", "--threshold", "1000" })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.is_nil(r.stdout:match("%% slower"))
    assert.matches("nap%.latency_p50 .* same", r.stdout)
  end)

  it("says what is wrong with a baseline file, exit 1", function()
    H.write(dir .. "/bad.json", '{"format":"x"}')
    local r = bench(1, { "--baseline", dir .. "/bad.json" })
    assert.are.equal(1, r.code)
    assert.matches("%-%-baseline .*bad%.json: field format", r.stderr)
  end)

  it("refuses a --baseline-ref that is no revision, or one from before bench, and leaves no worktree", function()
    local before = H.sh("git -C " .. H.quote(H.root) .. " worktree list")
    local r = bench(1, { "--baseline-ref", "no-such-ref-anywhere" })
    assert.are.equal(1, r.code)
    assert.matches("unknown revision 'no%-such%-ref%-anywhere'", r.stderr)
    -- the first commit of the tree has no bench command
    local first = H.sh("git -C " .. H.quote(H.root) .. " rev-list --max-parents=0 HEAD"):match("%x+")
    r = bench(1, { "--baseline-ref", first })
    assert.are.equal(1, r.code)
    assert.matches("has no `causal%-eval bench`: give a later one, or %-%-baseline FILE", r.stderr)
    assert.are.equal(before, H.sh("git -C " .. H.quote(H.root) .. " worktree list"))
  end)
end)

describe("causal-eval compare --fail-on-regression", function()
  local dir, q, runs
  setup(function()
    dir = H.tmpdir()
    q = H.questions(dir, { "ladder", "--n", "300", "--seed", "3" })
    runs = {}
    -- the same model before and after: right 90% of the time, then 60%, then 90%
    for i, acc in ipairs({ "0.9", "0.6", "0.9" }) do
      local mock = H.mock{ "--questions", q, "--accuracy", acc, "--seed", "5" }
      local r, rep = H.run_json({ "--model", "openai:m@" .. mock.url, "--questions", q, "--data", dir .. "/data",
                                  "--cache", "off" })
      mock:stop()
      assert(rep, r.stderr)
      runs[i] = rep.run_id
    end
  end)
  teardown(function() H.rm(dir) end)

  local function compare(a, b, extra)
    return H.run(H.concat({ "compare", a, b, "--data", dir .. "/data", "--iters", "2000", "--fail-on-regression" }, extra or {}))
  end

  it("exits 1 on a significant drop after Holm's correction and says which model", function()
    local r = compare(runs[1], runs[2])
    assert.are.equal(1, r.code, r.stderr)
    assert.matches("1 regression %(p %(Holm%) < 0%.05%):\nopenai:m@.* %-> openai:m@.*: accuracy 9%d%.%d%% %-> [56]%d%.%d%%", r.stdout)
    r = compare(runs[1], runs[2], { "--json" })
    assert.are.equal(1, r.code)
    local d = json.decode(r.stdout)
    assert.are.equal(1, #d.regressions)
    assert.truthy(d.regressions[1].p_holm < 0.05 and d.regressions[1].diff < -0.2)
  end)

  it("exits 0 for a rise or no change, and without the flag", function()
    local r = compare(runs[2], runs[3])
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("no regression", r.stdout)
    assert.are.equal(0, compare(runs[1], runs[3]).code)
    r = H.run({ "compare", runs[1], runs[2], "--data", dir .. "/data", "--iters", "500" })
    assert.are.equal(0, r.code)
  end)

  it("needs two runs and a level between 0 and 1", function()
    local r = H.run({ "compare", runs[1], "--data", dir .. "/data", "--fail-on-regression" })
    assert.are.equal(2, r.code)
    assert.matches("give RUN_A %(before%) and RUN_B %(after%)", r.stderr)
    assert.are.equal(2, compare(runs[1], runs[2], { "--alpha", "1.5" }).code)
  end)
end)
