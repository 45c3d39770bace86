-- SPDX-License-Identifier: MIT
-- `causal-eval serve` in the main thread: opens what the workers share
-- (the results store and its writer, the layered cache, the security
-- module's stores, the server's queue), writes the server's run, starts
-- api.worker_count workers (serve/worker.lua) and keeps that many taking
-- requests: one that retires (api.max_requests, api.reload) gets a
-- successor at once, one that fails is logged and replaced. SIGTERM or
-- SIGINT: the server stops accepting, requests in progress finish (up to
-- api.shutdown_grace seconds), the run is written as completed, exit 0.
--
--   local code = require("causal_eval.serve.supervisor").run{ values = cfg.values, port = 8000 }
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local threads = require "causal_eval.threads"
local lockfile = require "causal_eval.lockfile"
local server_core = require "causal_eval.server_core"
local results = require "causal_eval.results"
local routes = require "causal_eval.serve.routes"

local M = {}

local function log(fmt, ...) io.stderr:write("causal-eval serve: ", fmt:format(...), "\n") end

-- the first line of an error, without the Lua position in front
local function plain(e)
  return (tostring(e):match("^[^\n]*"):gsub("^[^:\n]*%.lua:%d+: ", ""))
end

local function server_options(opts, v)
  local api = v.api
  return {
    bind = opts.bind or api.bind, port = opts.port or api.port,
    queue = api.queue_size, max_body = api.max_body_kb * 1024, max_header = api.max_header_kb * 1024,
    max_connections = api.max_connections, client_timeout = math.max(1, math.ceil(api.timeout)),
    max_json_depth = api.max_json_depth, gzip_min = 1024, threads = api.io_threads,
    metrics_public = api.metrics_public, routes = routes.TEMPLATES,
  }
end

-- What must exist before the server listens; nil, message when it cannot.
local function open_all(state, opts)
  local v = opts.values
  local secmod, serr = routes.security_module()
  if not secmod then return nil, serr end
  local sec, secerr = secmod.new(v)
  if not sec then return nil, secerr end
  state.sec = sec
  local data = opts.data or v.store.path
  local scfg = results.config(v, opts.store)
  scfg.raise_damage = false
  local st, err, kind = results.open(data, scfg)
  if not st then
    if kind == "damaged" then return nil, err end
    return nil, ("cannot open the results store %s: %s"):format(data, err)
  end
  state.st, state.data = st, data
  local ok, werr = st:start_writer{ batch = scfg.batch_size, flush_ms = 5 }
  if not ok then return nil, werr end
  if v.cache.mode ~= "off" then
    local cache_mod = require "causal_eval.cache"
    local copts = cache_mod.options(v)
    local c, cerr = cache_mod.open(copts)
    if c then state.cache = c else log("warning: cache unavailable (%s): nothing is cached", tostring(cerr)) end
    -- scored answers: memory only, bounded apart from the model answers
    if v.api.score_cache_mb > 0 then
      state.scores = assert(cache_mod.open{ memory_mb = v.api.score_cache_mb, ttl = copts.ttl })
    end
  end
  state.seq = shared.counter(0)
  state.retiring = shared.ring(1024)
  local srv, lerr = server_core.start(server_options(opts, v))
  if not srv then return nil, lerr end
  state.srv = srv
  -- the run last: a server that could not start leaves none behind
  local run = {
    id = results.new_run_id(), created = os.time(), started = os.time(), status = "running",
    host_version = host.version, seed = 0, models = {}, benchmarks = {}, total = 0,
    source = { kind = "serve" }, message = "evaluations made by causal-eval serve",
  }
  local lk, kerr = lockfile.take(results.lock_path(data, run.id))
  if not lk then return nil, ("cannot lock the server's run: %s"):format(tostring(kerr)) end
  state.lock, state.run = lk, run
  results.put_run(st, run)
  return true
end

