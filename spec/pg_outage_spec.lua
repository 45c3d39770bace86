-- SPDX-License-Identifier: MIT
-- A run whose PostgreSQL server goes away (spec/pg_helpers.lua kills it):
-- the answers wait in memory up to database.buffer_mb (then the workers
-- wait, and stop asking), the writer retries, and the run finishes when
-- the server is back within database.retry_for; past it, the run stops
-- saying so, and a resume writes what the journal kept and finishes,
-- every question stored once.
local H = require "spec.helpers"
local PG = require "spec.pg_helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"

describe("a PostgreSQL server lost during a run", function()
  local pg, dir, qfile, mock
  local NQ = 2000
  setup(function()
    pg = PG.start()
    dir = H.tmpdir()
    qfile = H.questions(dir, { "ladder", "--n", tostring(NQ), "--seed", "3" })
  end)
  teardown(function()
    if pg then pg:stop() end
    H.rm(dir)
  end)
  after_each(function()
    if mock then mock:stop() end
    mock = nil
  end)

  -- starts `run` in the background: a handle with wait() -> exit status, stderr
  local function start_run(args)
    local out = dir .. "/run" .. math.random(1e9)
    local words = {}
    for i, a in ipairs(H.concat({ H.bin, "run", "--json", "--cache", "off" }, args)) do words[i] = H.quote(a) end
    local p = assert(io.popen(("(%s >%s.out 2>%s.err; echo $? >%s.code) & echo $!"):format(table.concat(words, " "),
      out, out, out)))
    local pid = tonumber(p:read("l"))
    p:close()
    local run = { pid = pid }
    function run.wait(timeout)
      local deadline = host.clock() + (timeout or 120)
      while not H.read(out .. ".code") or H.read(out .. ".code") == "" do
        if host.clock() > deadline then
          H.sh("kill -9 " .. pid .. " 2>/dev/null")
          error("the run did not end: " .. (H.read(out .. ".err") or ""))
        end
        host.sleep(0.05)
      end
      return tonumber(H.read(out .. ".code")), H.read(out .. ".err") or "", H.read(out .. ".out") or ""
    end
    function run.stderr() return H.read(out .. ".err") or "" end
    return run
  end

  local function wait_for(what, fn, timeout)
    local deadline = host.clock() + (timeout or 30)
    while not fn() do
      if host.clock() > deadline then error("timed out waiting for " .. what, 2) end
      host.sleep(0.02)
    end
  end

  -- kills the server once more than n answers of the run are stored in db
  local function kill_after(db, n)
    wait_for("answers to be stored", function()
      return (tonumber(pg:sql("SELECT count(*) FROM causal_eval.scores", { db = db, may_fail = true }) or 0) or 0) > n
    end)
    pg:kill()
  end

  local function stored(url, db)
    return tonumber(pg:sql("SELECT count(*) FROM causal_eval.scores", { db = db })), url
  end

  it("waits for a server that comes back within retry_for, asking nothing more meanwhile, and finishes", function()
    mock = H.mock({ "--questions", qfile, "--latency-ms", "5" })
    local url, db = pg:database()
    local run = start_run({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--concurrency", "16",
                            "--store", url, "--data", dir .. "/d1", "--set", "database.retry_for=60",
                            "--set", "database.buffer_mb=1" })
    kill_after(db, 100)
    -- 1 MB of answers at most wait in memory: then the workers wait too
    host.sleep(1.5)
    local asked = mock:stats().requests
    host.sleep(1)
    local later = mock:stats().requests
    assert.is_true(later - asked <= 16, ("%d requests while the server was down and the buffer full"):format(later - asked))
    assert.is_true(later < NQ, "the run asked every question while the server was down")
    pg:restart()
    local code, err, out = run.wait()
    assert.are.equal(0, code, err)
    -- the statement that failed, or the connection that could not be made
    assert.truthy(err:find("warning: PostgreSQL at " .. url, 1, true) or err:find("warning: cannot connect to PostgreSQL at "
      .. url, 1, true), err)
    assert.truthy(err:find("retrying for up to 60 s", 1, true), err)
    assert.truthy(err:find("the results store is reachable again", 1, true), err)
    local rep = json.decode(out)
    assert.are.equal(NQ, rep.models[1].n)
    assert.are.equal(NQ, stored(url, db))
    local st = mock:stats()
    assert.are.equal(NQ, st.questions_answered)
    assert.are.equal(0, st.answered_more_than_once)
  end)

  it("stops once retry_for has passed, says how to go on, and a resume finishes with every answer stored once", function()
    mock = H.mock({ "--questions", qfile, "--latency-ms", "5" })
    local url, db = pg:database()
    local data = dir .. "/d2"
    local run = start_run({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--concurrency", "16",
                            "--store", url, "--data", data, "--set", "database.retry_for=2" })
    kill_after(db, 100)
    local t0 = host.clock()
    local code, err = run.wait(60)
    local took = host.clock() - t0
    assert.are.equal(1, code, err)
    assert.is_true(took < 15, ("the run went on for %.1f s without its server"):format(took))
    local run_id = err:match("run (%d+%-%d+%-%x+)")
    assert.truthy(run_id, err)
    assert.truthy(err:find("retried for 2 s (database.retry_for): the answers not written are kept in the journal in "
      .. data .. "/pg-", 1, true), err)
    assert.truthy(err:find("a resume (causal-eval run --resume " .. run_id .. ") writes them once the server is back", 1, true),
      err)
    assert.is_nil(err:find("traceback", 1, true), err)
    assert.is_nil(err:find("internal error", 1, true), err)
    local asked = mock:stats().questions_answered
    pg:restart()
    local r = H.run({ "run", "--json", "--cache", "off", "--resume", run_id, "--store", url, "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    local rep = json.decode(r.stdout)
    assert.are.equal(NQ, rep.models[1].n)
    assert.are.equal(NQ, stored(url, db))
    assert.are.equal("1", pg:sql(("SELECT count(*) FROM causal_eval.runs WHERE id = '%s' AND status = 'completed'")
      :format(run_id), { db = db }))
    -- asked twice: only what was in flight when the run stopped
    local st = mock:stats()
    assert.are.equal(NQ, st.questions_answered)
    assert.is_true(st.answered_more_than_once <= 16, ("%d answered twice (%d before the resume)"):format(
      st.answered_more_than_once, asked))
    -- the daily totals agree with the score lines after all that
    assert.are.equal(tostring(NQ), pg:sql("SELECT sum(answers) FROM causal_eval.model_days", { db = db }))
  end)

  it("sends no more questions once the store failed: only the answers in flight are asked again", function()
    -- slow enough (2 in flight, 5 ms each) to be asking still when the
    -- writer gives up: the answers that came after its failure were lost,
    -- and kept coming until the run's watch of the store saw it (up to
    -- 0.1 s: 40 answers at this pace, hundreds at a real one)
    mock = H.mock({ "--questions", qfile, "--latency-ms", "5" })
    local url, db = pg:database()
    local data = dir .. "/d3"
    local run = start_run({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--concurrency", "2",
                            "--store", url, "--data", data, "--set", "database.retry_for=1" })
    kill_after(db, 50)
    local code, err = run.wait(60)
    assert.are.equal(1, code, err)
    local run_id = err:match("run (%d+%-%d+%-%x+)")
    local asked = mock:stats().questions_answered
    assert.is_true(asked < NQ, "the run asked every question before its store failed: the test proves nothing")
    pg:restart()
    local r = H.run({ "run", "--json", "--cache", "off", "--resume", run_id, "--store", url, "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(NQ, stored(url, db))
    local st = mock:stats()
    assert.are.equal(NQ, st.questions_answered)
    assert.is_true(st.answered_more_than_once <= 2, ("%d answered twice (%d before the resume)"):format(
      st.answered_more_than_once, asked))
  end)
end)
