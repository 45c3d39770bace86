-- SPDX-License-Identifier: MIT
-- `causal-eval run --queue redis://...`: the run is set up as a local one
-- (causal_eval.runner: models, questions, settings, what is stored
-- already), then its questions go on a Redis stream for `causal-eval
-- worker`s instead of being asked here (causal_eval.queue). This process
-- follows the run's progress in Redis and, once a worker (or this process,
-- after a stop) has written the run's end to the store, prints the same
-- summary a local run prints. With --detach it returns once the questions
-- are queued; `results show RUN` reads the run later.
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local results = require "causal_eval.results"
local worker = require "causal_eval.worker"
local outcome = require "causal_eval.run.outcome"
local settings = require "causal_eval.run.settings"
local queue = require "causal_eval.queue"
local queue_core = require "causal_eval.queue_core"

local M = {}

local function log(opts, fmt, ...)
  if not opts.quiet then io.stderr:write(fmt:format(...), "\n") end
end

-- The models of a question not stored yet, by the run's `done` set.
local function open_models(run, prior, qid)
  if prior.n == 0 then return #run.model_specs end
  local open = 0
  for _, m in ipairs(run.model_specs) do
    if not prior.done:has(results.model_key(m.label) .. results.SEP .. qid) then open = open + 1 end
  end
  return open
end

