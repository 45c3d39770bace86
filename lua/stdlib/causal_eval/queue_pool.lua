-- SPDX-License-Identifier: MIT
-- The process of `causal-eval worker`: opens the results store and the
-- cache (as `run` does), starts the threads that take questions from the
-- queue (causal_eval.queue_worker), and turns SIGTERM or Ctrl-C into a
-- clean end: no new questions, those in flight answered, stored and
-- acknowledged, then exit 0. A second signal quits at once (what was in
-- flight is claimed by other workers after queue.claim_after).
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local threads = require "causal_eval.threads"
local results = require "causal_eval.results"
local queue = require "causal_eval.queue"

local M = {}

-- a thread commits under its own tally slot (causal_eval.queue_worker)
M.MAX_WORKERS = 64

local function log(opts, fmt, ...)
  if not opts.quiet then io.stderr:write("causal-eval worker: ", fmt:format(...), "\n") end
end

-- With --run: that run must be queued, unfinished, with its stream there.
local function check_run(conn, id, url)
  local h, err = queue.state(conn, id)
  if h == nil then return nil, err end
  if h == false then
    return nil, ("run %s is not queued on %s (unknown there, or finished more than %d days ago)")
      :format(id, queue.redact(url), queue.KEEP_FINISHED // 86400)
  end
  if h.finished then return nil, ("run %s has already finished (%s)"):format(id, tostring(h.status)) end
  local there, serr = queue.stream_exists(conn, id)
  if there == nil then return nil, serr end
  if not there and not h.finishing then
    return nil, ("the stream of run %s (%s) is missing from %s: was it deleted? `causal-eval run --resume %s --queue URL` queues what is not stored")
      :format(id, queue.stream_key(id), queue.redact(url), id)
  end
  return true
end

--- Serves the queue until SIGTERM (or, with opts.run, until that run has
--- ended). opts: url, workers, concurrency, data, store_cfg, cache_mode
--- (nil: each run's own), cache_opts, claim_after, run, quiet. Returns an
--- exit status, or nil and a message when it could not start.
function M.serve(opts)
  local conn, err = queue.connect(opts.url)
  if not conn then return nil, err end
  if opts.run then
    local ok, rerr = check_run(conn, opts.run, opts.url)
    if not ok then
      conn:close()
      return nil, rerr
    end
  end
  conn:close()
  local data = opts.data or "./causal-eval-data"
  -- one writer: records commit in the order they were queued, which is how
  -- a thread knows an entry's records are all committed (its tally slot's
  -- count) before acknowledging it. PostgreSQL's writers side by side
  -- (database.writers) commit out of order: entries were acknowledged with
  -- a record still in a batch of the other writer, and a kill -9 then lost
  -- it (2 of 2,000 in spec/queue_kill_pg_spec.lua under load). A worker
  -- writes at most a few hundred answers a second: one writer keeps up.
  local store_cfg = {}
  for k, v in pairs(opts.store_cfg or {}) do store_cfg[k] = v end
  store_cfg.writers = 1
  local st, serr, kind = results.open(data, store_cfg)
  if not st then
    if kind == "damaged" then return nil, serr end
    return nil, ("cannot open the results store %s: %s"):format(data, serr)
  end
  local where = results.where(st, data)
  local nrep, rmsg = st:replayed()
  if rmsg then log(opts, "warning: %s", rmsg)
  elseif nrep > 0 then log(opts, "%d answer%s of a killed process recovered from its journal", nrep, nrep > 1 and "s" or "") end
  if opts.run then
    local run, gerr = results.get_run(st, opts.run)
    if not run then
      st:close()
      return nil, ("run %s is queued but %s (%s): give the worker the store the run uses (--store or --data)")
        :format(opts.run, tostring(gerr), where)
    end
  end
  local batch = store_cfg.batch_size or 256
  local wok, werr = st:start_writer{ batch = batch, flush_ms = 5 }
  if not wok then
    st:close()
    return nil, werr
  end
  local cache
  if opts.cache_mode ~= "off" then
    local c, cerr = require("causal_eval.runner").open_cache({ cache_mode = "readwrite", cache_opts = opts.cache_opts, quiet = opts.quiet })
    if c == nil and cerr then
      st:close()
      return nil, cerr
    end
    cache = c or nil
  end
  local nworkers = math.min(opts.workers, opts.concurrency)
  local quit = shared.flag()
  local keep = {
    limit = shared.counter(opts.concurrency), batch = shared.counter(1), responses = shared.counter(0),
    limited = shared.counter(0), window = shared.histogram(), paused = shared.counter(0), latency = shared.histogram(),
  }
  local ids = {}
  for k, v in pairs(keep) do ids[k] = v:id() end
  local cfg = {
    url = opts.url, store = st:id(), where = where, quit = quit:id(), nworkers = nworkers, concurrency = opts.concurrency,
    claim_after = opts.claim_after, consumer = ("%s:%d"):format(require("causal_eval.queue_core").node(), host.getpid()),
    only = opts.run, shared = ids,
    cache = cache and { id = cache:id(), mode = opts.cache_mode } or nil,
  }
  host.trap_signals()
  local group = threads.start(nworkers, "causal_eval.queue_worker", json.encode(cfg))
  log(opts, "%s: %d thread%s, %d request%s in flight at most, on %s%s", cfg.consumer, nworkers, nworkers == 1 and "" or "s",
    opts.concurrency, opts.concurrency == 1 and "" or "s", queue.redact(opts.url), opts.run and (", run " .. opts.run) or "")
  local told = false
  while group:finished() < nworkers do
    host.sleep(0.05)
    local n, sig = host.interrupts()
    if n > 0 and not told then
      told = true
      quit:set(1, sig or "interrupted")
      log(opts, "%s received: finishing the questions in flight (a second signal quits at once)", sig or "signal")
    elseif group:finished() > 0 and not opts.run and not quit:get() then
      -- a thread failed (they end only when told to): the others end too, cleanly
      quit:set(1, "a thread failed")
    end
  end
  local outcomes = group:join()
  host.untrap_signals()
  local sok, syerr = st:sync()
  if cache then cache:close() end
  st:close()
  local failures, sent, recorded = {}, 0, 0
  for i, o in ipairs(outcomes) do
    if o.ok then
      local r = json.decode(o.result)
      if type(r) == "table" then sent, recorded = sent + (r.sent or 0), recorded + (r.recorded or 0) end
    else
      failures[#failures + 1] = ("thread %d: %s"):format(i, tostring(o.error):match("^[^\n]*"))
    end
  end
  if not sok then failures[#failures + 1] = "writing results failed: " .. tostring(syerr) end
  log(opts, "stopped: %d answer%s stored, %d request%s sent", recorded, recorded == 1 and "" or "s", sent, sent == 1 and "" or "s")
  if #failures > 0 then
    io.stderr:write("causal-eval worker: ", table.concat(failures, "\ncausal-eval worker: "), "\n")
    return 1
  end
  return 0
end

return M
