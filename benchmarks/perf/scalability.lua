-- SPDX-License-Identifier: MIT
-- How `causal-eval run` scales: questions/s as the requests in flight grow
-- from 1 to 512 against a model that takes 20 ms per answer (the mock
-- server's --latency-ms: the ideal is concurrency / 20 ms, until the CPU
-- is the limit), and as worker threads grow from 1 to the machine's cores
-- against one that answers at once (64 in flight). Each point is a run
-- sized to last about 2 seconds (--quick: a fraction of one).
local perf = require "causal_eval.perf"
local context = require "causal_eval.perf.context"

local LATENCY_MS = 20

return perf.benchmark{
  name = "scalability",
  description = "questions/s over concurrency 1-512 (20 ms model) and over worker threads 1-N (no latency)",
  setup = function(ctx)
    ctx.slow = ctx:mock{ "--latency-ms", tostring(LATENCY_MS) }
    ctx.fast = ctx:mock{}
  end,
  measures = function(ctx)
    local seconds = ctx:pick(0.3, 2)
    local cap = ctx:pick(400, 20000)
    local levels = ctx:pick({ 1, 16 }, { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512 })
    local cores = context.machine().cores or 2
    local workers = {}
    for w = 1, ctx.quick and math.min(cores, 2) or cores do workers[#workers + 1] = w end
    if #workers == 1 then workers[2] = 2 end
    local list = {}
    for _, c in ipairs(levels) do
      local n = math.max(10, math.min(cap, math.ceil(seconds * c * 1000 / LATENCY_MS)))
      list[#list + 1] = {
        name = "concurrency_" .. c, label = ("questions/s at concurrency %d (%d ms model)"):format(c, LATENCY_MS),
        unit = "q/s", better = "higher", series = "concurrency", x = c,
        run = function(cx)
          return cx:evaluate{ url = cx.slow.url, bench = "ladder", n = n, seed = cx.round, workers = math.min(c, 2),
                              concurrency = c }.qps
        end,
      }
    end
    local wn = ctx:pick(300, 8000)
    for _, w in ipairs(workers) do
      list[#list + 1] = {
        name = "workers_" .. w, label = ("questions/s with %d worker thread%s (no latency)"):format(w, w == 1 and "" or "s"),
        unit = "q/s", better = "higher", series = "workers", x = w,
        run = function(cx)
          return cx:evaluate{ url = cx.fast.url, bench = "ladder", n = wn, seed = cx.round, workers = w,
                              concurrency = 64 }.qps
        end,
      }
    end
    ctx:note("concurrency: run --bench ladder --workers min(C, 2) --concurrency C, N sized to ~%g s, at most %d, against mock_server --latency-ms %d",
      seconds, cap, LATENCY_MS)
    ctx:note("workers: run --bench ladder --n %d --workers W --concurrency 64 against mock_server (no latency)", wn)
    return list
  end,
}
