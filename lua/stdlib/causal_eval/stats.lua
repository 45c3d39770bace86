-- SPDX-License-Identifier: MIT
-- Intervals and paired comparisons for scores, on the C backend or OpenCL
-- (`backend = "auto"`: a GPU when there is one, else C; "opencl": any OpenCL
-- device, PoCL included; "c"). Random draws are Philox-keyed by `seed`: the
-- same seed gives the same resampled means, bit for bit, on either backend,
-- any device and any thread count. The sign-flip test runs on the C backend.
--
--   local stats = require "causal_eval.stats"
--   stats.bootstrap(scores, { iters = 10000, seed = 0, method = "bca", groups = fam })
--   stats.paired(a, b, { iters = 10000 })     -- difference of means, its interval, two p-values
--   stats.mcnemar(a, b)                       -- a, b: 0/1 outcomes on the same questions
--   stats.compare({ m1 = s1, m2 = s2, ... })  -- every pair, Holm- and Bonferroni-corrected
--   stats.holm(ps), stats.bonferroni(ps)
local core = require "causal_eval.stats_core"

local M = {}

M.BACKENDS = { auto = true, c = true, opencl = true }

-- What a call that names no backend gets. A library user gets "auto"; the
-- commands set it from evaluation.enable_gpu, so a machine whose
-- configuration says no GPU never loads the OpenCL driver.
local default_backend = "auto"

--- Sets the default backend from a configuration's evaluation section:
--- enable_gpu true is "auto" (a GPU when present, else C), false is "c".
--- Returns the backend chosen.
function M.configure(evaluation)
  default_backend = (type(evaluation) == "table" and evaluation.enable_gpu) and "auto" or "c"
  return default_backend
end

local function backend(opts)
  local b = opts.backend or os.getenv("CAUSAL_EVAL_STATS_BACKEND") or default_backend
  if not M.BACKENDS[b] then error(("backend must be auto, c or opencl, got '%s'"):format(tostring(b)), 3) end
  if b == "c" then return "c" end
  local want = opts.device or os.getenv("CAUSAL_EVAL_CL_DEVICE")
  -- auto: a GPU if there is one; opencl: any device (PoCL on a CPU counts)
  local device, why = core.cl_init(want, b == "auto" and not want)
  if device then return "opencl", device end
  if b == "opencl" then error("OpenCL backend: " .. why, 3) end
  return "c", nil, why
end
M.backend = backend

local function check_scores(x, what)
  if type(x) ~= "table" or #x == 0 then error(("%s: no scores"):format(what), 3) end
  for i, v in ipairs(x) do
    if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then
      error(("%s: score %d is %s"):format(what, i, v ~= v and "NaN" or tostring(v)), 3)
    end
  end
end

local function boot(x, opts, be)
  local r = core.bootstrap(x, { iters = opts.iters or 10000, seed = opts.seed or 0, method = opts.method,
                                level = opts.level, full = opts.full, threads = opts.threads, backend = be })
  return r
end

