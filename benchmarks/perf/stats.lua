-- SPDX-License-Identifier: MIT
-- The statistics behind every interval and comparison, through the Lua API
-- a report uses (causal_eval.stats, C backend): a full-resampling bootstrap
-- of continuous scores (tools/bench/stats.sh's case: 10,000 scores, 100,000
-- resamples, target under 0.6 s) and a paired comparison of two models'
-- 0/1 scores (bootstrap interval and sign-flip permutation p-value).
local perf = require "causal_eval.perf"
local stats = require "causal_eval.stats"
local host = require "causal_eval.host"

return perf.benchmark{
  name = "stats",
  description = "bootstrap and paired tests (causal_eval.stats, C backend)",
  measures = function(ctx)
    local n = ctx:pick(2000, 10000)
    local iters = ctx:pick(2000, 100000)
    local paired_iters = ctx:pick(1000, 10000)
    local x, a, b = {}, {}, {}
    for i = 1, n do
      x[i] = math.abs(math.sin(i * 0.37)) * 3 + (i % 7) * 0.01
      a[i] = (i * 2654435761) % 100 < 62 and 1 or 0
      b[i] = (i * 40503) % 100 < 58 and 1 or 0
    end
    ctx:note("bootstrap: %d scores, %d resamples, full resampling; paired: %d pairs of 0/1, %d resamples", n, iters, n,
      paired_iters)
    return {
      {
        name = "bootstrap", label = "bootstrap interval, full resampling", unit = "s", better = "lower",
        target = not ctx.quick and { max = 0.6 } or nil,
        run = function(c)
          local t0 = host.clock()
          local r = stats.bootstrap(x, { iters = iters, seed = c.round, full = true, backend = "c", method = "percentile" })
          local t = host.clock() - t0
          assert(r.low < r.mean and r.mean < r.high, "the interval does not hold the mean")
          return t
        end,
      },
      {
        name = "paired", label = "paired comparison: interval and permutation p", unit = "s", better = "lower",
        run = function(c)
          local t0 = host.clock()
          local r = stats.paired(a, b, { iters = paired_iters, seed = c.round, backend = "c" })
          local t = host.clock() - t0
          assert(r.p_permutation >= 0 and r.p_permutation <= 1, "a p-value outside [0, 1]")
          return t
        end,
      },
    }
  end,
}
