-- SPDX-License-Identifier: MIT
-- POST /evaluate/single (scoring only) dispatched in this process as a serve
-- worker does, without HTTP: the Lua and C cost of one request. Used by
-- tools/bench/instructions.sh; alone: BENCHDIR=DIR causal-eval THIS N
-- (DIR/users.yaml from `serve adduser bench`, password bench-password).
local config = require "causal_eval.config"
local results = require "causal_eval.results"
local shared = require "causal_eval.shared"
local host = require "causal_eval.host"
local dir = assert(os.getenv("BENCHDIR"), "BENCHDIR: a folder with users.yaml (user bench, password bench-password)")
local cfg = assert(config.load{ env = "production", set = { "api.users_file=" .. dir .. "/users.yaml", "api.rate_limit_per_minute=0" } })
local values = cfg.values
local security = require "causal_eval.serve.security"
local sec = assert(security.new(values))
local tok = assert(sec:login("bench", "bench-password", "127.0.0.1"))
local st = assert(results.open(dir .. "/data"))
assert(st:start_writer{ batch = 256, flush_ms = 5 })
local ctx = {
  index = 1, values = values, run_id = "bench-run", debug = false, timeout = 30,
  st = st, seq = shared.counter(0), meter = require("causal_eval.run_metrics").recorder(), indexed = {}, nindexed = 0,
  cache_lib = require "causal_eval.cache",
}
ctx.scores = assert(ctx.cache_lib.open{ memory_mb = 64 })
ctx.sec = sec
ctx.call = function() error("no model calls here") end
ctx.each = function(n, k, fn) for i = 1, n do fn(i) end end
local routes = require "causal_eval.serve.routes"
local N = tonumber(arg[1]) or 20000
local auth = "Bearer " .. tok.token
local t0, c0 = host.clock(), host.cpu_time()
for n = 1, N do
  local body = ('{"model":"bench","task_type":"ladder","index":%d,"model_response":"%s (%d)"}'):format(n % 100, n % 2 == 0 and "Yes." or "No.", n)
  local req = { id = n, method = "POST", path = "/evaluate/single", query = {}, headers = { authorization = auth, ["content-type"] = "application/json" }, body = body, remote = "127.0.0.1" }
  local status = routes.dispatch(ctx, req)
  if status ~= 200 then error("status " .. tostring(status)) end
end
local c1 = host.cpu_time()
st:sync()
print(("%d requests: %.1f us CPU each (this thread and the writer), %.1f us wall"):format(N, (c1 - c0) / N * 1e6, (host.clock() - t0) / N * 1e6))
