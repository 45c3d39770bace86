-- SPDX-License-Identifier: MIT
-- kill -9 in the middle of `causal-eval run` at concurrency 16: every
-- answer the model server gave is in the store afterwards (the journal a
-- later process replays), except those of the requests in flight at the
-- kill, at most 16; and a resume asks again only those. The same on either
-- results store: LMDB, and PostgreSQL (a real server, spec/pg_helpers.lua),
-- where the journal's answers go to the server when the next process opens
-- the store.
local H = require "spec.helpers"
local PG = require "spec.pg_helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"

local CONCURRENCY = 16

for _, backend in ipairs(PG.backends()) do
  describe("answers received before a kill -9 [" .. backend.name .. "]", function()
    local dir, qfile, NQ, mock, store
    setup(function()
      backend.setup()
      store = backend.fresh()
      dir = H.tmpdir()
      qfile = dir .. "/q.jsonl"
      -- distinct prompts (the mock knows a question by its prompt), so that
      -- its count of questions answered twice is exact; about 1 KB each, as
      -- generated questions are
      NQ = 8000
      local lines, filler = {}, ("The treatment is given to some units and not to others. "):rep(16)
      for i = 1, NQ do
        lines[i] = json.encode({ id = ("q%05d"):format(i), answer_type = "yes_no", ground_truth = i % 3 == 0 and "no" or "yes",
                                 family = "synthetic", prompt = ("Question %d. %sDoes X cause Y? Answer yes or no."):format(i, filler) })
      end
      H.write(qfile, table.concat(lines, "\n") .. "\n")
    end)
    teardown(function()
      if mock then mock:stop() end
      H.rm(dir)
      backend.teardown()
    end)

    -- Records stored for the run, as a new process sees them (its opening of
    -- the store replays the journals of processes that were killed).
    local function stored(data, run_id)
      local r = H.run(H.concat({ "results", "export", run_id, "--data", data }, store))
      assert(r.code == 0, r.stderr)
      local n = 0
      for _ in r.stdout:gmatch("[^\n]+") do n = n + 1 end
      return n
    end

    -- once the mock has answered what the dead client had in flight: none
    -- in its hands, and no request come in for 300 ms. One the client sent
    -- before the kill may still wait unread in a socket: answered after the
    -- look, it counts as answered twice and lost never, or, when the next
    -- run dies before asking it again, as lost at the next kill on top of
    -- that run's own (a quiet 100 ms let CI with sanitizers, its tests side
    -- by side, count 18 and 19 lost where the mock never held more than 11)
    local function settled_stats()
      local deadline = host.clock() + 10
      local st, quiet = mock:stats(), 0
      while host.clock() < deadline do
        host.sleep(0.1)
        local again = mock:stats()
        if (again.in_flight or 0) == 0 and again.requests == st.requests then
          quiet = quiet + 1
          if quiet == 3 then return again end
        else
          quiet = 0
        end
        st = again
      end
      return st
    end

    it("are kept: only requests in flight at a kill are asked again", function()
      mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "2" })
      local data = dir .. "/d"
      local common = H.concat({ "--data", data, "--concurrency", tostring(CONCURRENCY), "--quiet", "--cache", "off" }, store)
      local run_id
      local lost_total, kills, start = 0, 0, 0.35
      math.randomseed(os.time())
      for k = 1, 6 do
        local args = not run_id and H.concat({ "run", "--model", "openai:mock@" .. mock.url, "--questions", qfile }, common)
          or H.concat({ "run", "--resume", run_id }, common)
        -- a random moment once answers flow (the process starts in ~0.1 s;
        -- a build with sanitizers takes longer, and then this waits longer)
        local delay = ("%.2f"):format(start + math.random() * 0.4)
        local r = H.run(H.concat({ "timeout", "-s", "KILL", delay, H.bin }, args), { bin = false })
        run_id = run_id or r.stderr:match("run (%d+%-%d+%-%x+)")
        if not run_id then
          assert.are.equal(128 + 9, r.code, r.stderr)
          start = start * 2
          goto next
        end
        if r.code ~= 128 + 9 then
          assert.are.equal(0, r.code, r.stderr)
          break -- finished before the kill
        end
        kills = kills + 1
        local stats = settled_stats()
        local served = stats.questions_answered
        local have = stored(data, run_id)
        local lost = served - have
        -- Each kill can lose at most the requests in flight at it. What a
        -- kill lost stays lost until a resume asks it again, and a resume
        -- killed before it did carries it to the next kill, on top of that
        -- kill's own (CI, sanitizers and PostgreSQL: 17 at a fifth kill):
        -- all the kills so far bound it, the first alone as tightly as ever.
        -- The mock's counters go with a failure: they say what it was sent.
        assert.is_true(lost <= CONCURRENCY * kills,
          ("kill %d after %ss: the server answered %d questions, the store holds %d, more than %d kills can lose (%s)")
            :format(k, delay, served, have, kills, json.encode(stats)))
        lost_total = lost_total + math.max(0, lost)
        ::next::
      end
      assert.is_true(kills >= 2, "the runs finished before they could be killed")
      local r = H.run(H.concat({ "run", "--resume", run_id }, common))
      assert.are.equal(0, r.code, r.stderr)
      local st = settled_stats()
      assert.are.equal(NQ, stored(data, run_id))
      assert.are.equal(NQ, st.questions_answered)
      -- what was asked twice had no answer stored: it was in flight at a kill
      assert.is_true(st.answered_more_than_once <= lost_total,
        ("%d questions answered twice, %d lost to kills"):format(st.answered_more_than_once, lost_total))
    end)
  end)
end
