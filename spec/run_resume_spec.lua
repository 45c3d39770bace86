-- SPDX-License-Identifier: MIT
-- Resuming a run against the mock model server: one process at a time per
-- run (a lock naming the holder), the dispatch settings the run started
-- with, and --retry-errors sending again what failed for a transient reason.
-- The same on either results store: LMDB, and PostgreSQL (a real server,
-- spec/pg_helpers.lua).
local H = require "spec.helpers"
local PG = require "spec.pg_helpers"
local json = require "causal_eval.json"

local concat = H.concat

for _, backend in ipairs(PG.backends()) do
  -- the store's arguments of the case running ({ "--store", URL } or none)
  local store, store_url

  local function run_json(args, opts) return H.run_json(concat({ "--cache", "off" }, args, store), opts) end

  -- a run's records by question id
  local function records(data, run_id) return select(2, H.records(data, run_id, store)) end

  local function count(t)
    local n = 0
    for _ in pairs(t) do n = n + 1 end
    return n
  end

  describe("run --resume [" .. backend.name .. "]", function()
    local dir, mock
    setup(backend.setup)
    teardown(backend.teardown)
    before_each(function()
      dir = H.tmpdir()
      store, store_url = backend.fresh()
    end)
    after_each(function()
      if mock then mock:stop() end
      mock = nil
      H.rm(dir)
    end)

    it("leaves a complete run's time as it was when a resume finds nothing to ask", function()
      local data = dir .. "/done"
      local r, rep = run_json({ "--model", "baseline:always_yes", "--bench", "ladder", "--n", "20", "--data", data })
      assert.are.equal(0, r.code, r.stderr)
      local function elapsed()
        local s = H.run(concat({ "results", "show", rep.run_id, "--json", "--data", data }, store))
        assert.are.equal(0, s.code, s.stderr)
        return json.decode(s.stdout).elapsed_s
      end
      local before = elapsed()
      for _ = 1, 2 do
        r = H.run(concat({ "run", "--resume", rep.run_id, "--quiet", "--cache", "off", "--data", data }, store))
        assert.are.equal(0, r.code, r.stderr)
      end
      assert.are.equal(before, elapsed())
    end)

    it("lets one process at a time work on a run: a second one is refused, naming the first", function()
      mock = H.mock({ "--latency-ms", "40" })
      local data = dir .. "/d"
      -- a run stopped by its token budget, with most of its questions left
      local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--bench", "ladder", "--n", "80", "--concurrency", "1",
                                "--max-tokens-total", "300", "--data", data })
      assert.are.equal("stopped", rep.status, r.stderr)
      local left = 80 - rep.models[1].n
      assert.is_true(left >= 60, "only " .. left .. " questions left")
      mock:reset()
      -- two resumes at once: the one that takes the lock first sends what is
      -- left (60 or more at 40 ms, one at a time: seconds), the other ends at once
      local resume = ("%s run --resume last --data %s --cache off --quiet --max-tokens-total 100000000%s"):format(
        H.quote(H.bin), H.quote(data), store_url and (" --store " .. H.quote(store_url)) or "")
      local out = H.run(("%s >%s/o1 2>%s/e1 & p1=$!; %s >%s/o2 2>%s/e2 & p2=$!; wait $p1; c1=$?; wait $p2; c2=$?; " ..
        "echo $p1 $c1 $p2 $c2"):format(resume, dir, dir, resume, dir, dir)).stdout
      local p1, c1, p2, c2 = out:match("(%d+) (%d+) (%d+) (%d+)")
      local e1, e2 = H.read(dir .. "/e1"), H.read(dir .. "/e2")
      local winner, loser, holder = e1, e2, p1
      if c1 ~= "0" then winner, loser, holder = e2, e1, p2 end
      assert.are.same({ "0", "1" }, { c1 == "0" and c1 or c2, c1 == "0" and c2 or c1 }, e1 .. e2)
      assert.truthy(loser:find("is in progress in process " .. holder, 1, true), loser)
      assert.falsy(loser:find("traceback", 1, true), loser)
      assert.truthy(winner:find("^run "), winner)
      local stats = mock:stats()
      assert.are.equal(left, stats.requests, json.encode(stats))
      assert.are.equal(0, stats.answered_more_than_once)
      -- the lock went with its process: a later resume is not refused
      r, rep = run_json({ "--resume", "last", "--data", data })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(80, rep.models[1].n)
    end)

    it("keeps the dispatch settings the run started with unless given again", function()
      local qfile = H.questions(dir, { "ladder", "--n", "60", "--seed", "5" })
      mock = H.mock({ "--questions", qfile, "--latency-ms", "10", "--fault-500", "0.4" })
      local data = dir .. "/d"
      local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--concurrency", "1",
                                "--max-attempts", "2", "--rate", "500", "--timeout", "7", "--set", "run.retry_base=0.01",
                                "--set", "run.retry_cap=0.02", "--max-tokens-total", "400", "--data", data })
      assert.are.equal("stopped", rep.status, r.stderr)
      local first = records(data, rep.run_id)
      mock:reset()
      -- a new budget, nothing else: one request at a time and two attempts still
      r, rep = run_json({ "--resume", rep.run_id, "--max-tokens-total", "100000000", "--data", data })
      assert.are.equal(0, r.code, r.stderr)
      assert.are.equal(60, rep.models[1].n)
      local stats = mock:stats()
      assert.are.equal(1, stats.max_in_flight, json.encode(stats))
      local most = 0
      for id, rec in pairs(records(data, rep.run_id)) do
        if not first[id] then most = math.max(most, rec.attempts) end
      end
      assert.are.equal(2, most) -- at 40% faults some question needed its second try, none a third
      local st = assert(require("causal_eval.results").open(data, { url = store_url }))
      local run = require("causal_eval.results").get_run(st, rep.run_id)
      st:close()
      assert.are.same({ 1, 2, 500, 7, 0.01, 0.02, 100000000 }, { run.dispatch.concurrency, run.dispatch.max_attempts,
        run.dispatch.rate, run.dispatch.timeout, run.dispatch.retry_base, run.dispatch.retry_cap,
        run.dispatch.max_tokens_total })
    end)

    it("sends again with --retry-errors what failed for a transient reason, and only that", function()
      local qfile = H.questions(dir, { "ladder", "--n", "40", "--seed", "6" })
      mock = H.mock({ "--questions", qfile, "--fault-500", "0.5" })
      -- one line that is not a question: a failure that would repeat
      local run_file = H.write(dir .. "/run.jsonl", H.read(qfile) .. "{not json\n")
      local data = dir .. "/d"
      local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--questions", run_file, "--max-attempts", "1",
                                "--data", data })
      assert.are.equal(40, rep.models[1].n, r.stderr)
      assert.are.equal(1, rep.models[1].invalid)
      local before = records(data, rep.run_id)
      local server, bad = {}, 0
      for id, rec in pairs(before) do
        if rec.error and rec.error.class == "server" then server[id] = true end
        if rec.error and rec.error.class == "bad_question" then bad = bad + 1 end
      end
      assert.is_true(count(server) >= 5, "only " .. count(server) .. " server errors")
      assert.are.equal(1, bad)
      local sent_before = mock:stats().requests
      local r2 = H.run(concat({ "run", "--json", "--cache", "off", "--resume", rep.run_id, "--retry-errors", "--max-attempts", "3",
                                "--set", "run.retry_base=0.01", "--data", data }, store))
      assert.are.equal(0, r2.code, r2.stderr)
      assert.truthy(r2.stderr:find(("sending again %d answers that failed for a transient reason (server %d)")
        :format(count(server), count(server)), 1, true), r2.stderr)
      assert.truthy(r2.stderr:find("not sent again: 1 that would fail the same way (bad_question 1)", 1, true), r2.stderr)
      local rep2 = json.decode(r2.stdout)
      local after = records(data, rep.run_id)
      -- each request went to a question that had failed, and each of those was asked again
      local asked = 0
      for id in pairs(server) do
        assert.is_true(after[id].finished_at >= before[id].finished_at)
        asked = asked + after[id].attempts
      end
      assert.are.equal(asked, mock:stats().requests - sent_before)
      for id, rec in pairs(before) do
        if not server[id] then assert.are.same(rec, after[id]) end
      end
      -- the summary counts the new outcomes once: still 40 questions, and the
      -- line that is not one apart
      local m = rep2.models[1]
      assert.are.equal(40, m.n)
      assert.are.equal(1, m.invalid)
      local errors = 0
      for _, rec in pairs(after) do if rec.error and rec.error.class ~= "bad_question" then errors = errors + 1 end end
      assert.are.equal(errors, m.errors)
      assert.is_true(m.errors < count(server), json.encode(m.error_classes))
    end)
  end)
end
