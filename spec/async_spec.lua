-- SPDX-License-Identifier: MIT
-- causal_eval.async: coroutines over the HTTP engine, against the mock
-- model server on loopback (real sockets, real latency and faults).
local H = require "spec.helpers"
local async = require "causal_eval.async"
local host = require "causal_eval.host"
local json = require "causal_eval.json"

local function chat(mock, model, timeout)
  return {
    url = mock.url .. "/chat/completions",
    headers = { "Content-Type: application/json" },
    body = json.encode{ model = model, messages = { { role = "user", content = "Does rain cause wet grass?" } } },
    timeout = timeout,
  }
end

local function raises(f, text)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  assert.truthy(tostring(err):find(text, 1, true), tostring(err))
end

describe("causal_eval.async", function()
  local mock
  before_each(function() mock = H.mock{ "--latency-ms", "200" } end)
  after_each(function() mock:stop() end)

  it("keeps many requests in flight from one thread, each answer to its own coroutine", function()
    local loop <close> = assert(async.new{ max_connections = 256 })
    local got, n = {}, 200
    for i = 1, n do
      loop:spawn(function(model)
        local res = async.request(chat(mock, model, 10))
        got[model] = assert(json.decode(res.body)).model
      end, "m" .. i)
    end
    assert.are.equal(n, loop:count())
    local t0 = host.clock()
    loop:run()
    local elapsed = host.clock() - t0
    for i = 1, n do assert.are.equal("m" .. i, got["m" .. i]) end
    -- 200 x 200 ms one after the other would take 40 s
    assert.is_true(elapsed < 3, ("took %.2f s"):format(elapsed))
    assert.is_true(mock:stats().max_in_flight >= 100, json.encode(mock:stats()))
    assert.are.equal(0, loop:count())
  end)

  it("times out a stalled request without holding up the others", function()
    mock:stop()
    mock = H.mock{ "--fault-stall", "1", "--stall-ms", "3000" }
    local loop <close> = assert(async.new{})
    local stalled, fast, t0 = nil, nil, host.clock()
    loop:spawn(function()
      stalled = async.request(chat(mock, "m", 0.3))
      stalled.after = host.clock() - t0
    end)
    loop:spawn(function()
      fast = async.request{ url = mock.url .. "/models" }
      fast.after = host.clock() - t0
    end)
    loop:run()
    assert.are.equal("timeout", stalled.error)
    assert.are.equal(0, stalled.status)
    assert.is_true(stalled.after >= 0.29 and stalled.after < 1.5, tostring(stalled.after))
    assert.are.equal(200, fast.status)
    assert.is_true(fast.after < stalled.after)
  end)

  it("returns transport failures as data, and nil, message when a request cannot start", function()
    local loop <close> = assert(async.new{})
    local refused, bad
    -- a port nothing listens on: the mock's, once stopped
    local port = mock.port
    mock:stop()
    mock = H.mock{}
    loop:spawn(function()
      refused = async.request{ url = ("http://127.0.0.1:%d/x"):format(port), timeout = 5 }
      bad = async.request{ url = "ftp://127.0.0.1/x" }
    end)
    loop:run()
    assert.are.equal("connect", refused.error)
    assert.truthy(refused.message and #refused.message > 0)
    assert.are.equal("bad_url", bad.error)
  end)

  it("wakes sleepers on time, in order, while requests are in flight", function()
    local loop <close> = assert(async.new{})
    local woke, late = {}, {}
    local ds = { 0.25, 0.05, 0.15, 0.01, 0.3, 0.1, 0.2 }
    for i, d in ipairs(ds) do
      loop:spawn(function()
        local t0 = host.clock()
        async.sleep(d)
        late[i] = host.clock() - t0 - d
        woke[#woke + 1] = d
      end)
    end
    local res
    loop:spawn(function() res = async.request(chat(mock, "slow", 10)) end) -- 200 ms in flight meanwhile
    loop:run()
    assert.are.same({ 0.01, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3 }, woke)
    for i, l in ipairs(late) do
      assert.is_true(l >= -0.001 and l < 0.05, ("sleep %.2f woke %.4f s late"):format(ds[i], l))
    end
    assert.are.equal(200, res.status)
  end)

  it("lets sleep(0) and spawn from inside a coroutine take turns", function()
    local loop <close> = assert(async.new{})
    local trace = {}
    loop:spawn(function()
      for i = 1, 3 do trace[#trace + 1] = "a" .. i; async.sleep(0) end
    end)
    loop:spawn(function()
      loop:spawn(function(x) trace[#trace + 1] = x end, "child")
      for i = 1, 3 do trace[#trace + 1] = "b" .. i; async.sleep(0) end
    end)
    loop:run()
    assert.are.same({ "a1", "b1", "a2", "child", "b2", "a3", "b3" }, trace)
  end)

  it("reports an error inside a coroutine with its traceback, and goes on", function()
    local loop <close> = assert(async.new{})
    local other_done = false
    loop:spawn(function() async.sleep(0.05); other_done = true end)
    loop:spawn(function()
      local function broken_task() error("task blew up") end
      async.sleep(0.01)
      broken_task()
    end)
    local ok, err = pcall(loop.run, loop)
    assert.is_false(ok)
    assert.truthy(err:find("task blew up", 1, true), err)
    assert.truthy(err:find("broken_task", 1, true), err) -- the traceback of the coroutine
    loop:run() -- the loop goes on with the others
    assert.is_true(other_done)

    local seen = {}
    local loop2 <close> = assert(async.new{ on_error = function(e, tb) seen[#seen + 1] = { e = e, tb = tb } end })
    loop2:spawn(function() error({ code = 7 }) end)
    loop2:spawn(function() async.sleep(0); error("second") end)
    loop2:run()
    assert.are.equal(2, #seen)
    assert.are.equal(7, seen[1].e.code)
    assert.truthy(seen[2].e:find("second", 1, true))
    assert.truthy(seen[2].tb:find("stack traceback", 1, true))
    assert.are.equal(2, loop2.failures)

    -- a handler that fails itself: its error comes out of step, and the loop stays usable
    local loop3 <close> = assert(async.new{ on_error = function(e) error("handler saw: " .. e, 0) end })
    loop3:spawn(function() error("third", 0) end)
    local ok3, err3 = pcall(loop3.step, loop3)
    assert.is_false(ok3)
    assert.are.equal("handler saw: third", err3)
    local done = false
    loop3:spawn(function() async.sleep(0); done = true end)
    loop3:run()
    assert.is_true(done)
  end)

  it("cancels: one coroutine, or all of them when the loop closes, running their <close> variables", function()
    local closed = {}
    local function guard(name) return setmetatable({}, { __close = function() closed[#closed + 1] = name end }) end
    local loop = assert(async.new{})
    local a = loop:spawn(function()
      local g <close> = guard("a")
      async.request(chat(mock, "a", 10))
      error("not reached")
    end)
    loop:spawn(function()
      local g <close> = guard("b")
      async.sleep(60)
    end)
    local c_done = false
    loop:spawn(function() async.request(chat(mock, "c", 10)); c_done = true end)
    loop:step(0)
    assert.are.equal(3, loop:count())
    assert.is_true(loop:cancel(a))
    assert.is_false(loop:cancel(a))
    assert.are.same({ "a" }, closed)
    loop:run(function() return c_done end)
    assert.is_true(c_done)
    assert.are.equal(1, loop:count())
    local t0 = host.clock()
    loop:close()
    loop:close() -- idempotent
    assert.are.same({ "a", "b" }, closed)
    assert.is_true(host.clock() - t0 < 0.5)
    raises(function() loop:step() end, "step on a closed loop")
    raises(function() loop:spawn(print) end, "spawn on a closed loop")
  end)

  it("closes from inside one of its own coroutines", function()
    local loop = assert(async.new{})
    local after = false
    loop:spawn(function() async.sleep(10) end)
    loop:spawn(function() async.sleep(0.01); loop:close(); async.sleep(0); after = true end)
    loop:step(0)
    loop:step(0.1)
    assert.is_true(loop.closed)
    assert.is_false(after)
    assert.are.equal(0, loop:count())
  end)

  it("raises on misuse, naming what is wrong", function()
    raises(function() async.request{ url = "http://x" } end, "call it inside a coroutine started by loop:spawn")
    raises(function() async.sleep(1) end, "async.sleep: call it inside a coroutine")
    raises(function() async.new{ max_connections = 0 } end, "max_connections must be a positive integer")
    raises(function() async.new(5) end, "options must be a table")
    local loop <close> = assert(async.new{})
    raises(function() loop:spawn(42) end, "a function expected, got number")
    local errs = {}
    local l2 <close> = assert(async.new{ on_error = function(e) errs[#errs + 1] = e end })
    l2:spawn(function() coroutine.yield("mine") end)
    l2:spawn(function() async.sleep("soon") end)
    l2:spawn(function() async.request("http://x") end)
    l2:spawn(function() l2:step() end)
    l2:run()
    assert.truthy(errs[1]:find("yielded without async.request or async.sleep", 1, true))
    assert.truthy(errs[2]:find("seconds must be a number", 1, true))
    assert.truthy(errs[3]:find("a request table expected, got string", 1, true))
    assert.truthy(errs[4]:find("already stepping", 1, true))
    -- a coroutine of the host's own, not the loop's
    local co = coroutine.create(function() return async.sleep(1) end)
    local ok, err = coroutine.resume(co)
    assert.is_false(ok)
    assert.truthy(err:find("inside a coroutine started by loop:spawn", 1, true))
  end)
end)
