-- SPDX-License-Identifier: MIT
-- Helpers of the queue's specs: processes started in the background (a
-- `run --queue` that follows its run, `causal-eval worker`s) with their
-- pid, output and exit status, and their cleanup even when a spec fails.
local H = require "spec.helpers"
local host = require "causal_eval.host"
local json = require "causal_eval.json"

local Q = {}

local Proc = {}
Proc.__index = Proc

local live = {} -- every process started and not yet seen to end

--- Starts the binary with args in the background; its stdout and stderr
--- go to files in dir. Returns an object: pid, out(), err(), status()
--- (nil while it runs), wait(timeout), kill(signal).
function Q.spawn(dir, name, args, env)
  local words = { "env" }
  for k, v in pairs(env or {}) do words[#words + 1] = H.quote(k .. "=" .. v) end
  words[#words + 1] = H.quote(H.bin)
  for _, a in ipairs(args) do words[#words + 1] = H.quote(a) end
  local base = dir .. "/" .. name
  -- the status is written aside and renamed: a reader never sees it half written
  local script = ("%s >%s.out 2>%s.err </dev/null & echo $! >%s.pid; wait $!; echo $? >%s.st; mv %s.st %s.status")
    :format(table.concat(words, " "), base, base, base, base, base, base)
  os.execute("sh -c " .. H.quote(script) .. " >/dev/null 2>&1 &")
  local deadline = host.clock() + 10
  local pid
  while not pid do
    pid = tonumber(H.read(base .. ".pid") or "")
    if not pid then
      assert(host.clock() < deadline, "process " .. name .. " did not start")
      host.sleep(0.01)
    end
  end
  local p = setmetatable({ pid = pid, base = base, name = name }, Proc)
  live[p] = true
  return p
end

function Proc:out() return H.read(self.base .. ".out") or "" end
function Proc:err() return H.read(self.base .. ".err") or "" end

function Proc:status()
  local s = H.read(self.base .. ".status")
  local code = s and tonumber(s:match("%d+"))
  if code then live[self] = nil end
  return code
end

--- The exit status once it ends (nil after timeout seconds).
function Proc:wait(timeout)
  local deadline = host.clock() + (timeout or 30)
  while host.clock() < deadline do
    local code = self:status()
    if code then return code end
    host.sleep(0.02)
  end
  return nil
end

function Proc:kill(sig)
  os.execute(("kill -%s %d 2>/dev/null"):format(sig or "TERM", self.pid))
end

--- Kills (-9) every process started here and not yet ended.
function Q.cleanup()
  for p in pairs(live) do
    if not p:status() then p:kill("KILL") end
    live[p] = nil
  end
end

--- Waits until f() is true (raises after timeout seconds, with what).
function Q.until_true(f, timeout, what)
  local deadline = host.clock() + (timeout or 20)
  while not f() do
    if host.clock() > deadline then error("timed out waiting for " .. (what or "a condition"), 2) end
    host.sleep(0.02)
  end
end

--- The run id a `run` process printed on stderr (waits for it).
function Q.run_id(p, timeout)
  local id
  Q.until_true(function()
    id = p:err():match("run (%d+%-%d+%-%x+)")
    return id ~= nil or p:status() ~= nil
  end, timeout or 20, "the run id of " .. p.name)
  return assert(id, "no run id: " .. p:err())
end

--- A worker's args: `worker --queue URL --data DATA` and more.
function Q.worker_args(redis, data, more)
  return H.concat({ "worker", "--queue", redis.url, "--data", data }, more or {})
end

--- The fields of a summary that do not depend on timing (latency and
--- throughput do), for comparing a queued run's with a local one's.
function Q.comparable(models)
  local out = {}
  for i, m in ipairs(models) do
    out[i] = { model = m.model, n = m.n, scored = m.scored, correct = m.correct, accuracy = m.accuracy, ci = m.ci,
               unparseable = m.unparseable, errors = m.errors, error_classes = m.error_classes, invalid = m.invalid,
               tokens = m.tokens, cached = m.cached, by_family = m.by_family, by_difficulty = m.by_difficulty,
               by_rung = m.by_rung }
  end
  return out
end

--- `causal-eval ARGS` as H.run does (env: variables to set), killed after
--- `limit` seconds (a bug that makes a run wait for ever fails its spec
--- instead of hanging it).
function Q.run(args, limit, env)
  return H.run(H.concat({ "timeout", "-s", "KILL", tostring(limit or 120), H.bin }, args), { bin = false, env = env })
end

--- `run --json --quiet ARGS` under Q.run: the result and the decoded report.
function Q.run_json(args, limit, env)
  local r = Q.run(H.concat({ "run", "--json", "--quiet" }, args), limit, env)
  local ok, report = pcall(json.decode, r.stdout)
  return r, ok and type(report) == "table" and report or nil
end

--- Decodes a process's stdout as the JSON of `run --json`.
function Q.report(p)
  local ok, r = pcall(json.decode, p:out())
  return ok and type(r) == "table" and r or nil
end

--- Records of a run: count, and how many question ids came more than once
--- (store: { "--store", URL } for PostgreSQL).
function Q.stored(data, run_id, store)
  local list = H.records(data, run_id, store)
  local seen, repeated = {}, 0
  for _, rec in ipairs(list) do
    local k = rec.model .. "\0" .. rec.question_id
    if seen[k] then repeated = repeated + 1 end
    seen[k] = true
  end
  return #list, repeated, list
end

return Q
