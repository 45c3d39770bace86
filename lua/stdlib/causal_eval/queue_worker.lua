-- SPDX-License-Identifier: MIT
-- One thread of `causal-eval worker` (started by causal_eval.queue_pool
-- through causal_eval.threads, in a Lua state of its own). It takes
-- questions of queued runs from their Redis streams as a consumer of the
-- group "workers" (XREADGROUP; XAUTOCLAIM for those of a worker that
-- died) and asks them with the very stages of a local run's worker
-- (causal_eval.worker: adapters, cache, retries, scoring, records), writing
-- to the store the process opened. An entry is acknowledged (XACK) only
-- once all its records are committed, so a kill -9 at any moment leaves
-- every answer either stored or pending for another worker; and a slot of
-- the thread's concurrency stays taken until its answer is committed, so
-- what a killed worker had paid for and not stored is at most its
-- concurrency. Before asking, the store is read: an answer stored already
-- is never asked again.
--
-- Runs are served oldest first; with nothing to do the thread waits in a
-- blocking read (at most a second, to notice a new run or a SIGTERM).
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local store_core = require "causal_eval.store_core"
local results = require "causal_eval.results"
local worker = require "causal_eval.worker"
local outcome = require "causal_eval.run.outcome"
local queue = require "causal_eval.queue"

local M = {}

local now = host.clock
local BLOCK_MS = 1000

-- ---- messages ----

-- stderr, each kind of trouble at most every 10 s: a Redis outage must not flood the log
local function warner(T)
  return function(kind, msg)
    local t = now()
    if (T.warned[kind] or -math.huge) + 10 <= t then
      T.warned[kind] = t
      io.stderr:write(("causal-eval worker: warning: %s\n"):format(tostring(msg)))
    end
  end
end

-- ---- entries ----

local function fields_of(flat)
  local f = {}
  for i = 1, #(flat or {}), 2 do f[flat[i]] = flat[i + 1] end
  return f
end

