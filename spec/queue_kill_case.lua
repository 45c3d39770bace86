-- SPDX-License-Identifier: MIT
-- The kill -9 case of the queue (spec/queue_kill_spec.lua on LMDB,
-- spec/queue_kill_pg_spec.lua on PostgreSQL): 2,000 questions queued on a
-- real redis-server, three `causal-eval worker` processes against the mock
-- model server (25 ms a reply), one killed with kill -9 while it holds
-- questions: every question is answered and stored exactly once, the only
-- questions the model is asked twice are requests the dead worker had in
-- flight (at most its --concurrency), and the summary `run --queue` prints
-- is a local run's. With PostgreSQL each worker has a folder of its own,
-- as on machines of their own, and one database holds the results.
local H = require "spec.helpers"
local Q = require "spec.queue_helpers"
local host = require "causal_eval.host"
local queue_core = require "causal_eval.queue_core"

local CONCURRENCY = 8 -- each worker's requests in flight

--- Defines the spec on a backend of spec.pg_helpers' PG.backends(); b
--- holds busted's functions of the spec file (describe, it, setup,
--- teardown, assert), which a module required from it does not see.
return function(backend, b)
local describe, it, setup, teardown, assert = b.describe, b.it, b.setup, b.teardown, b.assert
describe("a queued run whose worker is killed (kill -9) in the middle [" .. backend.name .. "]", function()
  local dir, redis, mock
  setup(function()
    backend.setup()
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
    backend.teardown()
  end)

  it("answers and stores every question once, and sums up as a local run", function()
    local store = backend.fresh()
    -- LMDB: one folder for all; PostgreSQL: a folder each (its journal), one database
    local function data(who) return dir .. "/d" .. (#store > 0 and ("-" .. who) or "") end
    local questions = { "--model", "openai:mock@" .. mock.url, "--bench", "all", "--n", "400", "--limit", "2000",
                        "--cache", "off" }
    local fast_claims = { "--set", "queue.claim_after=1" }
    local workers, runp, id = {}, nil, nil
    local function start_run()
      runp = Q.spawn(dir, "run", H.concat({ "run", "--queue", redis.url, "--data", data("run"), "--json" }, questions,
        fast_claims, store))
      id = Q.run_id(runp)
    end
    -- PostgreSQL: the run first, so that its process creates the schema
    -- (processes creating it in a new database at once collide today:
    -- "relation schema_version already exists"); LMDB: the workers first,
    -- waiting for a run
    if #store > 0 then start_run() end
    for i = 1, 3 do
      workers[i] = Q.spawn(dir, "w" .. i, Q.worker_args(redis, data("w" .. i),
        H.concat({ "--workers", "2", "--concurrency", tostring(CONCURRENCY) }, fast_claims, store)))
    end
    if not runp then start_run() end

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

    local code = runp:wait(60)
    if code ~= 0 then
      local logs = { runp:err() }
      for i, w in ipairs(workers) do logs[#logs + 1] = ("worker %d:\n%s"):format(i, w:err()) end
      error("the run did not end well:\n" .. table.concat(logs, "\n"))
    end
    local report = assert(Q.report(runp), runp:out())
    assert.are.equal("completed", report.status)

    -- every question stored once
    local n, repeated, list = Q.stored(data("run"), id, store)
    if n ~= 2000 then
      -- which ones, and what each worker said: for whoever has to find out why
      local have, missing = {}, {}
      for _, rec in ipairs(list) do have[rec.question_id] = true end
      local i = 0
      for line in io.lines(dir .. "/q.jsonl") do
        local qid = line:match('"id":%s*"([^"]+)"')
        i = i + 1
        if i <= 2000 and not have[qid] then missing[#missing + 1] = qid end
      end
      local logs = { ("%d stored; missing: %s; run: %s"):format(n, table.concat(missing, " "), runp:err()) }
      for k, w in ipairs(workers) do logs[#logs + 1] = ("worker %d:\n%s"):format(k, w:err()) end
      error(table.concat(logs, "\n"))
    end
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
    local r, local_report = Q.run_json(H.concat({ "--data", dir .. "/local", "--concurrency", "24" }, questions,
      (backend.fresh())))
    assert.are.equal(0, r.code, r.stderr)
    assert.are.same(Q.comparable(local_report.models), Q.comparable(report.models))
    assert.are.equal(2000, report.models[1].n)
  end)
end)
end
