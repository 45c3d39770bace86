-- SPDX-License-Identifier: MIT
-- What holds across all the workers of a queued run, through counters in
-- Redis: --max-tokens-total and --budget-usd (a budget each worker counted
-- alone would let the run spend it once per worker), --rate (one token bucket, not one per
-- worker), and a stop: Ctrl-C on the `run` process stops every worker and
-- the run resumes through its queue.
local H = require "spec.helpers"
local Q = require "spec.queue_helpers"
local json = require "causal_eval.json"

describe("a queued run's limits hold across workers", function()
  local dir, redis, qfile
  setup(function()
    dir = H.tmpdir()
    qfile = H.questions(dir, { "ladder", "--n", "60" })
    redis = H.redis()
  end)
  teardown(function()
    Q.cleanup()
    if redis then redis:stop() end
    H.rm(dir)
  end)
  after_each(function() Q.cleanup() end)

  local function workers(data, n, more)
    local out = {}
    for i = 1, n do out[i] = Q.spawn(dir, ("w%d-%d"):format(i, math.random(1e9)), Q.worker_args(redis, data, more)) end
    return out
  end

  local function stop_all(ws)
    for _, w in ipairs(ws) do
      w:kill("TERM")
      assert.are.equal(0, w:wait(20), w:err())
    end
  end

  local function tokens_of(list)
    local total, most = 0, 0
    for _, rec in ipairs(list) do
      local t = (rec.tokens and rec.tokens.input or 0) + (rec.tokens and rec.tokens.output or 0)
      total, most = total + t, math.max(most, t)
    end
    return total, most
  end

  it("--max-tokens-total: the run stops once all workers together spent it, and resumes", function()
    local mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "50" })
    local ok, err = pcall(function()
      local data = dir .. "/budget"
      local ws = workers(data, 2, { "--workers", "1", "--concurrency", "2" })
      -- a ladder question costs about 300 tokens at the mock: the budget is about 15 answers
      local budget = 4500
      local r, report = Q.run_json({ "--queue", redis.url, "--data", data, "--model", "openai:mock@" .. mock.url,
                                     "--bench", "ladder", "--n", "60", "--cache", "off", "--max-tokens-total", tostring(budget) })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("stopped", report.status)
      assert.matches("token budget reached", report.message, 1, true)
      local n, _, list = Q.stored(data, report.run_id)
      local spent, most = tokens_of(list)
      assert.is_true(spent >= budget, ("spent %d of %d"):format(spent, budget))
      -- past the budget: only what was in flight when it was reached (4
      -- requests), and what was sent before every worker heard of it
      assert.is_true(spent <= budget + 8 * most,
        ("spent %d tokens in %d answers, a budget of %d: each worker counted its own"):format(spent, n, budget))
      assert.is_true(n < 60)
      -- resumed through the queue with a larger budget: the rest, asked once
      mock:reset()
      r, report = Q.run_json({ "--resume", report.run_id, "--queue", redis.url, "--data", data, "--cache", "off",
                               "--max-tokens-total", "1000000" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("completed", report.status)
      assert.are.equal(60, report.models[1].n)
      local st = mock:stats()
      assert.are.equal(60 - n, st.questions_answered)
      assert.are.equal(0, st.answered_more_than_once)
      stop_all(ws)
    end)
    mock:stop()
    assert(ok, err)
  end)

  it("--budget-usd: the cost of all workers' answers together", function()
    local mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "50" })
    local ok, err = pcall(function()
      local data = dir .. "/usd"
      -- $1 per million tokens: about $0.0003 an answer at the mock
      local models = H.write(dir .. "/models.yaml", table.concat({ "models:", "  priced:", "    adapter: openai",
        "    model: mock", "    base_url: " .. mock.url, "    price: { input: 1, output: 1 }", "" }, "\n"))
      local ws = workers(data, 2, { "--workers", "1", "--concurrency", "2" })
      local budget = 0.0045
      local r, report = Q.run_json({ "--queue", redis.url, "--data", data, "--model", "priced", "--bench", "ladder", "--n", "60",
                                     "--cache", "off", "--budget-usd", tostring(budget) }, 120, { CAUSAL_EVAL_MODELS = models })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("stopped", report.status)
      assert.matches("cost budget reached", report.message, 1, true)
      local n, _, list = Q.stored(data, report.run_id)
      local spent, most = 0, 0
      for _, rec in ipairs(list) do
        spent, most = spent + (rec.cost_usd or 0), math.max(most, rec.cost_usd or 0)
      end
      assert.is_true(spent >= budget, ("spent $%.6f of $%.4f"):format(spent, budget))
      assert.is_true(spent <= budget + 8 * most,
        ("spent $%.6f in %d answers, a budget of $%.4f: each worker counted its own"):format(spent, n, budget))
      stop_all(ws)
    end)
    mock:stop()
    assert(ok, err)
  end)

  it("--rate: one token bucket for every worker", function()
    local mock = H.mock({ "--questions", qfile, "--accuracy", "0.7" })
    local ok, err = pcall(function()
      local data = dir .. "/rate"
      local ws = workers(data, 2, { "--workers", "2", "--concurrency", "8" })
      -- 40 requests at 20 per second (a burst of 2): 1.9 s at least; a
      -- bucket per worker would let them through in half that
      local r, report = Q.run_json({ "--queue", redis.url, "--data", data, "--model", "openai:mock@" .. mock.url,
                                     "--bench", "ladder", "--n", "40", "--cache", "off", "--rate", "20" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(40, report.models[1].n)
      assert.is_true(report.elapsed_s >= 1.6, ("40 requests in %.2f s at --rate 20"):format(report.elapsed_s))
      assert.are.equal(40, mock:stats().requests)
      stop_all(ws)
    end)
    mock:stop()
    assert(ok, err)
  end)

  it("Ctrl-C on the run stops its workers (interrupted, exit 130); a resume through the queue finishes it", function()
    local mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "200" })
    local ok, err = pcall(function()
      local data = dir .. "/interrupt"
      local ws = workers(data, 1, { "--workers", "1", "--concurrency", "4" })
      local runp = Q.spawn(dir, "interrupted", { "run", "--queue", redis.url, "--data", data, "--json",
                                                 "--model", "openai:mock@" .. mock.url, "--bench", "ladder", "--n", "60", "--cache", "off" })
      local id = Q.run_id(runp)
      Q.until_true(function() return mock:stats().questions_answered >= 4 end, 20, "answers")
      runp:kill("INT")
      assert.are.equal(130, runp:wait(20), runp:err())
      local report = assert(Q.report(runp), runp:out())
      assert.are.equal("interrupted", report.status)
      assert.matches("resume with: causal-eval run --resume " .. id .. " --queue " .. redis.url, report.message, 1, true)
      local n = Q.stored(data, id)
      assert.is_true(n < 60)
      -- the same worker, still up, answers the resumed run
      local r, again = Q.run_json({ "--resume", id, "--queue", redis.url, "--data", data, "--cache", "off" })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal("completed", again.status)
      local total, repeated = Q.stored(data, id)
      assert.are.equal(60, total)
      assert.are.equal(0, repeated)
      assert.are.equal(60, mock:stats().questions_answered)
      stop_all(ws)
      local shown = json.decode(H.run({ "results", "show", id, "--data", data, "--json" }).stdout)
      assert.are.equal("completed", shown.status)
    end)
    mock:stop()
    assert(ok, err)
  end)
end)
