-- SPDX-License-Identifier: MIT
-- causal-eval load: scenarios run against the mock model server on
-- loopback (real sockets), the report, --json, --fail-if and exit codes.
local H = require "spec.helpers"
local json = require "causal_eval.json"

local CHAT = [[
local function chat(user, o)
  return user:post("/v1/chat/completions", { model = "m" .. user.id, messages = { { role = "user", content = "Does X cause Y?" } } }, o)
end
]]

local function scenario(dir, body)
  return H.write(dir .. "/scenario.lua", CHAT .. body)
end

local function load(mock, path, extra, opts)
  local args = H.concat({ "load", path, "--host", "http://127.0.0.1:" .. mock.port, "--quiet" }, extra or {})
  return H.run(args, opts)
end

local function load_json(mock, path, extra)
  local out = path:gsub("[^/]*$", "report.json")
  local r = load(mock, path, H.concat(extra, { "--json", out }))
  local doc = json.decode(H.read(out) or "")
  return r, doc
end

local function endpoint(doc, method, name)
  for _, e in ipairs(doc.endpoints) do
    if e.method == method and e.name == name then return e end
  end
end

describe("causal-eval load", function()
  local mock, dir
  before_each(function()
    mock = H.mock{ "--latency-ms", "20", "--api-key", "sekret" }
    dir = H.tmpdir()
  end)
  after_each(function()
    mock:stop()
    H.rm(dir)
  end)

  it("runs weighted tasks with wait_time after on_start, and reports per endpoint", function()
    local path = scenario(dir, [[
local load = require "causal_eval.load"
return {
  wait_time = load.constant(0.1),
  on_start = function(user)
    user.headers.Authorization = "Bearer sekret"
    chat(user, { name = "login", expect = 200 })
  end,
  tasks = {
    { 3, function(user)
      local res = chat(user)
      assert(res.ok and res:json().model == "m" .. user.id, "each user gets its own answer")
    end },
    { 1, function(user) user:get("/v1/models?user=" .. user.id, { name = "/v1/models?user=[id]" }) end },
  },
}]])
    local r, doc = load_json(mock, path, { "--users", "10", "--spawn-rate", "50", "--duration", "2s" })
    assert.are.equal(0, r.code, r.stderr .. r.stdout)
    assert.are.equal(10, doc.run.users_spawned)
    -- on_start ran once per user, before any task
    assert.are.equal(10, endpoint(doc, "POST", "login").requests)
    local chat_ = endpoint(doc, "POST", "/v1/chat/completions")
    local models = endpoint(doc, "GET", "/v1/models?user=[id]")
    assert.are.equal(0, doc.total.failures, json.encode(doc.failures))
    assert.are.same({}, doc.errors)
    -- weights 3:1 (a binomial spread around 0.75 at some 150 tasks)
    local share = chat_.requests / (chat_.requests + models.requests)
    assert.is_true(share > 0.6 and share < 0.88, ("chat share %.2f"):format(share))
    -- each task is ~20 ms (chat) or ~0 (models), then 100 ms of wait: 10 users for ~2 s
    -- make some 150-200 tasks; with no wait it would be thousands
    local tasks = chat_.requests + models.requests
    assert.is_true(tasks >= 100 and tasks <= 210, ("%d tasks"):format(tasks))
    assert.is_true(chat_.p50_ms >= 19 and chat_.p50_ms < 60, tostring(chat_.p50_ms))
    assert.is_true(chat_.p50_ms <= chat_.p95_ms and chat_.p95_ms <= chat_.p99_ms and chat_.p99_ms <= chat_.max_ms)
    assert.are.equal(doc.total.requests, 10 + tasks)
    assert.is_near(doc.total.requests / doc.run.elapsed_s, doc.total.rps, doc.total.rps * 0.002)
    -- the table on stdout names every endpoint and the total
    for _, name in ipairs({ "login", "/v1/chat/completions", "/v1/models?user=[id]", "total" }) do
      assert.truthy(r.stdout:find(name, 1, true), r.stdout)
    end
    assert.truthy(r.stdout:find("p95 ms", 1, true))
  end)

  it("counts failures by reason: HTTP errors with the API's code, transport errors, checks", function()
    mock:stop()
    mock = H.mock{ "--fault-stall", "1", "--stall-ms", "2000" }
    local path = scenario(dir, [[
return {
  tasks = {
    function(user) chat(user, { timeout = 0.2 }) end,
    function(user) user:get("/nothing-here") end,
    function(user) user:get("/v1/models", { check = function(res) return res:json().data[1].id == "no such model", "no such model" end }) end,
    function(user) user:get("/v1/models", { expect = { 201, 202 }, name = "expect" }) end,
  },
}]])
    local r, doc = load_json(mock, path, { "--users", "4", "--spawn-rate", "100", "--duration", "1s", "--seed", "1" })
    assert.are.equal(0, r.code, r.stderr)
    local reasons = {}
    for _, f in ipairs(doc.failures) do reasons[f.name] = f.reason end
    assert.truthy(reasons["/v1/chat/completions"]:find("^timeout: "), reasons["/v1/chat/completions"])
    assert.are.equal("HTTP 404", reasons["/nothing-here"])
    assert.are.equal("no such model", reasons["/v1/models"])
    assert.are.equal("HTTP 200", reasons["expect"])
    assert.are.equal(doc.total.requests, doc.total.failures)
    assert.truthy(r.stdout:find("failures:", 1, true))
  end)

  it("exits 1 when a --fail-if condition holds, 0 when none does, and says which", function()
    local path = scenario(dir, [[
return {
  on_start = function(user) user.headers.Authorization = "Bearer sekret" end,
  tasks = { { 4, function(user) chat(user) end }, function(user) user:get("/missing") end },
}]])
    local base = { "--users", "3", "--spawn-rate", "100", "--duration", "1s" }
    local r = load(mock, path, H.concat(base, { "--fail-if", "p95>1ms", "--fail-if", "p95>5s" }))
    assert.are.equal(1, r.code, r.stderr)
    assert.truthy(r.stdout:find("p95>1ms%s+FAIL%s+total p95 = %d"), r.stdout)
    assert.truthy(r.stdout:find("p95>5s%s+ok%s+total p95 ="), r.stdout)

    local doc
    r, doc = load_json(mock, path, H.concat(base, {
      "--fail-if", "p95 > 5 s", "--fail-if", "/v1/chat/completions:errors>0%", "--fail-if", "rps<1",
      "--fail-if", "POST /v1/chat/completions:p99>10s", "--fail-if", "requests<10" }))
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.are.equal(5, #doc.fail_if)
    for _, v in ipairs(doc.fail_if) do assert.is_false(v.holds, v.condition) end

    r, doc = load_json(mock, path, H.concat(base, { "--fail-if", "errors>1%", "--fail-if", "any:errors>50%" }))
    assert.are.equal(1, r.code)
    assert.is_true(doc.fail_if[1].holds)
    assert.truthy(doc.fail_if[2].measured:find("GET /missing errors = 100.00%", 1, true), doc.fail_if[2].measured)
    -- an endpoint that saw no request cannot be shown to be fine
    r, doc = load_json(mock, path, H.concat(base, { "--fail-if", "/runs/[id]:p95>1s" }))
    assert.are.equal(1, r.code)
    assert.are.equal("no requests named '/runs/[id]'", doc.fail_if[1].measured)
  end)

  it("reports an error raised by a task with its line and goes on; no request at all is exit 1", function()
    local path = scenario(dir, [[
return {
  on_start = function(user) user.headers.Authorization = "Bearer sekret" end,
  tasks = {
    function(user) chat(user) end,
    function(user) local res = user:get("/v1/models"); return res:json().data.missing.field end,
  },
}]])
    local r, doc = load_json(mock, path, { "--users", "2", "--spawn-rate", "100", "--duration", "1s" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(1, #doc.errors)
    assert.truthy(doc.errors[1].message:find("scenario.lua:8: attempt to index a nil value", 1, true), doc.errors[1].message)
    assert.is_true(doc.errors[1].count >= 2)
    assert.is_true(endpoint(doc, "POST", "/v1/chat/completions").requests >= 2)
    assert.truthy(r.stdout:find("errors raised by tasks:", 1, true))
    assert.is_nil(r.stderr:find("stack traceback", 1, true))

    path = scenario(dir, [[
return { on_start = function(user) error("login refused") end, tasks = { function(user) chat(user) end } }]])
    r, doc = load_json(mock, path, { "--users", "3", "--spawn-rate", "100", "--duration", "5s" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("no request was made (every user stopped: on_start failed)", 1, true), r.stderr)
    assert.truthy(doc.errors[1].message:find("on_start: .*scenario.lua:4: login refused"), doc.errors[1].message)
    assert.are.equal(3, doc.errors[1].count)
    assert.is_true(doc.run.elapsed_s < 3, "stops once every user has stopped")

    path = scenario(dir, [[
return { wait_time = function() return "soon" end, tasks = { function(user) user:get("/v1/models") end } }]])
    r, doc = load_json(mock, path, { "--users", "2", "--spawn-rate", "100", "--duration", "5s" })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("every user stopped before the end", 1, true), r.stderr)
    assert.are.equal("a user stopped: wait_time returned soon, not seconds", doc.errors[1].message)
    assert.are.equal(2, doc.total.requests)
  end)

  it("stops on Ctrl-C and still reports (exit 130)", function()
    local path = scenario(dir, [[
return { wait_time = 0.01, tasks = { function(user) user:get("/v1/models") end } }]])
    local cmd = ("%s load %s --host http://127.0.0.1:%d --users 5 --spawn-rate 100 --duration 1h --quiet --json %s & pid=$!; "
      .. "sleep 1; kill -INT $pid; wait $pid; echo \"exit=$?\""):format(H.quote(H.bin), H.quote(path), mock.port, H.quote(dir .. "/r.json"))
    local r = H.run(cmd)
    assert.truthy(r.stdout:find("exit=130", 1, true), r.stdout .. r.stderr)
    assert.truthy(r.stdout:find("stopped early: interrupted (SIGINT)", 1, true), r.stdout)
    local doc = json.decode(H.read(dir .. "/r.json"))
    assert.is_true(doc.run.elapsed_s > 0.5 and doc.run.elapsed_s < 5, tostring(doc.run.elapsed_s))
    assert.is_true(doc.total.requests > 10)
    assert.are.equal("interrupted (SIGINT)", doc.run.stopped)
  end)

  it("spawns users at --spawn-rate up to --users", function()
    local path = scenario(dir, [[
return { wait_time = 0.05, tasks = { function(user) user:get("/v1/models", { name = "u" .. user.id }) end } }]])
    local r, doc = load_json(mock, path, { "--users", "4", "--spawn-rate", "2", "--duration", "2.2s" })
    assert.are.equal(0, r.code, r.stderr)
    -- users start at 0, 0.5, 1.0 and 1.5 s: each runs for less time than the one before
    local n = {}
    for i = 1, 4 do n[i] = endpoint(doc, "GET", "u" .. i).requests end
    assert.is_true(n[1] > n[2] and n[2] > n[3] and n[3] > n[4], table.concat(n, " "))
    assert.is_true(n[4] >= 5 and n[1] <= 50, table.concat(n, " "))
  end)

  it("writes the JSON report to stdout instead of the table with --json -", function()
    local path = scenario(dir, "return { wait_time = 0.05, tasks = { function(user) user:get('/v1/models') end } }")
    local r = load(mock, path, { "--duration", "0.3s", "--json", "-" })
    assert.are.equal(0, r.code, r.stderr)
    local doc = assert(json.decode(r.stdout))
    assert.is_true(doc.total.requests >= 3)
    assert.are.equal("/v1/models", doc.endpoints[1].name)
  end)

  it("warns when the users may need more connections than the open-file limit allows", function()
    local path = scenario(dir, "return { wait_time = 0.05, tasks = { function(user) user:get('/v1/models') end } }")
    local r = H.run(("ulimit -n 64 && exec %s load %s --host http://127.0.0.1:%d --users 100 --spawn-rate 1000 --duration 0.3s --quiet")
      :format(H.quote(H.bin), H.quote(path), mock.port))
    assert.truthy(r.stderr:find("100 users may need more connections than the open-file limit (64) allows; raise it with ulimit -n", 1, true), r.stderr)
  end)

  it("refuses bad input with a clear message: options (exit 2) and scenario files", function()
    local ok = scenario(dir, "return { tasks = { function(user) user:get('/v1/models') end } }")
    local function usage(args, text, lua_message)
      local r = H.run(H.concat({ "load" }, args))
      assert.are.equal(2, r.code, r.stdout .. r.stderr)
      assert.truthy(r.stderr:find(text, 1, true), r.stderr)
      assert.is_nil(r.stderr:find("traceback", 1, true))
      if not lua_message then assert.is_nil(r.stderr:find("nil", 1, true), r.stderr) end
    end
    local host = "http://127.0.0.1:" .. mock.port
    usage({ ok, "--host", host, "--fail-if", "p95>fast" }, "--fail-if 'p95>fast': 'fast' is not a number")
    usage({ ok, "--host", host, "--fail-if", "latency>1s" }, "unknown metric 'latency'")
    usage({ ok, "--host", host, "--fail-if", "p95=1s" }, "expected [ENDPOINT:]METRIC OP VALUE")
    usage({ ok, "--host", host, "--fail-if", "errors>1s" }, "errors are a percentage")
    usage({ ok, "--host", host, "--duration", "soon" }, "--duration 'soon': expected a time")
    usage({ ok, "--host", host, "--users", "0" }, "--users must be >= 1")
    usage({ ok, "--host", host, "--spawn-rate", "0" }, "--spawn-rate must be > 0")
    usage({ ok, "--host", "localhost:8000" }, "--host 'localhost:8000': expected an http:// or https:// URL")
    usage({ ok }, "no --host given and the scenario names no host")
    usage({ dir .. "/none.lua", "--host", host }, "none.lua: No such file or directory")
    local function broken(body, text)
      usage({ H.write(dir .. "/broken.lua", body), "--host", host }, text, true)
    end
    broken("return { tasks = { function() end }", "broken.lua:1:")
    broken("local x = nil\nreturn x.y", "broken.lua:2: attempt to index a nil value")
    broken("return 5", "broken.lua: the file must return a table")
    broken("return { tasks = {} }", "'tasks' must be a non-empty list")
    broken("return { tasks = { 'get' } }", "tasks[1]: expected a function or {weight, function}, got string")
    broken("return { tasks = { { 1.5, function() end } } }", "tasks[1]: the weight must be an integer >= 0")
    broken("return { tasks = { function() end }, wait = 1 }", "unknown field 'wait'")
    broken("return { tasks = { function() end }, wait_time = 'fast' }", "wait_time: expected seconds")
    broken("return { tasks = { function() end }, wait_time = require('causal_eval.load').between(3, 1) }",
      "load.between: 3 > 1")
  end)
end)

describe("causal_eval.load parts", function()
  it("gives percentiles within 0.8% from fixed-size buckets, exact below 256 us", function()
    local stats = require("causal_eval.load.stats").new()
    for i = 1, 1000 do stats:record("GET", "/a", i / 1000) end -- 1 ms .. 1 s
    for i = 1, 100 do stats:record("GET", "/b", i * 1e-6, i % 10 == 0 and "HTTP 500" or nil) end
    local s = stats:summary(2)
    local a, b = s.endpoints[1], s.endpoints[2]
    assert.are.equal("/a", a.name)
    for p, want in pairs({ p50 = 500, p90 = 900, p95 = 950, p99 = 990 }) do
      local got = a[p .. "_ms"]
      assert.is_true(math.abs(got - want) / want < 0.008, ("%s %g vs %g"):format(p, got, want))
    end
    assert.are.equal(1000, a.max_ms)
    assert.are.equal(1, a.min_ms)
    assert.is_near(500.5, a.avg_ms, 1e-9)
    assert.are.equal(500, a.rps)
    assert.are.equal(0.050, b.p50_ms)
    assert.are.equal(0.099, b.p99_ms)
    assert.are.equal(10, b.failures)
    assert.are.equal(1100, s.total.requests)
    assert.are.same({ { method = "GET", name = "/b", reason = "HTTP 500", count = 10 } }, s.failures)
    -- the buckets never run backwards
    local bucket, prev = require("causal_eval.load.stats")._bucket, -1
    for us = 0, 5e6, 997 do
      local k = bucket(us)
      assert.is_true(k >= prev)
      prev = k
    end
  end)

  it("reads durations as the command line writes them", function()
    local d = require("causal_eval.cli.load").parse_duration
    assert.are.equal(10, d("10s"))
    assert.are.equal(300, d("5m"))
    assert.are.equal(5400, d("1h30m"))
    assert.are.equal(0.25, d("250ms"))
    assert.are.equal(90, d("90"))
    assert.is_nil(d("ten"))
    assert.is_nil(d("5x"))
    assert.is_nil(d(""))
  end)

  it("parses --fail-if into metric, operator, value and scope", function()
    local f = require "causal_eval.load.fail_if"
    local c = assert(f.parse("p95>500ms"))
    assert.are.same({ "p95", ">", 500 }, { c.metric, c.op, c.value })
    assert.is_nil(c.scope)
    assert.are.equal(2000, f.parse("p99 >= 2s").value)
    assert.are.equal(0.5, f.parse("avg<500us").value)
    assert.are.equal(0.01, f.parse("errors>1%").value)
    assert.are.equal(0.01, f.parse("errors>1").value)
    c = assert(f.parse("POST /auth/login:failures>0"))
    assert.are.same({ method = "POST", name = "/auth/login" }, c.scope)
    assert.are.same({ name = "/runs/[id]" }, f.parse("/runs/[id]:p95>1s").scope)
    assert.are.equal("any", f.parse("any:rps<=5").scope)
    assert.are.same({ name = "http://h:8000/x" }, f.parse("http://h:8000/x:p50>1").scope)
    assert.is_nil(f.parse(":p95>1"))
    assert.is_nil(f.parse("requests>1ms"))
  end)
end)

describe("causal-eval load tools/load/seed.lua", function()
  local dir, pid, port
  local env

  setup(function()
    dir = H.tmpdir()
    env = { XDG_CACHE_HOME = dir .. "/cache", CAUSAL_EVAL_LOAD_PASSWORD = "correct horse 1", CAUSAL_EVAL_LOAD_WAIT = "0.05,0.1" }
    local users = "api.users_file=" .. dir .. "/users.yaml"
    local r = H.run({ "serve", "adduser", "loadtest", "--set", users }, { stdin = "correct horse 1\n", env = env })
    assert(r.code == 0, r.stderr)
    local log = dir .. "/serve.log"
    local cmd = ("XDG_CACHE_HOME=%s %s serve --port 0 --data %s --set %s --set api.rate_limit_per_minute=100000 >%s 2>&1 & echo $!")
      :format(H.quote(env.XDG_CACHE_HOME), H.quote(H.bin), H.quote(dir .. "/data"), H.quote(users), H.quote(log))
    local p = assert(io.popen(cmd))
    pid = tonumber(p:read("l"))
    p:close()
    local host = require "causal_eval.host"
    local deadline = host.clock() + 20
    while not port do
      port = (H.read(log) or ""):match("listening on http://127%.0%.0%.1:(%d+)")
      if not port then
        assert(host.clock() < deadline, "serve did not start: " .. (H.read(log) or ""))
        host.sleep(0.05)
      end
    end
  end)

  teardown(function()
    if pid then H.sh("kill " .. pid .. " 2>/dev/null; while kill -0 " .. pid .. " 2>/dev/null; do sleep 0.05; done") end
    H.rm(dir)
  end)

  local function seed(extra, more_env)
    local e = {}
    for k, v in pairs(env) do e[k] = v end
    for k, v in pairs(more_env or {}) do e[k] = v end
    local out = dir .. "/seed.json"
    os.remove(out)
    local r = H.run(H.concat({ "load", H.root .. "/tools/load/seed.lua", "--host", "http://127.0.0.1:" .. port, "--quiet",
      "--json", out }, extra), { env = e })
    return r, json.decode(H.read(out) or "")
  end

  it("logs every user in, then evaluates singles and batches and reads recent results, with no failure", function()
    -- a login is an argon2id hash: 0.15 s alone, over 1.5 s while ctest -j2 runs the rest
    local r, doc = seed({ "--users", "4", "--spawn-rate", "20", "--duration", "6s", "--seed", "1", "--fail-if", "errors>0" })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local logins = endpoint(doc, "POST", "/auth/login").requests
    assert.is_true(logins >= 1 and logins <= 4, r.stdout) -- once per user at most
    local single = endpoint(doc, "POST", "/evaluate/single").requests
    local batch = endpoint(doc, "POST", "/evaluate/batch").requests
    local recent = endpoint(doc, "GET", "/results/recent").requests
    assert.is_true(batch > 0 and recent > 0, r.stdout)
    assert.is_true(single > batch and single > recent, r.stdout) -- weights 3:1:1
    assert.are.equal(0, doc.total.failures, r.stdout)
    assert.are.same({}, doc.errors)
  end)

  it("stops with exit 1 and says why when the login is refused", function()
    local r, doc = seed({ "--users", "2", "--spawn-rate", "20", "--duration", "30s" }, { CAUSAL_EVAL_LOAD_PASSWORD = "wrong" })
    assert.are.equal(1, r.code, r.stdout .. r.stderr)
    assert.truthy(doc.errors[1].message:find("on_start: login as loadtest failed: HTTP 401", 1, true), doc.errors[1].message)
    assert.are.equal(2, endpoint(doc, "POST", "/auth/login").failures)
    assert.is_true(doc.run.elapsed_s < 25, "the run ends once both users have stopped")
  end)
end)
