-- SPDX-License-Identifier: MIT
-- Throughput of the whole `causal-eval run` pipeline (generate, render,
-- send, parse, score, store) against the mock model server answering at
-- once on loopback, its CPU per question and the latency of each question's
-- request (p50, p95, p99 from the run; every one read back from the store
-- for the report's distribution), with libcurl's own ceiling beside it: the same
-- requests sent by tools/bench/http_floor.c the way the pipeline sends
-- them, with no question work. The two alternate within each round (the
-- order flips from round to round), as tools/bench/pipeline.sh does with
-- nginx and wrk.
local perf = require "causal_eval.perf"
local bench = require "causal_eval.bench"

local WORKERS, CONCURRENCY = 2, 32

-- the body the openai adapter sends for a generated question of median length
local function request_body(url)
  local openai = require "adapters.openai"
  local fam = assert(bench.load("ladder"))
  local opts = assert(bench.options{ render = true })
  local bodies = {}
  for q in bench.generate(fam, opts, 1, 25) do
    bodies[#bodies + 1] = openai.request({ model = "bench", base_url = url, temperature = 0 }, q).body
  end
  table.sort(bodies, function(x, y) return #x < #y end)
  return bodies[#bodies // 2 + 1]
end

return perf.benchmark{
  name = "pipeline",
  description = "causal-eval run against the mock server at zero latency, and libcurl alone beside it",
  setup = function(ctx)
    ctx.mock_server = ctx:mock{}
    ctx.body = request_body(ctx.mock_server.url)
  end,
  measures = function(ctx)
    local npf = ctx:pick(30, 2000)
    local seconds = ctx:pick(0.5, 4)
    ctx:note("run --bench all --n %d --seed ROUND --workers %d --concurrency %d against mock_server (no latency)",
      npf, WORKERS, CONCURRENCY)
    ctx:note("http_floor URL BODY %d %d %g: a request body of %d bytes, the median of 25 ladder questions",
      WORKERS, CONCURRENCY, seconds, #ctx.body)
    return {
      {
        name = "run_and_floor",
        metrics = {
          { name = "questions_per_s", label = "causal-eval run: questions/s", unit = "q/s", better = "higher" },
          { name = "cpu_per_question", label = "CPU (user + sys) per question", unit = "us", better = "lower" },
          { name = "libcurl_floor", label = "libcurl alone: requests/s", unit = "req/s" },
          { name = "share_of_floor", label = "causal-eval's share of libcurl's rate", unit = "%", better = "higher" },
          { name = "latency_p50", label = "a question's request, p50", unit = "ms", better = "lower" },
          { name = "latency_p95", label = "a question's request, p95", unit = "ms", better = "lower" },
          { name = "latency_p99", label = "a question's request, p99", unit = "ms", better = "lower" },
        },
        run = function(c)
          local body_file = c:tmpdir() .. "/body.json"
          local f = assert(io.open(body_file, "wb"))
          f:write(c.body)
          f:close()
          local floor_argv = { c:tool("http_floor"), c.mock_server.url .. "/chat/completions", body_file,
                               tostring(WORKERS), tostring(CONCURRENCY), tostring(seconds) }
          local floor, r
          local function floor_round()
            local out = c:exec(floor_argv).stdout
            floor = tonumber(out:match("requests/s ([%d.]+)"))
            if not floor then error("http_floor printed no rate: " .. out, 0) end
          end
          local function run_round()
            r = c:evaluate{ url = c.mock_server.url, bench = "all", n = npf, seed = c.round, workers = WORKERS,
                            concurrency = CONCURRENCY, latencies = true }
            -- every answer's time, for the report's distribution (p50 is the stem's sibling)
            c:samples("latency_p50", r.latencies)
          end
          if c.round % 2 == 1 then floor_round(); run_round() else run_round(); floor_round() end
          local lat = r.report.models[1].latency_ms
          return { questions_per_s = r.qps, cpu_per_question = r.cpu_us, libcurl_floor = floor,
                   share_of_floor = r.qps / floor * 100, latency_p50 = lat.p50, latency_p95 = lat.p95,
                   latency_p99 = lat.p99 }
        end,
      },
    }
  end,
}
