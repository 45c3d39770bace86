-- SPDX-License-Identifier: MIT
-- causal_eval.async: coroutines over one thread's HTTP engine. A loop owns
-- a curl multi client (causal_eval.http), a queue of coroutines ready to
-- run and a heap of sleepers; inside a coroutine, async.request and
-- async.sleep yield until the response or the deadline comes, so one thread
-- keeps many requests in flight while each caller reads as straight code.
--
--   local loop <close> = assert(async.new{ max_connections = 256 })
--   loop:spawn(function(url)
--     local res = async.request{ url = url, timeout = 5 }  -- res as http.request gives
--     async.sleep(0.5)
--   end, "http://127.0.0.1:8000/healthz")
--   loop:run()                      -- or loop:step(timeout) from a loop of one's own
--
-- An error inside a coroutine goes to on_error(err, traceback) when given,
-- else step() raises it with the coroutine's traceback: it is never dropped.
-- close() (also __close and __gc) cancels what is left: pending <close>
-- variables of each coroutine run, requests in flight are aborted.
local http = require "causal_eval.http"
local host = require "causal_eval.host"

local clock, sleep = host.clock, host.sleep
local co_create, co_resume, co_running, co_yield = coroutine.create, coroutine.resume, coroutine.running, coroutine.yield
local co_status, co_close = coroutine.status, coroutine.close
local type = type

local M = {}

local Loop = {}
Loop.__index = Loop

-- What a coroutine yields while it waits on the loop; a bare
-- coroutine.yield() in a loop's coroutine is misuse and is reported.
local WAIT = setmetatable({}, { __name = "causal_eval.async wait" })
-- In the ready queue: the first resume, with the spawn arguments packed.
local START = {}
-- The loop of each coroutine it runs (weak: a finished one is forgotten).
local owner = setmetatable({}, { __mode = "k" })

--- async.new{ max_connections = 256, max_body = bytes, on_error = fn(err, traceback, co) }
--- -> loop | nil, message
function M.new(opts)
  if opts ~= nil and type(opts) ~= "table" then error("async.new: options must be a table", 2) end
  opts = opts or {}
  local maxc = opts.max_connections or 256
  if math.type(maxc) ~= "integer" or maxc < 1 then
    error("async.new: max_connections must be a positive integer", 2)
  end
  if opts.on_error ~= nil and type(opts.on_error) ~= "function" then
    error("async.new: on_error must be a function", 2)
  end
  local client, err = http.client{ max_connections = maxc, max_body = opts.max_body }
  if not client then return nil, err end
  return setmetatable({
    client = client,
    on_error = opts.on_error,
    -- state[co]: "ready", "sleep", a request's tag (waiting on it), or nil
    state = {},
    waiting = {},              -- tag -> coroutine
    next_tag = 0,
    ready_co = {}, ready_a = {}, ready_b = {}, ready_head = 1, ready_tail = 0,
    heap_t = {}, heap_co = {}, heap_n = 0,
    live = 0,
    failures = 0,
    closed = false,
    stepping = false,
  }, Loop)
end

local function check_open(self, what)
  if getmetatable(self) ~= Loop then error(("async loop expected in %s"):format(what), 3) end
  if self.closed then error(("async: %s on a closed loop"):format(what), 3) end
end

-- ---- the queue of coroutines ready to resume (a ring of three arrays) ----

local function push_ready(self, co, a, b)
  local t = self.ready_tail + 1
  self.ready_tail = t
  self.ready_co[t], self.ready_a[t], self.ready_b[t] = co, a, b
  self.state[co] = "ready"
end

-- ---- the sleepers' heap, ordered by deadline ----

local function heap_push(self, t, co)
  local ht, hc = self.heap_t, self.heap_co
  local i = self.heap_n + 1
  self.heap_n = i
  while i > 1 do
    local p = i // 2
    if ht[p] <= t then break end
    ht[i], hc[i] = ht[p], hc[p]
    i = p
  end
  ht[i], hc[i] = t, co
