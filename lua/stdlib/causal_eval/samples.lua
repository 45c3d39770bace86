-- SPDX-License-Identifier: MIT
-- Statistics of repeated samples (`--samples K --temperature T`): the
-- majority vote of one question's K answers (self-consistency, Wang et al.
-- 2022), the unbiased pass@k estimator (Chen et al. 2021), and a run's
-- summary with intervals that take the question, not the sample, as the
-- unit: K samples of one question are not K independent observations.
--
--   local samples = require "causal_eval.samples"
--   local v = samples.vote({ "yes", nil, "yes", "no" }, { n = 4, answer_type = "yes_no" })
--   samples.pass_at_k(10, 3, 5)
--   local s = samples.summarize({ { n = 5, c = 4, majority_correct = true, agreement = v.agreement }, ... },
--                               { k_values = { 1, 5 }, temperature = 0.7 })
--   print(table.concat(samples.format(s), "\n"))
local results = require "causal_eval.results"

local M = {}

-- results.wilson's default: the two-sided 95% normal quantile
local Z95 = 1.959963984540054

-- as scoring.score compares a number with its ground truth
local function close(a, b, tol) return a == b or math.abs(a - b) <= tol + 1e-12 end

local function count_arg(v, what, min)
  if math.type(v) ~= "integer" and not (type(v) == "number" and v == math.floor(v) and v > -2^53 and v < 2^53) then
    error(("%s must be an integer, got %s"):format(what, tostring(v)), 3)
  end
  v = math.tointeger(v)
  if v < min then error(("%s must be at least %d, got %d"):format(what, min, v), 3) end
  return v
end

-- ---- one question ----

--- The majority answer of one question's samples. parsed: the parsed
--- answers in sample order, nil where a sample was unparseable; opts.n: the
--- number of samples K (required: a list with nils has no reliable length);
--- opts.answer_type "yes_no", "choice" (answers equal as strings) or
--- "number" (within opts.tolerance, default 0.01, of a cluster's first
--- member, clustered greedily in sample order; NaN counts as unparseable).
--- Returns { answer, count, agreement = count / n, tie, distinct }: answer
--- nil (count 0) when every sample is unparseable; a tie goes to the tied
--- answer seen first; unparseable samples win nothing but count in n.
function M.vote(parsed, opts)
  if type(parsed) ~= "table" then error("vote: parsed answers must be a list", 2) end
  opts = opts or {}
  local n = count_arg(opts.n, "vote: opts.n (the number of samples)", 1)
  local kind = opts.answer_type or "yes_no"
  if kind ~= "yes_no" and kind ~= "choice" and kind ~= "number" then
    error(("vote: answer_type must be yes_no, number or choice, got '%s'"):format(tostring(kind)), 2)
  end
  local tol = opts.tolerance or 0.01
  for k in pairs(parsed) do
    if math.type(k) ~= "integer" or k < 1 or k > n then
      error(("vote: answer key %s is outside samples 1..%d"):format(tostring(k), n), 2)
    end
  end
  local clusters = {} -- in order of first appearance: { answer, count }
  for i = 1, n do
    local a = parsed[i]
    if kind == "number" then
      if a ~= nil and type(a) ~= "number" then
        error(("vote: sample %d is %s, not a number"):format(i, type(a)), 2)
      end
      if a ~= a then a = nil end
    elseif a ~= nil and type(a) ~= "string" then
      error(("vote: sample %d is %s, not a string"):format(i, type(a)), 2)
    end
    if a ~= nil then
      local home
      for _, c in ipairs(clusters) do
        if (kind == "number" and close(a, c.answer, tol)) or c.answer == a then home = c break end
      end
      if home then
        home.count = home.count + 1
      else
        clusters[#clusters + 1] = { answer = a, count = 1 }
      end
    end
  end
  local best, tie = nil, false
  for _, c in ipairs(clusters) do
    if not best or c.count > best.count then
      best, tie = c, false
    elseif c.count == best.count then
      tie = true
    end
  end
  local count = best and best.count or 0
  return { answer = best and best.answer, count = count, agreement = count / n, tie = tie, distinct = #clusters }
end

--- The unbiased estimate of pass@k from n samples of which c are correct:
--- 1 - C(n-c, k) / C(n, k), as the product 1 - prod_{i=n-c+1..n} (1 - k/i)
--- (no binomial is formed); 1 when n - c < k. Requires 0 <= c <= n, 1 <= k <= n.
function M.pass_at_k(n, c, k)
  n = count_arg(n, "pass_at_k: n", 1)
  c = count_arg(c, "pass_at_k: c", 0)
  k = count_arg(k, "pass_at_k: k", 1)
  if c > n then error(("pass_at_k: c = %d correct of n = %d samples"):format(c, n), 2) end
  if k > n then error(("pass_at_k: k = %d is more than the n = %d samples"):format(k, n), 2) end
  if n - c < k then return 1 end
  local miss = 1
  for i = n - c + 1, n do miss = miss * (1 - k / i) end
  return 1 - miss
end

-- ---- Student's t ----

-- erfc(x) for x >= 0, fractional error below 1.2e-7 (Numerical Recipes' erfcc)
local function erfc(x)
  local t = 1 / (1 + 0.5 * x)
  return t * math.exp(-x * x - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 +
    t * 0.17087277)))))))))
