-- SPDX-License-Identifier: MIT
-- `causal-eval serve` over its life: SIGTERM with a request in flight (it
-- completes, exit 0), worker states replaced after api.max_requests and on
-- api.reload, a handler's error as a 500 with and without api.debug, the
-- rate limit's 429, the sync worker class, and a bad start.
local H = require "spec.helpers"
local S = require "spec.serve_helpers"
local json = require "causal_eval.json"
local host = require "causal_eval.host"

local function field(r, name) return r.json and r.json.error and r.json.error[name] end

-- a folder of adapters and a models file naming them
local function with_models(base, adapters, models_yaml)
  local lib = base.dir .. "/lib"
  H.sh("mkdir -p " .. H.quote(lib .. "/adapters"))
  for name, src in pairs(adapters) do H.write(lib .. "/adapters/" .. name .. ".lua", src) end
  H.write(base.dir .. "/models.yaml", models_yaml)
  base.env.CAUSAL_EVAL_MODELS = base.dir .. "/models.yaml"
  base.env.CAUSAL_EVAL_PATH = base.env.CAUSAL_EVAL_PATH and (base.env.CAUSAL_EVAL_PATH .. ";" .. lib) or lib
  return lib
end

local function echo_adapter(text)
  return ('return { kind = "local", answer = function() return { text = %q } end }\n'):format(text)
end