end

local function heap_pop(self)
  local ht, hc, n = self.heap_t, self.heap_co, self.heap_n
  local co = hc[1]
  local lt, lc = ht[n], hc[n]
  ht[n], hc[n] = nil, nil
  n = n - 1
  self.heap_n = n
  local i = 1
  while true do
    local c = i * 2
    if c > n then break end
    if c < n and ht[c + 1] < ht[c] then c = c + 1 end
    if lt <= ht[c] then break end
    ht[i], hc[i] = ht[c], hc[c]
    i = c
  end
  if n > 0 then ht[i], hc[i] = lt, lc end
  return co
end

-- ---- running coroutines ----

local function forget(self, co)
  self.state[co] = nil
  owner[co] = nil
  self.live = self.live - 1
end

local function fail(self, co, err)
  local tb = debug.traceback(co, type(err) == "string" and err or nil)
  forget(self, co)
  co_close(co)
  self.failures = self.failures + 1
  if self.on_error then
    local ok, e = pcall(self.on_error, err, tb, co)
    if ok then return end
    err, tb = e, type(e) == "string" and e or tb -- the handler's own error, raised from step
  end
  self.stepping = false
  if type(err) == "string" then error(tb, 0) end
  error(err, 0) -- a table error keeps its fields (message, code) for the caller
end

-- Resumes co with (a, b), or with the spawn arguments the first time.
local function resume(self, co, a, b)
  local ok, mark
  if a == START then ok, mark = co_resume(co, table.unpack(b, 1, b.n))
  else ok, mark = co_resume(co, a, b) end
  if not ok then return fail(self, co, mark) end
  if mark == WAIT and self.state[co] ~= nil then
    if self.closed then forget(self, co); co_close(co) end
    return
  end
  if co_status(co) == "dead" then return forget(self, co) end
  return fail(self, co, "a coroutine of an async loop yielded without async.request or async.sleep")
end

--- loop:spawn(fn, ...) -> the coroutine. It starts at the next step.
function Loop:spawn(fn, ...)
  check_open(self, "spawn")
  if type(fn) ~= "function" then
    local mt = getmetatable(fn)
    if not (mt and mt.__call) then error("async spawn: a function expected, got " .. type(fn), 2) end
    local f = fn
    fn = function(...) return f(...) end
  end
  local co = co_create(fn)
  owner[co] = self
  self.live = self.live + 1
  push_ready(self, co, START, table.pack(...))
  return co
end

--- loop:cancel(co): stops a coroutine of this loop where it waits (its
--- pending <close> variables run); its request, if any, finishes unread.
--- Returns true, or false when co is not a live coroutine of this loop.
function Loop:cancel(co)
  check_open(self, "cancel")
  if owner[co] ~= self or self.state[co] == nil then return false end
  if co == co_running() then error("async cancel: a coroutine cannot cancel itself (return from it)", 2) end
  forget(self, co)
  co_close(co)
  return true
end

--- Number of coroutines spawned and not yet finished.
function Loop:count() return self.live end

--- Requests in flight on the loop's client.
function Loop:inflight() return self.closed and 0 or self.client:inflight() end

local function run_ready(self)
  local last = self.ready_tail -- not those queued while this pass runs
  local cos, as, bs, state = self.ready_co, self.ready_a, self.ready_b, self.state
  local i = self.ready_head
  while i <= last do
    local co, a, b = cos[i], as[i], bs[i]
    cos[i], as[i], bs[i] = nil, nil, nil
    i = i + 1
    self.ready_head = i
    if state[co] == "ready" then
      state[co] = "running"
      resume(self, co, a, b)
      if self.closed then return end
    end
  end
  if self.ready_head > self.ready_tail then self.ready_head, self.ready_tail = 1, 0 end
end

