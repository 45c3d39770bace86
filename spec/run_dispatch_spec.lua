-- SPDX-License-Identifier: MIT
-- How `causal-eval run` dispatches, against the mock model server: the
-- concurrency is split exactly over the workers (the mock counts the most
-- requests it handled at once), batches of questions, bounds on the
-- settings, a run where everything failed, SIGTERM, and no error path that
-- leaves a run marked running or shows a Lua traceback.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"

local concat = H.concat

local function run_json(args, opts) return H.run_json(concat({ "--cache", "off" }, args), opts) end
local statuses = H.run_statuses

local function no_traceback(r)
  assert.falsy(r.stderr:find("traceback", 1, true), r.stderr)
  assert.falsy(r.stderr:find("%.lua:%d+:"), r.stderr)
end

describe("run dispatch", function()
  local dir, mock
  before_each(function() dir = H.tmpdir() end)
  after_each(function()
    if mock then mock:stop() end
    mock = nil
    H.rm(dir)
  end)

  it("keeps at most --concurrency requests in flight, however many workers", function()
    mock = H.mock({ "--latency-ms", "30" })
    local model = "openai:m@" .. mock.url
    -- one request at a time: 4 workers each rounding its share up sent 4
    local r, rep = run_json({ "--model", model, "--bench", "ladder", "--n", "40", "--workers", "4", "--concurrency", "1",
                              "--data", dir .. "/one" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(40, rep.models[1].n)
    local stats = mock:stats()
    assert.are.equal(40, stats.requests)
    assert.are.equal(1, stats.max_in_flight)
    -- 5 over 3 workers: shares 2, 2, 1 (rounded up: 6)
    mock:reset()
    r = run_json({ "--model", model, "--bench", "ladder", "--n", "60", "--workers", "3", "--concurrency", "5",
                   "--data", dir .. "/five" })
    assert.are.equal(0, r.code, r.stderr)
    stats = mock:stats()
    assert.is_true(stats.max_in_flight <= 5, json.encode(stats))
  end)

  it("keeps to a concurrency a tuning policy lowers while the run works", function()
    mock = H.mock({ "--latency-ms", "20" })
    local calls = 0
    local runner = require "causal_eval.runner"
    local code, rep = runner.run{
      models = { "openai:m@" .. mock.url }, benches = { "ladder" }, n = 150, data = dir .. "/live", quiet = true,
      workers = 2, concurrency = 8, tune_interval = 0.05,
      policy = function()
        calls = calls + 1
        -- once what was in flight at 8 has drained, count afresh
        if calls == 4 then mock:reset() end
        return { concurrency = 3 }
      end,
    }
    assert.are.equal(0, code, rep)
    assert.is_true(calls > 4, "the policy ran " .. calls .. " times")
    local stats = mock:stats()
    assert.is_true(stats.requests > 20, json.encode(stats))
    assert.is_true(stats.max_in_flight <= 3, json.encode(stats)) -- 2 + 2 when each share was rounded up
  end)

  it("hands out questions evaluation.batch_size at a time", function()
    mock = H.mock({ "--latency-ms", "20" })
    -- a batch as large as the run: the first worker takes every question,
    -- so only its share (2 of 4) is ever in flight
    local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--bench", "ladder", "--n", "40", "--workers", "2",
                              "--concurrency", "4", "--set", "evaluation.batch_size=1000", "--data", dir .. "/batch" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(40, rep.models[1].n)
    local stats = mock:stats()
    assert.are.equal(40, stats.requests)
    assert.is_true(stats.max_in_flight <= 2, json.encode(stats))
  end)

  it("takes tickets in batches whose size can change live", function()
    local shared = require "causal_eval.shared"
    local worker = require "causal_eval.worker"
    local tickets, batch = shared.counter(0, 10), shared.counter(4)
    local t = worker.batched(tickets, batch)
    assert.are.equal(0, t:next())
    assert.are.equal(4, tickets:get()) -- one step for four
    assert.are.same({ 1, 2, 3 }, { t:next(), t:next(), t:next() })
    assert.are.equal(4, tickets:get())
    batch:add(-3)                       -- one at a time from now on
    assert.are.equal(4, t:next())
    assert.are.equal(5, tickets:get())
    batch:add(99)                       -- more than is left: what is left
    for want = 5, 9 do assert.are.equal(want, t:next()) end
    assert.is_nil(t:next())
  end)

  it("refuses settings out of bounds with a usage error, before anything is stored", function()
    for _, case in ipairs({
      { { "--workers", "100000" }, "--workers must be between 1 and 1024" },
      { { "--concurrency", "1000000" }, "--concurrency must be between 1 and 65536" },
      { { "--concurrency", "0" }, "--concurrency must be between 1 and 65536" },
      { { "--max-attempts", "1000" }, "--max-attempts must be between 1 and 100" },
      { { "--rate", "-1" }, "--rate must be >= 0" },
      { { "--retry-errors" }, "--retry-errors sends again the failures of a stored run" },
    }) do
      local r = H.run(concat({ "run", "--bench", "ladder", "--n", "2", "--data", dir .. "/b" }, case[1]))
      assert.are.equal(2, r.code, r.stderr)
      assert.truthy(r.stderr:find(case[2], 1, true), r.stderr)
      no_traceback(r)
    end
    assert.are.same({}, statuses(dir .. "/b"))
  end)

  it("refuses more questions than a family can make distinct, before anything is stored", function()
    -- corr2cause has 1,944 easy questions; a third of 6,000 is more
    local r = H.run({ "run", "--bench", "corr2cause", "--n", "6000", "--data", dir .. "/cap", "--quiet" })
    assert.are.equal(1, r.code, r.stderr)
    assert.truthy(r.stderr:find("family corr2cause: 6000 questions would need 2000 distinct easy ones", 1, true), r.stderr)
    no_traceback(r)
    assert.are.same({}, statuses(dir .. "/cap"))
    -- what --limit leaves to ask is what counts
    r = H.run({ "run", "--bench", "corr2cause", "--n", "6000", "--limit", "10", "--data", dir .. "/cap", "--quiet",
                "--model", "baseline:random" })
    assert.are.equal(0, r.code, r.stderr)
  end)

  it("never leaves a run marked running, nor shows a traceback, when it cannot go on", function()
    local qdir = dir .. "/qdir"
    H.sh("mkdir -p " .. H.quote(qdir))
    for _, args in ipairs({
      { "--set", "cache.redis.url=notaurl", "--bench", "ladder", "--n", "2" },
      { "--questions", qdir },
    }) do
      local r = H.run(concat({ "run", "--data", dir .. "/d" }, args))
      if args[1] == "--questions" then assert.is_true(r.code ~= 0, r.stderr) end
      no_traceback(r)
      for _, s in ipairs(statuses(dir .. "/d")) do assert.are_not.equal("running", s) end
    end
  end)

  it("marks a run failed, with the message, when something breaks after it started", function()
    local runner = require "causal_eval.runner"
    local data = dir .. "/broken"
    local boom = { evaluate = function() error("alert engine broke") end }
    local ok, code, msg = pcall(runner.run, { models = { "baseline:random" }, benches = { "ladder" }, n = 400,
                                              data = data, quiet = true, alerts = boom, alert_interval = 0 })
    assert.is_true(ok, tostring(code))
    assert.is_nil(code)
    assert.are.equal("internal error: alert engine broke", msg)
    local r = H.run({ "results", "show", "last", "--data", data, "--json" })
    assert.are.equal("failed", json.decode(r.stdout).status, r.stdout)
  end)

  it("exits 1 and says so when every question failed", function()
    mock = H.mock({ "--fault-500", "1" })
    local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--bench", "ladder", "--n", "10",
                              "--max-attempts", "1", "--data", dir .. "/allfail" })
    assert.are.equal(1, r.code, r.stderr)
    assert.are.equal("failed", rep.status)
    assert.truthy(rep.message:find("every question failed", 1, true), rep.message)
    assert.truthy(rep.message:find("server 10", 1, true), rep.message)
    -- a model that answered nothing among others that did: named, exit 1
    r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--model", "baseline:random", "--bench", "ladder",
                        "--n", "10", "--max-attempts", "1", "--data", dir .. "/onefail" })
    assert.are.equal(1, r.code, r.stderr)
    assert.are.equal("completed", rep.status)
    assert.truthy(rep.message:find("every question of openai:m@", 1, true), rep.message)
    -- --quiet drops notes, not the reason for exit 1
    local q = H.run({ "run", "--quiet", "--model", "openai:m@" .. mock.url, "--bench", "ladder", "--n", "3",
                      "--max-attempts", "1", "--cache", "off", "--data", dir .. "/quiet" })
    assert.are.equal(1, q.code, q.stderr)
    assert.truthy(q.stderr:find("every question failed", 1, true), q.stderr)
  end)

  it("honours a model's own max_attempts", function()
    mock = H.mock({ "--fault-500", "1" })
    local models = H.write(dir .. "/models.yaml", ("models:\n  once:\n    adapter: openai\n    model: m\n" ..
      "    base_url: %s\n    max_attempts: 1\n"):format(mock.url))
    local r, rep = run_json({ "--model", "once", "--bench", "ladder", "--n", "10", "--data", dir .. "/once",
                              "--set", "run.retry_base=0.01" }, { env = { CAUSAL_EVAL_MODELS = models } })
    assert.are.equal(10, rep.models[1].errors, r.stderr)
    assert.are.equal(10, mock:stats().requests)
  end)

  it("names SIGTERM when it stops on one", function()
    mock = H.mock({ "--latency-ms", "50" })
    local data = dir .. "/term"
    local out = dir .. "/term.out"
    -- the run id is printed once the run is written: then the signal
    local cmd = ("%s run --model openai:m@%s --bench ladder --n 200 --concurrency 1 --cache off --data %s 2>%s & p=$!; " ..
      "for i in $(seq 100); do grep -q '^run ' %s && break; sleep 0.05; done; sleep 0.2; kill -TERM $p; wait $p; echo $?")
      :format(H.quote(H.bin), mock.url, H.quote(data), H.quote(out), H.quote(out))
    local r = H.run(cmd)
    local err = H.read(out)
    assert.are.equal("143", r.stdout:match("(%d+)%s*$"), err)
    assert.truthy(err:find("SIGTERM", 1, true), err)
    assert.falsy(err:find("Ctrl-C", 1, true), err)
    local shown = json.decode(H.run({ "results", "show", "last", "--data", data, "--json" }).stdout)
    assert.are.equal("interrupted", shown.status)
    assert.truthy(shown.message:find("interrupted by SIGTERM", 1, true), shown.message)
  end)
end)