local function start_worker(state, index)
  local g = threads.start(1, "causal_eval.serve.worker", state.wcfg_json)
  state.workers[#state.workers + 1] = { group = g, index = index, started = host.clock() }
end

-- Joins finished workers; returns how many of the live ones still take requests.
local function reap(state)
  local keep = {}
  for _, w in ipairs(state.workers) do
    if w.group:finished() > 0 then
      local out = w.group:join()[1]
      if out.ok then
        local r = json.decode(out.result or "") or {}
        state.served = state.served + (r.served or 0)
        if not w.retired and not state.stopping and r.reason ~= "shutdown" then
          -- it returned without announcing it: a successor still takes its place
          w.retired = true
          state.need = state.need + 1
          state.restarts:inc(1, { reason = tostring(r.reason) })
        end
      else
        log("worker %d failed: %s", w.index, plain(out.error))
        state.failures = state.failures + 1
        if not w.retired and not state.stopping then
          state.need_failed = state.need_failed + 1
          state.restarts:inc(1, { reason = "failed" })
        end
      end
    else
      keep[#keep + 1] = w
    end
  end
  state.workers = keep
end

local function supervise(state, opts)
  local v = opts.values
  while true do
    local n, sig = host.interrupts()
    if n > 0 then
      log("%s: finishing the requests in progress (up to %gs; a second signal quits at once)", sig or "signal",
        v.api.shutdown_grace)
      state.stopping = true
      state.srv:shutdown(v.api.shutdown_grace)
      break
    end
    -- a worker that retires says so first: its successor starts now
    while true do
      local msg = state.retiring:pop()
      if not msg then break end
      local idx, why = msg:match("^(%d+) (%S+)$")
      for _, w in ipairs(state.workers) do
        if tostring(w.index) == idx and not w.retired then
          w.retired = true
          state.need = state.need + 1
          state.restarts:inc(1, { reason = why })
        end
      end
    end
    reap(state)
    -- a retired worker's successor starts at once; a failed worker's at most
    -- once a second (one that fails at start would fail again at once)
    while state.need > 0 do
      state.need = state.need - 1
      state.next_index = state.next_index + 1
      start_worker(state, state.next_index)
    end
    if state.need_failed > 0 and host.clock() - state.last_failed_start >= 1 then
      state.need_failed = state.need_failed - 1
      state.next_index = state.next_index + 1
      state.last_failed_start = host.clock()
      start_worker(state, state.next_index)
    end
    host.sleep(0.01)
  end
  for _, w in ipairs(state.workers) do
    local out = w.group:join()[1]
    if out.ok then
      local r = json.decode(out.result or "") or {}
      state.served = state.served + (r.served or 0)
    else
      log("worker %d failed: %s", w.index, plain(out.error))
    end
  end
  state.workers = {}
end

local function release(state)
  host.untrap_signals()
  if state.srv then
    state.srv:shutdown(0)
    state.srv:close()
  end
  if state.cache then state.cache:close() end
  if state.scores then state.scores:close() end
  if state.st then
    if state.run then
      state.st:sync()
      state.run.status = state.failed and "failed" or "completed"
      state.run.finished = os.time()
      state.run.elapsed = state.t0 and (host.clock() - state.t0) or 0
      state.run.message = state.failed or ("%d requests served by causal-eval serve"):format(state.served or 0)
      pcall(results.put_run, state.st, state.run)
    end
    state.st:close()
  end
  if state.lock then state.lock:release() end
end

--- Serves until SIGTERM or SIGINT. opts: values (configuration), port,
--- bind, data (store folder), store (a PostgreSQL URL given as --store),
--- on_listen(port, run_id). Returns an exit
--- status, or nil and a message when the server could not start.
function M.run(opts)
  local state = { workers = {}, served = 0, failures = 0, need = 0, need_failed = 0, next_index = 0,
                  last_failed_start = 0 }
  state.restarts = require("causal_eval.metrics").counter("causal_eval_serve_worker_restarts_total",
    "Worker states of `serve` replaced, per reason (max_requests, reload, failed)", { "reason" })
  local ok, started, err = pcall(open_all, state, opts)
  if not ok or not started then
    release(state)
    return nil, ok and err or ("internal error: " .. plain(started))
  end
  local v = opts.values
  state.wcfg_json = json.encode({
    server = state.srv:id(), store = state.st:id(), cache = state.cache and state.cache:id() or nil,
    scores = state.scores and state.scores:id() or nil,
    security = state.sec:id(), seq = state.seq:id(), retiring = state.retiring:id(), run_id = state.run.id,
    values = v,
  })
  host.trap_signals()
  state.t0 = host.clock()
  for i = 1, v.api.worker_count do start_worker(state, i) end
  state.next_index = v.api.worker_count
  local bind = opts.bind or v.api.bind
  log("listening on http://%s:%d (%d worker%s, run %s)", bind, state.srv:port(), v.api.worker_count,
    v.api.worker_count > 1 and "s" or "", state.run.id)
  if opts.on_listen then opts.on_listen(state.srv:port(), state.run.id) end
  local sok, serr = pcall(supervise, state, opts)
  if not sok then state.failed = "internal error: " .. plain(serr) end
  release(state)
  if state.failed then
    log("%s", state.failed)
    return 1
  end
  log("stopped after %d requests", state.served)
  return 0
end

return M
