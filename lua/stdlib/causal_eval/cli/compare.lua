-- SPDX-License-Identifier: MIT
-- causal-eval compare RUN_A [RUN_B]: paired comparisons on the questions two
-- runs (or the models of one run) share, with intervals and corrected p-values.
local argparse = require "causal_eval.argparse"
local config = require "causal_eval.config"
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local stats = require "causal_eval.stats"

local parser = argparse.new{
  prog = "causal-eval compare",
  summary = "paired comparison of two runs, or of the models of one run",
  description = [[
With two runs, each model evaluated in both is compared with itself (B - A) on
the questions both runs answered; when the runs share no model and each has
one, those two are compared. With one run, every pair of its models is
compared. Each row: accuracies, the difference with a paired bootstrap
interval, the sign-flip permutation p-value, McNemar's test, and the p-values
corrected over the rows (Holm and Bonferroni). Unanswered or failed questions
count as wrong, as in the run's table. With --fail-on-regression (two runs:
RUN_A before, RUN_B after), a model whose accuracy dropped with a Holm-corrected
p-value under --alpha is a regression: each is printed and the exit status is 1.]],
  options = {
    { "--data", arg = "DIR", help = "results store folder (default: store.path)" },
    { "--store", arg = "URL", help = "results in PostgreSQL: postgresql://... (default: store.url; reads go to store.read_url)" },
    { "--iters", arg = "B", type = "integer", default = 10000, help = "resamples" },
    { "--seed", arg = "S", type = "integer", default = 0, help = "seed" },
    { "--json", help = "print JSON" },
    { "--fail-on-regression", help = "exit 1 when a model is significantly less accurate in RUN_B (Holm-corrected p < --alpha)" },
    { "--alpha", arg = "A", type = "number", default = 0.05, help = "significance level of --fail-on-regression" },
  },
  positionals = { { "RUN_A", help = "a run id, or last" }, { "RUN_B", optional = true, help = "another run id" } },
}

local M = { summary = "compare runs or models with paired tests and corrected p-values", help = function() return parser:help() end }

-- question id -> 0/1 for each model of a run
local function outcomes(st, run)
  local by = {}
  for _, label in ipairs(run.models or {}) do by[results.model_key(label)] = { label = label, scores = {} } end
  st:scan(results.DB.scores, run.id .. results.SEP, function(k, v)
    local _, mk, qid = results.split_key(k)
    local m = by[mk]
    if not m then return end
    local s = json.decode(v)
    if type(s) == "table" and not results.counts(s) then return end
    m.scores[qid] = (type(s) == "table" and s.c == 1) and 1 or 0
  end)
  return by
end

