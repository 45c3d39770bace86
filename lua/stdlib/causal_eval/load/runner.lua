-- SPDX-License-Identifier: MIT
-- Runs a load-test scenario: users are coroutines over one async loop
-- (causal_eval.async), spawned at a rate up to a count; each runs on_start,
-- then weighted tasks with wait_time between them, until the duration ends
-- or Ctrl-C. Every request a user makes is timed from the call to the
-- moment the task has its answer (the tool's own delays included, as a
-- user would see them) and recorded per endpoint (causal_eval.load.stats).
local async = require "causal_eval.async"
local host = require "causal_eval.host"
local json = require "causal_eval.json"
local stats_mod = require "causal_eval.load.stats"

local M = {}

local clock, random, pairs, type, tostring = host.clock, math.random, pairs, type, tostring
local NONE = {}

local Response = {}
Response.__index = Response

--- res:json() -> the body decoded | nil, message
function Response:json() return json.decode(self.body or "", "response body") end

local function error_message(e)
  if type(e) == "table" and e.message ~= nil then return tostring(e.message) end
  return tostring(e)
end

-- Why a response counts as a failure, or nil: a transport error, a status
-- not expected (default: >= 400), or a check that said no. An API's error
-- code ({"error":{"code":...}}) is kept with the status, so 401s from an
-- expired token and from a bad password are told apart.
local function failure(res, o)
  if res.error then return res.error .. ": " .. tostring(res.message) end
  local status, bad = res.status, nil
  local expect = o.expect
  if expect == nil then bad = status >= 400
  elseif type(expect) == "number" then bad = status ~= expect
  else
    bad = true
    for _, s in ipairs(expect) do if s == status then bad = false break end end
  end
  if bad then
    local code = res.body:sub(1, 512):match('^%s*{%s*"error"%s*:%s*{.-"code"%s*:%s*"([^"]*)"')
    return ("HTTP %d%s"):format(status, code and (" " .. code) or "")
  end
  if o.check then
    local ok, good, why = pcall(o.check, res)
    if not ok then return "check raised: " .. error_message(good) end
    if not good then return why ~= nil and tostring(why) or "check failed" end
  end
  return nil
end

local function user_class(base, timeout, stats)
  local User = {}
  User.__index = User

  -- level: where misuse is blamed, the scenario's line
  local function send(user, method, path, body, o)
    if type(path) ~= "string" then error(("user:%s: the path must be a string, got %s"):format(method:lower(), type(path)), 3) end
    if o == nil then o = NONE
    elseif type(o) ~= "table" then error(("user:%s: options must be a table, got %s"):format(method:lower(), type(o)), 3)
    elseif o.name ~= nil and type(o.name) ~= "string" then
      error(("user:%s: name must be a string, got %s"):format(method:lower(), type(o.name)), 3)
    end
    local url
    if path:byte(1) == 47 then url = base .. path -- "/"
    elseif path:find("^https?://") then url = path
    else url = base .. "/" .. path end
    local hdrs, n = {}, 0
    for k, v in pairs(user.headers) do
      n = n + 1
      hdrs[n] = k .. ": " .. tostring(v)
    end
    if o.headers then
      for k, v in pairs(o.headers) do
        n = n + 1
        hdrs[n] = k .. ": " .. tostring(v)
      end
    end
    if body ~= nil then
      if type(body) == "table" then
        body = json.encode(body)
        n = n + 1
        hdrs[n] = "Content-Type: application/json"
      elseif type(body) ~= "string" then
        error(("user:%s: the body must be a table (sent as JSON) or a string, got %s"):format(method:lower(), type(body)), 3)
      end
    end
    local t0 = clock()
    local res, err = async.request{ method = method, url = url, headers = hdrs, body = body, timeout = o.timeout or timeout }
    local dt = clock() - t0
    local reason
    if not res then
      res = setmetatable({ status = 0, body = "", error = "request", message = err }, Response)
      reason = "request: " .. tostring(err)
    else
      reason = failure(setmetatable(res, Response), o)
    end
    res.ok, res.failure = reason == nil, reason
    stats:record(method, o.name or path, dt, reason)
    return res
  end

  --- user:get(path, {name =, headers = {Name = value}, timeout =, expect = status | {statuses}, check = fn(res) -> ok, why})
  function User:get(path, o) return send(self, "GET", path, nil, o) end
  --- user:post(path, table (JSON) | string, opts)
  function User:post(path, body, o) return send(self, "POST", path, body, o) end
  function User:put(path, body, o) return send(self, "PUT", path, body, o) end
  function User:patch(path, body, o) return send(self, "PATCH", path, body, o) end
  function User:delete(path, o) return send(self, "DELETE", path, nil, o) end
  --- user:request(method, path, body, opts)
  function User:request(method, path, body, o)
    if type(method) ~= "string" or not method:match("^%u+$") then
      error("user:request: the method must be an upper-case word such as GET", 2)
    end
    return send(self, method, path, body, o)
  end
  function User:sleep(s) return async.sleep(s) end
  return User
