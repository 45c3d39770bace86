-- SPDX-License-Identifier: MIT
-- Memory of a large run: `causal-eval run` of 200,000 ladder questions at
-- concurrency 256 against the mock server, its peak anonymous RSS (the
-- heap: RssAnon in /proc/PID/status, sampled every 20 ms by
-- tools/bench/rusage.c) and its peak file-backed RSS (mostly the store's
-- LMDB map: clean page cache the kernel takes back), as
-- tools/bench/pipeline.sh's memory step measures it. Target: RssAnon under
-- 64 MB however many questions.
local perf = require "causal_eval.perf"

return perf.benchmark{
  name = "memory",
  description = "peak RSS of causal-eval run at 200,000 questions (--quick: 2,000)",
  setup = function(ctx) ctx.mock_server = ctx:mock{} end,
  measures = function(ctx)
    local n = ctx:pick(2000, 200000)
    ctx:note("run --bench ladder --n %d --workers 2 --concurrency 256 against mock_server (no latency), under rusage", n)
    return {
      {
        name = "large_run",
        metrics = {
          { name = "peak_rss_anon", label = ("peak RssAnon at %d questions"):format(n), unit = "MB", better = "lower",
            target = not ctx.quick and { max = 64 } or nil },
          { name = "peak_rss_file", label = "peak RssFile (store map, page cache)", unit = "MB" },
          { name = "questions_per_s", label = "questions/s of the large run", unit = "q/s", better = "higher" },
        },
        run = function(c)
          local r = c:evaluate{ url = c.mock_server.url, bench = "ladder", n = n, seed = c.round, workers = 2,
                                concurrency = 256 }
          if r.n ~= n then return nil, ("%d questions of %d were answered"):format(r.n, n) end
          return { peak_rss_anon = r.peak_anon_mb, peak_rss_file = r.peak_file_mb, questions_per_s = r.qps }
        end,
      },
    }
  end,
}