end

-- P(|T| <= t) for T with df degrees of freedom, exactly: Abramowitz and
-- Stegun 26.7.3 (odd df) and 26.7.4 (even df), a finite sum of df/2 terms.
local function t_coverage(t, df)
  local theta = math.atan(t / math.sqrt(df))
  local s, c = math.sin(theta), math.cos(theta)
  local c2 = c * c
  local sum, term = 1, 1
  if df % 2 == 0 then
    for j = 2, df - 2, 2 do
      term = term * (j - 1) / j * c2
      sum = sum + term
    end
    return s * sum
  end
  if df == 1 then return 2 * theta / math.pi end
  for j = 2, df - 3, 2 do
    term = term * j / (j + 1) * c2
    sum = sum + term
  end
  return 2 / math.pi * (theta + s * c * sum)
end

--- The quantile of Student's t with df degrees of freedom (a positive
--- integer) that has the two-sided coverage of the normal quantile z
--- (z = 1.96: t = 12.706 for df = 1, 2.228 for df = 10). Bisection on the
--- exact distribution up to 1,000 df; beyond, the Cornish-Fisher expansion
--- (A&S 26.7.5), whose error there is below 1e-9.
function M.t_quantile(z, df)
  z = z or Z95
  df = count_arg(df, "t_quantile: df", 1)
  if z <= 0 then return 0 end
  if df > 1000 then
    local z3, z5, z7, z9 = z ^ 3, z ^ 5, z ^ 7, z ^ 9
    return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ^ 2)
      + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ^ 3)
      + (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * df ^ 4)
  end
  local want = 1 - erfc(z / math.sqrt(2))
  if want >= 1 then return math.huge end
  local lo, hi = z, 2 * z -- t's quantile is never below the normal's
  while t_coverage(hi, df) < want do lo, hi = hi, 2 * hi end
  for _ = 1, 100 do
    local mid = (lo + hi) / 2
    if mid == lo or mid == hi then break end
    if t_coverage(mid, df) < want then lo = mid else hi = mid end
  end
  return (lo + hi) / 2
end

-- ---- a run's summary ----

