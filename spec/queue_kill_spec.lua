-- SPDX-License-Identifier: MIT
-- 2,000 questions queued on a real redis-server, three `causal-eval worker`
-- processes against the mock model server (25 ms a reply), one killed with
-- kill -9 while it holds questions: every question is answered and stored
-- exactly once, the only questions the model is asked twice are requests
-- the dead worker had in flight (at most its --concurrency), and the
-- summary `run --queue` prints is a local run's.
local H = require "spec.helpers"
local Q = require "spec.queue_helpers"
local host = require "causal_eval.host"
local queue_core = require "causal_eval.queue_core"

local CONCURRENCY = 8 -- each worker's requests in flight

describe("a queued run whose worker is killed (kill -9) in the middle", function()
  local dir, redis, mock
  setup(function()
    dir = H.tmpdir()
    H.questions(dir, { "all", "--n", "400" })
    redis = H.redis()
    mock = H.mock({ "--questions", dir .. "/q.jsonl", "--accuracy", "0.7", "--latency-ms", "25" })
  end)
  teardown(function()
    Q.cleanup()
    if mock then mock:stop() end
    if redis then redis:stop() end
    H.rm(dir)
  end)

  it("answers and stores every question once, and sums up as a local run", function()
    local data = dir .. "/d"
    local questions = { "--model", "openai:mock@" .. mock.url, "--bench", "all", "--n", "400", "--limit", "2000",
                        "--cache", "off" }
    local fast_claims = { "--set", "queue.claim_after=1" }
    local workers = {}
    for i = 1, 3 do
      workers[i] = Q.spawn(dir, "w" .. i, Q.worker_args(redis, data,
        H.concat({ "--workers", "2", "--concurrency", tostring(CONCURRENCY) }, fast_claims)))
    end
    local runp = Q.spawn(dir, "run", H.concat({ "run", "--queue", redis.url, "--data", data, "--json" }, questions, fast_claims))
    local id = Q.run_id(runp)

    -- once answers flow, worker 1 dies holding questions
    Q.until_true(function() return mock:stats().questions_answered >= 500 or runp:status() end, 60, "answers")
    workers[1]:kill("KILL")
    assert.are.equal(128 + 9, workers[1]:wait(10))
    local conn = assert(queue_core.connect(redis.url))
    local pending = assert(conn:call("XPENDING", "ce:q:run:" .. id .. ":s", "workers"))
    local held = 0
    for _, c in ipairs(type(pending[4]) == "table" and pending[4] or {}) do
      if c[1]:find(":" .. workers[1].pid .. ":", 1, true) then held = held + tonumber(c[2]) end
    end
    conn:close()
    assert.is_true(held > 0, "the killed worker held no question: nothing was left to claim")

    assert.are.equal(0, runp:wait(60), runp:err())
    local report = assert(Q.report(runp), runp:out())
    assert.are.equal("completed", report.status)

    -- every question stored once
    local n, repeated = Q.stored(data, id)
    assert.are.equal(2000, n)
    assert.are.equal(0, repeated)
    -- every question asked; twice only what the dead worker had in flight
    local st = mock:stats()
    local deadline = host.clock() + 10
    while st.in_flight > 0 and host.clock() < deadline do
      host.sleep(0.02)
      st = mock:stats()
    end
    assert.are.equal(2000, st.questions_answered)
    assert.is_true(st.answered_more_than_once <= CONCURRENCY,
      ("%d questions asked twice; the dead worker had %d in flight at most"):format(st.answered_more_than_once, CONCURRENCY))

    -- the survivors end cleanly on SIGTERM
    for i = 2, 3 do
      workers[i]:kill("TERM")
      assert.are.equal(0, workers[i]:wait(20), workers[i]:err())
    end

    -- the same questions asked by a local run: the same summary
    mock:reset()
    local r, local_report = Q.run_json(H.concat({ "--data", dir .. "/local", "--concurrency", "24" }, questions))
    assert.are.equal(0, r.code, r.stderr)
    assert.are.same(Q.comparable(local_report.models), Q.comparable(report.models))
    assert.are.equal(2000, report.models[1].n)
  end)
end)
