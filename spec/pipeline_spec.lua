-- SPDX-License-Identifier: MIT
-- `causal-eval run` end to end against the real mock model server on
-- 127.0.0.1: accuracy, every fault class, resume after kill -9, 401, several
-- models, budgets, the command adapter, and the results commands.
local H = require "spec.helpers"
local json = require "causal_eval.json"

local NQ -- questions in the shared file
local FAST_RETRY = { "--set", "run.retry_base=0.01", "--set", "run.retry_cap=0.05" }

local concat = H.concat

local run_json, records = H.run_json, H.records

describe("causal-eval run", function()
  local dir, qfile, mock
  setup(function()
    dir = H.tmpdir()
    -- one question per prompt, so the mock's per-question counts are exact
    qfile, NQ = H.unique_questions(dir .. "/q.jsonl", { "all", "--n", "100", "--seed", "3" })
  end)
  -- a failed test leaves its mock running: stop it before the next starts one
  after_each(function()
    if mock then mock:stop() end
    mock = nil
  end)
  teardown(function() H.rm(dir) end)

  it("evaluates the three baselines with no network and prints a table", function()
    local r = H.run({ "run", "--bench", "ladder,confounding", "--n", "30", "--data", dir .. "/base" })
    assert.are.equal(0, r.code, r.stderr)
    -- not a terminal: the run id and nothing else
    assert.matches("^run %d+%-%d+%-%x+\n$", r.stderr)
    for i, m in ipairs({ "baseline:random", "baseline:always_yes", "baseline:associational" }) do
      assert.matches("\n#" .. i .. "%s+" .. m:gsub("%p", "%%%0") .. "%s+60%s+%d+%.%d%%", r.stdout)
    end
    assert.matches("\nfamily%s+n%s+#1%s+#2%s+#3\n", r.stdout)
    assert.matches("\nconfounding%s+30%s+%d+%.%d%% %[", r.stdout)
    assert.matches("\nrung%s+n", r.stdout)
  end)

  it("prints the documented JSON summary", function()
    local r, rep = run_json({ "--bench", "ladder", "--n", "20", "--model", "baseline:associational", "--data", dir .. "/j" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("^%d+%-%d+%-%x+$", rep.run_id)
    local m = rep.models[1]
    assert.are.equal("baseline:associational", m.model)
    assert.are.equal(20, m.n)
    for _, k in ipairs({ "scored", "accuracy", "ci", "unparseable", "errors", "latency_ms", "tokens", "by_family",
                         "by_difficulty", "by_rung" }) do
      assert.is_not_nil(m[k], k)
    end
    assert.is_true(m.ci[1] <= m.accuracy and m.accuracy <= m.ci[2])
    for _, k in ipairs({ "mean", "p50", "p95", "p99" }) do assert.is_not_nil(m.latency_ms[k], k) end
  end)

  it("evaluates exactly the questions `generate` writes with the same arguments", function()
    local gen = H.run({ "generate", "intervention", "--n", "25", "--seed", "9" })
    local want = {}
    for line in gen.stdout:gmatch("[^\n]+") do want[#want + 1] = json.decode(line).id end
    local r, rep = run_json({ "--bench", "intervention", "--n", "25", "--seed", "9", "--model", "baseline:random",
                              "--data", dir .. "/same" })
    assert.are.equal(0, r.code, r.stderr)
    local got = {}
    for _, rec in ipairs(records(dir .. "/same", rep.run_id)) do got[#got + 1] = rec.question_id end
    table.sort(want)
    table.sort(got)
    assert.are.same(want, got)
  end)

  it("measures a mock accuracy of 0.7 within its 95% interval", function()
    mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--seed", "1" })
    local r, rep = run_json({ "--model", "openai:mock@" .. mock.url, "--questions", qfile, "--data", dir .. "/acc",
                              "--concurrency", "16" })
    assert.are.equal(0, r.code, r.stderr)
    local m = rep.models[1]
    assert.are.equal(NQ, m.n)
    assert.are.equal(0, m.errors)
    assert.is_true(m.ci[1] <= 0.7 and 0.7 <= m.ci[2], ("accuracy %.3f CI [%.3f, %.3f]"):format(m.accuracy, m.ci[1], m.ci[2]))
    assert.is_true(m.tokens.input > 0 and m.tokens.output > 0)
    assert.are.equal(NQ, mock:stats().requests)
    mock:stop()
    mock = nil
  end)

  describe("with faults at 20%", function()
    local small
    setup(function()
      small = dir .. "/small.jsonl"
      assert(H.run({ "generate", "ladder", "--n", "60", "--seed", "4", "-o", small }).code == 0)
    end)

    local CASES = {
      { "429", { "--fault-429", "0.2", "--retry-after", "0.05" }, "rate_limit" },
      { "500", { "--fault-500", "0.2" }, "server" },
      { "stall", { "--fault-stall", "0.2", "--stall-ms", "2000" }, "timeout" },
      { "malformed", { "--fault-malformed", "0.2" }, "malformed" },
      { "drop", { "--fault-drop", "0.2" }, "reset" },
    }
    for _, case in ipairs(CASES) do
      it(("accounts for every question with %s faults, and retries them away"):format(case[1]), function()
        mock = H.mock(concat({ "--questions", small, "--accuracy", "1" }, case[2]))
        local common = concat({ "--model", "openai:m@" .. mock.url, "--questions", small, "--timeout", "0.5" }, FAST_RETRY)
        -- one attempt: the failures are stored with their class, none dropped
        local r, rep = run_json(concat(common, { "--max-attempts", "1", "--data", dir .. "/f1-" .. case[1] }))
        assert.are.equal(0, r.code, r.stderr)
        local m = rep.models[1]
        assert.are.equal(60, m.n)
        assert.is_true(m.errors > 0, "no " .. case[1] .. " fault seen")
        assert.are.equal(m.errors, m.error_classes[case[3]], json.encode(m.error_classes))
        local recs = records(dir .. "/f1-" .. case[1], rep.run_id)
        assert.are.equal(60, #recs)
        local failed = 0
        for _, rec in ipairs(recs) do
          if rec.error then
            failed = failed + 1
            assert.are.equal(case[3], rec.error.class)
            if case[3] == "malformed" then assert.truthy(rec.error.first_bytes:find("choices", 1, true)) end
          end
        end
        assert.are.equal(m.errors, failed)
        -- with retries every question gets its answer
        r, rep = run_json(concat(common, { "--data", dir .. "/f5-" .. case[1] }))
        assert.are.equal(0, r.code, r.stderr)
        m = rep.models[1]
        assert.are.equal(60, m.n)
        assert.are.equal(0, m.errors, json.encode(m.error_classes))
        assert.are.equal(1, m.accuracy)
        mock:stop()
        mock = nil
      end)
    end
  end)

  it("resumes after kill -9 without sending a finished question again", function()
    mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "20" })
    local data = dir .. "/resume"
    -- the cache would (rightly) answer what the killed run had received but
    -- not yet stored: off, to see exactly what the store kept
    local args = { "--model", "openai:mock@" .. mock.url, "--questions", qfile, "--data", data, "--concurrency", "8",
                   "--quiet", "--cache", "off" }
    -- a random moment in the middle of the run (~700 questions take ~1.8 s
    -- once sending starts), counted from the run id on stderr: the start
    -- before it takes 0.14 s here and 0.54 s under ASan, and a kill timed
    -- from the launch sometimes came first
    math.randomseed(os.time())
    local delay = math.random() * 1.0
    local words = { H.quote(H.bin), "run" }
    for _, a in ipairs(args) do words[#words + 1] = H.quote(a) end
    local err = dir .. "/killed.err"
    local out = H.run(("%s 2>%s >/dev/null & p=$!; for i in $(seq 400); do grep -q '^run ' %s && break; sleep 0.05; done; " ..
      "sleep %.2f; kill -KILL $p; wait $p; echo $?"):format(table.concat(words, " "), H.quote(err), H.quote(err), delay))
    local killed = { code = tonumber(out.stdout:match("(%d+)%s*$")), stderr = H.read(err) or "" }
    assert.are.equal(128 + 9, killed.code, ("not killed %.2fs after it started: %s"):format(delay, killed.stderr))
    local run_id = killed.stderr:match("run (%d+%-%d+%-%x+)")
    assert.is_not_nil(run_id)
    local before = #records(data, run_id)
    assert.is_true(before < NQ, "the run finished before the kill")
    -- stored as running, but no process holds its lock: shown as interrupted
    local shown = H.run({ "results", "show", run_id, "--data", data, "--json" })
    assert.are.equal("interrupted", json.decode(shown.stdout).status, shown.stdout .. shown.stderr)
    assert.truthy(json.decode(shown.stdout).message:find("--resume " .. run_id, 1, true), shown.stdout)
    -- the mock finishes what the killed client had in flight before its
    -- counters are reset: wait for that rather than for a fixed time, which
    -- a loaded machine outlasts
    local host = require "causal_eval.host"
    local deadline, last = host.clock() + 10, -1
    while host.clock() < deadline do
      local s = mock:stats()
      if s.in_flight == 0 and s.requests == last then break end
      last = s.requests
      host.sleep(0.1)
    end
    local sent_before = mock:stats().requests
    mock:reset()
    local r, rep = run_json({ "--resume", "last", "--data", data, "--cache", "off" })
    assert(r.code == 0, r.stderr)
    assert.are.equal(run_id, rep.run_id)
    local stats = mock:stats()
    -- the stored ones are not asked again; only the rest (and those in flight at the kill)
    assert.are.equal(NQ - before, stats.requests, ("killed %.2fs in with %d stored, %d sent; after: %s"):format(delay, before, sent_before, json.encode(stats)))
    assert.are.equal(0, stats.answered_more_than_once)
    local resumed = records(data, run_id)
    assert.are.equal(NQ, #resumed)
    -- and the results equal an uninterrupted run's
    local r2, rep2 = run_json({ "--model", "openai:mock@" .. mock.url, "--questions", qfile, "--data", dir .. "/whole" })
    assert.are.equal(0, r2.code, r2.stderr)
    local whole = {}
    for _, rec in ipairs(records(dir .. "/whole", rep2.run_id)) do whole[rec.question_id] = rec end
    for _, rec in ipairs(resumed) do
      local w = whole[rec.question_id]
      assert.are.same({ w.parsed, w.correct, w.score }, { rec.parsed, rec.correct, rec.score })
    end
    assert.are.equal(rep2.models[1].accuracy, rep.models[1].accuracy)
    mock:stop()
    mock = nil
  end)

  it("slows down before a 429 when the budget headers say so", function()
    -- 20 requests per 400 ms window; 4 in flight would blow through it at once
    mock = H.mock({ "--questions", qfile, "--rate-limit", "20", "--rate-window-ms", "400" })
    local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--limit", "60",
                              "--concurrency", "4", "--data", dir .. "/window" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(60, rep.models[1].n)
    assert.are.equal(0, rep.models[1].errors)
    local stats = mock:stats()
    assert.are.equal(0, stats.limited, json.encode(stats))
    assert.are.equal(60, stats.requests)
    mock:stop()
    mock = nil
  end)

  it("answers a repeated evaluation from the cache: no request, same scores, 10x faster", function()
    mock = H.mock({ "--questions", qfile, "--accuracy", "0.7", "--latency-ms", "50" })
    local cache_dir = dir .. "/cache1"
    local common = { "--model", "openai:m@" .. mock.url, "--questions", qfile, "--limit", "60", "--concurrency", "4",
                     "--set", "cache.disk.path=" .. cache_dir }
    local r1, rep1 = run_json(concat(common, { "--data", dir .. "/c1" }))
    assert.are.equal(0, r1.code, r1.stderr)
    assert.are.equal(60, mock:stats().requests)
    mock:reset()
    local r2, rep2 = run_json(concat(common, { "--data", dir .. "/c2" }))
    assert.are.equal(0, r2.code, r2.stderr)
    assert.are.equal(0, mock:stats().requests)
    assert.are.equal(rep1.models[1].accuracy, rep2.models[1].accuracy)
    assert.are.equal(60, rep2.models[1].cached)
    -- 10x faster per answer. Not the runs' wall times: the second run's is
    -- mostly starting threads and Lua states, which a loaded machine or a
    -- sanitizer build stretches (0.05 s became 0.10 s) while the first run's
    -- is the model's fixed 50 ms sleeps, so their ratio failed under load
    local l1, l2 = rep1.models[1].latency_ms.p50, rep2.models[1].latency_ms.p50
    assert.is_true(l1 >= 50 and l2 * 10 <= l1, ("median answer: first run %.3f ms, second %.3f ms"):format(l1, l2))
    local a, b = records(dir .. "/c1", rep1.run_id), records(dir .. "/c2", rep2.run_id)
    local first = {}
    for _, rec in ipairs(a) do first[rec.question_id] = rec end
    for _, rec in ipairs(b) do
      assert.are.equal("disk", rec.cached)
      assert.are.same({ first[rec.question_id].parsed, first[rec.question_id].correct }, { rec.parsed, rec.correct })
    end
    -- --cache off sends again; --cache write sends and refreshes
    r2 = run_json(concat(common, { "--data", dir .. "/c3", "--cache", "off" }))
    assert.are.equal(60, mock:stats().requests)
    mock:stop()
    mock = nil
  end)

  it("stops at once on 401 and names the variable that holds the key", function()
    mock = H.mock({ "--questions", qfile, "--api-key", "right-key", "--latency-ms", "5" })
    local r = H.run(concat({ "run", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--data", dir .. "/auth",
                             "--concurrency", "4" }), { env = { OPENAI_API_KEY = "wrong-key" } })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("OPENAI_API_KEY", 1, true), r.stderr)
    assert.truthy(r.stderr:find("401", 1, true), r.stderr)
    assert.is_true(mock:stats().requests <= 8, "kept sending after a 401")
    local ok = H.run(concat({ "run", "--json", "--quiet", "--model", "openai:m@" .. mock.url, "--questions", qfile,
                              "--limit", "10", "--data", dir .. "/auth2" }), { env = { OPENAI_API_KEY = "right-key" } })
    assert.are.equal(0, ok.code, ok.stderr)
    mock:stop()
    mock = nil
  end)

  it("evaluates several models in one run, over HTTP and locally", function()
    mock = H.mock({ "--questions", qfile, "--accuracy", "1" })
    local r, rep = run_json({ "--model", "openai:good@" .. mock.url, "--model", "baseline:always_yes",
                              "--questions", qfile, "--limit", "100", "--data", dir .. "/multi" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(2, #rep.models)
    assert.are.equal(100, rep.models[1].n)
    assert.are.equal(100, rep.models[2].n)
    assert.are.equal(1, rep.models[1].accuracy)
    assert.is_true(rep.models[2].accuracy < 0.7)
    assert.are.equal(100, mock:stats().requests)
    mock:stop()
    mock = nil
  end)

  it("shows a live progress line on a terminal", function()
    mock = H.mock({ "--questions", qfile, "--latency-ms", "40" })
    local t = H.pty({ "run", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--limit", "30",
                      "--concurrency", "2", "--data", dir .. "/tty" })
    t:expect("run ")
    local line = t:expect("ETA")
    assert.matches("%d+/30%s+[%d.]+/s%s+ETA", line)
    t:expect("errors 0")
    t:expect("#1")
    local how, code = t:wait(20)
    assert.are.same({ "exit", 0 }, { how, code })
    assert.truthy(t.seen:find("30/30", 1, true), t.seen)
    t:close()
    mock:stop()
    mock = nil
  end)

  it("speaks the Anthropic Messages API", function()
    mock = H.mock({ "--questions", qfile, "--accuracy", "1", "--api-key", "ak" })
    local r, rep = run_json({ "--model", "anthropic:claude-test@" .. mock.url, "--questions", qfile, "--limit", "40",
                              "--data", dir .. "/anthropic" }, { env = { ANTHROPIC_API_KEY = "ak" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(40, rep.models[1].n)
    assert.are.equal(1, rep.models[1].accuracy)
    assert.is_true(rep.models[1].tokens.input > 0)
    mock:stop()
    mock = nil
  end)

  it("keeps to --rate", function()
    mock = H.mock({ "--questions", qfile })
    local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--limit", "30", "--rate", "50",
                              "--data", dir .. "/rate" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(30, rep.models[1].n)
    -- a burst of 5, then 50 per second: 25 more take at least 0.5 s
    assert.is_true(rep.elapsed_s >= 0.45, ("30 requests at --rate 50 took %.3f s"):format(rep.elapsed_s))
    mock:stop()
    mock = nil
  end)

  it("gates on --fail-under", function()
    local r = H.run({ "run", "--quiet", "--bench", "ladder", "--n", "20", "--model", "baseline:always_yes",
                      "--fail-under", "0.9", "--data", dir .. "/gate" })
    assert.are.equal(1, r.code)
    r = H.run({ "run", "--quiet", "--bench", "ladder", "--n", "20", "--model", "baseline:always_yes",
                "--fail-under", "0.1", "--data", dir .. "/gate" })
    assert.are.equal(0, r.code)
  end)

  it("stops cleanly at a token budget and resumes to the end", function()
    mock = H.mock({ "--questions", qfile, "--accuracy", "1" })
    local data = dir .. "/budget"
    local r, rep = run_json({ "--model", "openai:m@" .. mock.url, "--questions", qfile, "--limit", "200",
                              "--concurrency", "2", "--max-tokens-total", "5000", "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("stopped", rep.status)
    assert.truthy(rep.message:find("token budget", 1, true))
    local n1 = rep.models[1].n
    assert.is_true(n1 > 0 and n1 < 200)
    assert.is_true(rep.models[1].tokens.total >= 5000)
    local r2, rep2 = run_json({ "--resume", rep.run_id, "--data", data })
    assert.are.equal(0, r2.code, r2.stderr)
    -- the budget is for the whole run: resuming keeps it spent
    assert.are.equal("stopped", rep2.status)
    local r3, rep3 = run_json({ "--resume", rep.run_id, "--data", data, "--max-tokens-total", "1000000" })
    assert.are.equal(0, r3.code, r3.stderr)
    assert.are.equal("completed", rep3.status)
    assert.are.equal(200, rep3.models[1].n)
    mock:stop()
    mock = nil
  end)

  it("runs a local command as a model, with a timeout", function()
    local script = H.write(dir .. "/model.sh", "#!/bin/sh\ncat >/dev/null\necho 'Final answer: yes'\n")
    H.sh("chmod +x " .. H.quote(script))
    local r, rep = run_json({ "--model", "command:" .. script, "--bench", "ladder", "--n", "10", "--data", dir .. "/cmd" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(10, rep.models[1].n)
    assert.are.equal(0, rep.models[1].errors)
    local slow = H.write(dir .. "/slow.sh", "#!/bin/sh\nsleep 5\n")
    H.sh("chmod +x " .. H.quote(slow))
    local cfg = H.write(dir .. "/models.yaml", ("models:\n  slow:\n    adapter: command\n    command: %s\n    timeout: 0.2\n"):format(slow))
    r, rep = run_json({ "--model", "slow", "--bench", "ladder", "--n", "2", "--data", dir .. "/cmd2", "--max-attempts", "1" },
                      { env = { CAUSAL_EVAL_MODELS = cfg } })
    assert.are.equal(1, r.code, r.stderr) -- nothing answered: a failed run
    assert.are.equal("failed", rep.status)
    assert.are.equal(2, rep.models[1].errors)
    assert.are.equal(2, rep.models[1].error_classes.timeout)
  end)

  it("records a bad question line as an error, never crashes", function()
    local bad = H.write(dir .. "/bad.jsonl", '{"id":"a","prompt":"Is it? Answer yes or no.","answer_type":"yes_no","ground_truth":"yes"}\n{not json\n')
    local r, rep = run_json({ "--model", "baseline:always_yes", "--questions", bad, "--data", dir .. "/bad" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(1, rep.models[1].n)
    assert.are.equal(0, rep.models[1].errors)
    assert.are.equal(1, rep.models[1].invalid)
  end)

  it("rejects bad arguments with usage errors", function()
    local r = H.run({ "run", "--model", "nosuch:thing", "--data", dir .. "/x" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("unknown adapter 'nosuch'", 1, true), r.stderr)
    r = H.run({ "run", "--concurrency", "0" })
    assert.are.equal(2, r.code)
    r = H.run({ "run", "--resume", "nope", "--data", dir .. "/x" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("no run 'nope'", 1, true), r.stderr)
  end)
end)

describe("causal-eval results", function()
  local dir, run_id
  setup(function()
    dir = H.tmpdir()
    local r = H.run({ "run", "--json", "--quiet", "--bench", "ladder", "--n", "12", "--model", "baseline:random",
                      "--model", "baseline:associational", "--data", dir })
    assert(r.code == 0, r.stderr)
    run_id = json.decode(r.stdout).run_id
  end)
  teardown(function() H.rm(dir) end)

  it("lists runs and shows one", function()
    local r = H.run({ "results", "list", "--data", dir })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stdout:find(run_id, 1, true))
    r = H.run({ "results", "show", "last", "--data", dir, "--json" })
    assert.are.equal(run_id, json.decode(r.stdout).run_id)
    r = H.run({ "results", "recent", "--limit", "1", "--data", dir })
    assert.truthy(r.stdout:find("baseline:associational", 1, true))
  end)

  it("exports every record as JSON lines, atomically to a file", function()
    local out = dir .. "/export.jsonl"
    local r = H.run({ "results", "export", run_id, "-o", out, "--data", dir })
    assert.are.equal(0, r.code, r.stderr)
    local n = 0
    for line in io.lines(out) do
      local rec = json.decode(line)
      assert.are.equal(run_id, rec.run_id)
      assert.is_string(rec.prompt)
      assert.is_string(rec.response)
      n = n + 1
    end
    assert.are.equal(24, n)
  end)

  it("gives the average score per model per day", function()
    local r = H.run({ "results", "trend", "--model", "baseline:random", "--days", "30", "--data", dir, "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local rows = json.decode(r.stdout)
    assert.are.equal(1, #rows)
    assert.are.equal("baseline:random", rows[1].model)
    assert.are.equal(os.date("!%Y-%m-%d"), rows[1].day)
    assert.are.equal(12, rows[1].n)
  end)

  it("names a missing store", function()
    local r = H.run({ "results", "list", "--data", dir .. "/nothing" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("no results store in", 1, true))
  end)
end)