-- The interval for the mean p of m per-question values in [0, 1] with the
-- question as the unit: the Wilson interval at an effective number of
-- trials, Korn and Graubard (1998). The cluster-robust variance of the mean
-- is v = s^2 / m (s: the per-question values' standard deviation); a
-- proportion from n_eff independent trials has that variance when
-- n_eff = p (1 - p) / v. n_eff is capped at `cap` (the interval is never
-- narrower than one over independent trials) and scaled by (z / t)^2, t the
-- quantile with m - 1 degrees of freedom, so that few questions give a wide
-- interval. When p is 0 or 1 the data cannot show how a question's samples
-- go together, and each question counts as one trial (n_eff = m). Fewer
-- than two questions: [0, 1]. Returns low, high, v (nil under two).
local function clustered(values, p, z, cap)
  local m = #values
  if m < 2 then return 0, 1, nil end
  local ss = 0
  for _, x in ipairs(values) do ss = ss + (x - p) ^ 2 end
  local v = ss / (m - 1) / m
  local n_eff
  if p <= 0 or p >= 1 then
    n_eff = m
  elseif v > 0 then
    n_eff = math.min(cap, p * (1 - p) / v)
  else
    n_eff = cap
  end
  local t = M.t_quantile(z, m - 1)
  n_eff = n_eff * (z / t) ^ 2
  local lo, hi = results.wilson(p * n_eff, n_eff, z)
  return lo, hi, v
end

local function mean(xs)
  local s = 0
  for _, x in ipairs(xs) do s = s + x end
  return #xs > 0 and s / #xs or nil
end

local function check_item(q, i)
  if type(q) ~= "table" then error(("summarize: item %d is %s, not a table"):format(i, type(q)), 3) end
  local n = count_arg(q.n, ("summarize: item %d: n"):format(i), 1)
  local c = count_arg(q.c, ("summarize: item %d: c"):format(i), 0)
  if c > n then error(("summarize: item %d: c = %d correct of n = %d samples"):format(i, c, n), 3) end
  if q.agreement ~= nil and (type(q.agreement) ~= "number" or not (q.agreement >= 0 and q.agreement <= 1)) then
    error(("summarize: item %d: agreement %s is not in [0, 1]"):format(i, tostring(q.agreement)), 3)
  end
  return n, c
end

--- A run's figures over questions asked K times each. items: one table per
--- question { n = samples asked, c = samples correct, majority_correct =
--- bool, agreement = vote's agreement (optional) }; opts.k_values (default
--- { 1, K }, K the fewest samples of any question; a k above it raises),
--- opts.z (default 1.96), opts.temperature (kept for format). Returns
---   questions, samples, samples_per_question (nil when they differ),
---   temperature, z,
---   accuracy (mean over questions of c / n, = pass@1; nil with no
---     questions), ci (clustered by question, see `clustered`), se (its
---     cluster-robust standard error), df (questions - 1), method,
---   naive = { accuracy = all correct / all samples, ci }: Wilson over
---     samples as if independent, for comparison only,
---   design_effect: the clustered variance over the naive one,
---   majority = { accuracy, correct, ci }: Wilson over questions,
---   pass_at = { { k, value, ci }, ... } in k_values' order, over questions,
---   agreement: the mean of the items' agreement,
---   spread = { sd of per-question accuracy, mixed = share of questions with
---     samples both right and wrong, disagree = share with agreement < 1 }.
--- Every ci is { low, high } within [0, 1]; a figure that cannot be had
--- (no questions, one question, no agreement given) is nil, never NaN.
function M.summarize(items, opts)
  opts = opts or {}
  if type(items) ~= "table" then error("summarize: items must be a list", 2) end
  local z = opts.z or Z95
  if type(z) ~= "number" or not (z > 0 and z < math.huge) then
    error(("summarize: z must be a positive number, got %s"):format(tostring(z)), 2)
  end
  local m = #items
  local total, correct, majority, kmin, kmax = 0, 0, 0, nil, nil
  local acc, agree, mixed, disagree = {}, {}, 0, 0
  for i, q in ipairs(items) do
    local n, c = check_item(q, i)
    total, correct = total + n, correct + c
    kmin, kmax = math.min(kmin or n, n), math.max(kmax or n, n)
    acc[i] = c / n
    if q.majority_correct then majority = majority + 1 end
    if 0 < c and c < n then mixed = mixed + 1 end
    if q.agreement then
      agree[#agree + 1] = q.agreement
      if q.agreement < 1 then disagree = disagree + 1 end
    end
  end

  local s = {
    questions = m,
    samples = total,
    -- samples per question when every question had the same number, else nil
    samples_per_question = kmin == kmax and kmin or nil,
    temperature = opts.temperature,
    z = z,
  }

  -- accuracy: the mean over questions of c / n (pass@1), its interval clustered
  local p = mean(acc)
  local lo, hi, v = clustered(acc, p, z, total)
  s.accuracy = p
  s.ci = { lo, hi }
  s.se = v and math.sqrt(v) or nil
  s.df = m > 1 and m - 1 or nil
  s.method = "clustered by question: Wilson at the effective sample size, t quantile with questions - 1 df"

  -- the interval that wrongly counts every sample as independent
  local nlo, nhi = results.wilson(correct, total, z)
  s.naive = { accuracy = total > 0 and correct / total or nil, ci = { nlo, nhi } }

  -- the clustered variance over the one of independent samples (about 1:
  -- independent; about K: a question's samples all right or all wrong);
  -- nil under two questions or when every sample is right (or wrong)
  if v and p > 0 and p < 1 then s.design_effect = v / (p * (1 - p) / total) end

  local mlo, mhi = results.wilson(majority, m, z)
  s.majority = { accuracy = m > 0 and majority / m or nil, correct = majority, ci = { mlo, mhi } }

  -- pass@k for each k, averaged over questions
  local ks = opts.k_values
  if ks == nil then ks = (kmin == nil or kmin == 1) and { 1 } or { 1, kmin } end
  s.pass_at = {}
  for _, k in ipairs(ks) do
    k = count_arg(k, "summarize: k_values entry", 1)
    if kmin and k > kmin then
      error(("summarize: pass@%d needs %d samples of every question; one has %d"):format(k, k, kmin), 2)
    end
    local vals = {}
    for i, q in ipairs(items) do vals[i] = M.pass_at_k(q.n, q.c, k) end
    local pk = mean(vals)
    local klo, khi = clustered(vals, pk, z, m)
    s.pass_at[#s.pass_at + 1] = { k = k, value = pk, ci = { klo, khi } }
  end

  s.agreement = mean(agree)
  local sd
  if m > 1 then
    local ss = 0
    for _, x in ipairs(acc) do ss = ss + (x - p) ^ 2 end
    sd = math.sqrt(ss / (m - 1))
  end
  s.spread = {
    sd = sd,                                      -- of per-question accuracy; nil under two questions
    mixed = m > 0 and mixed / m or nil,           -- share with some samples right and some wrong
    disagree = #agree > 0 and disagree / #agree or nil, -- share whose samples gave more than one answer
  }
  return s
end

-- ---- text ----

local function pct(x) return type(x) == "number" and ("%.1f%%"):format(x * 100) or "-" end
local function ci(c) return ("[%.1f, %.1f]"):format(c[1] * 100, c[2] * 100) end

--- A run summary's lines about its samples, for people.
function M.format(s)
  if s.questions == 0 then return { "samples: no questions" } end
  local per = s.samples_per_question and tostring(s.samples_per_question) or ("%.1f"):format(s.samples / s.questions)
  local head = ("%s samples/question"):format(per)
  if s.temperature then head = head .. (" at T=%g"):format(s.temperature) end
  local parts = {
    ("accuracy %s %s (clustered)"):format(pct(s.accuracy), ci(s.ci)),
    ("majority %s %s"):format(pct(s.majority.accuracy), ci(s.majority.ci)),
  }
  for _, pk in ipairs(s.pass_at) do
    if pk.k ~= 1 then parts[#parts + 1] = ("pass@%d %s %s"):format(pk.k, pct(pk.value), ci(pk.ci)) end
  end
  if s.agreement then parts[#parts + 1] = ("agreement %.2f"):format(s.agreement) end
  local lines = { ("%s: %s"):format(head, table.concat(parts, ", ")) }
  local more = {
    ("%d question%s, %d samples"):format(s.questions, s.questions == 1 and "" or "s", s.samples),
    ("if samples were independent %s"):format(ci(s.naive.ci)),
  }
  if s.design_effect then more[#more + 1] = ("design effect %.2f"):format(s.design_effect) end
  if s.spread.sd then more[#more + 1] = ("sd of per-question accuracy %.2f"):format(s.spread.sd) end
  if s.spread.mixed then more[#more + 1] = ("samples split right/wrong on %s of questions"):format(pct(s.spread.mixed)) end
  if s.spread.disagree then more[#more + 1] = ("answers differ on %s"):format(pct(s.spread.disagree)) end
  lines[2] = "  " .. table.concat(more, "; ")
  return lines
end

return M
