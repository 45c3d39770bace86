-- SPDX-License-Identifier: MIT
-- Alert rules and every channel against real local receivers: the mock's
-- webhook listener, an SMTP sink, a command, the log; cooldown and resolve.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local alerts = require "causal_eval.alerts"
local host = require "causal_eval.host"

local function clock()
  local c = { t = 0 }
  c.now = function() return c.t end
  return c
end

local function lines_of(text)
  local out = {}
  for l in (text or ""):gmatch("[^\n]+") do out[#out + 1] = json.decode(l) end
  return out
end

describe("alert rules", function()
  it("reads conditions and names what is wrong", function()
    local f = assert(alerts.condition("p95_latency > 5.0"))
    assert.is_true(f{ p95_latency = 6 })
    assert.is_false(f{ p95_latency = 4 })
    assert.is_false(f{}) -- no data yet
    assert.is_true(assert(alerts.condition("error_rate>=0.1")){ error_rate = 0.1 })
    local _, err = alerts.condition("p95 > 5")
    assert.truthy(err:find("unknown value 'p95'", 1, true))
    _, err = alerts.condition("p95_latency >> 5")
    assert.truthy(err:find("cannot read condition", 1, true))
    _, err = alerts.new{ rules = { { name = "x", condition = "error_rate > 0.1", channels = { "nope" } } } }
    assert.truthy(err:find("rule 'x': no channel 'nope'", 1, true))
    _, err = alerts.new{ channels = { hook = { type = "webhook" } } }
    assert.truthy(err:find("channel 'hook' (webhook) needs 'url'", 1, true))
  end)

  -- each was taken: a cooldown of text ended a run halfway with an internal
  -- error, the others made a rule that did nothing, without a word
  it("refuses a file's mistakes before a run, naming the file, the rule and the field", function()
    local dir = H.tmpdir()
    local cases = {
      { "rules:\n  - name: r1\n    condition: questions_done >= 0\n    cooldown: soon\n", "rule 'r1': cooldown must be a number of seconds >= 0, got soon" },
      { "rules:\n  - name: r1\n    condition: questions_done >= 0\n    cooldown: -5\n", "rule 'r1': cooldown must be a number" },
      { "rules:\n  - name: r1\n    condition: questions_done >= 0\n    chanels: [log]\n", "rule 'r1': unknown field 'chanels'" },
      { "rules:\n  - name: r1\n    condition: questions_done >= 0\n    severity: [a, b]\n", "rule 'r1': severity must be text" },
      { "rules:\n  r1:\n    condition: questions_done >= 0\n", "rules must be a list of rules" },
      { "rulez:\n  - name: r1\n    condition: questions_done >= 0\n", "unknown key 'rulez'" },
    }
    for i, c in ipairs(cases) do
      local path = H.write(("%s/a%d.yaml"):format(dir, i), c[1])
      local e, err = alerts.load(path)
      assert.is_nil(e, c[1])
      assert.matches(path .. ": " .. c[2], err, 1, true)
    end
    -- one channel by its name is that channel, not none
    local e = assert(alerts.load(H.write(dir .. "/one.yaml", "rules:\n  - name: r1\n    condition: questions_done >= 0\n    channels: log\n")))
    assert.are.same({ "log" }, e.rules[1].channels)
    H.rm(dir)
  end)

  it("says once that a Lua condition failed, where it never fired without a word", function()
    local r = H.run({ "-e", [[
      local alerts = require "causal_eval.alerts"
      local e = assert(alerts.new{ rules = { { name = "f", condition = function(v) return v.nope.x end } } })
      e:evaluate({}) e:evaluate({})
    ]] })
    assert.are.equal(0, r.code, r.stderr)
    local _, n = r.stderr:gsub("alert rule 'f': its condition failed", "")
    assert.are.equal(1, n, r.stderr)
  end)

  it("fires once per cooldown while the condition holds, and resolves", function()
    local c = clock()
    local seen = {}
    local e = assert(alerts.new{
      rules = { { name = "errors", condition = "error_rate > 0.1", severity = "critical", cooldown = 60,
                  channels = { "log" } } },
      now = c.now, record = function(ev) seen[#seen + 1] = ev end,
    })
    e:evaluate{ error_rate = 0.2 }
    c.t = 30
    e:evaluate{ error_rate = 0.3 } -- inside the cooldown: nothing
    c.t = 61
    e:evaluate{ error_rate = 0.3 } -- again after the cooldown
    c.t = 70
    e:evaluate{ error_rate = 0.0 } -- resolved
    c.t = 71
    e:evaluate{ error_rate = 0.0 }
    assert.are.same({ "firing", "firing", "resolved" }, { seen[1].state, seen[2].state, seen[3].state })
    assert.are.equal(3, #seen)
    assert.are.equal("critical", seen[1].severity)
    assert.are.equal(0.2, seen[1].value)
    assert.are.equal(70, seen[3].duration)
  end)

  describe("channels", function()
    local dir, mock
    before_each(function() dir = H.tmpdir() end)
    after_each(function()
      if mock then mock:stop() end
      mock = nil
      H.rm(dir)
    end)

    it("posts to a webhook, retrying failures, in JSON or Slack form", function()
      mock = H.mock({ "--fail-hooks", "2" })
      local hook = mock.url:gsub("/v1$", "/hook")
      local e = assert(alerts.new{
        rules = { { name = "slow", condition = "p95_latency > 1", channels = { "hook", "slack" } } },
        channels = { hook = { type = "webhook", url = hook }, slack = { type = "webhook", url = hook, format = "slack" } },
        sleep = function() end,
      })
      e:evaluate{ p95_latency = 2 }
      local got = lines_of(require("causal_eval.http").request{ url = mock.url:gsub("/v1$", "/hooks") }.body)
      assert.are.equal(2, #got) -- the two failures were retried away
      assert.are.equal("slow", got[1].rule)
      assert.are.equal("firing", got[1].state)
      assert.truthy(got[2].text:find("slow", 1, true))
      assert.is_true(e.history[1].ok)
    end)

    it("reports a delivery that keeps failing, and goes on", function()
      local e = assert(alerts.new{
        rules = { { name = "slow", condition = "p95_latency > 1", channels = { "hook", "log" } } },
        channels = { hook = { type = "webhook", url = "http://127.0.0.1:1/hook", timeout = 1 } },
        sleep = function() end,
      })
      local events = e:evaluate{ p95_latency = 2 }
      assert.are.equal(1, #events)
      assert.is_false(e.history[1].ok)
      assert.is_true(e.history[2].ok) -- the log channel still got it
    end)

    it("sends e-mail to an SMTP server", function()
      local out = dir .. "/mail.txt"
      local p = io.popen(("%s --out %s > %s/smtp.log 2>&1 & echo $!"):format(
        H.quote(os.getenv("CAUSAL_EVAL_SMTP_SINK") or (H.build_dir .. "/smtp_sink")), out, dir))
      local pid = tonumber(p:read("l"))
      p:close()
      local port
      for _ = 1, 200 do
        port = (H.read(dir .. "/smtp.log") or ""):match("127%.0%.0%.1:(%d+)")
        if port then break end
        host.sleep(0.01)
      end
      local e = assert(alerts.new{
        rules = { { name = "memory", condition = "memory_usage_percent > 90", severity = "critical", channels = { "mail" } } },
        channels = { mail = { type = "email", url = "smtp://127.0.0.1:" .. port, from = "ce@localhost",
                              to = { "ops@localhost" } } },
      })
      e:evaluate{ memory_usage_percent = 95 }
      H.sh("kill " .. pid)
      local mail = H.read(out) or ""
      assert.truthy(mail:find("To: <ops@localhost>", 1, true), mail)
      assert.truthy(mail:find("Subject: causal-eval alert: [critical] memory", 1, true), mail)
    end)

    it("runs a local command with the event on stdin", function()
      local out = dir .. "/events"
      local script = H.write(dir .. "/notify.sh", "#!/bin/sh\ncat >> " .. out .. "\n")
      H.sh("chmod +x " .. script)
      local e = assert(alerts.new{
        rules = { { name = "rate", condition = "rate_429 > 0.05", channels = { "pager" } } },
        channels = { pager = { type = "command", command = script } },
      })
      e:evaluate{ rate_429 = 0.5 }
      e:evaluate{ rate_429 = 0 }
      local got = lines_of(H.read(out))
      assert.are.same({ "firing", "resolved" }, { got[1].state, got[2].state })
    end)
  end)
end)

describe("run --alerts", function()
  it("evaluates rules during a run and keeps the events in the store", function()
    local dir = H.tmpdir()
    local qfile = H.questions(dir, { "ladder", "--n", "30" })
    local mock = H.mock({ "--questions", qfile, "--latency-ms", "40" })
    local rules = H.write(dir .. "/alerts.yaml", ([[
rules:
  - name: slow_model
    condition: p95_latency > 0.02
    severity: warning
    cooldown: 600
    channels: [log, hook]
channels:
  hook: { type: webhook, url: "%s" }
]]):format(mock.url:gsub("/v1$", "/hook")))
    local r = H.run({ "run", "--json", "--model", "openai:m@" .. mock.url, "--questions", qfile, "--concurrency", "2",
                      "--data", dir .. "/d", "--cache", "off", "--alerts", rules, "--alert-interval", "0.1" })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stderr:find("ALERT [warning] slow_model: p95_latency > 0.02", 1, true), r.stderr)
    local rep = json.decode(r.stdout)
    assert.are.equal("firing", rep.alerts[1].state)
    local hooks = lines_of(require("causal_eval.http").request{ url = mock.url:gsub("/v1$", "/hooks") }.body)
    assert.are.equal(1, #hooks) -- once: the cooldown is longer than the run
    local st = assert(require("causal_eval.results").open(dir .. "/d"))
    local stored = 0
    st:scan("meta", "alert\0" .. rep.run_id, function() stored = stored + 1 end)
    st:close()
    assert.are.equal(1, stored)
    -- a bad rules file is a usage error that names it
    local bad = H.write(dir .. "/bad.yaml", "rules:\n  - name: x\n    condition: p95 > 1\n")
    r = H.run({ "run", "--bench", "ladder", "--n", "2", "--alerts", bad, "--data", dir .. "/d" })
    assert.are.equal(2, r.code)
    assert.truthy(r.stderr:find(bad .. ": rule 'x': condition 'p95 > 1': unknown value 'p95'", 1, true), r.stderr)
    mock:stop()
    H.rm(dir)
  end)

  it("gives rules the requests in flight and the share of 429s", function()
    local dir = H.tmpdir()
    local mock = H.mock({ "--latency-ms", "40", "--fault-429", "0.5", "--retry-after", "0.01" })
    finally(function()
      mock:stop()
      H.rm(dir)
    end)
    local rules = H.write(dir .. "/alerts.yaml", [[
rules:
  - { name: busy, condition: inflight >= 1, channels: [log] }
  - { name: throttled, condition: rate_429 > 0.2, channels: [log] }
]])
    local r = H.run({ "run", "--json", "--model", "openai:m@" .. mock.url, "--bench", "ladder", "--n", "40",
                      "--concurrency", "4", "--data", dir .. "/d", "--cache", "off", "--alerts", rules,
                      "--alert-interval", "0.1", "--set", "run.retry_base=0.01", "--set", "run.retry_cap=0.02" })
    assert.are.equal(0, r.code, r.stderr)
    assert.truthy(r.stderr:find("ALERT [warning] busy: inflight >= 1", 1, true), r.stderr)
    assert.truthy(r.stderr:find("ALERT [warning] throttled: rate_429 > 0.2", 1, true), r.stderr)
  end)
end)
