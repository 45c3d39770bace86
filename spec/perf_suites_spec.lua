-- SPDX-License-Identifier: MIT
-- The product's performance suites (benchmarks/perf/*.lua) in --quick
-- mode, as one `causal-eval bench` command: every suite runs, every metric
-- is measured in every round (median and spread from them), and what each
-- suite claims holds: generation per family, a hit per cache layer (Redis
-- when redis-server is installed), the pipeline beside libcurl's floor,
-- RssAnon of a large run, curves over concurrency and workers, and every
-- question accounted for under 20% faults.
local H = require "spec.helpers"
local json = require "causal_eval.json"

describe("causal-eval bench: the product's suites, --quick", function()
  local dir, d, r
  setup(function()
    dir = H.tmpdir()
    r = H.run({ "bench", "--quick", "--json", dir .. "/all.json" })
    d = json.decode(H.read(dir .. "/all.json") or "null")
  end)
  teardown(function() H.rm(dir) end)

  local function suite(name)
    for _, s in ipairs(d.suites) do if s.name == name then return s end end
    error("no suite " .. name)
  end
  local function metric(s, name)
    for _, mt in ipairs(suite(s).metrics) do if mt.name == name then return mt end end
    error("no metric " .. s .. "." .. name)
  end
  local function measured(mt)
    assert.are.equal("ok", mt.status, mt.id .. ": " .. tostring(mt.message))
    assert.are.equal(d.rounds, #mt.samples, mt.id)
    assert.truthy(mt.median > 0, mt.id)
    assert.truthy(mt.min <= mt.median and mt.median <= mt.max, mt.id)
  end

  it("runs all seven suites in one command, exit 0, a table of each", function()
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.truthy(d, r.stderr)
    assert.is_true(d.quick)
    assert.are.equal(2, d.rounds)
    local names = {}
    for _, s in ipairs(d.suites) do names[#names + 1] = s.name end
    assert.are.same({ "cache", "generation", "memory", "pipeline", "scalability", "stats", "stress" }, names)
    for _, n in ipairs(names) do assert.matches("\n" .. n .. ": ", r.stdout) end
    -- progress went to stderr, round by round
    assert.matches("round 2/2", r.stderr)
  end)

  it("generation: questions/s for every family and their mix", function()
    local fams = require("causal_eval.bench").list()
    assert.truthy(#fams >= 7)
    for _, f in ipairs(fams) do measured(metric("generation", f)) end
    measured(metric("generation", "all"))
    assert.are.equal("q/s", metric("generation", "all").unit)
  end)

  it("cache: memory and LMDB hits in microseconds, Redis when it is there", function()
    local mem, lmdb = metric("cache", "memory_hit"), metric("cache", "lmdb_hit")
    measured(mem)
    measured(lmdb)
    assert.truthy(mem.median < 50 and lmdb.median < 500, ("%g us, %g us"):format(mem.median, lmdb.median))
    local redis = metric("cache", "redis_pipelined")
    local _, code = H.sh("command -v redis-server")
    if code == 0 then
      measured(redis)
    else
      assert.are.equal("skipped", redis.status)
    end
  end)

  it("stats, pipeline and memory: figures from real runs", function()
    measured(metric("stats", "bootstrap"))
    measured(metric("stats", "paired"))
    for _, n in ipairs({ "questions_per_s", "cpu_per_question", "libcurl_floor", "share_of_floor" }) do
      measured(metric("pipeline", n))
    end
    -- the pipeline does more per request than libcurl alone
    assert.truthy(metric("pipeline", "share_of_floor").median < 100)
    -- sampled from /proc while the run worked (no bound here: sanitizer builds take several times the memory)
    local anon = metric("memory", "peak_rss_anon")
    measured(anon)
    assert.truthy(anon.median > 1, anon.median .. " MB")
    measured(metric("memory", "peak_rss_file"))
    assert.is_nil(anon.target, "--quick sizes are not held to the 200,000-question target")
  end)

  it("scalability: a curve over concurrency and one over workers", function()
    local conc, workers = {}, {}
    for _, mt in ipairs(suite("scalability").metrics) do
      measured(mt)
      if mt.series == "concurrency" then conc[#conc + 1] = mt end
      if mt.series == "workers" then workers[#workers + 1] = mt end
    end
    assert.are.equal(2, #conc)
    assert.truthy(#workers >= 2)
    -- sixteen requests in flight against a 20 ms model answer faster than one
    assert.are.equal(1, conc[1].x)
    assert.truthy(conc[2].median > 3 * conc[1].median, ("%g vs %g"):format(conc[2].median, conc[1].median))
  end)

  it("stress: 20% of attempts failed and every question is accounted for", function()
    local acc = metric("stress", "accounted")
    measured(acc)
    assert.are.equal(100, acc.median)
    assert.is_true(acc.target_met)
    local rate = metric("stress", "fault_rate")
    assert.truthy(rate.median > 12 and rate.median < 28, rate.median .. "%")
  end)
end)