local function fire_timers(self, now)
  local ht, state = self.heap_t, self.state
  while self.heap_n > 0 and ht[1] <= now do
    local co = heap_pop(self)
    if state[co] == "sleep" then
      state[co] = "running"
      resume(self, co)
      if self.closed then return end
    end
  end
end

local function deliver(self, results)
  local waiting, state = self.waiting, self.state
  for i = 1, #results do
    local r = results[i]
    local tag = r.tag
    local co = waiting[tag]
    waiting[tag] = nil
    if co and state[co] == tag then
      state[co] = "running"
      resume(self, co, r)
      if self.closed then return end
    end
  end
end

--- loop:step([timeout]) -> live coroutines. Runs what is ready, then waits
--- up to timeout seconds (default 0) for a response or a sleeper's deadline,
--- and runs what that woke. Returns at once when nothing is live.
function Loop:step(timeout)
  check_open(self, "step")
  if self.stepping then error("async step: the loop is already stepping (called from one of its coroutines?)", 2) end
  timeout = timeout or 0
  self.stepping = true
  run_ready(self)
  if not self.closed then fire_timers(self, clock()) end
  if not self.closed then
    local client = self.client
    local wait = timeout
    if self.ready_tail >= self.ready_head or self.live == 0 then wait = 0 end
    if self.heap_n > 0 then
      local d = self.heap_t[1] - clock()
      if d < wait then wait = d > 0 and d or 0 end
    end
    if client:inflight() > 0 then
      local results = client:poll(wait)
      if #results > 0 then deliver(self, results) end
    elseif wait > 0 then
      sleep(wait)
    end
    if not self.closed then fire_timers(self, clock()) end
  end
  self.stepping = false
  return self.live
end

--- loop:run([until_fn]): steps until no coroutine is left (or until_fn() is true).
function Loop:run(until_fn)
  while not self.closed and self.live > 0 do
    if until_fn and until_fn() then break end
    self:step(0.5)
  end
end

--- loop:close(): cancels every coroutine left and aborts requests in flight.
--- Idempotent. From inside one of the loop's coroutines, that coroutine is
--- closed once it next yields.
function Loop:close()
  if self.closed then return end
  self.closed = true
  local me = co_running()
  for co in pairs(self.state) do
    if co ~= me and co_status(co) == "suspended" then
      self.state[co] = nil
      owner[co] = nil
      self.live = self.live - 1
      co_close(co)
    end
  end
  self.waiting = {}
  self.client:close()
end
Loop.__close = Loop.close
Loop.__gc = Loop.close
Loop.__name = "causal_eval.async_loop"

local function my_loop(what)
  local co = co_running()
  local loop = owner[co]
  if not loop then
    error(("async.%s: call it inside a coroutine started by loop:spawn"):format(what), 3)
  end
  return loop, co
end

--- async.request{ url =, method =, headers = {"Name: value"}, body =, timeout =, connect_timeout = }
--- Yields until the response, and returns it as http.request does (a
--- transport failure is res.error and res.message); nil, message when the
--- request cannot be started.
function M.request(req)
  local loop, co = my_loop("request")
  if type(req) ~= "table" then error("async.request: a request table expected, got " .. type(req), 2) end
  local tag = loop.next_tag + 1
  loop.next_tag = tag
  req.tag = tag
  local ok, err = loop.client:submit(req)
  req.tag = nil
  if not ok then return nil, err end
  loop.waiting[tag] = co
  loop.state[co] = tag
  return co_yield(WAIT)
end

--- async.sleep(seconds): yields for at least that long (0: lets the others run).
function M.sleep(s)
  local loop, co = my_loop("sleep")
  if type(s) ~= "number" or s ~= s then error("async.sleep: seconds must be a number", 2) end
  if s <= 0 then
    push_ready(loop, co, nil, nil)
  else
    loop.state[co] = "sleep"
    heap_push(loop, clock() + s, co)
  end
  co_yield(WAIT)
end

--- The loop of the running coroutine, or nil outside one.
function M.current()
  return owner[co_running()]
end

return M
