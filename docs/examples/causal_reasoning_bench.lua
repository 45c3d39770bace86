-- SPDX-License-Identifier: MIT
-- A user benchmark for `causal-eval bench` (docs/authoring.md): how long
-- this machine takes to pose a causal question and score an answer to it,
-- how many it sustains per second, and, when CE_BENCH_URL names an
-- OpenAI-compatible server, how long that server takes to answer one.
--
--   causal-eval bench docs/examples/causal_reasoning_bench.lua
--   CE_BENCH_URL=http://127.0.0.1:8000/v1 causal-eval bench docs/examples/causal_reasoning_bench.lua --json now.json
local perf = require "causal_eval.perf"
local bench = require "causal_eval.bench"
local scoring = require "causal_eval.scoring"
local http = require "causal_eval.http"
local json = require "causal_eval.json"
local host = require "causal_eval.host"

-- one ladder question (a new one each call) and the score of an answer to it
local function pose_and_score(ctx)
  ctx.i = ctx.i + 1
  local q = bench.question(ctx.family, ctx.options, 1, ctx.i)
  return scoring.score(q, q.ground_truth == "yes" and "Yes, it would." or "No.")
end

return perf.benchmark{
  name = "causal_reasoning",
  description = "pose a ladder question and score an answer; a model server's answer time",
  setup = function(ctx)
    ctx.family = assert(bench.load("ladder"))
    ctx.options = assert(bench.options{ render = true })
    ctx.i = 0
  end,
  -- timed call by call: latency mean, p50, p95 and p99 (ms) per round
  latency_test = function(ctx) assert(pose_and_score(ctx).correct) end,
  -- called for ctx.duration seconds: questions per second
  throughput_test = pose_and_score,
  measures = {
    {
      name = "model_answer", label = "one answer from CE_BENCH_URL", unit = "ms", better = "lower",
      run = function(ctx)
        local url = os.getenv("CE_BENCH_URL")
        if not url or url == "" then ctx:skip("CE_BENCH_URL names no model server") end
        local q = bench.question(ctx.family, ctx.options, 2, ctx.round)
        local body = json.encode({ model = "bench", temperature = 0, messages = { { role = "user", content = q.prompt } } })
        local t0 = host.clock()
        local r, err = http.request{ url = url .. "/chat/completions", method = "POST", body = body, timeout = 60,
                                     headers = { "Content-Type: application/json" } }
        local ms = (host.clock() - t0) * 1000
        if not r then error("CE_BENCH_URL: " .. tostring(err), 0) end
        if r.status ~= 200 then error(("CE_BENCH_URL answered HTTP %d"):format(r.status), 0) end
        return ms
      end,
    },
  },
}
