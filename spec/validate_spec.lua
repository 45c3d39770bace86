-- SPDX-License-Identifier: MIT
-- causal-eval validate against the CLadder sample data and its README's
-- stated results, and on broken input.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local cladder = require "causal_eval.cladder"

local DATA = os.getenv("CLADDER_DATA") or (H.root .. "/spec/data/cladder")
local have_data = H.read(DATA .. "/models.json") ~= nil

local function summary(out) return out:match("(%d+) checked, (%d+) disagree\n$") end

describe("causal-eval validate on the CLadder data", function()
  if not have_data then
    pending("the CLadder sample data is not at " .. DATA .. " (set CLADDER_DATA)")
    return
  end

  it("reproduces every value of models-exact.json within 1e-9 (all 396 models)", function()
    local r = H.run({ "validate", DATA .. "/models-exact.json", "--models", DATA .. "/models.json" })
    assert.are.equal(0, r.code, r.stderr)
    local n, d = summary(r.stdout)
    assert.are.equal("396", n)
    assert.are.equal("0", d)
    assert.matches("total%s+3742%s+3742%s+0%s+0%s+0", r.stdout)
  end)

  it("finds the approximations in the stored values (README 2.3)", function()
    local r = H.run({ "validate", DATA .. "/models.json", "--quiet" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("278", select(2, summary(r.stdout)))
    assert.matches("P%(V=1%)%s+1366%s+1088%s+278", r.stdout)          -- P(Y=1) in 278 models
    assert.matches("ATE%s+396%s+346%s+50", r.stdout)                 -- 46 + 4 arrowhead models
    assert.matches("ETT%s+396%s+346%s+50", r.stdout)
    assert.matches("NDE%s+396%s+343%s+53", r.stdout)                 -- 46 + 7
    assert.matches("NIE%s+396%s+345%s+51", r.stdout)                 -- 46 + 5
    assert.matches("P%(Y=1 | X=x%)%s+792%s+696%s+96", r.stdout)      -- 2 x 46 + 2 x 2
    assert.matches("approximation %(loopy belief propagation%)", r.stdout)
    r = H.run({ "validate", DATA .. "/models.json", "--strict", "--quiet" })
    assert.are.equal(1, r.code)
  end)

  it("lists each disagreement with its model, key, values and reason", function()
    local r = H.run({ "validate", DATA .. "/models.json" })
    assert.matches("model 36 %(arrowhead%) NDE%(Y | X%): stored %-0%.0140%d+, exact %-0%.0144%d+", r.stdout)
    assert.matches("model 0 %(mediation%) P%(Y=1%): stored 0%.7338%d*, exact 0%.7328%d*", r.stdout)
  end)

  it("answers the sample questions from their fields: 0 disagree, 456 and 525 undecidable", function()
    local r = H.run({ "validate", DATA .. "/questions-sample.json", DATA .. "/det-sample.json" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("0", select(2, summary(r.stdout)))
    assert.matches("question 456 %(nie, arrowhead, model 39%): nie in the arrowhead graph needs P%(Y | X, V2, V3%)", r.stdout)
    assert.matches("question 525 %(nde, arrowhead, model 45%)", r.stdout)
    assert.matches("total%s+30%s+28%s+0%s+2%s+0", r.stdout)
    assert.matches("det%-counterfactual%s+12%s+12%s+0%s+0", r.stdout)
  end)

  it("answers them all from the model tables with --models", function()
    local r = H.run({ "validate", DATA .. "/questions-sample.json", "--models", DATA .. "/models.json" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("total%s+30%s+30%s+0%s+0%s+0", r.stdout)
  end)

  it("dumps one JSON line per item", function()
    local dir = H.tmpdir()
    local r = H.run({ "validate", DATA .. "/questions-sample.json", "--dump", dir .. "/q.jsonl" })
    assert.are.equal(0, r.code)
    local n, undecided = 0, 0
    for line in H.read(dir .. "/q.jsonl"):gmatch("[^\n]+") do
      local d = assert(json.decode(line))
      n = n + 1
      assert.is_not_nil(d.question_id)
      assert.is_string(d.reason)
      if d.answer == json.null then undecided = undecided + 1 else assert.matches("^[yn][eo]s?$", d.answer) end
    end
    assert.are.equal(30, n)
    assert.are.equal(2, undecided)
    r = H.run({ "validate", DATA .. "/models.json", "--dump", dir .. "/m.jsonl", "--quiet" })
    local first = assert(json.decode(H.read(dir .. "/m.jsonl"):match("[^\n]+")))
    assert.are.equal(0, first.model_id)
    assert.is_true(math.abs(first.exact["P(Y=1)"] - 0.7328210406863856) < 1e-12)
    H.rm(dir)
  end)
end)

describe("CLadder rules on constructed questions", function()
  it("rewrites det-counterfactual equations over the graph's parents (the diamondcut trap)", function()
    -- diamondcut V1->V3, V1->X, X->Y, V3->Y; the file writes V3 = X where V3's parent is V1
    local q = {
      meta = { query_type = "det-counterfactual", graph_id = "diamondcut", given_info = { V1 = 1 }, action = 0, polarity = 1 },
      reasoning = { step4 = "V1 = 1\nX = V1\nV3 = X\nY = X or V3" },
    }
    -- V1 = 1, do(X=0): V3 follows V1 (=1), so Y = 0 or 1 = 1; read literally, V3 = X = 0 and Y = 0
    local ans, detail = cladder.answer_from_fields(q)
    assert.are.equal("yes", ans)
    assert.are.equal("Y=1", detail)
  end)

  it("leaves confounding ETT undecided when the stratum effects disagree in sign", function()
    local q = { meta = { query_type = "ett", graph_id = "confounding", polarity = true,
                         given_info = { ["p(Y | V1, X)"] = { { 0.2, 0.5 }, { 0.6, 0.4 } }, ["p(V1)"] = { 0.5 } } } }
    local ans, why = cladder.answer_from_fields(q)
    assert.is_nil(ans)
    assert.matches("differ in sign", why, 1, true)
    q.meta.given_info["p(Y | V1, X)"] = { { 0.2, 0.5 }, { 0.4, 0.6 } }
    assert.are.equal("no", (cladder.answer_from_fields(q))) -- effect positive: "more likely had X been 0?" no
  end)

  it("reads table keys with either p and any spacing, in any parent order", function()
    assert.are.same({ "Y", { "X", "V2" } }, { cladder.parse_table_key("P( Y |X ,V2 )") })
    local q = { meta = { query_type = "ate", graph_id = "confounding", polarity = true,
                         given_info = { ["P(Y|X, V1)"] = { { 0.1, 0.3 }, { 0.5, 0.9 } }, ["p(V1)"] = 0.5 } } }
    -- reordered: P(Y | V1, X) = [[.1,.5],[.3,.9]]: ate = .5*.4 + .5*.6 = .5
    local ans, detail = cladder.answer_from_fields(q)
    assert.are.equal("yes", ans)
    assert.are.equal("ate=0.500000", detail)
  end)

  it("applies the 0.005 threshold", function()
    local q = { meta = { query_type = "correlation", graph_id = "collision", polarity = false,
                         given_info = { ["P(X=1)"] = 0.5, ["P(Y=1, X=0)"] = 0.2, ["P(Y=1, X=1)"] = 0.2000001 } } }
    assert.are.equal("no", (cladder.answer_from_fields(q)))
    q.meta.polarity = true
    assert.are.equal("no", (cladder.answer_from_fields(q)))
  end)
end)

describe("causal-eval validate on broken input", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("reports malformed JSON with its location, status 1", function()
    local f = H.write(dir .. "/bad.json", '[{"meta": {"query_type": "ate"}, }]')
    local r = H.run({ "validate", f })
    assert.are.equal(1, r.code)
    assert.matches(f .. ":1:34: ", r.stderr, 1, true)
  end)

  it("counts bad JSON lines, unknown query types and missing fields without crashing", function()
    local f = H.write(dir .. "/mixed.json", json.encode({
      { question_id = 1, answer = "yes", meta = { query_type = "telepathy", given_info = {} } },
      { question_id = 2, answer = "yes", meta = { query_type = "marginal", graph_id = "chain", given_info = { ["P(X)"] = 0.5 } } },
      { question_id = 3, answer = "yes", meta = { query_type = "marginal", graph_id = "chain",
        given_info = { ["P(X)"] = 0.5, ["P(Y | X)"] = { 0.2, 0.9 } }, polarity = true } },
    }))
    local r = H.run({ "validate", f })
    assert.are.equal(1, r.code)
    assert.matches("question 1 %(telepathy%): field meta.query_type: unknown query type 'telepathy'", r.stdout)
    assert.matches("question 2 %(marginal%): field meta.given_info%['P%(Y | X%)'%]: missing or not a list", r.stdout)
    assert.matches("1 checked, 0 disagree", r.stdout, 1, true)
    local l = H.write(dir .. "/lines.jsonl", '{"id": "a", "query": {"type": "prob"}}\n{oops\n')
    r = H.run({ "validate", l })
    assert.are.equal(1, r.code)
    assert.matches("line 2: " .. l .. ":2:1:2: ", r.stdout, 1, true)
    assert.matches("question a %(line 1%): ", r.stdout)
  end)

  it("says what a file that is neither models nor questions is", function()
    local f = H.write(dir .. "/other.json", '[{"x": 1}]')
    local r = H.run({ "validate", f })
    assert.are.equal(1, r.code)
    assert.matches("not a model or question file", r.stderr, 1, true)
    r = H.run({ "validate", dir .. "/missing.json" })
    assert.are.equal(1, r.code)
    assert.matches("missing.json", r.stderr, 1, true)
  end)

  it("agrees with its own generated files, and flags an edited ground truth", function()
    local out = dir .. "/gen.jsonl"
    assert.are.equal(0, H.run({ "generate", "all", "--n", "10", "-o", out }).code)
    local r = H.run({ "validate", out, "--strict" })
    assert.are.equal(0, r.code, r.stdout)
    assert.matches("70 checked, 0 disagree", r.stdout, 1, true)
    local text = H.read(out)
    local first = assert(json.decode(text:match("[^\n]+")))
    if first.ground_truth == "yes" then first.ground_truth = "no"
    elseif first.ground_truth == "no" then first.ground_truth = "yes"
    else first.ground_truth = 0.123456 end
    H.write(out, json.encode(first) .. "\n" .. text:gsub("^[^\n]*\n", ""))
    r = H.run({ "validate", out, "--strict" })
    assert.are.equal(1, r.code)
    assert.matches("70 checked, 1 disagree", r.stdout, 1, true)
  end)
end)
