-- SPDX-License-Identifier: MIT
-- The work queue on Redis Streams: what `run --queue` (causal_eval.queue_run)
-- and `causal-eval worker` (causal_eval.queue_worker) agree on. One stream
-- per run holds its questions; a consumer group ("workers") hands each to
-- one worker, which acknowledges it (XACK) once its records are committed
-- to the shared store. Keys, all under "ce:q:":
--
--   runs                zset: runs being worked, by the time they were queued
--   announce            stream: "a run was queued" (wakes idle workers at once)
--   run:ID              hash: total (entries), acked, done (records), errors,
--                       dropped, started, prior, models, budgets and rate,
--                       tokens, cost, the token bucket, stop, stop_reason,
--                       stop_at, finishing, finished, status, exit
--   run:ID:s            stream: one entry per question: t (ticket of a
--                       generated question) or l, n (a question file's
--                       line and its number); q (its id); m (models to ask)
--
-- Counters shared by every worker (budgets, the rate's token bucket, the
-- stop flag) are changed by small Lua scripts that Redis runs atomically.
local queue_core = require "causal_eval.queue_core"

local M = {}

M.GROUP = "workers"
M.PREFIX = "ce:q:"
M.RUNS = M.PREFIX .. "runs"
M.ANNOUNCE = M.PREFIX .. "announce"
-- after a stop, how long before "nothing pending" is believed: a worker
-- reads the stop flag at most this often, so one that read entries just
-- before it has acknowledged or dropped them by then
M.STOP_GRACE = 0.5
-- a finished run's hash stays this long for `results show` and late readers
M.KEEP_FINISHED = 7 * 86400

function M.run_key(id) return M.PREFIX .. "run:" .. id end
function M.stream_key(id) return M.PREFIX .. "run:" .. id .. ":s" end

--- The url without its password, for messages and the run's record.
function M.redact(url)
  return (tostring(url):gsub("^(redis://)[^@/]*@", "%1***@"))
end

--- A connection, or nil, message, kind ("url": malformed; "io": Redis
--- unreachable; "auth": a password or database refused).
function M.connect(url, timeout)
  local c, err, kind = queue_core.connect(url, timeout or 2)
  if c then return c end
  if kind == "url" then return nil, err, kind end
  return nil, ("cannot reach the queue's Redis at %s: %s"):format(M.redact(url), err), kind
end

--- nil, or what is wrong with a queue url.
function M.check_url(url)
  local ok, err = queue_core.check_url(url)
  if ok then return nil end
  return err
end

-- ---- scripts ----

