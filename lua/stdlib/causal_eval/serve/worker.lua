-- SPDX-License-Identifier: MIT
-- One worker thread of `causal-eval serve` (started by serve/supervisor.lua
-- through causal_eval.threads, in a Lua state of its own). It takes
-- requests from the server's queue and answers each in a coroutine of its
-- causal_eval.async loop: a handler that asks a model yields while the
-- request is in flight on the loop's curl multi handle, so one worker
-- serves many requests at once. With api.worker_class sync (or no async
-- module), it answers one request at a time.
--
-- Its state is replaced by a fresh one after api.max_requests requests
-- (plus up to api.max_requests_jitter), and with api.reload when a Lua file
-- it loaded changes: it stops taking requests, finishes those it holds, and
-- returns; the supervisor has started its successor meanwhile.
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local http = require "causal_eval.http"
local rng = require "causal_eval.rng"
local shared = require "causal_eval.shared"
local server_core = require "causal_eval.server_core"
local store_core = require "causal_eval.store_core"
local routes = require "causal_eval.serve.routes"
local reply = require "causal_eval.serve.reply"

local M = {}

-- ---- api.reload: the Lua files this state loaded ----

-- The file a loaded module came from, when a change to it would change
-- what a fresh state loads: not the copy compiled into the binary (unless
-- CAUSAL_EVAL_DEV=1 loads the stdlib from its folder), not a native module.
local function embedded_set()
  local set = {}
  for _, name in ipairs(host.stdlib_modules()) do set[name] = true end
  return set
end

-- note() records the files of modules loaded since the last call, with
-- their times then (a file changed after the load but before a later look
-- would go unseen); changed() looks at most every `interval` seconds and
-- returns the first file that changed since it was loaded.
function M.reloader(interval)
  local embedded, dev = embedded_set(), host.dev()
  local mtimes, seen = {}, {}
  local next_check = 0
  local r = {}
  function r.note()
    for name in pairs(package.loaded) do
      if not seen[name] then
        seen[name] = true
        if type(name) == "string" and (dev or not embedded[name]) then
          local path = package.searchpath(name, package.path)
          if path then mtimes[path] = server_core.mtime(path) end
        end
      end
    end
  end
  function r.changed()
    local t = host.clock()
    if t < next_check then return false end
    next_check = t + (interval or 1)
    r.note()
    for path, m in pairs(mtimes) do
      if server_core.mtime(path) ~= m then return path end
    end
    return false
  end
  return r
end

-- ---- answering one request ----

local function error_id(ctx, r)
  return rng.hex(("%s|%d|%s"):format(host.clock(), ctx.index, r.id)):sub(1, 10)
end

local function traceback(e)
  if type(e) == "table" and e.message then return e end
  return debug.traceback(tostring(e), 2)
end

-- The answer to r, sent. A handler's error is a 500: with api.debug it
-- carries the traceback; otherwise a short message with an id that the
-- server's log (stderr) has beside the traceback.
function M.answer(ctx, r)
  local ok, status, body, headers = xpcall(routes.dispatch, traceback, ctx, r)
  if not ok then
    local e = status
    local id = error_id(ctx, r)
    local text = type(e) == "table" and tostring(e.message) or tostring(e)
    io.stderr:write(("causal-eval serve: error %s in %s %s: %s\n"):format(id, r.method, r.path, text))
    local first = text:match("^[^\n]*"):gsub("^[^:\n]*%.lua:%d+: ", "")
    if ctx.debug then
      status, body = reply.json(500, { error = { code = "internal", message = first, id = id, traceback = text } })
    else
      status, body = reply.error(500, "internal", ("internal error (id %s): the server's log has the details"):format(id))
    end
    headers = nil
  end
  ctx.held[r.id] = nil
  ctx.srv:respond(r.id, status, headers, body)
  if ctx.reload then ctx.reload.note() end
end

-- ---- setup ----

-- n items through fn, at most k at a time: coroutines of the loop when the
-- caller runs in one (model calls then overlap), else one after the other.
local function each_fn(ctx)
  return function(n, k, fn)
    local async = ctx.async
    if not (async and async.current()) or n == 1 then
      for i = 1, n do fn(i) end
      return
    end
    local loop, nexti, running = async.current(), 1, 0
    local function pump()
      while nexti <= n do
        local i = nexti
        nexti = nexti + 1
        fn(i)
      end
      running = running - 1
    end
    for _ = 1, math.min(k, n) do
      running = running + 1
      loop:spawn(pump)
    end
    while running > 0 do async.sleep(0.001) end
  end
