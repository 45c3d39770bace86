-- SPDX-License-Identifier: MIT
-- causal_eval.samples: majority votes, pass@k, and a run's figures with the
-- question (not the sample) as the unit. Values below were worked by hand.
local samples = require "causal_eval.samples"
local results = require "causal_eval.results"
local rng = require "causal_eval.rng"

local function near(want, got, eps, what)
  assert.is_true(type(got) == "number" and math.abs(got - want) <= (eps or 1e-12),
    ("%s: want %.12g, got %s"):format(what or "value", want, tostring(got)))
end

-- every interval of a summary lies in [0, 1], low <= high, no NaN
local function check_intervals(s, what)
  local cis = { s.ci, s.naive.ci, s.majority.ci }
  for _, pk in ipairs(s.pass_at) do cis[#cis + 1] = pk.ci end
  for i, ci in ipairs(cis) do
    local lo, hi = ci[1], ci[2]
    assert.is_true(lo == lo and hi == hi and 0 <= lo and lo <= hi and hi <= 1,
      ("%s: interval %d is [%s, %s]"):format(what, i, tostring(lo), tostring(hi)))
  end
  for _, k in ipairs({ "accuracy", "se", "design_effect", "agreement" }) do
    local v = s[k]
    assert.is_true(v == nil or (v == v and v ~= math.huge), ("%s: %s is %s"):format(what, k, tostring(v)))
  end
  for _, k in ipairs({ "sd", "mixed", "disagree" }) do
    local v = s.spread[k]
    assert.is_true(v == nil or v == v, ("%s: spread.%s is NaN"):format(what, k))
  end
end

local function items_of(cs, n)
  local out = {}
  for i, c in ipairs(cs) do out[i] = { n = n, c = c, majority_correct = c * 2 > n } end
  return out
end

describe("causal_eval.samples.vote", function()
  it("takes the answer most samples gave", function()
    local v = samples.vote({ "yes", "no", "yes" }, { n = 3, answer_type = "yes_no" })
    assert.same({ answer = "yes", count = 2, agreement = 2 / 3, tie = false, distinct = 2 }, v)
    v = samples.vote({ "A", "B", "C", "B", "D" }, { n = 5, answer_type = "choice" })
    assert.same({ answer = "B", count = 2, agreement = 0.4, tie = false, distinct = 4 }, v)
  end)

  it("breaks a tie for the tied answer seen first", function()
    local v = samples.vote({ "no", "yes", "yes", "no" }, { n = 4, answer_type = "yes_no" })
    assert.same({ answer = "no", count = 2, agreement = 0.5, tie = true, distinct = 2 }, v)
    v = samples.vote({ "C", "A", "A", "C", "B" }, { n = 5, answer_type = "choice" })
    assert.are.equal("C", v.answer)
    assert.is_true(v.tie)
    -- a tie below the winner is no tie
    v = samples.vote({ "A", "B", "C", "C" }, { n = 4, answer_type = "choice" })
    assert.same({ answer = "C", count = 2, agreement = 0.5, tie = false, distinct = 3 }, v)
  end)

  it("lets unparseable samples win nothing while they count in n", function()
    local v = samples.vote({ nil, "yes", nil, nil }, { n = 4, answer_type = "yes_no" })
    assert.same({ answer = "yes", count = 1, agreement = 0.25, tie = false, distinct = 1 }, v)
    -- trailing unparseable samples: only opts.n knows they were there
    v = samples.vote({ "no", "no" }, { n = 5, answer_type = "yes_no" })
    assert.same({ answer = "no", count = 2, agreement = 0.4, tie = false, distinct = 1 }, v)
    v = samples.vote({}, { n = 3, answer_type = "yes_no" })
    assert.same({ answer = nil, count = 0, agreement = 0, tie = false, distinct = 0 }, v)
  end)

  it("votes numbers within the tolerance of a cluster's first member together", function()
    local v = samples.vote({ 0.30, 0.305, 0.5, 0.309, 0.5 }, { n = 5, answer_type = "number" })
    assert.same({ answer = 0.30, count = 3, agreement = 0.6, tie = false, distinct = 2 }, v)
    -- 0.318 is within 0.01 of 0.309 but not of 0.30, the cluster's answer: no chaining
    v = samples.vote({ 0.30, 0.309, 0.318 }, { n = 3, answer_type = "number" })
    assert.same({ answer = 0.30, count = 2, agreement = 2 / 3, tie = false, distinct = 2 }, v)
    -- the tolerance's edge counts as within (as scoring does); tied clusters: the first
    v = samples.vote({ 0.5, 0.2, 0.205, 0.51 }, { n = 4, answer_type = "number" })
    assert.same({ answer = 0.5, count = 2, agreement = 0.5, tie = true, distinct = 2 }, v)
    v = samples.vote({ 1, 1.4, 1.6, nil, 2.15 }, { n = 5, answer_type = "number", tolerance = 0.5 })
    assert.same({ answer = 1, count = 2, agreement = 0.4, tie = false, distinct = 3 }, v)
    v = samples.vote({ 1, 1.4, 1.6, nil, 2.05 }, { n = 5, answer_type = "number", tolerance = 0.5 })
    assert.same({ answer = 1, count = 2, agreement = 0.4, tie = true, distinct = 2 }, v)
    v = samples.vote({ 1, 1.001, 1.001 }, { n = 3, answer_type = "number", tolerance = 0 })
    assert.same({ answer = 1.001, count = 2, agreement = 2 / 3, tie = false, distinct = 2 }, v)
    v = samples.vote({ 0 / 0, 0 / 0, 7 }, { n = 3, answer_type = "number" })
    assert.same({ answer = 7, count = 1, agreement = 1 / 3, tie = false, distinct = 1 }, v)
  end)

  it("refuses what is not K samples of one answer type", function()
    assert.has_error(function() samples.vote({ "yes" }, { answer_type = "yes_no" }) end)
    assert.has_error(function() samples.vote({ "yes", "no", "yes" }, { n = 2, answer_type = "yes_no" }) end)
    assert.has_error(function() samples.vote({ "0.5" }, { n = 1, answer_type = "number" }) end)
    assert.has_error(function() samples.vote({ 0.5 }, { n = 1, answer_type = "yes_no" }) end)
    assert.has_error(function() samples.vote({ "yes" }, { n = 1, answer_type = "free" }) end)
  end)
end)

describe("causal_eval.samples.pass_at_k", function()
  local function choose(n, k)
    if k < 0 or k > n then return 0 end
    local r = 1
    for i = 1, k do r = r * (n - k + i) // i end
    return r
  end

  it("equals 1 - C(n-c, k) / C(n, k) for every n <= 12", function()
    for n = 1, 12 do
      for c = 0, n do
        for k = 1, n do
          local want = 1 - choose(n - c, k) / choose(n, k)
          near(want, samples.pass_at_k(n, c, k), 1e-12, ("pass@%d of %d/%d"):format(k, c, n))
        end
      end
    end
  end)

  it("gives the values worked by hand, edges included", function()
    near(0.2, samples.pass_at_k(5, 1, 1))
    near(11 / 12, samples.pass_at_k(10, 3, 5))  -- 1 - 21/252
    near(5 / 6, samples.pass_at_k(4, 2, 2))     -- 1 - 1/6
    assert.are.equal(0, samples.pass_at_k(7, 0, 3))
    assert.are.equal(1, samples.pass_at_k(7, 7, 3))
    assert.are.equal(1, samples.pass_at_k(5, 3, 3)) -- n - c = 2 < k
    assert.are.equal(1, samples.pass_at_k(5, 1, 5))
  end)

  it("stays finite and exact where the binomials would overflow", function()
    near(0.001, samples.pass_at_k(1000, 1, 1), 1e-15)
    -- C(n-c, k) / C(n, k) as the ratio prod (n-c-i) / (n-i), another way round
    local n, c, k = 1000000, 37, 5000
    local ratio = 1
    for i = 0, k - 1 do ratio = ratio * (n - c - i) / (n - i) end
    near(1 - ratio, samples.pass_at_k(n, c, k), 1e-12)
    assert.is_true(samples.pass_at_k(n, c, k) < 1)
  end)

  it("refuses k outside 1..n and c outside 0..n", function()
    assert.has_error(function() samples.pass_at_k(5, 0, 6) end)
    assert.has_error(function() samples.pass_at_k(5, 0, 0) end)
    assert.has_error(function() samples.pass_at_k(5, 6, 1) end)
    assert.has_error(function() samples.pass_at_k(5, -1, 1) end)
    assert.has_error(function() samples.pass_at_k(5, 1.5, 1) end)
  end)
end)

describe("causal_eval.samples.t_quantile", function()
  it("matches the tables of Student's t", function()
    -- two-sided 95%
    for df, t in pairs({ [1] = 12.7062, [2] = 4.3027, [3] = 3.1824, [5] = 2.5706, [10] = 2.2281,
                         [19] = 2.0930, [30] = 2.0423, [100] = 1.9840, [1000] = 1.9623, [5000] = 1.96039 }) do
      near(t, samples.t_quantile(1.959963984540054, df), 2e-4, "t(0.975, " .. df .. ")")
    end
    near(3.1693, samples.t_quantile(2.5758293035489, 10), 2e-4, "t(0.995, 10)")
    near(63.657, samples.t_quantile(2.5758293035489, 1), 2e-2, "t(0.995, 1)")
    -- the exact and the expanded quantile meet at 1,000 df
    near(samples.t_quantile(1.96, 1000), samples.t_quantile(1.96, 1001), 1e-5, "t at 1000/1001 df")
  end)
end)

describe("causal_eval.samples.summarize", function()
  it("widens the interval when a question's samples are all right or all wrong (design effect near K)", function()
    local cs = {}
    for i = 1, 20 do cs[i] = i <= 14 and 5 or 0 end
    local s = samples.summarize(items_of(cs, 5))
    check_intervals(s, "all-or-nothing")
    assert.are.equal(20, s.questions)
    assert.are.equal(100, s.samples)
    near(0.7, s.accuracy)
    -- v = s^2 / m = (20 * 0.21 / 19) / 20; naive 0.21 / 100: K * m / (m - 1)
    near(100 / 19, s.design_effect, 1e-12, "design effect")
    near(math.sqrt(0.21 / 19), s.se, 1e-12, "se")
    -- Wilson at n_eff = 19 * (1.96 / t(19))^2 = 16.661 trials, worked apart
    near(0.460658, s.ci[1], 2e-5, "clustered low")
    near(0.864396, s.ci[2], 2e-5, "clustered high")
    near(0.604151, s.naive.ci[1], 1e-6, "naive low")
    near(0.781051, s.naive.ci[2], 1e-6, "naive high")
    local wide, narrow = s.ci[2] - s.ci[1], s.naive.ci[2] - s.naive.ci[1]
    assert.is_true(wide > 2 * narrow, ("clustered %.3f, naive %.3f"):format(wide, narrow))
    assert.are.equal(0, s.spread.mixed)
    near(math.sqrt(20 * 0.21 / 19), s.spread.sd)
  end)

  it("gives a design effect near 1 when samples of a question look independent", function()
    -- c over 32 questions as often as Binomial(5, 1/2) gives each: population
    -- variance of c / 5 exactly 0.05, so v = 0.05 / 31 against 0.25 / 160
    local cs = {}
    for c, times in pairs({ [0] = 1, [1] = 5, [2] = 10, [3] = 10, [4] = 5, [5] = 1 }) do
      for _ = 1, times do cs[#cs + 1] = c end
    end
    local s = samples.summarize(items_of(cs, 5))
    check_intervals(s, "binomial")
    near(0.5, s.accuracy)
    near(32 / 31, s.design_effect, 1e-12, "design effect")
    near(30 / 32, s.spread.mixed)

    -- drawn: 400 questions, 5 independent samples each at p = 0.7
    local r = rng.new(rng.hash("samples independent"), 0)
    local items = {}
    for i = 1, 400 do
      local c = 0
      for _ = 1, 5 do if r:bernoulli(0.7) then c = c + 1 end end
      items[i] = { n = 5, c = c, majority_correct = c >= 3 }
    end
    s = samples.summarize(items)
    check_intervals(s, "drawn")
    assert.is_true(s.design_effect > 0.8 and s.design_effect < 1.2, ("design effect %.3f"):format(s.design_effect))
    local ratio = (s.ci[2] - s.ci[1]) / (s.naive.ci[2] - s.naive.ci[1])
    assert.is_true(ratio > 0.95 and ratio < 1.15, ("width ratio %.3f"):format(ratio))
  end)

  it("keeps intervals inside [0, 1] with every sample right, or every one wrong", function()
    local s = samples.summarize(items_of({ 5, 5, 5, 5, 5, 5, 5, 5, 5, 5 }, 5))
    check_intervals(s, "all right")
    assert.are.equal(1, s.accuracy)
    assert.is_nil(s.design_effect)
    assert.are.equal(1, s.ci[2])
    -- each question one trial, t with 9 df: Wilson at 10 * (1.96 / 2.2622)^2, worked apart
    near(0.661491, s.ci[1], 2e-5, "clustered low")
    assert.is_true(s.ci[1] < s.naive.ci[1])
    assert.are.equal(1, s.pass_at[2].value)
    assert.are.equal(0, s.spread.sd)

    s = samples.summarize(items_of({ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 }, 5))
    check_intervals(s, "all wrong")
    assert.are.equal(0, s.accuracy)
    near(0, s.ci[1], 1e-12, "clustered low")
    near(1 - 0.661491, s.ci[2], 2e-5, "clustered high")
    assert.are.equal(0, s.majority.accuracy)
  end)

  it("gives a question's every share the same: no narrower than independent samples, never zero wide", function()
    local s = samples.summarize(items_of({ 3, 3, 3, 3, 3, 3, 3, 3 }, 5))
    check_intervals(s, "same share")
    near(0.6, s.accuracy)
    assert.are.equal(0, s.design_effect)
    assert.is_true(s.ci[1] < 0.6 and 0.6 < s.ci[2])
    assert.is_true(s.ci[2] - s.ci[1] >= s.naive.ci[2] - s.naive.ci[1])
  end)

  it("answers for no questions and for one", function()
    local s = samples.summarize({})
    check_intervals(s, "none")
    assert.are.equal(0, s.questions)
    assert.are.equal(0, s.samples)
    assert.is_nil(s.accuracy)
    assert.same({ 0, 1 }, s.ci)
    assert.same({ 0, 1 }, s.naive.ci)
    assert.same({ 0, 1 }, s.majority.ci)
    assert.is_nil(s.spread.sd)
    assert.are.equal(1, #s.pass_at)
    assert.same({ "samples: no questions" }, samples.format(s))

    s = samples.summarize({ { n = 4, c = 3, majority_correct = true, agreement = 0.75 } })
    check_intervals(s, "one")
    near(0.75, s.accuracy)
    assert.same({ 0, 1 }, s.ci)
    assert.is_nil(s.design_effect)
    assert.is_nil(s.df)
    assert.is_nil(s.spread.sd)
    near(1, s.pass_at[2].value)
    assert.are.equal(4, s.pass_at[2].k)
  end)

  it("never gives NaN or leaves [0, 1], whatever the counts", function()
    for m = 0, 4 do
      for code = 0, 6 ^ m - 1 do
        local cs, x = {}, code
        for i = 1, m do cs[i] = x % 6; x = x // 6 end
        check_intervals(samples.summarize(items_of(cs, 5)), "counts " .. table.concat(cs, ","))
      end
    end
  end)

  it("averages pass@k, majority, agreement and spread over questions", function()
    local items = {
      { n = 5, c = 1, majority_correct = false, agreement = 0.6 },
      { n = 5, c = 0, majority_correct = false, agreement = 1 },
      { n = 5, c = 5, majority_correct = true, agreement = 1 },
      { n = 5, c = 4, majority_correct = true, agreement = 0.8 },
    }
    local s = samples.summarize(items, { k_values = { 1, 2, 5 }, temperature = 0.7 })
    check_intervals(s, "mixed")
    near(0.5, s.accuracy)                                   -- (0.2 + 0 + 1 + 0.8) / 4
    assert.same({ 1, 2, 5 }, { s.pass_at[1].k, s.pass_at[2].k, s.pass_at[3].k })
    near(0.5, s.pass_at[1].value)
    near((0.4 + 0 + 1 + 1) / 4, s.pass_at[2].value)         -- 1 - C(4,2)/C(5,2) = 0.4
    near(0.75, s.pass_at[3].value)
    assert.same({ results.wilson(2, 4) }, s.majority.ci)
    near(0.5, s.majority.accuracy)
    near(0.85, s.agreement)
    near(0.5, s.spread.disagree)
    near(0.5, s.spread.mixed)
    -- the default k: 1 and the fewest samples of any question
    assert.same({ 1, 5 }, { samples.summarize(items).pass_at[1].k, samples.summarize(items).pass_at[2].k })
    assert.has_error(function() samples.summarize(items, { k_values = { 6 } }) end)
    assert.has_error(function() samples.summarize({ { n = 5, c = 6 } }) end)
    assert.has_error(function() samples.summarize({ { n = 0, c = 0 } }) end)
  end)
end)

describe("causal_eval.samples.format", function()
  it("says the samples, the temperature and each figure with its interval", function()
    local cs = {}
    for i = 1, 20 do cs[i] = i <= 14 and 5 or 0 end
    local items = items_of(cs, 5)
    for _, q in ipairs(items) do q.agreement = 0.8 end
    local lines = samples.format(samples.summarize(items, { temperature = 0.7 }))
    assert.are.equal("5 samples/question at T=0.7: accuracy 70.0% [46.1, 86.4] (clustered), majority 70.0% [48.1, 85.5], "
      .. "pass@5 70.0% [46.1, 86.4], agreement 0.80", lines[1])
    assert.matches("if samples were independent [60.4, 78.1]", lines[2], 1, true)
    assert.matches("design effect 5.26", lines[2], 1, true)
  end)
end)
