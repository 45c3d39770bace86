-- SPDX-License-Identifier: MIT
-- `causal-eval run --queue` and `causal-eval worker` against a real
-- redis-server and the mock model server: what they refuse and say, a
-- detached run answered by a worker, an answer stored already never asked
-- again, a run that is not in the worker's store, a deleted stream, and a
-- worker that ends cleanly on SIGTERM in the middle of a run.
local H = require "spec.helpers"
local Q = require "spec.queue_helpers"
local json = require "causal_eval.json"

describe("run --queue and worker", function()
  local dir, redis, mock, qfile
  setup(function()
    dir = H.tmpdir()
    qfile = H.questions(dir, { "ladder", "--n", "40" })
    redis = H.redis()
    mock = H.mock({ "--questions", qfile, "--accuracy", "0.7" })
  end)
  teardown(function()
    Q.cleanup()
    if mock then mock:stop() end
    if redis then redis:stop() end
    H.rm(dir)
  end)
  after_each(function() Q.cleanup() end)

  local function model() return "openai:mock@" .. mock.url end

  describe("refuses", function()
    it("a malformed queue url, naming it (usage, exit 2)", function()
      local r = H.run({ "run", "--queue", "notaurl", "--model", "baseline:random", "--bench", "ladder", "--n", "2",
                        "--data", dir .. "/never" })
      assert.are.equal(2, r.code)
      assert.matches("--queue: bad redis url 'notaurl'", r.stderr, 1, true)
      r = Q.run({ "worker", "--queue", "redis://127.0.0.1:99999/0", "--data", dir .. "/never" })
      assert.are.equal(2, r.code)
      assert.matches("bad redis url 'redis://127.0.0.1:99999/0'", r.stderr, 1, true)
      r = Q.run({ "worker", "--data", dir .. "/never" })
      assert.are.equal(2, r.code)
      assert.matches("--queue redis://HOST[:PORT][/DB] is needed", r.stderr, 1, true)
      -- the password never shows
      r = Q.run({ "worker", "--queue", "redis://:s3cret@h:0/0" })
      assert.are.equal(2, r.code)
      assert.is_nil(r.stderr:find("s3cret", 1, true))
    end)

    it("options that belong to a local run, and --detach without --queue", function()
      local r = H.run({ "run", "--detach", "--model", "baseline:random", "--data", dir .. "/never" })
      assert.are.equal(2, r.code)
      assert.matches("--detach leaves a run to its workers", r.stderr, 1, true)
      r = H.run({ "run", "--queue", redis.url, "--repl", "--data", dir .. "/never" })
      assert.are.equal(2, r.code)
      assert.matches("--repl is not for --queue", r.stderr, 1, true)
    end)

    it("an unreachable Redis (exit 1), and stores no run", function()
      local data = dir .. "/unreachable"
      local r = H.run({ "run", "--queue", "redis://127.0.0.1:1/0", "--model", "baseline:random", "--bench", "ladder",
                        "--n", "2", "--data", data })
      assert.are.equal(1, r.code)
      assert.matches("cannot reach the queue's Redis at redis://127.0.0.1:1/0: redis 127.0.0.1:1/0: Connection refused",
        r.stderr, 1, true)
      assert.are.same({}, H.run_statuses(data))
      r = Q.run({ "worker", "--queue", "redis://127.0.0.1:1/0", "--data", data })
      assert.are.equal(1, r.code)
      assert.matches("cannot reach the queue's Redis at redis://127.0.0.1:1/0", r.stderr, 1, true)
    end)

    it("a run that is not queued", function()
      local r = Q.run({ "worker", "--queue", redis.url, "--run", "20990101-000000-abcdef", "--data", dir .. "/never" })
      assert.are.equal(1, r.code)
      assert.matches("run 20990101-000000-abcdef is not queued on " .. redis.url, r.stderr, 1, true)
    end)

    it("queue.claim_after out of its bounds, as any setting", function()
      local r = Q.run({ "worker", "--queue", redis.url, "--set", "queue.claim_after=0" })
      assert.are.equal(2, r.code)
      assert.matches("queue.claim_after", r.stderr, 1, true)
      local cfg = H.write(dir .. "/bad.yaml", "development:\n  queue:\n    claim_after: soon\n")
      r = H.run({ "config", "check", cfg })
      assert.are_not.equal(0, r.code)
      assert.matches("bad.yaml:3:%d+: .*queue.claim_after", r.stderr .. r.stdout)
    end)
  end)

  -- `run --queue --detach`: the run id (stderr) and the count queued (JSON)
  local function detached(data, args)
    local r = H.run(H.concat({ "run", "--queue", redis.url, "--detach", "--json", "--data", data, "--cache", "off" }, args))
    assert.are.equal(0, r.code, r.stderr)
    local out = json.decode(r.stdout)
    assert.are.equal("queued", out.status)
    return out.run_id, out
  end

  it("queues a question file; `worker --run` answers it, stores it and exits; results show the run", function()
    local data = dir .. "/file"
    -- a line that is not a question goes through the queue as a bad_question record
    local file = H.write(dir .. "/with_bad.jsonl", H.read(qfile) .. '{"id": "broken", "prompt": "no answer type"}\n')
    local id, out = detached(data, { "--model", model(), "--questions", file })
    assert.are.equal(41, out.queued)
    -- no process here holds it: still running (its workers will end it), not "interrupted"
    local r0 = H.run({ "results", "show", id, "--data", data, "--json" })
    assert.are.equal(0, r0.code, r0.stderr)
    assert.are.equal("running", json.decode(r0.stdout).status)
    mock:reset()
    local r = Q.run({ "worker", "--queue", redis.url, "--run", id, "--data", data, "--workers", "2", "--concurrency", "4" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("stopped: 41 answers stored", r.stderr, 1, true)
    assert.are.equal(40, mock:stats().questions_answered)
    r = H.run({ "results", "show", id, "--data", data, "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local shown = json.decode(r.stdout)
    assert.are.equal("completed", shown.status)
    assert.are.equal(40, shown.models[1].n)
    assert.are.equal(1, shown.models[1].invalid)
    -- the stream is gone once the run has ended; its hash stays a while
    assert.are.equal("0", redis:cli("EXISTS", "ce:q:run:" .. id .. ":s"))
    assert.are.equal("1", redis:cli("HGET", "ce:q:run:" .. id, "finished"))
  end)

  it("never asks again what is stored already (the store is read before asking)", function()
    local data = dir .. "/stored"
    local id = detached(data, { "--model", model(), "--bench", "ladder", "--n", "20" })
    -- answered meanwhile by a local resume, with the entries still on the stream
    local r = H.run({ "run", "--resume", id, "--data", data, "--quiet", "--cache", "off" })
    assert.are.equal(0, r.code, r.stderr)
    mock:reset()
    r = Q.run({ "worker", "--queue", redis.url, "--run", id, "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(0, mock:stats().requests)
    local n, repeated = Q.stored(data, id)
    assert.are.equal(20, n)
    assert.are.equal(0, repeated)
    assert.are.same({ "completed" }, H.run_statuses(data))
  end)

  it("a worker given another store than the run's says so", function()
    local data = dir .. "/mine"
    local id = detached(data, { "--model", model(), "--bench", "ladder", "--n", "2" })
    local r = Q.run({ "worker", "--queue", redis.url, "--run", id, "--data", dir .. "/elsewhere" })
    assert.are.equal(1, r.code)
    assert.matches("run " .. id .. " is queued but no run '" .. id .. "' in this store", r.stderr, 1, true)
    assert.matches("give the worker the store the run uses", r.stderr, 1, true)
    redis:cli("ZREM", "ce:q:runs", id)
  end)

  it("says when a run's stream is missing (worker, and a run following it)", function()
    local data = dir .. "/deleted"
    local id = detached(data, { "--model", model(), "--bench", "ladder", "--n", "4" })
    redis:cli("DEL", "ce:q:run:" .. id .. ":s")
    local r = Q.run({ "worker", "--queue", redis.url, "--run", id, "--data", data })
    assert.are.equal(1, r.code)
    assert.matches("the stream of run " .. id .. " (ce:q:run:" .. id .. ":s) is missing from " .. redis.url, r.stderr, 1, true)
    -- a resume with --queue follows a run still queued, and finds it broken
    r = Q.run({ "run", "--resume", id, "--queue", redis.url, "--data", data, "--quiet" })
    assert.are.equal(1, r.code)
    assert.matches("is missing from", r.stderr, 1, true)
    redis:cli("ZREM", "ce:q:runs", id)
  end)

  it("a worker stopped by SIGTERM finishes what it has in flight and exits 0; another finishes the run", function()
    local slow = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "300" })
    local ok, err = pcall(function()
      local data = dir .. "/term"
      local id = detached(data, { "--model", "openai:mock@" .. slow.url, "--bench", "ladder", "--n", "40" })
      local w1 = Q.spawn(dir, "term1", Q.worker_args(redis, data, { "--run", id, "--concurrency", "4", "--workers", "1" }))
      Q.until_true(function() return slow:stats().in_flight >= 4 end, 20, "requests in flight")
      w1:kill("TERM")
      assert.are.equal(0, w1:wait(20), w1:err())
      assert.matches("SIGTERM received: finishing the questions in flight", w1:err(), 1, true)
      -- what it sent is stored: nothing in flight was dropped
      local asked = slow:stats().questions_answered
      local n = Q.stored(data, id)
      assert.is_true(asked >= 4)
      assert.are.equal(asked, n)
      -- the rest (and what it had read but not begun) is another worker's, asked once
      local r = Q.run({ "worker", "--queue", redis.url, "--run", id, "--data", data, "--concurrency", "16",
                        "--set", "queue.claim_after=1" })
      assert.are.equal(0, r.code, r.stderr)
      local st = slow:stats()
      assert.are.equal(40, st.questions_answered)
      assert.are.equal(0, st.answered_more_than_once)
      assert.are.equal(40, (Q.stored(data, id)))
    end)
    slow:stop()
    assert(ok, err)
  end)
end)
