-- SPDX-License-Identifier: MIT
-- causal-eval bench: the performance suites (benchmarks/perf/*.lua) and
-- user benchmarks, the regression gate against a baseline, the HTML
-- performance report and JUnit XML.
local argparse = require "causal_eval.argparse"
local host = require "causal_eval.host"
local json = require "causal_eval.json"

local parser = argparse.new{
  prog = "causal-eval bench",
  summary = "performance suites and user benchmarks, a regression gate, an HTML report",
  description = [[
SUITE is the name of a file under benchmarks/perf/ (generation, cache, stats,
pipeline, memory, scalability, stress; --list shows them) or the path of a
benchmark file of your own (docs/authoring.md); none: every suite found.
Each measure runs --rounds times, interleaved, and is given as the median of
its rounds with their spread. --quick runs small sizes in seconds; its
figures are not comparable with a full run's.

With --baseline FILE (an earlier --json) or --baseline-ref GIT_REF (that
revision built in a temporary git worktree, its own bench run first), a metric
worse than the baseline by more than --threshold percent plus its measured
noise is a regression: "metric: X% slower" is printed for each.
Exit status: 0 all measured and no regression, 1 a regression, a missed
target, a failed check or a measure that failed to run, 2 usage,
130 interrupted.]],
  options = {
    { "--quick", help = "small sizes and 2 rounds: a check in seconds" },
    { "--rounds", arg = "N", type = "integer", help = "rounds of every measure (default 3; --quick 2)" },
    { "--iterations", arg = "N", type = "integer", help = "timed calls per round of a latency_test (default 1000; --quick 100)" },
    { "--duration", arg = "SECONDS", type = "number", help = "seconds per round of a throughput_test (default 2; --quick 0.25)" },
    { "--baseline", arg = "FILE", help = "compare with the figures of an earlier --json" },
    { "--baseline-ref", arg = "GIT_REF", help = "build GIT_REF in a temporary worktree, run its bench the same way, compare" },
    { "--threshold", arg = "PCT", type = "number", default = 10, help = "percent worse, beyond the noise, that is a regression" },
    { "-o", "--output", arg = "FILE.html", help = "write the HTML performance report" },
    { "--json", arg = "FILE", help = "write every figure as JSON ('-': on stdout, instead of the table)" },
    { "--junit", arg = "FILE", help = "write JUnit XML: a testcase per metric" },
    { "--list", help = "list the suites on the search path and exit" },
    { "--quiet", help = "no progress on stderr" },
  },
  positionals = { { "SUITE", multiple = true, optional = true, help = "suite names or benchmark files (default: all)" } },
}

local M = { summary = "performance suites and user benchmarks, a regression gate, an HTML report",
            help = function() return parser:help() end }

local function fail(msg)
  io.stderr:write("causal-eval bench: ", msg, "\n")
  return 1
end

local function write(path, text)
  if path == "-" then
    io.stdout:write(text)
    return true
  end
  local f, err = io.open(path, "wb")
  if not f then return nil, err end
  local ok, werr = f:write(text)
  local closed, cerr = f:close()
  if not ok or not closed then return nil, ("%s: %s"):format(path, tostring(werr or cerr)) end
  return true
end

-- --baseline-ref: the revision built, then its bench and ours taking turns
-- suite by suite, the order flipping each time, so that a change in the
-- machine's load over the run weighs on both. Our results and the
-- baseline's, or nil and a message; the build is removed either way.
function M.against_ref(args, suites, run_opts, interrupted)
  local build, err = require("causal_eval.perf.gitref").prepare(args.baseline_ref,
    { argv = args, progress = run_opts.progress })
  if not build then return nil, nil, err end
  local base_suites, berr = {}, nil
  local function baseline_of(s)
    if berr or interrupted() then return end
    local r, e = build:run_suite(s)
    if r then base_suites[#base_suites + 1] = r else berr = e end
  end
  run_opts.before_suite = function(s, i) if i % 2 == 1 then baseline_of(s) end end
  run_opts.after_suite = function(s, i) if i % 2 == 0 then baseline_of(s) end end
  local ok, results = pcall(require("causal_eval.perf.runner").run, suites, run_opts)
  build:cleanup()
  if not ok then error(results, 0) end
  if berr then return nil, nil, berr end
  return results, build:results(base_suites)
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local suite = require "causal_eval.perf.suite"
  if args.list then
    for _, n in ipairs(suite.list()) do
      local s, err = suite.load(n)
      io.stdout:write(("%-14s %s\n"):format(n, s and (s.def.description or "") or ("(" .. err .. ")")))
    end
    return 0
  end
  if args.rounds and args.rounds < 1 then return cli.usage_error(parser, "--rounds must be >= 1") end
  if args.iterations and args.iterations < 1 then return cli.usage_error(parser, "--iterations must be >= 1") end
  if args.duration and not (args.duration > 0) then return cli.usage_error(parser, "--duration must be > 0") end
  if not (args.threshold >= 0) then return cli.usage_error(parser, "--threshold must be >= 0") end
  if args.baseline and args.baseline_ref then
    return cli.usage_error(parser, "--baseline and --baseline-ref both name a baseline: give one")
  end
  local suites, err = suite.resolve(args.SUITE)
  if not suites then return fail(err) end
  if #suites == 0 then return fail("no suites found (benchmarks/perf/ on the search path)") end

  local baseline = require "causal_eval.perf.baseline"
  local base, source
  if args.baseline then
    base, err = baseline.load(args.baseline)
    if not base then return fail("--baseline " .. err) end
    source = args.baseline
  end

  local progress = not args.quiet and function(line) io.stderr:write(line, "\n") end or nil
  host.trap_signals()
  local interrupted = function() return (host.interrupts()) > 0 end
  local run_opts = { quick = args.quick, rounds = args.rounds, iterations = args.iterations, duration = args.duration,
                     progress = progress, interrupted = interrupted }
  local runner = require "causal_eval.perf.runner"
  local results
  if args.baseline_ref then
    results, base, err = M.against_ref(args, suites, run_opts, interrupted)
    if not results then
      host.untrap_signals()
      return fail("--baseline-ref " .. err)
    end
    source = base.source
  else
    results = runner.run(suites, run_opts)
  end
  host.untrap_signals()

  local cmp
  if base then
    cmp = baseline.compare(base, results, args.threshold)
    cmp.source = source
    results.comparison = cmp
  end
  local text = require "causal_eval.perf.text"
  if args.json ~= "-" then
    io.stdout:write(text.results(results))
    if cmp then io.stdout:write("\n", text.comparison(cmp, source)) end
  end
  local status = 0
  for _, mt in ipairs(runner.metrics(results)) do
    if mt.status == "failed" or mt.status == "error" then status = 1 end
  end
  for _, s in ipairs(results.suites) do
    if s.status == "error" then status = 1 end
  end
  if cmp and #cmp.regressions > 0 then status = 1 end
  if results.interrupted then status = 130 end

  local wrote = {}
  if args.json then
    local ok, werr = write(args.json, json.encode(results) .. "\n")
    if not ok then return fail(werr) end
    if args.json ~= "-" then wrote[#wrote + 1] = args.json end
  end
  if args.junit then
    local ok, werr = require("causal_eval.perf.junit").write_bench(args.junit, results, cmp)
    if not ok then return fail(werr) end
    wrote[#wrote + 1] = args.junit
  end
  if args.output then
    local ok, werr = write(args.output, require("causal_eval.perf.report").html(results, cmp))
    if not ok then return fail(werr) end
    wrote[#wrote + 1] = args.output
  end
  if #wrote > 0 and not args.quiet then io.stderr:write("wrote ", table.concat(wrote, ", "), "\n") end
  return status
end

return M
