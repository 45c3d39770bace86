-- SPDX-License-Identifier: MIT
-- The REPL of `causal-eval run --repl`: a thread of its own with a Lua state
-- of its own, on the terminal, while the workers go on. `run` controls the
-- live run through the same native objects the workers use.
--
--   run:stats()                 -- done, total, errors, accuracy so far, rate, p50/p95, in flight, concurrency
--   run:pause(); run:resume()   -- stop and restart dispatching (answers in flight still arrive)
--   run:set{ concurrency = 64, rate = 20, batch_size = 50 }
--   run:policy(fn)              -- fn(stats, settings) -> settings, as a tuning policy (no upvalues)
--   run:recent(10)              -- the latest answers
--   run:profile(5)              -- profile every worker for 5 s and print the report
--   run:stop()                  -- stop the run cleanly (resumable)
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"

local M = {}

local Run = {}
Run.__index = Run

local function attach(kind, id) return id and assert(shared.attach(kind, id)) or nil end

function M.new(cfg)
  local self = setmetatable({
    cfg = cfg, id = cfg.run_id, t0 = host.clock(),
    store = assert(require("causal_eval.store_core").attach(cfg.store)),
    limit = attach("counter", cfg.limit), batch = attach("counter", cfg.batch),
    paused = attach("counter", cfg.paused), stop_flag = attach("flag", cfg.stop),
    bucket = attach("bucket", cfg.bucket), latency = attach("histogram", cfg.latency),
    ring = attach("ring", cfg.recent), box = attach("ring", cfg.policy_box),
  }, Run)
  return self
end

function Run:stats()
  local done, errors, correct = require("causal_eval.run.outcome").totals(self.store, self.cfg.nmodels)
  local el = host.clock() - self.t0
  local n = self.latency:count()
  return {
    run_id = self.id, done = done, total = self.cfg.total * self.cfg.nmodels, errors = errors,
    accuracy = done > 0 and correct / done or nil, rate = el > 0 and done / el or 0,
    p50 = n > 0 and self.latency:quantile(0.5) or nil, p95 = n > 0 and self.latency:quantile(0.95) or nil,
    -- the workers keep this gauge (causal_eval.run_metrics): read it, not a second count
    inflight = require("causal_eval.run_metrics").families().inflight:value(),
    concurrency = self.limit:get(), batch_size = self.batch:get(), paused = self.paused:get() > 0,
  }
end

function Run:pause()
  if self.paused:get() == 0 then self.paused:add(1) end
  return true
end

function Run:resume()
  if self.paused:get() > 0 then self.paused:add(-self.paused:get()) end
  return true
end

local SETTABLE = { concurrency = true, rate = true, batch_size = true }

-- A wrong call of `run`'s methods: the message alone, as a table error (the
-- REPL's traceback leaves a table as it is), not a traceback into this file.
local function misuse(msg)
  error(setmetatable({ msg = msg }, { __tostring = function(e) return e.msg end }), 0)
end

function Run:set(t)
  if type(t) ~= "table" then misuse("run:set{ concurrency = N, rate = RPS, batch_size = N }") end
  -- a misspelled setting changed nothing, without a word
  for k in pairs(t) do
    if not SETTABLE[k] then misuse(("run:set: no setting '%s' (concurrency, rate, batch_size)"):format(tostring(k))) end
  end
  local lo, hi = self.cfg.min_concurrency or 1, self.cfg.max_concurrency or math.huge
  local c, b = nil, nil
  if t.concurrency ~= nil then
    -- below one per worker some worker could send nothing; the connection
    -- pools were sized for the ceiling
    c = math.tointeger(t.concurrency)
    if not c or c < lo or c > hi then
      misuse(("concurrency must be a whole number from %d (one per worker) to %d in this run"):format(lo, hi))
    end
  end
  if t.rate ~= nil and (type(t.rate) ~= "number" or t.rate < 0) then misuse("rate must be a number >= 0 (0: none)") end
  if t.batch_size ~= nil then
    b = math.tointeger(t.batch_size)
    if not b or b < 1 then misuse("batch_size must be a positive whole number") end
  end
  if c then self.limit:add(c - self.limit:get()) end
  if t.rate ~= nil then self.bucket:set(t.rate, math.max(1, t.rate / 10)) end
  if b then self.batch:add(b - self.batch:get()) end
  return self:stats()
end

--- Installs fn as the run's tuning policy. It runs in the run's own state,
--- so it is sent as bytecode: it must not rely on upvalues.
function Run:policy(fn)
  if type(fn) ~= "function" then misuse("run:policy(fn): fn(stats, settings) -> settings") end
  if debug.getupvalue(fn, 1) and debug.getupvalue(fn, 1) ~= "_ENV" then
    misuse("run:policy: the function uses upvalues (" .. debug.getupvalue(fn, 1) .. "); write it without them")
  end
  self.box:push(string.dump(fn))
  return true
end

function Run:recent(n)
  if n ~= nil and (math.type(n) ~= "integer" or n < 1) then misuse("run:recent(n): n is a whole number >= 1") end
  local out = {}
  for i, s in ipairs(self.ring:last(n or 10)) do out[i] = json.decode(s) end
  return out
end

function Run:profile(seconds)
  local p = require("causal_eval.profiling").PerformanceProfiler{ memory = false }
  p:start()
  host.sleep(seconds or 5)
  p:stop()
  io.stdout:write(p:report{ top = 15 })
  return p:analyze()
end

function Run:stop()
  self.stop_flag:set(1, "stopped from the REPL")
  return true
end

function M.main(config_json)
  local cfg = assert(json.decode(config_json))
  local run = M.new(cfg)
  local env = setmetatable({ run = run }, { __index = _G })
  io.stdout:write(("run %s is working; `run` controls it: run:stats(), run:pause(), run:resume(), " ..
    "run:set{concurrency=64}, run:policy(fn), run:recent(10), run:profile(5), run:stop(). Ctrl-D leaves the REPL " ..
    "(and, once the run is done, shows its summary).\n"):format(cfg.run_id))
  require("causal_eval.repl").run{ env = env, history = cfg.history }
  -- nothing could resume a run paused when its REPL ended: the run waited for ever
  if run.paused:get() > 0 then
    run:resume()
    io.stderr:write(("[run %s was paused when the REPL ended: it goes on; run:stop() stops it]\n"):format(cfg.run_id))
  end
  return "ok"
end

return M
