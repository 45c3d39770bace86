-- SPDX-License-Identifier: MIT
-- causal-eval generate: benchmark questions as JSON lines.
local argparse = require "causal_eval.argparse"
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"
local outfile = require "causal_eval.outfile"

-- options, with one flag per perturbation of the kit's list
local options = {
  { "-n", "--n", arg = "N", type = "integer", default = 100, help = "questions per benchmark" },
  { "--seed", arg = "S", type = "integer", default = 0, help = "seed" },
  { "--difficulty", arg = "D", choices = bench.DIFFICULTIES, help = "easy, medium or hard (default: mixed)" },
  { "--domain", arg = "D", help = "one story domain (default: mixed)" },
  { "--perturb", arg = "LIST", multiple = true, help = "perturbations, comma-separated: " .. table.concat(bench.PERTURBATIONS, ", ") },
}
for _, p in ipairs(bench.PERTURBATIONS) do
  options[#options + 1] = { "--" .. p:gsub("_", "-"), help = bench.PERTURBATION_HELP[p] }
end
for _, o in ipairs({
  { "--adversarial", help = "adversarial variants where a family has them" },
  { "--no-prompt", help = "content only: graph, tables, query and ground truth, no prompt text (render your own)" },
  { "--capacity", help = "print how many distinct questions each family can make at each difficulty, and generate nothing" },
  { "-o", "--output", arg = "FILE", help = "write to FILE (atomically) instead of standard output" },
}) do options[#options + 1] = o end

local parser = argparse.new{
  prog = "causal-eval generate",
  summary = "write benchmark questions with exact ground truth as JSON lines",
  description = [[
The same arguments write byte-identical output on any machine; question ids are
stable; yes/no answers are balanced within each family, difficulty and domain;
no prompt repeats within a family's questions, and --n beyond what a family can
make (--capacity) is refused. BENCH is a family name (see below), `all`, or a
path to a family file. The format is in docs/questions.md.]],
  options = options,
  positionals = { { "BENCH", multiple = true, help = "benchmark families" } },
}

local M = { summary = "generate benchmark questions (JSON lines)" }

function M.help()
  return parser:help() .. "\nbenchmarks: " .. table.concat(bench.list(), ", ") ..
    "\ndomains: " .. table.concat(require("benchmarks.stories").ORDER, ", ") .. "\n"
end

M.families = bench.families

function M.options(args)
  local perturb = {}
  for _, item in ipairs(args.perturb or {}) do
    for p in item:gmatch("[^,%s]+") do perturb[#perturb + 1] = (p:gsub("-", "_")) end
  end
  for _, flag in ipairs(bench.PERTURBATIONS) do
    if args[flag] then perturb[#perturb + 1] = flag end
  end
  return bench.options{ difficulty = args.difficulty, domain = args.domain, perturb = perturb, adversarial = args.adversarial,
                        render = not args.no_prompt }
end

--- The capacity of each family at each difficulty, as a table.
function M.capacity_table(fams)
  local out = { ("%-20s %12s %12s %12s\n"):format("family", table.unpack(bench.DIFFICULTIES)) }
  local notes = {}
  for _, fam in ipairs(fams) do
    local cap = fam.capacity or {}
    local row = { ("%-20s"):format(fam.name) }
    for _, d in ipairs(bench.DIFFICULTIES) do row[#row + 1] = ("%12s"):format(cap[d] and tostring(cap[d]) or "?") end
    out[#out + 1] = table.concat(row, " ") .. "\n"
    notes[#notes + 1] = ("%s: %s\n"):format(fam.name, cap.method or "not stated by the family")
  end
  return table.concat(out) .. "\n" .. table.concat(notes)
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  if args.n < 0 or args.n > bench.MAX_N then
    return cli.usage_error(parser, ("--n must be between 0 and %d"):format(bench.MAX_N))
  end
  local opts, err = M.options(args)
  if not opts then return cli.usage_error(parser, err) end
  local fams, ferr = M.families(args.BENCH)
  if not fams then
    io.stderr:write("causal-eval generate: ", ferr, "\n")
    return 2
  end
  if args.capacity then
    io.stdout:write(M.capacity_table(fams))
    return 0
  end
  -- refused before anything is written: a set that would have to repeat
  -- questions, or give up halfway, is no set
  for _, fam in ipairs(fams) do
    local ok, cerr = bench.check_capacity(fam, opts, args.seed, args.n)
    if not ok then
      io.stderr:write("causal-eval generate: ", cerr, "\n")
      return 1
    end
  end
  local sink, oerr = outfile.open(args.output)
  if not sink then
    io.stderr:write("causal-eval generate: ", oerr, "\n")
    return 1
  end
  local out = sink.file
  local counts = {}
  local total = 0
  -- a family that cannot produce a question is the family's error, told as
  -- such (no traceback) and leaving no partial file; a bug inside a family's
  -- code keeps its traceback, which points at the family's line
  local ok, gerr = xpcall(function()
    for _, fam in ipairs(fams) do
      local c = { yes = 0, no = 0, other = 0 }
      counts[#counts + 1] = { fam.name, c }
      for q in bench.generate(fam, opts, args.seed, args.n) do
        out:write(json.encode(q), "\n")
        total = total + 1
        if q.ground_truth == "yes" then c.yes = c.yes + 1
        elseif q.ground_truth == "no" then c.no = c.no + 1
        else c.other = c.other + 1 end
      end
    end
  end, function(e)
    if type(e) == "string" and e:match("^family [%w_]+: ") then return e end
    return debug.traceback(tostring(e), 2)
  end)
  if not ok then
    sink:abort()
    io.stderr:write("causal-eval generate: ", tostring(gerr), "\n")
    return 1
  end
  local ok, cerr = sink:commit()
  if not ok then
    io.stderr:write("causal-eval generate: ", cerr, "\n")
    return 1
  end
  if not outfile.is_stdout(args.output) then
    local parts = {}
    for _, e in ipairs(counts) do
      parts[#parts + 1] = ("%s %d yes / %d no%s"):format(e[1], e[2].yes, e[2].no,
        e[2].other > 0 and (" / " .. e[2].other .. " other") or "")
    end
    io.stderr:write(("wrote %d questions to %s (%s)\n"):format(total, args.output, table.concat(parts, "; ")))
  end
  return 0
end

return M