-- Takes entries (from XREADGROUP or XAUTOCLAIM) into the run's buffer; an
-- entry whose data was deleted (XAUTOCLAIM gives no fields) is dropped.
local function take(T, R, list)
  local gone = {}
  for _, e in ipairs(list) do
    local id, flat = e[1], e[2]
    if type(flat) ~= "table" then
      gone[#gone + 1] = { id }
    elseif not R.held[id] then
      local entry = { id = id, f = fields_of(flat), nrec = 0, errors = 0 }
      R.held[id] = entry
      R.buf[#R.buf + 1] = entry
    end
  end
  if #gone > 0 then queue.ack(T.conn, R.id, gone, "dropped") end
end

-- Entries for the run: claims (a dead worker's entries are the oldest
-- work) at most every claim_every seconds, then new ones. false when the
-- run's stream is gone.
local function fetch(T, R, want)
  local t = now()
  if t - R.last_claim >= T.claim_every then
    R.last_claim = t
    local got, err = queue.claim(T.conn, R.id, T.me, T.claim_after, want)
    if got then take(T, R, got)
    elseif tostring(err):find("NOGROUP") then return false
    else T.warn("redis", err) end
  end
  if #R.buf >= want then return true end
  local r, err, kind = T.conn:call("XREADGROUP", "GROUP", queue.GROUP, T.me, "COUNT", want - #R.buf,
    "STREAMS", queue.stream_key(R.id), ">")
  if r == nil then
    if kind == "redis" and tostring(err):find("NOGROUP") then return false end
    T.warn("redis", err)
  elseif r then
    take(T, R, r[1][2])
  end
  return true
end

-- ---- acknowledgements ----

local function flush_acks(T, R)
  if #R.acks == 0 then return end
  local list = {}
  for i, e in ipairs(R.acks) do list[i] = { e.id, tonumber(e.f.m) or R.nmodels, e.errors } end
  local acked, total = queue.ack(T.conn, R.id, list, "acked")
  if not acked then
    T.warn("redis", total) -- kept: sent again with the next ones
    return
  end
  for _, e in ipairs(R.acks) do R.held[e.id] = nil end
  R.acks, R.last_ack = {}, now()
  if acked >= 0 and acked >= (total or math.huge) then queue.try_finish(T.conn, T.st, R.id, T.me) end
end

-- entries whose records are all committed move on to be acknowledged
local function committed(T, R)
  local c = T.st:tally(T.slot).done - T.base
  local q, moved = R.committing, 0
  while q[moved + 1] and q[moved + 1].seq <= c do
    moved = moved + 1
    R.acks[#R.acks + 1] = q[moved]
  end
  if moved > 0 then
    local n = #q
    table.move(q, moved + 1, n, 1)
    for i = n - moved + 1, n do q[i] = nil end
  end
  return c
end

-- A worker that is alive keeps what it holds from being claimed: the idle
-- time of its entries is reset well within claim_after.
local function heartbeat(T, R)
  R.last_beat = now()
  local ids = {}
  for id in pairs(R.held) do ids[#ids + 1] = id end
  if #ids == 0 then return end
  local args = { queue.GROUP, T.me }
  table.move(ids, 1, #ids, 3, args)
  local lost, err = queue.script(T.conn, "heartbeat", { queue.stream_key(R.id) }, args)
  if not lost then T.warn("redis", err)
  elseif lost > 0 then
    T.warn("lost", ("%d question%s of run %s were claimed by another worker (this one was silent for queue.claim_after, %gs)")
      :format(lost, lost == 1 and "" or "s", R.id, T.claim_after))
  end
end

-- Each turn of the worker's loop: slots held by answers not yet
-- committed, acknowledgements, the heartbeat.
local function tick(T, R, t)
  local c = committed(T, R)
  R.w.held = T.seq - c
  if #R.acks >= 64 or (#R.acks > 0 and t - R.last_ack >= 0.02) then flush_acks(T, R) end
  if t - R.last_beat >= T.beat_every then heartbeat(T, R) end
end

-- A record of a question of this run was queued (outcome), or the
-- question had every answer stored already (no outcome).
local function settled(T, R, src, oc)
  local e = src.entry
  if not e then return end
  if oc then
    T.seq = T.seq + 1
    e.nrec = e.nrec + 1
    if oc == "error" then e.errors = e.errors + 1 end
  end
  if e.nrec >= (src.open or 0) and not e.seq then
    e.seq = T.seq
    R.committing[#R.committing + 1] = e
  end
end

-- ---- a run ----

local function local_sum()
  local total = 0
  return { add = function(_, x) total = total + x; return total end, get = function() return total end }
end

-- "already stored" is what the store says, read when the question is taken
local function store_check(st, id, retry)
  local prefix = id .. results.SEP
  return {
    has = function(_, k)
      local v = st:get(results.DB.scores, prefix .. k)
      if not v then return false end
      if retry then
        -- a resume with --retry-errors asks again what failed for a transient reason
        local s = json.decode(v)
        if type(s) == "table" and s.e and outcome.TRANSIENT[s.e] then return false end
      end
      return true
    end,
  }
end

local function source(T, R)
  local run = R.run
  local ticket
  local bench_next = run.source.kind == "bench" and worker.source(run.source, { next = function() return ticket end })
  local qf = require "causal_eval.question_file"
  return function()
    local w = R.w
    if T.quit:get() or w.stop_code then return nil end
    if #R.buf == 0 then
      local want = math.max(1, math.ceil((w.K - #w.ready) / R.nmodels))
      -- false: the stream is gone (the run ended): the next pick sees to it
      if fetch(T, R, want) == false then return nil end
    end
    local e = table.remove(R.buf, 1)
    if not e then return nil end
    local src
    if e.f.t and bench_next then
      ticket = math.tointeger(tonumber(e.f.t))
      src = ticket and bench_next()
    elseif e.f.l then
      src = qf.item(e.f.l, math.tointeger(tonumber(e.f.n)) or 0, run.source.path)
    end
    src = src or { id = "entry-" .. e.id, bad = ("queue entry %s of run %s is not a question of it"):format(e.id, R.id) }
    src.entry = e
    return src
  end
end

-- The run's worker state, or nil when this worker cannot work it (the run
-- is not in its store: it was given another store than the run's).
local function open_run(T, id, queued)
  local run, err = results.get_run(T.st, id)
  if not run then
    T.warn("unknown:" .. id, ("run %s is queued on %s but %s: skipped (give the worker the store the run uses, --store or --data)")
      :format(id, T.where, (tostring(err):gsub("this store", "this worker's store (" .. T.cfg.where .. ")"))))
    T.skip[id .. "@" .. queued] = true
    return nil
  end
  local h = queue.state(T.conn, id) or {}
  local d = run.dispatch or {}
  local mode = T.cfg.cache and (T.cfg.cache.mode or (type(run.queue) == "table" and run.queue.cache_mode) or "readwrite")
  local sh = T.cfg.shared
  local wcfg = {
    run_id = id, store = T.cfg.store, source = run.source, models = run.model_specs,
    nworkers = T.cfg.nworkers, concurrency = T.cfg.concurrency, max_concurrency = T.cfg.concurrency,
    limit = sh.limit, batch = sh.batch, responses = sh.responses, limited = sh.limited, window = sh.window,
    paused = sh.paused, latency = sh.latency,
    timeout = d.timeout, connect_timeout = d.connect_timeout,
    max_response_bytes = d.max_response_mb and math.max(1, math.floor(d.max_response_mb * 1048576)) or nil,
    retries = { max_attempts = d.max_attempts, base = d.retry_base, cap = d.retry_cap },
    max_tokens_total = d.max_tokens_total, budget_usd = d.budget_usd,
    cache = mode and mode ~= "off" and { id = T.cfg.cache.id, mode = mode } or nil,
    mode = run.mode, -- the run's evaluation mode: every worker asks the same way
  }
  local R = { id = id, queued = queued, run = run, nmodels = math.max(1, #run.model_specs), buf = {}, held = {}, committing = {},
              acks = {}, last_claim = -math.huge, last_beat = now(), last_ack = now(), last_drain = -math.huge,
              last_finish = now() }
  R.w = worker.setup(wcfg, T.index, {
    stop = queue.stop_flag(T.conn, id, 0.02, T.warn),
    bucket = (d.rate or 0) > 0 and queue.rate_bucket(T.conn, id, d.rate, T.warn) or nil,
    tokens_sum = d.max_tokens_total and queue.sum(T.conn, id, "tokens", T.warn) or local_sum(),
    cost_sum = d.budget_usd and queue.sum(T.conn, id, "cost", T.warn) or local_sum(),
    done = store_check(T.st, id, (tonumber(h.retry) or 0) == 1),
    next_item = source(T, R),
    tick = function(_, t) tick(T, R, t) end,
    on_settled = function(src, oc) settled(T, R, src, oc) end,
    tally_slot = T.slot,
  })
  T.runs[id] = R
  return R
end

-- After a pass of the loop: records committed, entries acknowledged; what
-- a stopped run leaves is dropped (a resume queues it again), and entries
-- read but not begun when the worker quits go back to the others.
local function settle_run(T, R)
  local ok, err = T.st:sync()
  if not ok then error(("writing results failed: %s"):format(err), 0) end
  committed(T, R)
  for _ = 1, 5 do
    flush_acks(T, R)
    if #R.acks == 0 then break end
    host.sleep(0.2)
  end
  R.w.held = 0
  local left = {}
  for id in pairs(R.held) do left[#left + 1] = { id } end
  if #left == 0 then return end
  if R.w.stop_code then
    queue.ack(T.conn, R.id, left, "dropped")
    R.held, R.buf, R.committing = {}, {}, {}
    queue.try_finish(T.conn, T.st, R.id, T.me)
  elseif T.quit:get() and #R.buf > 0 then
    -- idle at once for XAUTOCLAIM: no other worker waits queue.claim_after for them
    local cmd = { "XCLAIM", queue.stream_key(R.id), queue.GROUP, T.me, 0 }
    for _, e in ipairs(R.buf) do cmd[#cmd + 1] = e.id end
    for _, word in ipairs({ "IDLE", math.floor(T.claim_after * 1000) + 60000, "JUSTID" }) do cmd[#cmd + 1] = word end
    T.conn:call(table.unpack(cmd))
    for _, e in ipairs(R.buf) do R.held[e.id] = nil end
    R.buf = {}
  end
end

local function close_run(T, R)
  T.runs[R.id] = nil
  local res = json.decode(worker.finish(R.w))
  T.sent = T.sent + (res.sent or 0)
  T.recorded = T.recorded + (res.recorded or 0)
end

local function work(T, R)
  R.w.source_done = false
  worker.loop(R.w)
  settle_run(T, R)
end

-- ---- choosing what to do ----

-- The runs queued now, oldest first, and the set of them. A run is known
-- by its id and the time it was queued: a resumed run is queued again
-- under its id, and what a worker knew of the earlier queueing (a stop, a
-- skip) is not about it.
local function active_runs(T)
  local flat, err = T.conn:call("ZRANGE", queue.RUNS, 0, -1, "WITHSCORES")
  if not flat then
    T.warn("redis", err)
    return nil
  end
  local out, live = {}, {}
  for i = 1, #flat, 2 do
    local id, queued = flat[i], flat[i + 1]
    live[id] = queued
    local R = T.runs[id]
    if R and R.queued ~= queued then close_run(T, R) end
    if not T.skip[id .. "@" .. queued] and (not T.cfg.only or T.cfg.only == id) then out[#out + 1] = id end
  end
  -- runs that ended: their state goes
  for id, R in pairs(T.runs) do
    if not live[id] then close_run(T, R) end
  end
  return out, live
end

-- The run to work now, with entries in its buffer; nil after waiting (at
-- most BLOCK_MS) when there is none. Sets T.done when the one run this
-- worker was started for has ended.
local function pick(T)
  local ids, live = active_runs(T)
  if not ids then
    host.sleep(0.5)
    return nil
  end
  if T.cfg.only and not live[T.cfg.only] then
    T.done = true
    return nil
  end
  local open = {}
  for _, id in ipairs(ids) do
    local R = T.runs[id] or open_run(T, id, live[id])
    if R then
      if now() - R.last_finish >= 1 then
        -- whoever acknowledged the last entry ends the run; should that
        -- fail, any worker does it later
        R.last_finish = now()
        queue.try_finish(T.conn, T.st, id, T.me)
      end
      if R.w.stop:get() then
        -- stopped: what a dead worker held is dropped, then the run can end
        if now() - R.last_drain >= 0.25 then
          R.last_drain = now()
          queue.drain_stopped(T.conn, id, T.me, T.claim_after)
          queue.try_finish(T.conn, T.st, id, T.me)
        end
      else
        local want = math.max(1, math.ceil(R.w.K / R.nmodels))
        if fetch(T, R, want) == false then
          -- gone: the run ended meanwhile (quietly), or someone deleted it
          local h = queue.state(T.conn, id)
          if not (h and (h.finished or h.finishing)) then
            T.warn("gone:" .. id, ("the stream of run %s (%s) is missing from %s: skipped"):format(id, queue.stream_key(id), T.where))
          end
          T.skip[id .. "@" .. live[id]] = true
        elseif #R.buf > 0 then
          return R
        else
          open[#open + 1] = R
        end
      end
    end
  end
  if #open == 0 then
    -- no run to work: wait for the announcement of a new one
    local r = T.conn:wait(BLOCK_MS / 1000, "XREAD", "BLOCK", BLOCK_MS, "STREAMS", queue.ANNOUNCE, T.announced or "$")
    if type(r) == "table" and r[1] then
      local entries = r[1][2]
      T.announced = entries[#entries][1]
    elseif r == nil then
      host.sleep(0.5)
    end
    return nil
  end
  -- runs in progress with nothing new: block on all their streams at once
  local cmd = { "XREADGROUP", "GROUP", queue.GROUP, T.me, "BLOCK", BLOCK_MS, "COUNT", 0, "STREAMS" }
  local want = math.max(1, math.ceil(open[1].w.K / open[1].nmodels))
  cmd[8] = want
  for _, R in ipairs(open) do cmd[#cmd + 1] = queue.stream_key(R.id) end
  for _ = 1, #open do cmd[#cmd + 1] = ">" end
  local r, err, kind = T.conn:wait(BLOCK_MS / 1000, table.unpack(cmd))
  if r == nil then
    -- NOGROUP: a run ended meanwhile (its stream went); the next pick sees it
    if kind ~= "redis" then
      T.warn("redis", err)
      host.sleep(0.5)
    end
    return nil
  end
  if not r then return nil end
  local by_key = {}
  for _, R in ipairs(open) do by_key[queue.stream_key(R.id)] = R end
  local first
  for _, s in ipairs(r) do
    local R = by_key[s[1]]
    if R then
      take(T, R, s[2])
      first = first or (#R.buf > 0 and R) or nil
    end
  end
  return first
end

function M.main(config_json, index)
  local cfg = assert(json.decode(config_json, "queue worker config"))
  local T = {
    cfg = cfg, index = index, warned = {}, runs = {}, skip = {}, seq = 0, sent = 0, recorded = 0,
    st = assert(store_core.attach(cfg.store)), quit = assert(shared.attach("flag", cfg.quit)),
    me = ("%s:%d"):format(cfg.consumer, index), slot = index - 1,
    claim_after = cfg.claim_after, where = queue.redact(cfg.url),
  }
  T.claim_every = math.max(0.05, math.min(1, cfg.claim_after / 4))
  T.beat_every = math.max(0.05, cfg.claim_after / 3)
  T.warn = warner(T)
  -- the thread's own tally slot: its commits, counted from here
  T.base = T.st:tally(T.slot).done
  local conn, err = queue.connect(cfg.url)
  if not conn then error(err, 0) end
  T.conn = conn
  while not T.quit:get() and not T.done do
    local R = pick(T)
    if R then work(T, R) end
  end
  for _, R in pairs(T.runs) do
    settle_run(T, R)
    close_run(T, R)
  end
  conn:close()
  return json.encode({ worker = index, sent = T.sent, recorded = T.recorded })
end

return M