local SCRIPTS = {
  -- KEYS: stream, run hash. ARGV: group, field (acked or dropped), then
  -- id, records, errors per entry. An id counts once, for the first XACK.
  ack = [[
local n, recs, errs = 0, 0, 0
for i = 3, #ARGV, 3 do
  if redis.call('XACK', KEYS[1], ARGV[1], ARGV[i]) == 1 then
    n = n + 1
    recs = recs + tonumber(ARGV[i + 1])
    errs = errs + tonumber(ARGV[i + 2])
  end
end
if redis.call('EXISTS', KEYS[2]) == 0 then return {-1, 0} end
local a = redis.call('HINCRBY', KEYS[2], ARGV[2], n)
if ARGV[2] == 'acked' then
  if recs > 0 then redis.call('HINCRBY', KEYS[2], 'done', recs) end
  if errs > 0 then redis.call('HINCRBY', KEYS[2], 'errors', errs) end
  return {a, tonumber(redis.call('HGET', KEYS[2], 'total'))}
end
return {tonumber(redis.call('HGET', KEYS[2], 'acked')), tonumber(redis.call('HGET', KEYS[2], 'total'))}
]],
  -- KEYS: run hash. ARGV: code, reason. The first stop wins: 1 when this one did.
  stop = [[
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
if redis.call('HSETNX', KEYS[1], 'stop', ARGV[1]) == 0 then return 0 end
local t = redis.call('TIME')
redis.call('HSET', KEYS[1], 'stop_reason', ARGV[2], 'stop_at', t[1] .. '.' .. string.format('%06d', tonumber(t[2])))
return 1
]],
  -- KEYS: run hash. ARGV: rate, burst. Takes a token and returns "0", or
  -- returns the seconds until one is there; Redis's clock is every worker's.
  bucket = [[
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local v = redis.call('HMGET', KEYS[1], 'bucket', 'bucket_at')
local tokens, at = tonumber(v[1]) or burst, tonumber(v[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'bucket', string.format('%.6f', tokens), 'bucket_at', string.format('%.6f', now))
return string.format('%.6f', wait)
]],
  -- KEYS: stream. ARGV: group, consumer, ids. Resets the idle time of the
  -- entries this consumer still owns (a worker alive and busy is not to be
  -- claimed from); returns how many another consumer took meanwhile.
  heartbeat = [[
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local lost = 0
for i = 3, #ARGV do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if p[1] and p[1][2] == ARGV[2] then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
  else
    lost = lost + 1
  end
end
return lost
]],
}

local SHAS = {} -- script name -> sha1, as Redis gave it (loaded again after NOSCRIPT)

--- Runs a script: its reply, or nil, message, kind.
function M.script(conn, name, keys, args)
  local words = { #keys }
  for _, k in ipairs(keys) do words[#words + 1] = k end
  for _, a in ipairs(args) do words[#words + 1] = a end
  local sha = SHAS[name]
  if sha then
    local r, err, kind = conn:call("EVALSHA", sha, table.unpack(words))
    if r ~= nil or kind ~= "redis" or not tostring(err):find("^NOSCRIPT") then return r, err, kind end
  end
  local loaded, lerr, lkind = conn:call("SCRIPT", "LOAD", SCRIPTS[name])
  if not loaded then return nil, lerr, lkind end
  SHAS[name] = loaded
  return conn:call("EVALSHA", loaded, table.unpack(words))
end

-- ---- reading ----

--- Redis's clock, in seconds (every machine's common clock); nil, message.
function M.now(conn)
  local t, err = conn:call("TIME")
  if not t then return nil, err end
  return tonumber(t[1]) + tonumber(t[2]) / 1e6
end

--- The run's hash as a table (numbers where the field holds one), false
--- when Redis has none, or nil, message.
function M.state(conn, id)
  local flat, err = conn:call("HGETALL", M.run_key(id))
  if not flat then return nil, err end
  if #flat == 0 then return false end
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = tonumber(flat[i + 1]) or flat[i + 1] end
  return h
end

--- Entries delivered and not yet acknowledged (0 when the stream is gone).
function M.pending(conn, id)
  local p, err, kind = conn:call("XPENDING", M.stream_key(id), M.GROUP)
  if not p then
    if kind == "redis" and tostring(err):find("NOGROUP") then return 0 end
    return nil, err
  end
  return tonumber(p[1]) or 0
end

--- Whether the run's stream exists.
function M.stream_exists(conn, id)
  local n, err = conn:call("EXISTS", M.stream_key(id))
  if not n then return nil, err end
  return n == 1
end

--- Sets the run's stop flag (first stop wins): true when this call set it.
function M.stop(conn, id, code, reason)
  local r, err = M.script(conn, "stop", { M.run_key(id) }, { code, reason or "" })
  if not r then return nil, err end
  return r == 1
end

-- ---- what workers share through Redis ----

-- The run's stop flag as causal_eval.shared's flag: get() is read from
-- Redis at most every `every` seconds (the loop asks for it per request).
function M.stop_flag(conn, id, every, warn)
  local code, reason, read_at = false, nil, -math.huge
  local host = require "causal_eval.host"
  local f = {}
  function f:get()
    local t = host.clock()
    if not code and t - read_at >= every then
      read_at = t
      local v, err = conn:call("HMGET", M.run_key(id), "stop", "stop_reason")
      if v then
        if v[1] then code, reason = tonumber(v[1]), v[2] or "" end
      elseif warn then
        warn("redis", err)
      end
    end
    if code then return code, reason end
    return false
  end
  function f:set(c, why)
    local set, err = M.stop(conn, id, c, why)
    if set == nil and warn then warn("redis", err) end
    if not code then code, reason = c, why end
    return set == true
  end
  return f
end

-- The run's --rate as causal_eval.shared's bucket: take() is 0 (go) or the
-- seconds to wait. While Redis cannot be reached nothing is sent.
function M.rate_bucket(conn, id, rate, warn)
  local burst = math.max(1, rate / 10)
  local b = {}
  function b:take()
    local r, err = M.script(conn, "bucket", { M.run_key(id) }, { ("%.6f"):format(rate), ("%.6f"):format(burst) })
    if not r then
      if warn then warn("redis", err) end
      return 0.1
    end
    return tonumber(r) or 0.1
  end
  return b
end

-- A run-wide sum (tokens, cost) as causal_eval.shared's sum: add(x) gives
-- the total of every worker. What Redis could not take is added locally and
-- sent with the next add, so the budget still counts it.
function M.sum(conn, id, field, warn)
  local owed, last = 0, 0
  local s = {}
  function s:add(x)
    owed = owed + x
    local v, err = conn:call("HINCRBYFLOAT", M.run_key(id), field, ("%.17g"):format(owed))
    if not v then
      if warn then warn("redis", err) end
      return last + owed
    end
    owed, last = 0, tonumber(v) or last
    return last
  end
  function s:get() return last + owed end
  return s
end

-- ---- acknowledging ----

--- Acknowledges entries: list of { id, records, errors }; field "acked"
--- (answered: counted in the run's progress) or "dropped" (left for a
--- resume: the run stopped). Returns the run's acked and total entries
--- (acked -1: its hash is gone), or nil, message.
function M.ack(conn, id, list, field)
  local args = { M.GROUP, field or "acked" }
  for _, e in ipairs(list) do
    args[#args + 1] = e[1]
    args[#args + 1] = e[2] or 0
    args[#args + 1] = e[3] or 0
  end
  local r, err = M.script(conn, "ack", { M.stream_key(id), M.run_key(id) }, args)
  if not r then return nil, err end
  return tonumber(r[1]), tonumber(r[2])
end

--- Claims entries idle for claim_after seconds (their worker died, or lost
--- Redis for that long): a list of { id, fields } (fields false when the
--- entry was deleted). nil, message, kind on failure.
function M.claim(conn, id, consumer, claim_after, count)
  local r, err, kind = conn:call("XAUTOCLAIM", M.stream_key(id), M.GROUP, consumer,
    math.max(1, math.floor(claim_after * 1000)), "0-0", "COUNT", count)
  if not r then return nil, err, kind end
  local out = {}
  for _, e in ipairs(r[2] or {}) do
    if type(e) == "table" then out[#out + 1] = { e[1], e[2] } end
  end
  return out
end

--- Drops what a stopped run still has pending past claim_after (the
--- entries of a worker that died): they stay unanswered for a resume.
function M.drain_stopped(conn, id, consumer, claim_after)
  local got = M.claim(conn, id, consumer, claim_after, 1000)
  if got and #got > 0 then
    local list = {}
    for i, e in ipairs(got) do list[i] = { e[1] } end
    M.ack(conn, id, list, "dropped")
  end
end

-- ---- the end of a run ----

--- Writes the run's end once it is over: every entry acknowledged, or a
--- stop with nothing pending. Whoever sees it first (a worker, the `run`
--- process) takes the right to (HSETNX), sums the stored records up, writes
--- the run's status to the store (the rules of a local run:
--- causal_eval.runner.finish_status), then removes the stream. Returns true
--- when the run has ended (by this call or before), false while it goes on,
--- or nil, message.
function M.try_finish(conn, st, id, me)
  local h, err = M.state(conn, id)
  if h == nil then return nil, err end
  if h == false then return nil, "gone" end
  if h.finished then return true end
  if h.finishing then return false end
  local now, nerr = M.now(conn)
  if not now then return nil, nerr end
  if h.stop then
    if now - (tonumber(h.stop_at) or now) < M.STOP_GRACE then return false end
    local p, perr = M.pending(conn, id)
    if not p then return nil, perr end
    if p > 0 then return false end
  elseif (h.acked or 0) < (h.total or 0) then
    return false
  end
  local mine, merr = conn:call("HSETNX", M.run_key(id), "finishing", me or "?")
  if not mine then return nil, merr end
  if mine ~= 1 then return false end
  local results = require "causal_eval.results"
  local runner = require "causal_eval.runner"
  local run, rerr = results.get_run(st, id)
  if not run then
    conn:call("HDEL", M.run_key(id), "finishing")
    return nil, rerr
  end
  local summaries, comparisons = results.summarize(st, run)
  run.finished = os.time()
  run.elapsed = (run.elapsed or 0) + math.max(0, now - (tonumber(h.started) or now))
  local exit = runner.finish_status(run, h.stop, h.stop_reason, nil, summaries, comparisons)
  local ok, perr = pcall(results.put_run, st, run)
  if not ok then
    conn:call("HDEL", M.run_key(id), "finishing")
    return nil, tostring(perr)
  end
  local r, xerr = conn:pipeline({
    { "MULTI" },
    { "HSET", M.run_key(id), "finished", 1, "status", run.status, "exit", exit, "elapsed", ("%.6f"):format(run.elapsed) },
    { "EXPIRE", M.run_key(id), M.KEEP_FINISHED },
    { "ZREM", M.RUNS, id },
    { "DEL", M.stream_key(id) },
    { "EXEC" },
  })
  if not r then return nil, xerr end
  return true
end

return M