local function pair(a, b)
  local xa, xb, ids = {}, {}, {}
  for qid in pairs(a) do if b[qid] ~= nil then ids[#ids + 1] = qid end end
  table.sort(ids)
  for i, qid in ipairs(ids) do xa[i], xb[i] = a[qid], b[qid] end
  return xa, xb
end

local function mean(x)
  local s = 0
  for _, v in ipairs(x) do s = s + v end
  return #x > 0 and s / #x or 0
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  if args.iters < 1 or args.iters > 100000000 then return cli.usage_error(parser, "--iters must be between 1 and 100000000") end
  if not (args.alpha > 0 and args.alpha < 1) then return cli.usage_error(parser, "--alpha must be between 0 and 1") end
  if args.fail_on_regression and not args.RUN_B then
    return cli.usage_error(parser, "--fail-on-regression compares a run with an earlier one: give RUN_A (before) and RUN_B (after)")
  end
  local cfg, cerr = config.load{}
  if not cfg then
    io.stderr:write(cerr, "\n")
    return 2
  end
  stats.configure(cfg.values.evaluation)
  local dir = args.data or cfg.values.store.path
  if args.store then
    local bad = results.check_url(args.store)
    if bad then return cli.usage_error(parser, "--store: " .. bad) end
  end
  -- as report opens it: read-only, and a mistyped --data makes no store there
  local st, err = require("causal_eval.report.store").open(cfg.values, dir, args.store)
  if not st then
    io.stderr:write("causal-eval compare: ", tostring(err), "\n")
    return 1
  end
  local ra, ea = results.get_run(st, args.RUN_A)
  local rb, eb = ra, nil
  if args.RUN_B then rb, eb = results.get_run(st, args.RUN_B) end
  if not ra or not rb then
    st:close()
    io.stderr:write("causal-eval compare: ", ea or eb, "\n")
    return 1
  end
  local oa, ob = outcomes(st, ra), args.RUN_B and outcomes(st, rb) or nil
  st:close()
  local pairs_ = {}
  if ob then
    for mk, m in pairs(oa) do
      if ob[mk] then pairs_[#pairs_ + 1] = { a = m, b = ob[mk], name = m.label } end
    end
    if #pairs_ == 0 and #(ra.models or {}) == 1 and #(rb.models or {}) == 1 then
      local a, b = next(oa), next(ob)
      pairs_[1] = { a = oa[a], b = ob[b], name = oa[a].label .. " -> " .. ob[b].label }
    end
  else
    local labels = {}
    for _, l in ipairs(ra.models or {}) do labels[#labels + 1] = l end
    for i = 1, #labels do
      for j = i + 1, #labels do
        local a, b = oa[results.model_key(labels[i])], oa[results.model_key(labels[j])]
        pairs_[#pairs_ + 1] = { a = a, b = b, name = labels[j] .. " - " .. labels[i] }
      end
    end
  end
  if #pairs_ == 0 then
    io.stderr:write("causal-eval compare: the runs share no model (give two runs of one model each, or one run of several)\n")
    return 1
  end
  table.sort(pairs_, function(x, y) return x.name < y.name end)
  local rows, ps = {}, {}
  for _, p in ipairs(pairs_) do
    local xa, xb = pair(p.a.scores, p.b.scores)
    if #xa == 0 then
      io.stderr:write(("causal-eval compare: %s: no question answered in both\n"):format(p.name))
      return 1
    end
    local d = stats.paired(xb, xa, { iters = args.iters, seed = args.seed })
    local mc = stats.mcnemar(xb, xa)
    rows[#rows + 1] = { model = p.name, n = #xa, accuracy_a = mean(xa), accuracy_b = mean(xb), diff = d.diff,
                        ci = { d.low, d.high }, p_permutation = d.p_permutation, p_mcnemar = mc.p,
                        mcnemar_exact = mc.exact }
    ps[#ps + 1] = d.p_permutation
  end
  local holm, bonf = stats.holm(ps), stats.bonferroni(ps)
  for i, r in ipairs(rows) do r.p_holm, r.p_bonferroni = holm[i], bonf[i] end
  -- the gate: a drop in accuracy that the paired test, corrected over every
  -- model compared, does not put down to chance
  local regressions = {}
  if args.fail_on_regression then
    for _, r in ipairs(rows) do
      if r.diff < 0 and r.p_holm < args.alpha then
        r.regression = true
        regressions[#regressions + 1] = r
      end
    end
  end
  local status = #regressions > 0 and 1 or 0
  if args.json then
    io.stdout:write(json.encode({ run_a = ra.id, run_b = rb.id, iters = args.iters, seed = args.seed,
                                  rows = json.array(rows),
                                  regressions = args.fail_on_regression and json.array(regressions) or nil }), "\n")
    return status
  end
  io.stdout:write(("compare %s%s (paired on shared questions; B - A; %d resamples)\n\n"):format(ra.id,
    args.RUN_B and (" -> " .. rb.id) or " (models of one run)", args.iters))
  local w = 5
  for _, r in ipairs(rows) do w = math.max(w, #r.model) end
  io.stdout:write(("%-" .. w .. "s  %6s  %7s  %7s  %8s  %-19s  %8s  %8s  %8s  %8s\n"):format("model", "n", "acc A", "acc B",
    "diff", "95% CI", "p perm", "p Holm", "p Bonf", "McNemar"))
  for _, r in ipairs(rows) do
    io.stdout:write(("%-" .. w .. "s  %6d  %6.1f%%  %6.1f%%  %+7.1f%%  [%+6.1f%%, %+6.1f%%]  %8.4f  %8.4f  %8.4f  %8.4f\n"):format(
      r.model, r.n, r.accuracy_a * 100, r.accuracy_b * 100, r.diff * 100, r.ci[1] * 100, r.ci[2] * 100,
      r.p_permutation, r.p_holm, r.p_bonferroni, r.p_mcnemar))
  end
  if args.fail_on_regression then
    if #regressions == 0 then
      io.stdout:write(("\nno regression: no model is less accurate with p (Holm) < %g\n"):format(args.alpha))
    else
      io.stdout:write(("\n%d regression%s (p (Holm) < %g):\n"):format(#regressions, #regressions == 1 and "" or "s", args.alpha))
      for _, r in ipairs(regressions) do
        io.stdout:write(("%s: accuracy %.1f%% -> %.1f%%, %.1f points lower (p (Holm) = %.4g)\n"):format(r.model,
          r.accuracy_a * 100, r.accuracy_b * 100, -r.diff * 100, r.p_holm))
      end
    end
  end
  return status
end

return M