-- Calls emit(fields) for each question with a model left to ask: the
-- ticket of a generated question (workers make it again, exactly), or the
-- line of a question file (a worker's machine may not have the file).
-- nil, message when the file cannot be read.
local function each_entry(run, prior, emit)
  local src = run.source
  if src.kind == "bench" then
    local bench = require "causal_eval.bench"
    local fams = {}
    for i, name in ipairs(src.benches) do fams[i] = assert(bench.load(name)) end
    local bopts = assert(bench.options(src.options or {}))
    for g = 0, run.total - 1 do
      local fam, i = fams[g // src.n + 1], g % src.n
      if prior.n == 0 then
        emit({ "t", g, "m", #run.model_specs })
      else
        local qid = bench.question_id(fam, bopts, src.seed, i)
        local open = open_models(run, prior, qid)
        if open > 0 then emit({ "t", g, "q", qid, "m", open }) end
      end
    end
    return true
  end
  local qf = require "causal_eval.question_file"
  local lines, err = shared.lines(src.path)
  if not lines then return nil, err end
  for _ = 1, run.total do
    local line, no = lines:next()
    if not line then
      if no then return nil, ("%s: %s"):format(src.path, no) end
      break
    end
    local open = open_models(run, prior, qf.item(line, no, src.path).id)
    if open > 0 then emit({ "l", line, "n", no, "m", open }) end
  end
  return true
end

-- Puts the run's questions on its stream, then makes the run visible to
-- workers (its hash, the runs set, the announcement) in one transaction, so
-- a process killed while it adds entries leaves nothing a worker would take.
local function submit(conn, run, prior, s, opts)
  local id = run.id
  local skey, hkey = queue.stream_key(id), queue.run_key(id)
  local r, err = conn:pipeline({ { "DEL", skey, hkey }, { "XGROUP", "CREATE", skey, queue.GROUP, "0", "MKSTREAM" } })
  if not r then return nil, err end
  if type(r[2]) == "table" and r[2].err then return nil, r[2].err end
  local batch, n, records = {}, 0, 0
  local failed
  local function flush()
    if #batch == 0 or failed then return end
    local got, perr = conn:pipeline(batch)
    if not got then failed = perr end
    for _, g in ipairs(got or {}) do
      if type(g) == "table" and g.err then failed = failed or g.err end
    end
    batch = {}
  end
  local ok, eerr = each_entry(run, prior, function(fields)
    local cmd = { "XADD", skey, "*" }
    for _, f in ipairs(fields) do cmd[#cmd + 1] = f end
    batch[#batch + 1] = cmd
    n = n + 1
    records = records + fields[#fields]
    if #batch >= 1000 then flush() end
  end)
  if not ok then return nil, eerr end
  flush()
  if failed then return nil, failed end
  local now, nerr = queue.now(conn)
  if not now then return nil, nerr end
  local fields = { "HSET", hkey, "total", n, "acked", 0, "done", 0, "errors", 0, "dropped", 0, "records", records,
                   "prior", prior.n, "models", #run.model_specs, "started", ("%.6f"):format(now),
                   "tokens", prior.tokens, "cost", ("%.17g"):format(prior.cost), "retry", opts.retry_errors and 1 or 0 }
  local tx, terr = conn:pipeline({
    { "MULTI" }, fields,
    { "ZADD", queue.RUNS, ("%.6f"):format(now), id },
    { "XADD", queue.ANNOUNCE, "MAXLEN", "~", 1000, "*", "run", id },
    { "EXEC" },
  })
  if not tx then return nil, terr end
  local exec = tx[#tx]
  if type(exec) ~= "table" or exec.err then return nil, "queueing the run failed: " .. tostring(exec and exec.err) end
  -- a resumed run already over its budget stops before any worker asks
  local why = outcome.over_budget(prior.tokens, prior.cost, s.max_tokens_total, s.budget_usd)
  if why then queue.stop(conn, id, worker.STOP_BUDGET, why) end
  return n, records
end

local function fmt_duration(sec)
  if sec ~= sec or sec == math.huge then return "?" end
  sec = math.floor(sec + 0.5)
  if sec >= 3600 then return ("%dh%02dm"):format(sec // 3600, sec % 3600 // 60) end
  if sec >= 60 then return ("%dm%02ds"):format(sec // 60, sec % 60) end
  return ("%ds"):format(sec)
end

local function progress_line(h, run, t0, done0)
  local total = run.total * #run.model_specs
  local done = (h.prior or 0) + (h.done or 0)
  local el = host.clock() - t0
  local rate = el > 0 and ((h.done or 0) - done0) / el or 0
  return ("\r%d/%d  %.1f/s  ETA %s  errors %d  queue \27[K"):format(done, total, rate,
    rate > 0 and fmt_duration((total - done) / rate) or "?", h.errors or 0)
end

-- Follows the run until its end is written; returns the run's final hash,
-- or nil, message (Redis lost for good, the run's stream or hash gone).
local function follow(conn, st, run, opts)
  local id = run.id
  local me = ("%s:%d:run"):format(queue_core.node(), host.getpid())
  local claim_after = opts.claim_after or 30
  host.trap_signals()
  local t0, done0 = host.clock(), nil
  local last_draw, last_check, lost_since, said_waiting, said_lost = 0, 0, nil, false, false
  local stopped = false
  while true do
    local n, sig = host.interrupts()
    if n > 0 and not stopped then
      stopped = true
      -- every worker stops asking, as the threads of a local run do; what
      -- they stored stays, a resume asks the rest
      queue.stop(conn, id, worker.STOP_INTERRUPT, sig or "interrupted")
      if sig == "SIGTERM" then
        log(opts, "\nSIGTERM received: stopping the workers, finishing the writes in progress (a second signal quits at once)")
      else
        log(opts, "\ninterrupted (Ctrl-C): stopping the workers, finishing the writes in progress (Ctrl-C again to quit at once)")
      end
    end
    local h, err = queue.state(conn, id)
    if h == nil then
      -- Redis unreachable: the workers go on without us; wait for it
      lost_since = lost_since or host.clock()
      if host.clock() - lost_since > 60 then
        host.untrap_signals()
        return nil, ("%s; the run goes on in its workers: `causal-eval results show %s` once it is done"):format(err, id)
      end
      if not said_lost then log(opts, "warning: %s: retrying", err) end
      said_lost = true
      host.sleep(0.5)
    elseif h == false then
      host.untrap_signals()
      return nil, ("the queue's record of run %s is gone from %s (was its Redis database flushed?); `causal-eval run --resume %s --queue URL` queues what is not stored"):format(
        id, queue.redact(opts.queue), id)
    elseif h.finished then
      host.untrap_signals()
      if opts.progress then io.stderr:write(progress_line(h, run, t0, done0 or 0), "\n") end
      return h
    else
      lost_since, said_lost = nil, false
      done0 = done0 or (h.done or 0)
      local t = host.clock()
      if t - last_check >= 0.2 then
        last_check = t
        if h.stop then queue.drain_stopped(conn, id, me, claim_after) end
        queue.try_finish(conn, st, id, me)
        -- read again: the run may have ended (and its stream gone) since h was read
        local again = queue.stream_exists(conn, id) == false and queue.state(conn, id)
        if again and not (again.finishing or again.finished) then
          host.untrap_signals()
          return nil, ("the stream of run %s (%s) is missing from %s: was it deleted? `causal-eval run --resume %s --queue URL` queues what is not stored"):format(
            id, queue.stream_key(id), queue.redact(opts.queue), id)
        end
      end
      if not said_waiting and (h.acked or 0) == 0 and (h.done or 0) == 0 and t - t0 > 3 and (h.total or 0) > 0 then
        said_waiting = true
        log(opts, "%swaiting for workers: start them with `causal-eval worker --queue %s`", opts.progress and "\n" or "",
          queue.redact(opts.queue))
      end
      if opts.progress and t - last_draw >= 0.25 then
        last_draw = t
        io.stderr:write(progress_line(h, run, t0, done0))
      end
      host.sleep(0.05)
    end
  end
end

--- The run as runner.run continues it with --queue: queues its questions
--- (or, for a run already queued, follows it) and returns what run_stages
--- returns: an exit status and the report, or nil and a message.
function M.run(st, run, s, prior, opts, state)
  local conn, err = queue.connect(opts.queue)
  if not conn then return nil, err end
  local id = run.id
  local h, herr = queue.state(conn, id)
  if h == nil then return nil, herr end
  local t_start = host.clock()
  local queued
  if h and not h.finished then
    log(opts, "run %s is already queued on %s: following it", id, queue.redact(opts.queue))
    io.stderr:write("run ", id, "\n")
  else
    run.dispatch = {}
    for _, d in ipairs(settings.LIST) do run.dispatch[d[1]] = s[d[1]] end
    run.status, run.started = "running", os.time()
    run.resumed = opts.resume and (run.resumed or 0) + 1 or run.resumed
    run.queue = { url = queue.redact(opts.queue), cache_mode = opts.cache_mode }
    results.put_run(st, run)
    state.written, state.stored = true, true
    io.stderr:write("run ", id, "\n")
    if opts.on_run_id then opts.on_run_id(id) end
    local n, records = submit(conn, run, prior, s, opts)
    if not n then return nil, ("queueing run %s on %s failed: %s"):format(id, queue.redact(opts.queue), records) end
    -- from here on the run's end is the queue's to write, whatever happens to this process
    state.written, queued = false, n
    log(opts, "queued %d question%s (%d model request%s) on %s", n, n == 1 and "" or "s", records,
      records == 1 and "" or "s", queue.redact(opts.queue))
    if n == 0 then queue.try_finish(conn, st, id, "run") end
  end
  if opts.detach then
    conn:close()
    return 0, { run = run, detached = true, queued = queued, summaries = {}, below = {}, prior = prior.n }
  end
  local fin, ferr = follow(conn, st, run, opts)
  conn:close()
  if not fin then return nil, ferr end
  local final, gerr = results.get_run(st, id)
  if not final then return nil, gerr end
  local summaries, comparisons = results.summarize(st, final)
  if not summaries then return nil, comparisons end
  for _, sm in ipairs(summaries) do
    sm.throughput = (final.elapsed or 0) > 0 and sm.n / final.elapsed or json.null
  end
  local exit = tonumber(fin.exit) or 0
  local below = {}
  if opts.fail_under then
    for _, sm in ipairs(summaries) do
      if type(sm.accuracy) ~= "number" or sm.accuracy < opts.fail_under then below[#below + 1] = sm.model end
    end
    if #below > 0 and exit == 0 then exit = 1 end
  end
  return exit, {
    run = final, summaries = summaries, message = final.message, below = below, prior = prior.n,
    wall = host.clock() - t_start, comparisons = comparisons,
    retry = opts.retry_errors and { resent = prior.resend, kept = prior.kept } or nil,
  }
end

return M