end

local function setup(cfg, index)
  local values = cfg.values
  local ctx = {
    index = index, values = values, run_id = cfg.run_id, debug = values.api.debug,
    timeout = values.api.timeout,
    srv = assert(server_core.attach(cfg.server)),
    st = assert(store_core.attach(cfg.store)),
    -- /results/* and /runs/ID: the read replica when the store has one
    reader = assert(store_core.attach(cfg.store, { reader = true })),
    seq = assert(shared.attach("counter", cfg.seq)),
    retiring = cfg.retiring and assert(shared.attach("ring", cfg.retiring)) or nil,
    meter = require("causal_eval.run_metrics").recorder(),
    indexed = {}, nindexed = 0,
  }
  ctx.cache_lib = require "causal_eval.cache"
  if cfg.cache then ctx.cache = assert(ctx.cache_lib.attach(cfg.cache)) end
  if cfg.scores then ctx.scores = assert(ctx.cache_lib.attach(cfg.scores)) end
  local secmod = assert(routes.security_module())
  ctx.sec = assert(secmod.attach(cfg.security, values))
  if values.api.worker_class == "async" then
    local ok, async = pcall(require, "causal_eval.async")
    if ok then
      ctx.async = async
      ctx.loop = assert(async.new{ max_connections = 256, max_body = 4 << 20 })
    end
  end
  if ctx.loop then
    ctx.call = function(req) return ctx.async.request(req) end
  else
    ctx.call = function(req) return http.request(req) end
  end
  ctx.each = each_fn(ctx)
  return ctx
end

local function finish(ctx)
  if ctx.loop then ctx.loop:close() end
  if ctx.cache then ctx.cache:close() end
  if ctx.scores then ctx.scores:close() end
  ctx.st:close()
  ctx.reader:close()
  ctx.srv:close()
end

-- ---- the loop ----

-- The loop below; its caller answers what it held if it fails.
local function serve(ctx, index)
  local api = ctx.values.api
  local limit = math.huge
  if api.max_requests > 0 then limit = api.max_requests + math.random(0, api.max_requests_jitter) end
  ctx.reload = api.reload and M.reloader(1) or nil
  if ctx.reload then ctx.reload.note() end
  local loop = ctx.loop
  local max_held = loop and 256 or 1
  local served, reason = 0, nil
  while true do
    local held = loop and loop:count() or 0
    if not reason then
      if served >= limit then
        reason = "max_requests"
      elseif ctx.reload then
        local path = ctx.reload.changed()
        if path then
          reason = "reload"
          io.stderr:write(("causal-eval serve: %s changed: worker %d starts afresh\n"):format(path, index))
        end
      end
      -- the supervisor starts a successor now, while this one finishes
      if reason and ctx.retiring then ctx.retiring:push(("%d %s"):format(index, reason)) end
    end
    if reason then
      if held == 0 then break end
      loop:step(0.01)
    else
      local want = math.min(16, max_held - held)
      local reqs = {}
      if want > 0 then reqs = ctx.srv:take(want, held > 0 and 0 or 0.1) end
      if reqs == nil then
        reason = "shutdown"
      else
        for _, r in ipairs(reqs) do
          served = served + 1
          ctx.held[r.id] = true
          if loop then loop:spawn(M.answer, ctx, r) else M.answer(ctx, r) end
        end
        if loop and (held > 0 or #reqs > 0) then loop:step(held > 0 and 0.002 or 0) end
      end
    end
  end
  return reason, served
end

function M.main(config_json, index)
  local cfg = assert(json.decode(config_json, "serve worker config"))
  local ctx = setup(cfg, index)
  ctx.held = {} -- ids taken and not answered yet
  local ok, reason, served = xpcall(serve, traceback, ctx, index)
  if not ok then
    -- the worker itself failed (not a handler): nobody would answer what it holds
    for id in pairs(ctx.held) do
      ctx.srv:respond(id, 500, nil, select(2, reply.error(500, "internal", "the worker serving this request failed")))
    end
    finish(ctx)
    error(reason, 0)
  end
  finish(ctx)
  return json.encode({ worker = index, reason = reason, served = served })
end

return M
