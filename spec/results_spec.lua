-- SPDX-License-Identifier: MIT
-- The run summary's statistics (causal_eval.results): intervals and the
-- latency quantiles it keeps in bounded memory.
local results = require "causal_eval.results"
local rng = require "causal_eval.rng"

-- the p-quantile of a sorted list, by nearest rank: what the summary approximates
local function nearest_rank(sorted, p)
  return sorted[math.min(#sorted, math.max(1, math.ceil(p * #sorted)))]
end

describe("causal_eval.results", function()
  it("gives latency quantiles within 0.1% of the exact nearest rank, in bounded memory", function()
    local r = rng.new(3)
    local h, all = results.latencies(), {}
    for i = 1, 50000 do
      -- a long-tailed mix, as model latencies are
      local v = r:bernoulli(0.9) and 20 + 30 * r:uniform() or 200 * math.exp(4 * r:uniform())
      results.latency_add(h, v)
      all[i] = v
    end
    table.sort(all)
    local ps = { 0.01, 0.5, 0.9, 0.95, 0.99, 0.999 }
    local q = results.latency_quantiles(h, ps)
    for j, p in ipairs(ps) do
      local exact = nearest_rank(all, p)
      assert.is_true(math.abs(q[j] - exact) <= exact * 1e-3, ("p%g: %g vs exact %g"):format(p * 100, q[j], exact))
    end
    -- the extreme ranks are the exact minimum and maximum
    local ends = results.latency_quantiles(h, { 0, 1 })
    assert.are.equal(all[1], ends[1])
    assert.are.equal(all[#all], ends[2])
    assert.is_near(50000, h.n, 0)
    -- memory: buckets, not values
    local buckets = 0
    for _ in pairs(h.buckets) do buckets = buckets + 1 end
    assert.is_true(buckets < 10000, buckets .. " buckets")
  end)

  it("handles no latencies, zero latencies and a single one", function()
    assert.are.same({}, results.latency_quantiles(results.latencies(), { 0.5 }))
    local h = results.latencies()
    results.latency_add(h, 0)
    results.latency_add(h, 0)
    results.latency_add(h, 7.25)
    assert.are.same({ 0, 0, 7.25 }, results.latency_quantiles(h, { 0.1, 0.5, 0.99 }))
    local one = results.latencies()
    results.latency_add(one, 12.5)
    assert.are.same({ 12.5, 12.5 }, results.latency_quantiles(one, { 0.5, 0.99 }))
  end)

  it("computes Wilson intervals", function()
    local lo, hi = results.wilson(70, 100)
    assert.is_near(0.604, lo, 1e-3)
    assert.is_near(0.781, hi, 1e-3)
    assert.are.same({ 0, 1 }, { results.wilson(0, 0) })
  end)
end)
