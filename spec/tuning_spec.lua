-- SPDX-License-Identifier: MIT
-- Tuning policies, alone and steering a real run against a mock that
-- refuses more than 24 requests at once.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local tuning = require "causal_eval.tuning"

describe("tuning policies", function()
  it("AIMD adds one when quiet, backs off on 429s, within its bounds", function()
    local p = tuning.aimd{ min = 2, max = 10 }
    assert.are.equal(6, p({ responses = 50, rate_429 = 0 }, { concurrency = 5 }).concurrency)
    assert.are.equal(8, p({ responses = 50, rate_429 = 0.1 }, { concurrency = 10 }).concurrency)
    assert.are.equal(10, p({ responses = 50, rate_429 = 0 }, { concurrency = 10 }).concurrency)
    assert.are.equal(2, p({ responses = 50, rate_429 = 0.5 }, { concurrency = 2 }).concurrency)
    -- nothing answered in the interval: no evidence, no change
    assert.are.equal(5, p({ responses = 0, rate_429 = 0 }, { concurrency = 5 }).concurrency)
    local lat = tuning.aimd{ target_p95 = 1.0 }
    assert.are.equal(8, lat({ responses = 5, rate_429 = 0, p95 = 2.5 }, { concurrency = 10 }).concurrency)
  end)

  it("the batch-size rule halves above 5 s p95 and doubles under 1 s below target throughput", function()
    local p = tuning.batch_size{ target_throughput = 100 }
    assert.are.equal(5, p({ p95 = 6 }, { batch_size = 10 }).batch_size)
    assert.are.equal(20, p({ p95 = 0.5, throughput = 50 }, { batch_size = 10 }).batch_size)
    assert.are.equal(10, p({ p95 = 0.5, throughput = 150 }, { batch_size = 10 }).batch_size)
    assert.are.equal(10, p({ p95 = 3 }, { batch_size = 10 }).batch_size)
  end)

  it("auto_tune backs off above its CPU, memory or latency targets", function()
    local p = tuning.DynamicConfig.auto_tune{ target_cpu_utilization = 0.8, target_memory_utilization = 0.7,
                                              target_latency_p95 = 2.0 }
    assert.are.equal(17, p({ responses = 5, cpu = 0.95 }, { concurrency = 20 }).concurrency)
    assert.are.equal(17, p({ responses = 5, memory = 0.9 }, { concurrency = 20 }).concurrency)
    assert.are.equal(17, p({ responses = 5, p95 = 3 }, { concurrency = 20 }).concurrency)
    assert.are.equal(21, p({ responses = 5, cpu = 0.5, memory = 0.2, p95 = 0.1 }, { concurrency = 20 }).concurrency)
  end)

  it("names an unknown goal", function()
    local p, err = tuning.for_goal("speed", 8)
    assert.is_nil(p)
    assert.truthy(err:find("unknown goal 'speed'", 1, true))
  end)
end)

describe("a policy's batch size", function()
  it("changes how many questions a worker takes at a time while the run works", function()
    local dir = H.tmpdir()
    local mock = H.mock({ "--latency-ms", "20" })
    finally(function()
      mock:stop()
      H.rm(dir)
    end)
    local calls = 0
    local code, rep = require("causal_eval.runner").run{
      models = { "openai:m@" .. mock.url }, benches = { "ladder" }, n = 150, data = dir .. "/d", quiet = true,
      cache_mode = "off", workers = 2, concurrency = 4, batch_size = 1, tune_interval = 0.05,
      policy = function(_, settings)
        calls = calls + 1
        -- the batches of one taken before are sent by now: count afresh
        if calls == 4 then mock:reset() end
        -- the next batch takes what is left: one worker, two requests in flight
        return { batch_size = 1000 }
      end,
    }
    assert.are.equal(0, code, rep)
    assert.are.equal(1000, rep.tuning[#rep.tuning].batch_size)
    local stats = mock:stats()
    assert.is_true(calls > 4 and stats.requests > 20, json.encode(stats))
    assert.is_true(stats.max_in_flight <= 2, json.encode(stats))
  end)
end)

describe("run --optimize-for throughput", function()
  it("settles AIMD within 20% of a server's limit of 24, with under 2% 429s once settled", function()
    local dir = H.tmpdir()
    local qfile = H.questions(dir, { "all", "--n", "400", "--seed", "2" })
    local mock = H.mock({ "--questions", qfile, "--latency-ms", "20", "--max-concurrent", "24", "--retry-after", "0.05" })
    local r = H.run({ "run", "--json", "--quiet", "--model", "openai:m@" .. mock.url, "--questions", qfile,
                      "--concurrency", "12", "--optimize-for", "throughput", "--data", dir .. "/d", "--cache", "off",
                      "--set", "run.retry_base=0.05" })
    assert.are.equal(0, r.code, r.stderr)
    local rep = json.decode(r.stdout)
    assert.are.equal(#require("causal_eval.bench").list() * 400, rep.models[1].n)
    assert.are.equal(0, rep.models[1].errors)
    -- settled: from the first time it reached the limit
    local settle
    for _, t in ipairs(rep.tuning) do
      if not settle and t.concurrency >= 24 then settle = t.t end
    end
    assert.is_not_nil(settle, "never reached 24")
    local sum, n, responses, limited = 0, 0, 0, 0
    for _, t in ipairs(rep.tuning) do
      if t.t > settle then
        sum, n = sum + t.concurrency, n + 1
        responses, limited = responses + t.responses, limited + t.limited
      end
    end
    assert.is_true(n >= 5, ("only %d intervals after settling"):format(n))
    local mean = sum / n
    assert.is_true(mean >= 24 * 0.8 and mean <= 24 * 1.2, ("mean concurrency %.1f after settling"):format(mean))
    assert.is_true(limited / responses < 0.02, ("429 rate %.4f after settling (%d of %d)"):format(limited / responses, limited, responses))
    mock:stop()
    H.rm(dir)
  end)
end)
