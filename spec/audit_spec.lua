-- SPDX-License-Identifier: MIT
-- causal-eval validate --audit: repeats, balance and the best single surface
-- feature, held out across two seeds; and the shipped families pass it.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local audit = require "causal_eval.audit"

local function lines(s)
  local out = {}
  for l in s:gmatch("[^\n]+") do out[#out + 1] = l end
  return out
end

describe("causal-eval validate --audit", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("passes every shipped family: no repeat, no surface feature above 55%", function()
    -- two seeds of every family, 2000 questions each: over 1000 yes/no
    -- questions scored per family, where 55% is 3 binomial sd above 50%.
    -- Version 2 failed: prompt length predicted corr2cause at 62%, the
    -- number of edges causal_attribution and intervention at 60%
    local with = dir .. "/prompts.jsonl"
    local parts = {}
    for _, seed in ipairs({ "1", "2" }) do
      local r = H.run({ "generate", "all", "--n", "2000", "--seed", seed })
      assert.are.equal(0, r.code, r.stderr)
      parts[#parts + 1] = r.stdout
    end
    H.write(with, table.concat(parts))
    local r = H.run({ "validate", "--audit", with })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    assert.matches("audit: 28000 questions, 0 repeats, best single%-feature predictor %d+%.%d%%[^\n]*: pass\n$", r.stdout)
    for _, name in ipairs({ "causal_attribution", "causal_chain", "confounding", "corr2cause", "counterfactual",
                            "intervention", "ladder" }) do
      local row = r.stdout:match("\n" .. name .. " +[^\n]+")
      assert.is_not_nil(row, name)
      assert.is_nil(row:find("!", 1, true), row)
      assert.matches(name .. ": fitted and scored on seeds 1 and 2, %d+ questions scored", r.stdout)
    end
  end)

  it("flags a length cue and a repeated prompt", function()
    -- corr2cause as it was: a yes prompt a little longer than a no prompt
    local out = {}
    for _, seed in ipairs({ "1", "2" }) do
      local r = H.run({ "generate", "corr2cause", "--n", "2000", "--seed", seed })
      assert.are.equal(0, r.code, r.stderr)
      for _, l in ipairs(lines(r.stdout)) do
        local q = json.decode(l)
        if q.ground_truth == "yes" and q.index % 3 > 0 then q.prompt = q.prompt .. (" Think it over."):rep(1000) end
        out[#out + 1] = json.encode(q)
      end
    end
    out[#out + 1] = out[5]
    local f = H.write(dir .. "/cue.jsonl", table.concat(out, "\n") .. "\n")
    local r = H.run({ "validate", "--audit", f })
    assert.are.equal(1, r.code, r.stdout)
    assert.matches("\ncorr2cause +4001 +50%.0%% +1 ", r.stdout)
    assert.matches("audit: 4001 questions, 1 repeats, best single%-feature predictor 8%d%.%d%% %(corr2cause, length%): FAIL\n$",
      r.stdout)
  end)

  it("holds out even pairs against odd ones when a family has one seed, and says so", function()
    local f = dir .. "/one.jsonl"
    assert.are.equal(0, H.run({ "generate", "ladder", "--n", "400", "-o", f }).code)
    local r = H.run({ "validate", "--audit", f })
    assert.are.equal(0, r.code, r.stdout)
    assert.matches("ladder: fitted and scored on even and odd pairs of one seed, 200 questions scored (binomial sd 3.5 points), too few to judge (under 1000)",
      r.stdout, 1, true)
  end)

  it("names a file it cannot audit", function()
    local r = H.run({ "validate", "--audit", dir .. "/missing.jsonl" })
    assert.are.equal(1, r.code)
    assert.matches("causal-eval validate: " .. dir .. "/missing.jsonl: No such file", r.stderr, 1, true)
    local bad = H.write(dir .. "/bad.jsonl", '{"family": "x", "ground_truth": "yes"}\n{"prompt": "no family"}\n')
    r = H.run({ "validate", "--audit", bad })
    assert.are.equal(1, r.code)
    assert.matches(bad .. ":2: not a generated question (needs family and ground_truth)", r.stderr, 1, true)
    r = H.run({ "validate", "--audit", H.write(dir .. "/empty.jsonl", "") })
    assert.are.equal(1, r.code)
    assert.matches("no questions to audit", r.stderr, 1, true)
    r = H.run({ "validate", "--audit", dir })
    assert.are.equal(1, r.code)
    assert.matches(dir .. ": cannot be read", r.stderr, 1, true)
  end)
end)

describe("audit.audit", function()
  -- synthetic questions: the answer follows the number of edges in seed 1
  -- and seed 2 alike, and nothing else
  local function set(n)
    local qs = {}
    for seed = 1, 2 do
      for i = 0, n - 1 do
        local yes = i % 2 == 0
        local edges = {}
        for k = 1, (yes and 3 or 2) + (i % 4 < 2 and 0 or 2) do edges[k] = { "A", "B" } end
        qs[#qs + 1] = { family = "f", seed = seed, index = i, ground_truth = yes and "yes" or "no",
                        prompt = ("p%d-%d"):format(seed, i), difficulty = ({ "easy", "hard" })[i % 2 + 1],
                        domain = "medical", graph = { nodes = { "A", "B" }, edges = edges } }
      end
    end
    return qs
  end

  it("finds the feature that gives the answer away, scored on the other seed", function()
    local rep = audit.audit(set(2000))
    local f = rep.families[1]
    assert.are.equal(1.0, f.features.edges)
    assert.are.equal(0.5, f.features.variables)
    assert.are.equal("edges", f.best_feature)
    assert.is_false(audit.passes(rep))
    assert.are.equal(0, rep.repeats)
  end)

  it("fits a threshold on a numeric feature", function()
    local qs = set(2000)
    for _, q in ipairs(qs) do q.prompt = (q.ground_truth == "yes" and "long " or "") .. q.prompt end
    local f = audit.audit(qs).families[1]
    assert.are.equal(1.0, f.features.length)
  end)

  it("does not fail on a feature it cannot judge", function()
    local qs = set(100)
    local rep = audit.audit(qs)
    assert.are.equal(100, rep.families[1].scored)
    assert.is_true(audit.passes(rep))
  end)
end)
