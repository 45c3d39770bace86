-- SPDX-License-Identifier: MIT
-- causal-eval run --repl: a REPL on the live run, through a pseudo-terminal.
local H = require "spec.helpers"
local host = require "causal_eval.host"

local PROMPT = "ce> "

describe("causal-eval run --repl", function()
  it("pauses, resumes, retunes and stops a live run", function()
    local dir = H.tmpdir()
    local qfile = H.questions(dir, { "ladder", "--n", "300" })
    local mock = H.mock({ "--questions", qfile, "--latency-ms", "30" })
    local t = H.pty({ "run", "--repl", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--concurrency", "2",
                      "--data", dir .. "/d", "--cache", "off" },
                    { env = { XDG_STATE_HOME = dir .. "/state", HOME = dir } })
    local banner = t:prompt(PROMPT, 20)
    assert.truthy(banner:find("`run` controls it", 1, true), banner)
    local function eval(expr)
      t:send("=" .. expr .. "\r")
      local out = t:prompt(PROMPT)
      return out:match("\n([^\r\n]+)\r?\n[^\n]*$")
    end
    assert.are.equal("2", eval("run:stats().concurrency"))
    -- paused: what is in flight arrives, nothing new is sent
    t:send("run:pause()\r")
    t:prompt(PROMPT)
    host.sleep(0.2)
    local d1 = tonumber(eval("run:stats().done"))
    host.sleep(0.3)
    assert.are.equal(d1, tonumber(eval("run:stats().done")))
    assert.are.equal("true", eval("run:stats().paused"))
    t:send("run:resume()\r")
    t:prompt(PROMPT)
    host.sleep(0.3)
    assert.is_true(tonumber(eval("run:stats().done")) > d1)
    -- settings and a policy, live
    t:send("run:set{ concurrency = 6 }\r")
    t:prompt(PROMPT)
    assert.are.equal("6", eval("run:stats().concurrency"))
    t:send("run:policy(function(stats, settings) return { concurrency = 3 } end)\r")
    t:prompt(PROMPT)
    host.sleep(0.4)
    assert.are.equal("3", eval("run:stats().concurrency"))
    assert.are.equal("5", eval("#run:recent(5)"))
    assert.truthy(eval("run:recent(1)[1].question_id"):find("ladder%-"))
    t:send("run:stop()\r")
    t:expect("has finished", 20)
    t:send("\4")
    t:expect("run ", 10)
    local how, code = t:wait(20)
    assert.are.same({ "exit", 130 }, { how, code }) -- stopped: interrupted, resumable
    t:close()
    -- the stopped run resumes to the end
    local r = H.run({ "run", "--resume", "last", "--data", dir .. "/d", "--cache", "off", "--quiet" })
    assert.are.equal(0, r.code, r.stderr)
    mock:stop()
    H.rm(dir)
  end)
end)

describe("causal-eval run --repl without a terminal", function()
  -- nothing could resume a run paused when its REPL's input ended: it waited for ever
  it("goes on with a run left paused when the input ends, and says so", function()
    local dir = H.tmpdir()
    local mock = H.mock({ "--latency-ms", "20" })
    local r = H.run(("echo 'run:pause()' | timeout 60 %s run --repl --model openai:m@%s --bench ladder --n 40 "
      .. "--concurrency 2 --data %s --cache off"):format(H.quote(H.bin), mock.url, H.quote(dir .. "/d")))
    local sent = mock:stats().requests
    mock:stop()
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("was paused when the REPL ended: it goes on", r.stderr, 1, true)
    assert.are.equal(40, sent)
    H.rm(dir)
  end)

  it("names a setting run:set does not have, and a bad count for run:recent", function()
    local dir = H.tmpdir()
    local r = H.run(("printf 'run:set{ concurency = 4 }\\nrun:recent(\"a\")\\n' | timeout 60 %s run --repl "
      .. "--model baseline:always_yes --bench ladder --n 5 --data %s --cache off"):format(H.quote(H.bin), H.quote(dir .. "/d")))
    assert.matches("run:set: no setting 'concurency' (concurrency, rate, batch_size)", r.stderr, 1, true)
    assert.matches("run:recent(n): n is a whole number >= 1", r.stderr, 1, true)
    assert.is_nil(r.stderr:find("run_repl.lua", 1, true), r.stderr)
    H.rm(dir)
  end)

  it("is refused with --json, whose standard output is one JSON object", function()
    local r = H.run({ "run", "--repl", "--json", "--model", "baseline:always_yes", "-n", "1" })
    assert.are.equal(2, r.code)
    assert.matches("--repl talks on standard output", r.stderr, 1, true)
  end)
end)