end

local function picker(sc)
  local cum, acc = {}, 0
  for i, t in ipairs(sc.tasks) do
    acc = acc + t.weight
    cum[i] = acc
  end
  local tasks, n, total = sc.tasks, #sc.tasks, acc
  return function()
    local r = random(total)
    for i = 1, n do
      if r <= cum[i] then return tasks[i] end
    end
  end
end

--- Runs sc (checked by causal_eval.load.scenario) with opts: host (URL),
--- users, spawn_rate (per s), duration (s), timeout (s per request),
--- progress = fn(snapshot) called every progress_every s.
--- Returns { summary = stats summary, elapsed_s, cpu_s (the tool's own CPU
--- time), users_spawned, users_on_start_failed, stopped = nil | why }.
function M.run(sc, opts)
  local stats = stats_mod.new()
  local base = opts.host:gsub("/+$", "")
  local User = user_class(base, opts.timeout, stats)
  local pick = picker(sc)
  local wait_time, on_start = sc.wait_time, sc.on_start
  local live_users, spawned, on_start_failed = 0, 0, 0

  local loop = assert(async.new{
    -- as many connections as requests in flight, which users bound
    max_connections = math.max(1, math.min(opts.users, 65536)),
    -- a bug of ours outside the users' protection: that coroutine stops, the run goes on
    on_error = function(e) stats:task_error("load", "internal error: " .. error_message(e)) end,
  })

  -- Raises only when wait_time gives no number of seconds.
  local function task_loop(user)
    while true do
      local task = pick()
      local t0 = clock()
      local ok, err = xpcall(task.fn, error_message, user)
      user.task_time = clock() - t0
      if not ok then stats:task_error(task.name, err) end
      local w = wait_time(user)
      if type(w) ~= "number" or w ~= w then error(("wait_time returned %s, not seconds"):format(tostring(w)), 0) end
      async.sleep(w) -- 0 still yields: a task that never waits cannot hold the loop
    end
  end

  local function user_main(user)
    live_users = live_users + 1
    if on_start then
      local ok, err = xpcall(on_start, error_message, user)
      if not ok then
        on_start_failed = on_start_failed + 1
        live_users = live_users - 1
        stats:task_error("on_start", "on_start: " .. err)
        return
      end
    end
    local _, err = xpcall(task_loop, error_message, user)
    live_users = live_users - 1
    stats:task_error("wait_time", "a user stopped: " .. err)
  end

  local users, rate = opts.users, opts.spawn_rate
  local t_start, cpu_start = clock(), host.cpu_time()
  loop:spawn(function()
    while spawned < users do
      local due = math.min(users, math.floor((clock() - t_start) * rate) + 1)
      while spawned < due do
        spawned = spawned + 1
        loop:spawn(user_main, setmetatable({ id = spawned, host = base, headers = {} }, User))
      end
      if spawned < users then async.sleep(spawned / rate - (clock() - t_start)) end
    end
  end)

  local deadline = t_start + opts.duration
  local every, next_progress = opts.progress_every or 2, t_start + (opts.progress_every or 2)
  local stopped
  host.trap_signals()
  local ok, err = pcall(function()
    while true do
      local now = clock()
      if now >= deadline then break end
      local nint, sig = host.interrupts()
      if nint > 0 then
        stopped = ("interrupted (%s)"):format(sig or "signal")
        break
      end
      local left = deadline - now
      if loop:step(left < 0.1 and left or 0.1) == 0 then
        stopped = on_start_failed > 0 and "every user stopped: on_start failed" or "every user stopped"
        break
      end
      if opts.progress and now >= next_progress then
        next_progress = now + every
        opts.progress{ elapsed = now - t_start, users = live_users, spawned = spawned, requests = stats.n, failures = stats.fails }
      end
    end
  end)
  local elapsed, cpu = clock() - t_start, host.cpu_time() - cpu_start
  host.untrap_signals()
  loop:close()
  if not ok then error(err, 0) end
  return {
    summary = stats:summary(elapsed),
    elapsed_s = elapsed,
    cpu_s = cpu,
    users_spawned = spawned,
    users_on_start_failed = on_start_failed,
    stopped = stopped,
  }
end

return M