describe("causal-eval serve lifecycle", function()
  local base
  before_each(function() base = S.setup() end)
  after_each(function() H.rm(base.dir) end)

  it("finishes a request in flight on SIGTERM, then exits 0 with its run completed", function()
    local mock = H.mock({ "--latency-ms", "1500" })
    H.write(base.dir .. "/models.yaml", ("models:\n  slow:\n    adapter: openai\n    model: m\n    base_url: %s\n    api_key_env: NO_KEY_HERE\n")
      :format(mock.url))
    base.env.CAUSAL_EVAL_MODELS = base.dir .. "/models.yaml"
    local srv = S.start{ base = base, set = { "api.shutdown_grace=20" } }
    srv:login()
    -- the request, from a shell in the background
    local out = srv.dir .. "/inflight"
    H.sh(("curl -s -o %s -w '%%{http_code}' -H 'Authorization: Bearer %s' --data-binary '%s' %s/evaluate/single > %s.code &")
      :format(H.quote(out), srv.token, json.encode({ model = "slow", task_type = "ladder" }), srv.url, H.quote(out)))
    local deadline = host.clock() + 10
    while mock:stats().requests < 1 do
      assert.truthy(host.clock() < deadline, "the model call never started")
      host.sleep(0.02)
    end
    local t0 = host.clock()
    assert.are.equal(0, srv:stop("TERM"))
    assert.truthy(host.clock() - t0 >= 1, "it waited for the request")
    while not (H.read(out .. ".code") or ""):match("%d%d%d") do host.sleep(0.02) end
    assert.are.equal("200", H.read(out .. ".code"))
    local rec = json.decode(H.read(out))
    assert.are.equal("slow", rec.model)
    assert.are.equal("yes", rec.parsed)
    assert.matches("SIGTERM: finishing the requests in progress", srv:text(), 1, true)
    assert.matches("stopped after %d+ requests", srv:text())
    local list = H.run({ "results", "list", "--data", base.dir .. "/data", "--json" })
    local runs = json.decode(list.stdout)
    assert.are.equal(srv.run_id, runs[1].id)
    assert.are.equal("completed", runs[1].status)
    mock:stop()
  end)

  it("replaces a worker's state after api.max_requests, answering every request", function()
    local srv = S.start{ base = base, set = { "api.max_requests=2", "api.max_requests_jitter=0", "api.worker_count=1" } }
    srv:login()
    for i = 1, 9 do
      local r = srv:post("/evaluate/single", { model = "m", task_type = "ladder", index = i, model_response = "yes" })
      assert.are.equal(200, r.status, r.body)
    end
    local n = srv:metric('causal_eval_serve_worker_restarts_total{reason="max_requests"}')
    assert.truthy(n and n >= 4, tostring(n))
    assert.are.equal(0, srv:stop())
    assert.matches("stopped after 1%d requests", srv:text())
  end)

  it("a replaced worker state answers a generated question exactly as its predecessor did", function()
    -- the successor reads the questions made before from the server's shared
    -- memory cache (as JSON) instead of making them again
    local srv = S.start{ base = base, set = { "api.max_requests=3", "api.max_requests_jitter=0", "api.worker_count=1" } }
    srv:login()
    local first = {}
    for round = 1, 4 do
      for i = 1, 3 do
        local r = srv:post("/evaluate/single", { model = "m", task_type = "counterfactual", difficulty = "hard", index = i,
                                                 model_response = "Answer: 0.5" .. ("!"):rep(round) })
        assert.are.equal(200, r.status, r.body)
        local v = r.json
        v.answer, v.latency_ms, v.cached = nil, nil, nil
        if round == 1 then first[i] = v else assert.are.same(first[i], v) end
      end
    end
    local n = srv:metric('causal_eval_serve_worker_restarts_total{reason="max_requests"}')
    assert.truthy(n and n >= 3, tostring(n))
    -- and the stored records of the same question agree field for field
    assert.are.equal(0, srv:stop())
    local ex = H.run({ "results", "export", srv.run_id, "--data", base.dir .. "/data" })
    assert.are.equal(0, ex.code, ex.stderr)
    local by_q = {}
    for line in ex.stdout:gmatch("[^\n]+") do
      local rec = json.decode(line)
      rec.response, rec.latency_ms, rec.finished_at, rec.day = nil, nil, nil, nil
      local seen = by_q[rec.question_id]
      if seen then assert.are.same(seen, rec) else by_q[rec.question_id] = rec end
    end
  end)

  it("with api.reload, replaces a worker's state when a Lua file it loaded changes", function()
    local lib = with_models(base, { echoer = echo_adapter("Yes.") }, "models:\n  echoer:\n    adapter: echoer\n")
    local srv = S.start{ base = base, set = { "api.reload=true", "api.max_requests=0" } }
    srv:login()
    local body = { model = "echoer", question = { id = "q1", prompt = "p?", answer_type = "yes_no", ground_truth = "yes" } }
    local r = srv:post("/evaluate/single", body)
    assert.are.equal(200, r.status, r.body)
    assert.are.equal("yes", r.json.parsed)
    H.write(lib .. "/adapters/echoer.lua", echo_adapter("No."))
    H.sh("touch -d '+2 seconds' " .. H.quote(lib .. "/adapters/echoer.lua"))
    local deadline, parsed = host.clock() + 10, nil
    repeat
      host.sleep(0.2)
      parsed = srv:post("/evaluate/single", body).json.parsed
    until parsed == "no" or host.clock() > deadline
    assert.are.equal("no", parsed)
    assert.matches("echoer.lua changed: worker %d+ starts afresh", srv:text())
    assert.truthy(srv:metric('causal_eval_serve_worker_restarts_total{reason="reload"}') >= 1)
    srv:stop()
  end)

  local BOOM = [[return { kind = "http", request = function() error("boom in the adapter") end,
  parse = function() return nil, "malformed", "never" end }
]]

  it("answers a handler's error 500 with an id, and the log has the traceback", function()
    with_models(base, { boom = BOOM }, "models:\n  boom:\n    adapter: boom\n    base_url: http://127.0.0.1:9\n")
    local srv = S.start{ base = base, set = { "api.debug=false" } }
    srv:login()
    local r = srv:post("/evaluate/single", { model = "boom", task_type = "ladder" })
    assert.are.equal(500, r.status)
    assert.are.equal("internal", field(r, "code"))
    local id = field(r, "message"):match("internal error %(id (%x+)%)")
    assert.truthy(id, r.body)
    assert.is_nil(r.body:find("boom in the adapter", 1, true))
    assert.is_nil(r.body:find(".lua", 1, true))
    srv:stop()
    assert.matches("error " .. id .. " in POST /evaluate/single: .*boom in the adapter.*stack traceback", srv:text())
  end)

  it("with api.debug, a 500 carries the traceback", function()
    with_models(base, { boom = BOOM }, "models:\n  boom:\n    adapter: boom\n    base_url: http://127.0.0.1:9\n")
    local srv = S.start{ base = base, set = { "api.debug=true" } }
    srv:login()
    local r = srv:post("/evaluate/single", { model = "boom", task_type = "ladder" })
    assert.are.equal(500, r.status)
    assert.matches("boom in the adapter", field(r, "message"), 1, true)
    assert.matches("stack traceback", field(r, "traceback"), 1, true)
    srv:stop()
  end)

  it("answers what a failed worker held, logs the failure and starts another worker", function()
    -- a local adapter that yields by itself breaks the worker's loop, not just its request
    with_models(base, { yielder = 'return { kind = "local", answer = function() coroutine.yield("x") end }\n' },
      "models:\n  yielder:\n    adapter: yielder\n")
    local srv = S.start{ base = base, set = { "api.worker_count=1", "api.max_requests=2", "api.max_requests_jitter=0" } }
    srv:login()
    local r = srv:post("/evaluate/single", { model = "yielder", task_type = "ladder" })
    assert.are.equal(500, r.status, r.body)
    assert.are.equal("internal", field(r, "code"))
    local deadline, ok = host.clock() + 10, nil
    repeat
      host.sleep(0.1)
      ok = srv:post("/evaluate/single", { model = "m", task_type = "ladder", model_response = "yes" })
    until ok.status == 200 or host.clock() > deadline
    assert.are.equal(200, ok.status, ok.body)
    assert.matches("worker 1 failed: ", srv:text(), 1, true)
    -- only a failed worker's successor waits: replacing retired states (every
    -- 2 requests here) goes on at full speed
    local t0 = host.clock()
    for i = 1, 8 do
      assert.are.equal(200, srv:post("/evaluate/single", { model = "m", task_type = "ladder", index = i,
                                                          model_response = "no" }).status)
    end
    assert.truthy(host.clock() - t0 < 3, ("8 requests took %.1f s"):format(host.clock() - t0))
    assert.truthy(srv:metric('causal_eval_serve_worker_restarts_total{reason="failed"}') >= 1)
    assert.are.equal(0, srv:stop())
  end)

  it("answers 503 with Retry-After when every worker is busy and the queue is full", function()
    local mock = H.mock({ "--latency-ms", "1500" })
    H.write(base.dir .. "/models.yaml", ("models:\n  slow:\n    adapter: openai\n    model: m\n    base_url: %s\n    api_key_env: NO_KEY_HERE\n")
      :format(mock.url))
    base.env.CAUSAL_EVAL_MODELS = base.dir .. "/models.yaml"
    -- one request at a time, one waiting: of four at once, some are refused
    local srv = S.start{ base = base, set = { "api.worker_class=sync", "api.worker_count=1", "api.queue_size=1" } }
    srv:login()
    local cmds = {}
    for i = 1, 4 do
      local out = ("%s/q%d"):format(srv.dir, i)
      cmds[i] = ("curl -s -D %s.h -o %s -H 'Authorization: Bearer %s' --data-binary '%s' %s/evaluate/single &")
        :format(H.quote(out), H.quote(out), srv.token, json.encode({ model = "slow", task_type = "ladder", index = i }), srv.url)
    end
    H.sh(table.concat(cmds, " ") .. " wait")
    local codes = {}
    for i = 1, 4 do
      local head = H.read(("%s/q%d.h"):format(srv.dir, i)) or ""
      local status = tonumber(head:match("^HTTP/[%d.]+ (%d+)"))
      codes[status] = (codes[status] or 0) + 1
      if status == 503 then
        assert.matches("\nRetry%-After: 1\r", head)
        assert.are.equal("queue_full", json.decode(H.read(("%s/q%d"):format(srv.dir, i))).error.code)
      end
    end
    assert.truthy((codes[503] or 0) >= 1 and (codes[200] or 0) >= 1, json.encode(codes))
    assert.are.equal(4, (codes[503] or 0) + (codes[200] or 0))
    assert.are.equal(0, srv:stop())
    mock:stop()
  end)

  it("answers 429 with Retry-After over api.rate_limit_per_minute", function()
    local srv = S.start{ base = base, set = { "api.rate_limit_per_minute=3" } }
    srv:login()
    local statuses, last = {}, nil
    for i = 1, 5 do
      last = srv:get("/results/recent")
      statuses[i] = last.status
    end
    if S.real_security then
      assert.are.same({ 200, 200, 200, 429, 429 }, statuses)
      assert.are.equal("rate_limited", field(last, "code"))
      assert.truthy(tonumber(last.headers["retry-after"]) >= 1)
      assert.are.equal("3", last.headers["x-ratelimit-limit"])
    end
    srv:stop()
  end)

  it("serves with the sync worker class, one request at a time", function()
    local srv = S.start{ base = base, set = { "api.worker_class=sync", "api.worker_count=2" } }
    srv:login()
    local r = srv:post("/evaluate/batch", { model = "baseline:always_yes", questions = {
      { task_type = "ladder", index = 1 }, { task_type = "ladder", index = 2 } } })
    assert.are.equal(200, r.status, r.body)
    assert.are.equal(2, r.json.succeeded)
    assert.are.equal(0, srv:stop())
  end)

  it("does not start on a port in use, or with a bad setting, and says why", function()
    local srv = S.start{ base = base }
    local r = H.run({ "serve", "--port", tostring(srv.port), "--data", base.dir .. "/data2", "--set",
                      "api.users_file=" .. base.users }, { env = base.env })
    assert.are.equal(1, r.code)
    assert.matches("cannot listen on 127.0.0.1:" .. srv.port, r.stderr, 1, true)
    srv:stop()
    r = H.run({ "serve", "--set", "api.worker_class=gevent" }, { env = base.env })
    assert.are.equal(2, r.code)
    assert.matches("api.worker_class: must be one of async, sync", r.stderr, 1, true)
    r = H.run({ "serve", "--port", "0", "--bind", "1.2.3", "--data", base.dir .. "/data2", "--set",
                "api.users_file=" .. base.users }, { env = base.env })
    assert.are.equal(1, r.code)
    assert.are.equal("causal-eval serve: bind address '1.2.3' is not an IPv4 address (--bind, api.bind)\n", r.stderr)
    -- a server that never listened left no run in the store
    assert.are.same({}, H.run_statuses(base.dir .. "/data2"))
    r = H.run({ "serve", "--port", "70000" }, { env = base.env })
    assert.are.equal(2, r.code)
    assert.is_nil(r.stderr:find("traceback", 1, true))
  end)
end)
