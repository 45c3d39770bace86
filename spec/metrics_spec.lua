-- SPDX-License-Identifier: MIT
-- causal_eval.metrics from Lua, and the built-in metrics of a run scraped
-- from --metrics-port while it works.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local metrics = require "causal_eval.metrics"
local http = require "causal_eval.http"

local function scrape(port)
  local r = assert(http.request{ url = ("http://127.0.0.1:%d/metrics"):format(port) })
  assert(r.status == 200, ("scrape of port %d: %s %s"):format(port, tostring(r.error), tostring(r.message)))
  return r.body
end

local function sample(text, pattern)
  local v = text:match("\n" .. pattern:gsub("[%(%)%.%+%-%*%?%[%]%^%$]", "%%%0") .. " ([^\n]+)")
  return tonumber(v)
end

describe("causal_eval.metrics", function()
  it("has counters, gauges and histograms with labels, by table or by handle", function()
    local h = metrics.histogram("spec_duration_seconds", "Spec durations", { "model_name", "task_type" }, { 0.1, 1, 10 })
    for i = 1, 10 do h:observe(i / 10, { model_name = "m", task_type = "t" }) end
    h:record_measurement(5, { model_name = "m", task_type = "t" })
    local s = h:labels("m", "t")
    s:observe(20)
    assert.are.equal(12, h:value({ model_name = "m", task_type = "t" }))
    assert.is_true(math.abs(h:sum({ model_name = "m", task_type = "t" }) - 30.5) < 1e-9)
    -- rank 6 of 12 falls in (0.1, 1] which holds 9: 0.1 + 0.9 * 5/9 (as histogram_quantile)
    assert.is_near(0.6, h:quantile(0.5, { model_name = "m", task_type = "t" }), 1e-9)
    local c = metrics.counter("spec_calls_total", "Calls", { "kind" })
    c:inc({ kind = "a" })
    c:inc(4, { kind = "a" })
    assert.are.equal(5, c:value({ kind = "a" }))
    local g = metrics.gauge("spec_level", "Level")
    g:set(3)
    g:add(-1)
    assert.are.equal(2, g:value())
    -- registering again gives the same family (every worker state does it)
    assert.are.equal(5, metrics.counter("spec_calls_total", "Calls", { "kind" }):value({ kind = "a" }))
    local text = metrics.expose()
    assert.truthy(text:find('spec_calls_total{kind="a"} 5', 1, true))
    assert.truthy(text:find('spec_duration_seconds_bucket{model_name="m",task_type="t",le="+Inf"} 12', 1, true))
  end)

  it("refuses what Prometheus would not accept, with the reason", function()
    local function fails(f, text)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(text, 1, true), tostring(err))
    end
    fails(function() metrics.counter("9lives", "") end, "bad metric name '9lives' (letters, digits, _ and :, not starting with a digit)")
    fails(function() metrics.gauge("spec_calls_total", "") end, "already registered with another type or labels")
    fails(function() metrics.counter("spec_neg_total", ""):inc(-1) end, "a counter only goes up")
    fails(function() metrics.counter("spec_lbl_total", "", { "a" }):inc({}) end, "missing label 'a'")
    fails(function() metrics.gauge("spec_g2", ""):observe(1) end, "a gauge has no observe")
  end)

  it("serves the exposition over HTTP on loopback", function()
    local srv = assert(metrics.serve{ port = 0 })
    local text = scrape(srv:port())
    assert.truthy(text:find("# TYPE spec_calls_total counter", 1, true))
    local r = http.request{ url = ("http://127.0.0.1:%d/other"):format(srv:port()) }
    assert.are.equal(404, r.status)
    srv:stop()
    local bad, err = metrics.serve{ port = 0, bind = "not-an-address" }
    assert.is_nil(bad)
    assert.truthy(err:find("not an IPv4 address", 1, true))
  end)
end)

