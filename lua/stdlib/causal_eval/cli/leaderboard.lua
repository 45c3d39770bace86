-- SPDX-License-Identifier: MIT
-- causal-eval leaderboard: every model in the store, ranked on the
-- questions they all answered, with intervals and statistically tied
-- groups (the rules: report/leaderboard.lua, docs/reports.md).
local argparse = require "causal_eval.argparse"
local outfile = require "causal_eval.outfile"

local parser = argparse.new{
  prog = "causal-eval leaderboard",
  summary = "every model evaluated in the store, ranked, with intervals and statistically tied groups",
  description = [[
Ranks every model of the store (a model is its label, in any run; its answer
to a question is the newest run's) by accuracy on the questions all ranked
models answered, with Wilson 95% intervals. A group is its leader and the
models whose paired difference with it is not significant (McNemar,
Holm-corrected over all pairs). Models that would leave fewer than
--min-shared questions shared are listed apart. Runs of different evaluation
modes (prompt template, few-shot, chain of thought, repeated samples) are
different evaluations and are never ranked together: the leaderboard ranks
one mode's runs (--mode, else the mode with the most models), names it, and
lists the others. Free-text answers graded by a judge are never ranked. Text
by default, --json for JSON, -o FILE.html for a page made with the report's
templates.]],
  options = {
    { "--days", arg = "N", type = "integer", help = "only runs created in the last N days" },
    { "--bench", arg = "B", help = "only questions of this benchmark family" },
    { "--mode", arg = "NAME", help = "rank the runs of this evaluation mode (its name as the leaderboard prints it, or default)" },
    { "--min-shared", arg = "N", type = "integer", default = 50, help = "fewest shared questions to rank on" },
    { "--alpha", arg = "A", type = "number", default = 0.05, help = "significance level of the groups" },
    { "-o", "--output", arg = "FILE.html", help = "also write the leaderboard as an HTML page" },
    { "--template", arg = "FILE", help = "a Lua file of templates and helpers replacing the built-in ones" },
    { "--json", help = "print JSON instead of a table" },
    { "--data", arg = "DIR", help = "results store folder (default: store.path)" },
    { "--store", arg = "URL", help = "results in PostgreSQL (default: store.url), where this build has it" },
  },
}

local M = { summary = "rank every model in the store, with intervals and statistically tied groups",
            help = function() return parser:help() end }

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  if args.days and args.days < 1 then return cli.usage_error(parser, "--days must be >= 1") end
  if args.min_shared < 1 then return cli.usage_error(parser, "--min-shared must be >= 1") end
  if not (args.alpha > 0 and args.alpha < 1) then return cli.usage_error(parser, "--alpha must be between 0 and 1") end
  local setup, scode = require("causal_eval.report.store").setup(args, "causal-eval leaderboard")
  if not setup then return scode end
  local report = require "causal_eval.report"
  local st, overrides = setup.st, setup.overrides
  local leaderboard = require "causal_eval.report.leaderboard"
  local ok, lb, lerr = pcall(leaderboard.build, st, { days = args.days, bench = args.bench, min_shared = args.min_shared,
                                                      alpha = args.alpha, mode = args.mode })
  st:close()
  if not ok then error(lb, 0) end
  if not lb then
    io.stderr:write("causal-eval leaderboard: ", tostring(lerr), "\n")
    return 1
  end
  if args.output then
    local rok, page = pcall(report.render_leaderboard, lb, { overrides = overrides })
    if not rok then
      io.stderr:write("causal-eval leaderboard: ", tostring(page), "\n")
      return 1
    end
    local sink, oerr = outfile.open(args.output)
    if not sink then
      io.stderr:write("causal-eval leaderboard: cannot write ", args.output, ": ", oerr, "\n")
      return 1
    end
    sink.file:write(page)
    local cok, werr = sink:commit()
    if not cok then
      io.stderr:write("causal-eval leaderboard: cannot write ", args.output, ": ", werr, "\n")
      return 1
    end
    if not outfile.is_stdout(args.output) then
      io.stderr:write(("wrote %s: %d models ranked\n"):format(args.output, #lb.ranked))
    end
    if outfile.is_stdout(args.output) then return 0 end
  end
  if args.json and #lb.other_modes > 0 then
    -- the table says so itself; JSON's reader may not look for other_modes
    io.stderr:write(("causal-eval leaderboard: warning: runs of %d other evaluation mode%s are not ranked with mode '%s' "
      .. "(other_modes; --mode NAME ranks them)\n"):format(#lb.other_modes, #lb.other_modes == 1 and "" or "s",
      tostring(lb.mode)))
  end
  if args.json then
    io.stdout:write(leaderboard.json(lb), "\n")
  else
    io.stdout:write(leaderboard.format(lb))
  end
  return 0
end

return M
