-- SPDX-License-Identifier: MIT
-- The run summary's statistics (causal_eval.results): intervals and the
-- latency quantiles it keeps in bounded memory.
local H = require "spec.helpers"
local json = require "causal_eval.json"
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

  it("splits a key as the pattern it replaced did", function()
    local function by_pattern(k) return k:match("^([^%z]*)%z([^%z]*)%z(.*)$") end
    local keys = { "", "a", "a\0", "a\0b", "a\0b\0", "run\0model\0q1", "\0\0", "\0\0\0", "r\0m\0q\0x", "r\0\0q",
                   ("x"):rep(300) .. "\0y\0z" }
    local r = rng.new(5)
    for i = 1, 3000 do
      local t = {}
      for j = 1, r:int(0, 12) do t[j] = r:bernoulli(0.25) and "\0" or string.char(r:int(0, 255)) end
      keys[#keys + 1] = table.concat(t)
    end
    for _, k in ipairs(keys) do
      assert.are.same({ by_pattern(k) }, { results.split_key(k) }, ("%q"):format(k))
    end
  end)

  it("stores a record and score line given as tables as json.encode writes them", function()
    local dir = H.tmpdir()
    local st = assert(results.open(dir))
    assert(st:start_writer{ batch = 8, flush_ms = 5 })
    local rec = { run_id = "r", question_id = "q\u{e9}", latency_ms = 0.8568269986426458, score = 1, correct = true,
                  tokens = { input = 100, output = 2 }, parsed = json.null, list = { 1, 2.5, "three" },
                  prompt = 'say "yes"\n\tor no', empty = json.array({}) }
    local line = results.score_fields(rec)
    assert.is_true(st:enqueue_record("r\0m\0t", rec, line, 0, 1))
    assert.is_true(st:enqueue_record("r\0m\0s", json.encode(rec), json.encode(line), 0, 1))
    -- a value JSON cannot hold: json.encode's error, and nothing queued
    local ok, err = pcall(st.enqueue_record, st, "r\0m\0bad", { f = print }, "{}", 0, 1)
    assert.is_false(ok)
    assert.matches("json.encode: a value of type function at .f", err, 1, true)
    assert(st:sync())
    for _, db in ipairs({ results.DB.records, results.DB.scores }) do
      local as_table, as_text = st:get(db, "r\0m\0t"), st:get(db, "r\0m\0s")
      assert.is_string(as_table)
      assert.are.equal(as_text, as_table)
      assert.is_nil(st:get(db, "r\0m\0bad"))
    end
    assert.are.equal(results.score_line(rec), st:get(results.DB.scores, "r\0m\0t"))
    st:close()
    H.rm(dir)
  end)

  it("computes Wilson intervals", function()
    local lo, hi = results.wilson(70, 100)
    assert.is_near(0.604, lo, 1e-3)
    assert.is_near(0.781, hi, 1e-3)
    assert.are.same({ 0, 1 }, { results.wilson(0, 0) })
  end)
end)
