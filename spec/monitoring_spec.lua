-- SPDX-License-Identifier: MIT
local monitoring = require "causal_eval.monitoring"
local metrics = require "causal_eval.metrics"

describe("causal_eval.monitoring", function()
  it("summarises exact samples like numpy's linear percentiles", function()
    local s = monitoring.summary{ 5, 1, 4, 2, 3 }
    assert.are.same({ n = 5, mean = 3, min = 1, max = 5, p50 = 3, p95 = 4.8, p99 = 4.96 },
      { n = s.n, mean = s.mean, min = s.min, max = s.max, p50 = s.p50, p95 = s.p95, p99 = s.p99 })
    assert.are.equal(0, monitoring.summary{}.n)
    assert.has_error(function() monitoring.summary{ 1, 0 / 0 } end, "sample 2 is not a number")
  end)

  it("summarises a histogram", function()
    local h = metrics.histogram("mon_spec_seconds", "", {}, { 1, 2, 3, 4 })
    for _, v in ipairs({ 0.5, 1.5, 1.5, 2.5, 3.5 }) do h:observe(v) end
    local s = monitoring.from_histogram(h)
    assert.are.equal(5, s.n)
    assert.is_near(1.9, s.mean, 1e-9)
    assert.is_near(1.75, s.p50, 1e-9) -- rank 2.5 of 5: halfway through (1, 2] which holds 2
  end)

  it("counts events per second over a sliding window", function()
    local now = 100
    local w = monitoring.window(10, function() return now end)
    for i = 1, 50 do
      now = 100 + i * 0.1
      w:add(2)
    end
    -- 100 events in 5 s of existence
    assert.is_near(20, w:rate(), 0.5)
    now = 120 -- everything has left the window
    assert.are.equal(0, w:rate())
  end)
end)
