-- SPDX-License-Identifier: MIT
-- causal_eval.perf: the figures of repeated rounds, the checks of a
-- benchmark file, the runner (latency_test, throughput_test, measures,
-- errors, skips, failed checks, targets, cleanup) and `causal-eval bench`
-- on user benchmark files.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local perf = require "causal_eval.perf"
local summary = require "causal_eval.perf.summary"
local suite = require "causal_eval.perf.suite"
local runner = require "causal_eval.perf.runner"
local text = require "causal_eval.perf.text"

local function by_id(results)
  local out = {}
  for _, mt in ipairs(runner.metrics(results)) do out[mt.id] = mt end
  return out
end

describe("perf.summary", function()
  it("gives the median, range and spread of rounds", function()
    local r = summary.rounds({ 10, 14, 12 })
    assert.are.same({ n = 3, median = 12, min = 10, max = 14, mean = 12, spread = 2 / 12 }, r)
    assert.are.equal(11, summary.rounds({ 14, 8, 10, 12 }).median)
    assert.are.equal(0, summary.rounds({ 5 }).spread)
    assert.are.equal(0, summary.rounds({}).n)
  end)

  it("gives nearest-rank latency quantiles", function()
    local t = {}
    for i = 100, 1, -1 do t[#t + 1] = i end
    local l = summary.latency(t)
    assert.are.same({ n = 100, mean = 50.5, p50 = 50, p95 = 95, p99 = 99, max = 100 }, l)
  end)

  it("bins every value of a histogram once, on log-spaced edges", function()
    local v = {}
    for i = 1, 1000 do v[i] = 0.01 * 1.01 ^ i end
    local h = summary.histogram(v, 20)
    assert.are.equal(21, #h.edges)
    local total = 0
    for i, c in ipairs(h.counts) do
      total = total + c
      assert.truthy(h.edges[i] < h.edges[i + 1])
    end
    assert.are.equal(1000, total)
    assert.truthy(h.edges[1] <= v[1] and h.edges[21] >= v[1000])
    -- log spacing: equal ratios
    assert.near(h.edges[2] / h.edges[1], h.edges[21] / h.edges[20], 1e-9)
    assert.is_nil(summary.histogram({}, 10))
  end)
end)

describe("perf.benchmark", function()
  it("takes a CustomBenchmark-style table", function()
    local b = perf.benchmark{ name = "x", latency_test = function() end, throughput_test = function() end }
    assert.is_true(perf.is_benchmark(b))
  end)

  it("names the field at fault", function()
    local cases = {
      { { latency_test = 1 }, "latency_test: a function expected, got number" },
      { { name = "a b", latency_test = function() end }, "name: an identifier" },
      { { latency_tests = function() end }, "unknown field 'latency_tests'" },
      { {}, "nothing to measure" },
      { { duration = 0, latency_test = function() end }, "duration: seconds > 0" },
      { { measures = { { name = "m", run = function() end, better = "up" } } }, "measures[1].better: 'lower' or 'higher'" },
      { { measures = { { name = "m" } } }, "measures[1].run: a function expected" },
      { { measures = { { name = "m", run = print, target = { max = "1" } } } }, "measures[1].target.max: a number" },
      { { measures = { { name = "m", run = print, metrics = { { name = "a" }, { name = "a" } } } } },
        "measures[1]: metric 'a' is named twice" },
      { { measures = { { name = "m", run = print, x = 3 } } }, "measures[1]: series and x go together" },
    }
    for _, c in ipairs(cases) do
      local ok, err = pcall(perf.benchmark, c[1])
      assert.is_false(ok)
      assert.matches(c[2], err, 1, true)
    end
  end)

  it("words a change by the metric's unit", function()
    assert.are.equal("time", perf.kind_of("ms"))
    assert.are.equal("rate", perf.kind_of("q/s"))
    assert.are.equal("size", perf.kind_of("MB"))
    assert.are.equal("count", perf.kind_of("%"))
  end)
end)

describe("perf suites on the search path", function()
  it("lists the product's suites", function()
    local names = suite.list()
    for _, n in ipairs({ "cache", "generation", "memory", "pipeline", "scalability", "stats", "stress" }) do
      assert.truthy(table.concat(names, ","):find(n, 1, true), n)
    end
    local s = assert(suite.load("stats"))
    assert.are.equal("stats", s.name)
    assert.matches("benchmarks/perf/stats%.lua$", s.file)
  end)

  it("says what is wrong with a name or a file, with its line", function()
    local dir = H.tmpdir()
    local _, err = suite.load("nope")
    assert.matches("unknown suite 'nope' %(known: cache,", err)
    _, err = suite.load(H.write(dir .. "/syntax.lua", "return {\n  latency_test = function() end\n  x = 1 }"))
    assert.matches("syntax%.lua:3:", err)
    _, err = suite.load(H.write(dir .. "/raises.lua", "local x = nil\nreturn x.y"))
    assert.matches("raises%.lua:2: attempt to index", err)
    _, err = suite.load(H.write(dir .. "/bad.lua", "return { latency_test = 3 }"))
    assert.matches("bad%.lua: latency_test: a function expected", err)
    _, err = suite.load(dir .. "/missing.lua")
    assert.matches("missing%.lua", err)
    H.rm(dir)
  end)
end)

describe("perf.runner", function()
  it("runs latency_test and throughput_test round by round: mean, p50, p95, p99 and operations/s", function()
    local calls = 0
    local def = perf.benchmark{
      name = "sleepy",
      setup = function(ctx) ctx.nap = 0.001 end,
      latency_test = function(ctx) calls = calls + 1; require("causal_eval.host").sleep(ctx.nap) end,
      throughput_test = function() require("causal_eval.host").sleep(0.001); return 2 end,
    }
    local r = runner.run({ { name = "sleepy", file = "x.lua", def = def } }, { quick = true, rounds = 3, iterations = 20,
                                                                              duration = 0.05 })
    local m = by_id(r)
    -- warm-up (2) plus 20 timed calls a round
    assert.are.equal(3 * 22, calls)
    for _, k in ipairs({ "mean", "p50", "p95", "p99" }) do
      local mt = m["sleepy.latency_" .. k]
      assert.are.equal(3, #mt.samples)
      assert.are.equal("ms", mt.unit)
      assert.truthy(mt.median >= 1 and mt.median < 50, k .. " " .. mt.median)
    end
    local p = m["sleepy.latency_p99"]
    assert.truthy(p.median >= m["sleepy.latency_p50"].median)
    assert.are.equal(60, m["sleepy.latency_mean"].distribution.n)
    assert.is_nil(p.distribution)
    -- each call did two operations in a little over a millisecond
    local tp = m["sleepy.throughput"].median
    assert.truthy(tp > 100 and tp <= 2000, tostring(tp))
    assert.are.equal("higher", m["sleepy.throughput"].better)
    assert.are.equal("ok", r.suites[1].status)
  end)

  it("goes on past a measure that fails, skips or misses its target, and cleans up whatever happens", function()
    local torn, cleaned = 0, 0
    local def = perf.benchmark{
      name = "mixed",
      setup = function(ctx) ctx:defer(function() cleaned = cleaned + 1 end) end,
      teardown = function() torn = torn + 1 end,
      measures = {
        { name = "boom", unit = "ms", better = "lower", run = function(ctx) if ctx.round == 2 then error("disk on fire") end return 1 end },
        { name = "away", run = function(ctx) ctx:skip("no GPU here") end },
        { name = "check", unit = "%", run = function() return 99, "1 question unaccounted" end },
        { name = "slow", unit = "ms", better = "lower", target = { max = 5 }, run = function() return 7 end },
        { name = "fine", unit = "ms", better = "lower", target = { max = 5 }, run = function() return 3 end },
        { name = "many", metrics = { { name = "a", unit = "s" }, { name = "b", unit = "s" } },
          run = function() return { a = 1 } end },
      },
    }
    local r = runner.run({ { name = "mixed", def = def } }, { quick = true, rounds = 3 })
    local m = by_id(r)
    assert.are.equal("error", m["mixed.boom"].status)
    assert.matches("disk on fire", m["mixed.boom"].message)
    assert.are.equal(1, #m["mixed.boom"].samples)
    assert.are.equal("skipped", m["mixed.away"].status)
    assert.are.equal("no GPU here", m["mixed.away"].message)
    assert.are.equal("failed", m["mixed.check"].status)
    assert.are.equal("1 question unaccounted", m["mixed.check"].message)
    assert.are.equal(3, #m["mixed.check"].samples)
    assert.are.equal("failed", m["mixed.slow"].status)
    assert.is_false(m["mixed.slow"].target_met)
    assert.matches("misses its target <= 5", m["mixed.slow"].message)
    assert.are.equal("ok", m["mixed.fine"].status)
    assert.is_true(m["mixed.fine"].target_met)
    assert.are.equal("error", m["mixed.a"].status)
    assert.matches("returned nothing for metric 'b'", m["mixed.a"].message)
    assert.are.equal("error", r.suites[1].status)
    assert.are.equal(1, torn)
    assert.are.equal(1, cleaned)
  end)

  it("skips a suite whose setup skips, and reports one whose setup fails", function()
    local cleaned = false
    local r = runner.run({
      { name = "s1", def = perf.benchmark{ setup = function(ctx) ctx:skip("redis-server is not installed") end,
                                           latency_test = function() end } },
      { name = "s2", def = perf.benchmark{ setup = function(ctx)
          ctx:defer(function() cleaned = true end)
          error("cannot start")
        end, latency_test = function() end } },
    }, { quick = true })
    assert.are.equal("skipped", r.suites[1].status)
    assert.are.equal("redis-server is not installed", r.suites[1].message)
    assert.are.equal("error", r.suites[2].status)
    assert.matches("setup: .*cannot start", r.suites[2].message)
    assert.is_true(cleaned)
  end)

  it("stops and cleans up its servers and folders when the suite ends", function()
    local def = perf.benchmark{
      setup = function(ctx)
        ctx.mock_server = ctx:mock{}
        ctx.dir = ctx:tmpdir()
      end,
      measures = { { name = "stats", run = function(ctx) return ctx.mock_server:stats().requests end } },
    }
    local s = { name = "srv", def = def }
    local seen
    def.teardown = function(ctx) seen = { pid = ctx.mock_server.pid, dir = ctx.dir } end
    local r = runner.run({ s }, { quick = true, rounds = 1, bin = H.bin })
    assert.are.equal("ok", r.suites[1].status, r.suites[1].message)
    assert.truthy(seen.pid)
    -- ended and reaped: no process, not even a zombie
    assert.is_nil(io.open("/proc/" .. seen.pid .. "/stat", "rb"), "the mock server is still there")
    assert.is_nil(io.open(seen.dir, "rb"))
  end)
end)

describe("causal-eval bench on a user benchmark", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("prints a table per suite and writes every figure as JSON", function()
    local path = H.write(dir .. "/scoring.lua", [[
local perf = require "causal_eval.perf"
local scoring = require "causal_eval.scoring"
local q = { answer_type = "yes_no", ground_truth = "yes" }
return perf.benchmark{
  name = "scoring", description = "score one answer",
  latency_test = function() assert(scoring.score(q, "Yes.").correct) end,
  throughput_test = function() scoring.score(q, "No.") end,
}]])
    local r = H.run({ "bench", path, "--quick", "--json", dir .. "/out.json", "--quiet" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("scoring: score one answer  %[ok", r.stdout)
    assert.matches("\n  latency_p95 +[%d.]+ [mun]?s +%+%-[%d.]+%% +2 %(", r.stdout)
    assert.matches("\n  throughput +[%d,.]+ ops/s", r.stdout)
    local d = assert(json.decode(H.read(dir .. "/out.json")))
    assert.are.equal("causal-eval-bench/1", d.format)
    assert.is_true(d.quick)
    local m = d.suites[1].metrics
    assert.are.equal("scoring.latency_mean", m[1].id)
    assert.are.equal(2, #m[1].samples)
    assert.are.equal("scoring.throughput", m[5].id)
    assert.truthy(m[5].median > 1000)
    -- --json - writes the JSON on stdout instead of the table
    r = H.run({ "bench", path, "--quick", "--rounds", "1", "--json", "-", "--quiet" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("scoring.throughput", json.decode(r.stdout).suites[1].metrics[5].id)
  end)

  it("exits 1 when a measure fails and 2 on bad options", function()
    local path = H.write(dir .. "/failing.lua", [[
return { measures = { { name = "n", unit = "ms", better = "lower", target = { max = 1 }, run = function() return 2 end } } }]])
    local r = H.run({ "bench", path, "--quick", "--quiet" })
    assert.are.equal(1, r.code)
    assert.matches("n +2 ms .*<= 1 ms: FAIL", r.stdout)
    r = H.run({ "bench", path, "--rounds", "0" })
    assert.are.equal(2, r.code)
    assert.matches("%-%-rounds must be >= 1", r.stderr)
    r = H.run({ "bench", path, "--baseline", "a.json", "--baseline-ref", "HEAD" })
    assert.are.equal(2, r.code)
    r = H.run({ "bench", "no_such_suite" })
    assert.are.equal(1, r.code)
    assert.matches("unknown suite 'no_such_suite'", r.stderr)
    r = H.run({ "bench", "--list" })
    assert.are.equal(0, r.code)
    assert.matches("\nscalability +questions/s over concurrency", r.stdout)
  end)
end)

describe("docs/examples/causal_reasoning_bench.lua", function()
  it("runs as docs/authoring.md shows it, and times a model server's answers when CE_BENCH_URL is set", function()
    local dir = H.tmpdir()
    local example = H.root .. "/docs/examples/causal_reasoning_bench.lua"
    local r = H.run({ "bench", example, "--quick", "--quiet", "--json", dir .. "/a.json" }, { env = { CE_BENCH_URL = false } })
    assert.are.equal(0, r.code, r.stderr)
    local m = by_id(json.decode(H.read(dir .. "/a.json")))
    assert.truthy(m["causal_reasoning.latency_p99"].median > 0)
    assert.truthy(m["causal_reasoning.throughput"].median > 10)
    assert.are.equal("skipped", m["causal_reasoning.model_answer"].status)
    local mock = H.mock{ "--latency-ms", "30" }
    r = H.run({ "bench", example, "--quick", "--quiet", "--json", dir .. "/b.json" }, { env = { CE_BENCH_URL = mock.url } })
    local requests = mock:stats().requests
    mock:stop()
    assert.are.equal(0, r.code, r.stderr)
    local answer = by_id(json.decode(H.read(dir .. "/b.json")))["causal_reasoning.model_answer"]
    assert.are.equal("ok", answer.status)
    assert.are.equal(2, requests)
    -- the server takes 30 ms to answer
    assert.truthy(answer.median >= 30 and answer.median < 1000, answer.median)
    H.rm(dir)
  end)
end)

describe("perf.text", function()
  it("shows a time in the unit that suits it", function()
    assert.are.equal("6.2 us", text.figure(0.0062, "ms"))
    assert.are.equal("1.5 s", text.figure(1500, "ms"))
    assert.are.equal("466 ns", text.figure(0.466, "us"))
    assert.are.equal("123,457 q/s", text.figure(123456.7, "q/s"))
    assert.are.equal("42.5 MB", text.figure(42.5, "MB"))
  end)
end)