--- A bootstrap interval for the mean of scores; with opts.groups (a label
--- per score) also one per group, each resampled within its group.
--- Returns { mean, low, high, n, iters, method, reduced, backend, groups = { [label] = {...} } }.
function M.bootstrap(scores, opts)
  opts = opts or {}
  check_scores(scores, "bootstrap")
  local be, device, why = backend(opts)
  local r = boot(scores, opts, be)
  r.backend, r.device, r.fallback = be, device, why
  if opts.groups then
    if #opts.groups ~= #scores then
      error(("bootstrap: %d group labels for %d scores"):format(#opts.groups, #scores), 2)
    end
    local by = {}
    for i, g in ipairs(opts.groups) do
      local k = tostring(g)
      by[k] = by[k] or {}
      by[k][#by[k] + 1] = scores[i]
    end
    r.groups = {}
    for k, xs in pairs(by) do
      local gr = boot(xs, opts, be)
      gr.backend = be
      r.groups[k] = gr
    end
  end
  return r
end

--- Paired comparison of two models scored on the same questions: the mean
--- difference a - b, its bootstrap interval, a bootstrap p-value and a
--- sign-flip permutation p-value.
function M.paired(a, b, opts)
  opts = opts or {}
  check_scores(a, "paired (first)")
  check_scores(b, "paired (second)")
  if #a ~= #b then error(("paired: %d scores against %d; they must be the same questions"):format(#a, #b), 2) end
  local be = backend(opts)
  local d = {}
  for i = 1, #a do d[i] = a[i] - b[i] end
  local r = boot(d, opts, be)
  return {
    diff = r.mean, low = r.low, high = r.high, n = #a, iters = r.iters, method = r.method, reduced = r.reduced,
    p_permutation = core.signflip(d, { iters = opts.iters or 10000, seed = opts.seed or 0, threads = opts.threads }),
    backend = be,
  }
end

--- McNemar's test on paired right/wrong outcomes (1/0 or booleans).
function M.mcnemar(a, b)
  if #a ~= #b then error(("mcnemar: %d outcomes against %d"):format(#a, #b), 2) end
  if #a == 0 then error("mcnemar: no outcomes", 2) end
  local n10, n01 = 0, 0
  local function right(v, i, which)
    if v == true or v == 1 then return true end
    if v == false or v == 0 then return false end
    error(("mcnemar: %s outcome %d is %s, not 0/1"):format(which, i, tostring(v)), 3)
  end
  for i = 1, #a do
    local x, y = right(a[i], i, "first"), right(b[i], i, "second")
    if x and not y then n10 = n10 + 1 elseif y and not x then n01 = n01 + 1 end
  end
  local p, exact, stat = core.mcnemar(n10, n01)
  return { b = n10, c = n01, p = p, exact = exact, statistic = stat, n = #a }
end

--- Scores a batch in one pass: t = { answer_type = {...}, parsed = {...},
--- truth = {...}, tolerance = number | {...}, group = {...} }. yes/no and
--- choices score 1 when the label matches, numbers when within tolerance;
--- a missing answer scores 0. Returns scores, { [group] = { n, sum, mean } }.
function M.score(t)
  local scores, groups = core.score(t)
  for _, g in pairs(groups) do g.mean = g.n > 0 and g.sum / g.n or 0 end
  return scores, groups
end

--- Bonferroni-adjusted p-values (same order).
function M.bonferroni(ps)
  local out = {}
  for i, p in ipairs(ps) do out[i] = math.min(1, p * #ps) end
  return out
end

--- Holm's step-down adjusted p-values (same order).
function M.holm(ps)
  local order = {}
  for i = 1, #ps do order[i] = i end
  table.sort(order, function(x, y) return ps[x] < ps[y] end)
  local out, running = {}, 0
  for rank, i in ipairs(order) do
    running = math.max(running, math.min(1, (#ps - rank + 1) * ps[i]))
    out[i] = running
  end
  return out
end

--- Every pair of models: paired difference with interval, McNemar when the
--- scores are 0/1, and p-values corrected across the pairs (Holm and
--- Bonferroni, on the permutation p-values). models: { name = scores }.
function M.compare(models, opts)
  opts = opts or {}
  local names = {}
  for k in pairs(models) do names[#names + 1] = k end
  table.sort(names)
  local rows, ps = {}, {}
  for i = 1, #names do
    for j = i + 1, #names do
      local a, b = models[names[i]], models[names[j]]
      local r = M.paired(a, b, opts)
      r.a, r.b = names[i], names[j]
      local binary = true
      for k = 1, #a do
        if not ((a[k] == 0 or a[k] == 1) and (b[k] == 0 or b[k] == 1)) then binary = false break end
      end
      if binary then r.mcnemar = M.mcnemar(a, b) end
      rows[#rows + 1] = r
      ps[#ps + 1] = r.p_permutation
    end
  end
  local holm, bonf = M.holm(ps), M.bonferroni(ps)
  for k, r in ipairs(rows) do r.p_holm, r.p_bonferroni = holm[k], bonf[k] end
  return rows
end

return M
