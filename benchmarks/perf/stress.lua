-- SPDX-License-Identifier: MIT
-- `causal-eval run` under faults: the mock server fails 20% of attempts
-- (5% each: 429 with Retry-After, 500, malformed JSON, a dropped
-- connection), the run retries them, and every question must be accounted
-- for: stored once, answered or failed with its error, and every answer
-- the server gave right scored right. The run is read back from its store.
local perf = require "causal_eval.perf"
local json = require "causal_eval.json"
local results = require "causal_eval.results"

return perf.benchmark{
  name = "stress",
  description = "fault injection at 20% of attempts: every question accounted for",
  setup = function(ctx)
    local n = ctx:pick(300, 20000)
    local dir = ctx:tmpdir()
    ctx.questions = dir .. "/q.jsonl"
    ctx:exec({ ctx.bin, "generate", "all", "--n", tostring(math.ceil(n / 7)), "--seed", "7", "-o", ctx.questions })
    local asked = 0
    for _ in io.lines(ctx.questions) do asked = asked + 1 end
    ctx.asked = asked
    ctx.mock_server = ctx:mock{ "--questions", ctx.questions, "--fault-429", "0.05", "--fault-500", "0.05",
                                "--fault-malformed", "0.05", "--fault-drop", "0.05", "--retry-after", "0" }
    ctx:note("run --questions FILE (%d questions) --concurrency 32 --set run.retry_base=0.01 against mock_server " ..
      "--fault-429 0.05 --fault-500 0.05 --fault-malformed 0.05 --fault-drop 0.05 (answers right when it answers)", asked)
  end,
  measures = {
    {
      name = "faults",
      metrics = {
        { name = "accounted", label = "questions accounted for", unit = "%", better = "higher", target = { min = 100 } },
        { name = "questions_per_s", label = "questions/s under faults", unit = "q/s", better = "higher" },
        { name = "fault_rate", label = "attempts the server failed", unit = "%" },
        { name = "failed_questions", label = "questions failed after every attempt", unit = "questions" },
      },
      run = function(c)
        c.mock_server:reset()
        local r = c:evaluate{ url = c.mock_server.url, questions = c.questions, concurrency = 32, allow_errors = true,
                              extra = { "--set", "run.retry_base=0.01", "--set", "run.retry_cap=0.2" } }
        local st = assert(results.open(r.data, { writes = false }))
        local stored, answered, failed, wrong, dup, seen = 0, 0, 0, 0, 0, {}
        local ok, err = st:scan(results.DB.records, r.report.run_id .. results.SEP, function(_, v)
          local rec = json.decode(v)
          stored = stored + 1
          if seen[rec.question_id] then dup = dup + 1 end
          seen[rec.question_id] = true
          if rec.error then
            failed = failed + 1
          else
            answered = answered + 1
            if not rec.correct then wrong = wrong + 1 end
          end
        end)
        st:close()
        if not ok then error(err, 0) end
        local s = c.mock_server:stats()
        local faults = s["429"] + s["500"] + s.malformed + s.drop
        local problems = {}
        if stored ~= c.asked or answered + failed ~= c.asked then
          problems[#problems + 1] = ("%d questions asked, %d stored (%d answered, %d failed)"):format(c.asked, stored,
            answered, failed)
        end
        if dup > 0 then problems[#problems + 1] = ("%d questions stored twice"):format(dup) end
        if wrong > 0 then problems[#problems + 1] = ("%d right answers scored wrong"):format(wrong) end
        if r.n ~= c.asked then problems[#problems + 1] = ("the run's summary counts %d of %d"):format(r.n, c.asked) end
        if faults == 0 then problems[#problems + 1] = "the server injected no fault" end
        local accounted = 0
        for _ in pairs(seen) do accounted = accounted + 1 end
        return { accounted = accounted / c.asked * 100, questions_per_s = r.qps,
                 fault_rate = s.requests > 0 and faults / s.requests * 100 or 0, failed_questions = failed },
               #problems > 0 and table.concat(problems, "; ") or nil
      end,
    },
  },
}
