-- SPDX-License-Identifier: MIT
-- The reads tools/bench/pg.sh times, made as the program makes them, on a
-- store whose reads go to a replica: the 30-day average per model (serve's
-- GET /results/summary) and the latest runs' accuracies (results recent).
--   causal-eval tools/bench/pg_query.lua PRIMARY_URL REPLICA_URL ROUNDS
local results = require "causal_eval.results"
local host = require "causal_eval.host"

local primary, replica, rounds = ...
rounds = tonumber(rounds) or 5
local st = assert(results.open("/nonexistent-ce-bench", { url = primary, read_url = replica, writes = false,
                                                          reads = "replica" }))
assert(st:pool().server:find(replica:match("@([^/]+)/"), 1, true), "reads do not go to the replica")

local function med(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

local function timed(name, fn)
  local ms = {}
  fn() -- a first read fills the caches: the figure is for a server in use
  for i = 1, rounds do
    local t0 = host.clock()
    local n = fn()
    ms[i] = (host.clock() - t0) * 1000
    if i == 1 then io.stdout:write(("%s: %s\n"):format(name, n)) end
  end
  local parts = {}
  for i, v in ipairs(ms) do parts[i] = ("%.1f"):format(v) end
  io.stdout:write(("%s: %s ms (median %.1f ms)\n"):format(name, table.concat(parts, " "), med(ms)))
end

local since = os.date("!%Y-%m-%d", os.time() - 30 * 86400)
timed("30-day average per model", function()
  local rows = assert(st:totals{ by = "model", since = since })
  local n = 0
  for _, r in ipairs(rows) do n = n + r.counted end
  return ("%d models, %d answers"):format(#rows, n)
end)
timed("results recent (10 runs)", function()
  local runs = assert(results.list_runs(st, 10))
  local per = assert(results.run_totals(st, runs))
  local n = 0
  for _, run in ipairs(runs) do
    for _, a in ipairs(results.accuracies(run, per[run.id])) do n = n + a.n end
  end
  return ("%d runs, %d answers"):format(#runs, n)
end)
st:close()
