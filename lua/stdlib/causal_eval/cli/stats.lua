-- SPDX-License-Identifier: MIT
-- causal-eval stats bootstrap FILE | paired A B | mcnemar A B: files of scores, one number per line.
local argparse = require "causal_eval.argparse"
local json = require "causal_eval.json"
local stats = require "causal_eval.stats"

local common = {
  { "--iters", arg = "B", type = "integer", default = 10000, help = "resamples" },
  { "--seed", arg = "S", type = "integer", default = 0, help = "seed of the Philox draws" },
  { "--backend", arg = "NAME", choices = { "auto", "c", "opencl" },
    help = "auto, c or opencl (default: auto when evaluation.enable_gpu is true, else c)" },
  { "--json", help = "print one JSON object" },
}
local cli_options = require("causal_eval.cli").options
local function with(extra) return cli_options(extra, common) end

local parsers = {
  bootstrap = argparse.new{ prog = "causal-eval stats bootstrap", summary = "a bootstrap interval for the mean of a file of scores",
    options = with{
      { "--method", arg = "M", choices = { "percentile", "bca" }, default = "percentile", help = "percentile or bca" },
      { "--level", arg = "L", type = "number", default = 0.95, help = "confidence level" },
      { "--full", help = "full resampling even for two-valued scores (no multinomial reduction)" },
    },
    positionals = { { "FILE", help = "scores, one number per line" } } },
  paired = argparse.new{ prog = "causal-eval stats paired", summary = "paired bootstrap and sign-flip test of A - B",
    options = with{}, positionals = { { "A", help = "scores of the first model" }, { "B", help = "scores of the second" } } },
  mcnemar = argparse.new{ prog = "causal-eval stats mcnemar", summary = "McNemar's test on paired 0/1 outcomes",
    options = { { "--json", help = "print one JSON object" } },
    positionals = { { "A", help = "outcomes of the first model (0/1)" }, { "B", help = "outcomes of the second" } } },
}

local M = { summary = "bootstrap intervals and paired tests on files of scores" }

function M.help()
  local out = { "usage: causal-eval stats bootstrap|paired|mcnemar [options] FILE...\n" }
  for _, k in ipairs({ "bootstrap", "paired", "mcnemar" }) do out[#out + 1] = parsers[k]:help() end
  return table.concat(out, "\n")
end

--- Numbers of a file, one per line (blank lines skipped); nil, "file:line: ..." on bad input.
function M.read_scores(path)
  -- a folder opens, and its first read raised (a traceback)
  if require("causal_eval.host").file_kind(path) == "directory" then return nil, path .. ": is a directory" end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local out, no = {}, 0
  for line in f:lines() do
    no = no + 1
    local s = line:match("^%s*(.-)%s*$")
    if s ~= "" then
      local v = tonumber(s)
      if not v or v ~= v or v == math.huge or v == -math.huge then
        f:close()
        return nil, ("%s:%d: not a finite number: '%s'"):format(path, no, s:sub(1, 40))
      end
      out[#out + 1] = v
    end
  end
  f:close()
  if #out == 0 then return nil, path .. ": no scores" end
  return out
end

local function fail(msg)
  io.stderr:write("causal-eval stats: ", msg, "\n")
  return 1
end

function M.run(argv, cli)
  local sub, args = cli.subcommand(argv, parsers, M.help, "usage: causal-eval stats bootstrap|paired|mcnemar [options] FILE...", "stats")
  if not sub then return args end
  if args.iters and (args.iters < 1 or args.iters > 100000000) then
    return cli.usage_error(parsers[sub], "--iters must be between 1 and 100000000")
  end
  if not args.backend then
    local cfg, cerr = require("causal_eval.config").load{}
    if not cfg then return fail(cerr) end
    stats.configure(cfg.values.evaluation)
  end
  local files = sub == "bootstrap" and { args.FILE } or { args.A, args.B }
  local data = {}
  for i, f in ipairs(files) do
    local xs, err = M.read_scores(f)
    if not xs then return fail(err) end
    data[i] = xs
  end
  local ok, r = pcall(function()
    if sub == "bootstrap" then
      return stats.bootstrap(data[1], { iters = args.iters, seed = args.seed, backend = args.backend, method = args.method,
                                        level = args.level, full = args.full })
    elseif sub == "paired" then
      return stats.paired(data[1], data[2], { iters = args.iters, seed = args.seed, backend = args.backend })
    end
    return stats.mcnemar(data[1], data[2])
  end)
  if not ok then return fail(tostring(r):gsub("^[^:]*:%d+: ", "")) end
  -- finite scores near 1e308 add up past a double: an interval of NaN, exit 0
  for _, k in ipairs({ "mean", "diff", "low", "high" }) do
    local v = r[k]
    if type(v) == "number" and (v ~= v or v == math.huge or v == -math.huge) then
      return fail(("%s: the scores are too large to add up in a double (the %s is %s)"):format(
        table.concat(files, ", "), k, v ~= v and "NaN" or "infinite"))
    end
  end
  if args.json then
    io.stdout:write(json.encode(r), "\n")
    return 0
  end
  if sub == "bootstrap" then
    io.stdout:write(("mean %.6g  %g%% CI [%.6g, %.6g]  (%s, %d resamples, backend %s%s)\n"):format(r.mean,
      (args.level or 0.95) * 100, r.low, r.high, r.method, r.iters, r.backend .. (r.device and (" on " .. r.device) or ""),
      r.reduced and ", two-valued scores: exact multinomial reduction used" or ""))
  elseif sub == "paired" then
    io.stdout:write(("A - B = %.6g  95%% CI [%.6g, %.6g]  sign-flip p = %.4g  (n %d, %d resamples)\n"):format(r.diff,
      r.low, r.high, r.p_permutation, r.n, r.iters))
  else
    io.stdout:write(("A right, B wrong: %d  A wrong, B right: %d  p = %.4g (%s)\n"):format(r.b, r.c, r.p,
      r.exact and "exact binomial" or ("chi-square %.4g, continuity-corrected"):format(r.statistic)))
  end
  return 0
end

return M