describe("a run's Prometheus families", function()
  -- a run in this process: its workers share the process's registry
  local function run_in_process(model, extra)
    local dir = H.tmpdir()
    local mock = H.mock({ "--latency-ms", "2" })
    local opts = { models = { model .. "@" .. mock.url }, benches = { "ladder" }, n = 12, data = dir .. "/d",
                   quiet = true, workers = 2, concurrency = 4, cache_mode = "off" }
    for k, v in pairs(extra or {}) do opts[k] = v end
    local code, rep = require("causal_eval.runner").run(opts)
    mock:stop()
    H.rm(dir)
    assert.are.equal(0, code, json.encode(rep))
    return 'causal_eval_questions_total{model_name="' .. model .. "@" .. mock.url .. '",task_type="ladder"'
  end

  it("are left alone when nothing reads them (no endpoint, alert rules or REPL)", function()
    local series = run_in_process("openai:unread")
    assert.falsy(metrics.expose():find(series, 1, true), series)
  end)

  it("count every answer when an endpoint serves them", function()
    local series = run_in_process("openai:read", { metrics_port = 0 })
    local text = metrics.expose()
    local n = 0
    for _, oc in ipairs({ "correct", "wrong", "unparseable", "error" }) do
      n = n + (sample(text, series .. ',outcome="' .. oc .. '"}') or 0)
    end
    assert.are.equal(12, n, text)
  end)
end)

describe("causal-eval run --metrics-port", function()
  it("exposes the built-in metrics while it runs", function()
    local dir = H.tmpdir()
    local qfile = H.questions(dir, { "ladder", "--n", "40" })
    local mock = H.mock({ "--questions", qfile, "--latency-ms", "30", "--accuracy", "0.5" })
    local cmd = ("%s run --model openai:m@%s --questions %s --concurrency 2 --data %s --cache off --quiet " ..
      "--metrics-port 0 --metrics-linger 5 >%s/out 2>%s/err & echo $!"):format(H.quote(H.bin), mock.url, qfile, dir, dir, dir)
    local p = io.popen(cmd)
    local pid = tonumber(p:read("l"))
    p:close()
    local host = require "causal_eval.host"
    local port
    local deadline = host.clock() + 10
    while not port and host.clock() < deadline do
      port = tonumber((H.read(dir .. "/err") or ""):match("metrics on http://127%.0%.0%.1:(%d+)/metrics"))
      if not port then host.sleep(0.02) end
    end
    assert.is_not_nil(port, H.read(dir .. "/err"))
    -- both requests in flight at some moment mid-run: one scrape could land
    -- between an answer and the next request (it did, once, under ASan and load)
    local mid, inflight
    local until_mid = host.clock() + 5
    repeat
      host.sleep(0.02)
      mid = scrape(port)
      inflight = sample(mid, "causal_eval_requests_in_flight")
    until inflight == 2 or host.clock() > until_mid
    assert.are.equal(2, inflight)
    assert.is_true(sample(mid, "causal_eval_memory_bytes") > 1e6)
    -- by the end (the listener lingers 5 s): every question counted, by outcome
    local label = 'model_name="openai:m@' .. mock.url .. '",task_type="ladder"'
    local text, done = nil, 0
    while done < 40 and host.clock() < deadline + 10 do
      text = scrape(port)
      done = (sample(text, "causal_eval_questions_total{" .. label .. ',outcome="correct"}') or 0) +
             (sample(text, "causal_eval_questions_total{" .. label .. ',outcome="wrong"}') or 0)
      if done < 40 then host.sleep(0.05) end
    end
    assert.are.equal(40, done)
    assert.are.equal(40, sample(text, "causal_eval_evaluation_duration_seconds_count{" .. label .. "}"))
    assert.is_true(sample(text, "causal_eval_evaluation_duration_seconds_sum{" .. label .. "}") > 40 * 0.03)
    assert.are.equal(0, sample(text, "causal_eval_requests_in_flight"))
    H.sh("kill " .. pid .. " 2>/dev/null")
    mock:stop()
    H.rm(dir)
  end)
end)
