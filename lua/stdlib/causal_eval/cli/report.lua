-- SPDX-License-Identifier: MIT
-- causal-eval report RUN... [-o report.html] [--open]: one self-contained
-- HTML page of one or more runs (docs/reports.md).
local argparse = require "causal_eval.argparse"
local host = require "causal_eval.host"
local outfile = require "causal_eval.outfile"

local parser = argparse.new{
  prog = "causal-eval report",
  summary = "an HTML report of runs: accuracies with intervals, charts, paired differences, latency, cost, errors",
  description = [[
Writes one HTML file that needs nothing else (inline CSS and SVG, no script,
nothing fetched), readable offline and printable: each model's accuracy with
its interval, accuracy by family, difficulty, rung and domain, paired
differences as a forest plot with Holm-corrected p-values, latency
histograms and percentiles, tokens and cost, the yes/no/other answers per
family, unparseable answers, failed requests, the questions most models got
wrong, and the runs' settings. A run in an evaluation mode is named by it,
with what the mode stores: a chain of thought's reasoning beside its final
answer, repeated samples' accuracy with intervals clustered by question,
pass@k and agreement, and free-text answers graded by a judge in a table of
their own (never in an accuracy). Several runs make one report: a model in
two runs appears twice, with its run's id. Large sections show a sample, with
counts. --template FILE replaces templates or chart builders (see
docs/reports.md).]],
  options = {
    { "-o", "--output", arg = "FILE", default = "report.html", help = "where to write it (- for standard output)" },
    { "--open", help = "open it in a browser afterwards ($BROWSER, else xdg-open)" },
    { "--data", arg = "DIR", help = "results store folder (default: store.path)" },
    { "--store", arg = "URL", help = "results in PostgreSQL (default: store.url), where this build has it" },
    { "--template", arg = "FILE", help = "a Lua file returning templates and helpers that replace the built-in ones" },
    { "--hardest", arg = "N", type = "integer", default = 20, help = "questions most models got wrong to show" },
    { "--samples", arg = "N", type = "integer", default = 25, help = "unparseable answers to show per model" },
    { "--timings", help = "print how long each step took (standard error)" },
  },
  positionals = { { "RUN", multiple = true, help = "run ids, or last" } },
}

local M = { summary = "write an HTML report of runs (charts, intervals, paired differences, errors)",
            help = function() return parser:help() end }

local function size_text(n)
  if n >= 2 ^ 20 then return ("%.1f MB"):format(n / 2 ^ 20) end
  return ("%.0f KB"):format(n / 1024)
end

local function quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

--- Opens path in a browser, in the background: $BROWSER (a list split by
--- ':', each a command, '%s' standing for the file) or else xdg-open.
--- true, or nil and why not.
function M.open_in_browser(path)
  local full = path:sub(1, 1) == "/" and path or ((os.getenv("PWD") or ".") .. "/" .. path)
  local candidates = {}
  local env = os.getenv("BROWSER")
  if env and env ~= "" then
    for c in env:gmatch("[^:]+") do candidates[#candidates + 1] = c end
  end
  candidates[#candidates + 1] = "xdg-open"
  for _, c in ipairs(candidates) do
    local prog = c:match("^%s*(%S+)")
    if prog and os.execute("command -v " .. quote(prog) .. " >/dev/null 2>&1") then
      local cmd = c:find("%s", 1, true) and c:gsub("%%s", (quote(full):gsub("%%", "%%%%"))) or (c .. " " .. quote(full))
      os.execute(cmd .. " </dev/null >/dev/null 2>&1 &")
      return true
    end
  end
  return nil, "no browser found: set BROWSER, or install xdg-utils"
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  if args.hardest < 0 then return cli.usage_error(parser, "--hardest must be >= 0") end
  if args.samples < 0 then return cli.usage_error(parser, "--samples must be >= 0") end
  if args.open and args.output == "-" then return cli.usage_error(parser, "--open needs a file (-o FILE)") end
  local setup, scode = require("causal_eval.report.store").setup(args, "causal-eval report")
  if not setup then return scode end
  local report = require "causal_eval.report"
  local st, overrides = setup.st, setup.overrides
  local collect = require "causal_eval.report.collect"
  local t0 = host.clock()
  -- whatever the reads meet (damage raises), the store is closed first
  local ok, data, rerr = pcall(function()
    local runs, why = collect.runs(st, args.RUN)
    if not runs then return nil, why end
    return collect.collect(st, runs, { hardest = args.hardest, unparseable = args.samples })
  end)
  st:close()
  if not ok then error(data, 0) end
  if not data then
    io.stderr:write("causal-eval report: ", rerr, "\n")
    return 1
  end
  local t1 = host.clock()
  local rok, page = pcall(report.render_report, data, { overrides = overrides })
  if not rok then
    io.stderr:write("causal-eval report: ", tostring(page), "\n")
    return 1
  end
  local t2 = host.clock()
  local sink, oerr = outfile.open(args.output)
  if not sink then
    io.stderr:write("causal-eval report: cannot write ", args.output, ": ", oerr, "\n")
    return 1
  end
  sink.file:write(page)
  local cok, cerr2 = sink:commit()
  if not cok then
    io.stderr:write("causal-eval report: cannot write ", args.output, ": ", cerr2, "\n")
    return 1
  end
  if args.timings then
    for _, t in ipairs(data.timings) do io.stderr:write(("%-28s %7.3f s\n"):format(t.name, t.seconds)) end
    io.stderr:write(("%-28s %7.3f s\n%-28s %7.3f s\n"):format("render", t2 - t1, "write", host.clock() - t2))
    io.stderr:write(("on threads: questions %s, score lines of %d of %d models\n"):format(
      data.on_threads.questions and "yes" or "no", data.on_threads.scores, #data.models))
  end
  if not outfile.is_stdout(args.output) then
    io.stderr:write(("wrote %s (%s): %d model%s, %d answers, %s\n"):format(args.output, size_text(#page), #data.models,
      #data.models == 1 and "" or "s", data.records, #data.runs == 1 and ("run " .. data.runs[1].id) or (#data.runs .. " runs")))
  end
  if args.open then
    local opened, why = M.open_in_browser(args.output)
    if not opened then io.stderr:write("causal-eval report: not opened: ", why, "\n") end
  end
  return 0
end

return M
