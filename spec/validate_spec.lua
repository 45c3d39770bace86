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
    assert.matches(f .. ": item 1 (question 1, telepathy): field meta.query_type: unknown query type 'telepathy'", r.stdout, 1, true)
    assert.matches(f .. ": item 2 (question 2, marginal): field meta.given_info['P(Y | X)']: missing or not a list", r.stdout, 1, true)
    -- N counts every item read (docs/engine.md), the invalid ones too
    assert.matches("\n3 checked, 0 disagree, 2 invalid\n$", r.stdout)
    local l = H.write(dir .. "/lines.jsonl", '{"id": "a", "query": {"type": "prob"}}\n{oops\n')
    r = H.run({ "validate", l })
    assert.are.equal(1, r.code)
    assert.matches("    " .. l .. ":2:2: expected a string key\n", r.stdout, 1, true)
    assert.matches("    " .. l .. ":1 (question a): graph: missing\n", r.stdout, 1, true)
  end)

  it("says what a file that is neither models nor questions is", function()
    local f = H.write(dir .. "/other.json", '[{"x": 1}]')
    local r = H.run({ "validate", f })
    assert.are.equal(1, r.code)
    assert.matches("not a model or question file", r.stderr, 1, true)
    r = H.run({ "validate", dir .. "/missing.json" })
    assert.are.equal(1, r.code)
    assert.matches("missing.json: No such file or directory", r.stderr, 1, true)
    r = H.run({ "validate", dir })
    assert.are.equal(1, r.code)
    assert.are.equal("causal-eval validate: " .. dir .. ": is a directory\n", r.stderr)
    r = H.run({ "validate", H.write(dir .. "/empty.jsonl", "\n  \n") })
    assert.are.equal(1, r.code)
    assert.matches("empty.jsonl: no items (the file is empty)", r.stderr, 1, true)
  end)

  it("agrees with its own generated files, and flags an edited ground truth", function()
    local out = dir .. "/gen.jsonl"
    assert.are.equal(0, H.run({ "generate", "all", "--n", "10", "-o", out }).code)
    local r = H.run({ "validate", out, "--strict" })
    assert.are.equal(0, r.code, r.stdout)
    local n = #require("causal_eval.bench").list() * 10 -- every family on the search path
    assert.matches(n .. " checked, 0 disagree", r.stdout, 1, true)
    local text = H.read(out)
    local first = assert(json.decode(text:match("[^\n]+")))
    if first.ground_truth == "yes" then first.ground_truth = "no"
    elseif first.ground_truth == "no" then first.ground_truth = "yes"
    else first.ground_truth = 0.123456 end
    H.write(out, json.encode(first) .. "\n" .. text:gsub("^[^\n]*\n", ""))
    r = H.run({ "validate", out, "--strict" })
    assert.are.equal(1, r.code)
    assert.matches(n .. " checked, 1 disagree", r.stdout, 1, true)
  end)
end)

describe("causal-eval validate on hostile input", function()
  local dir, models, samples
  setup(function()
    dir = H.tmpdir()
    models = assert(json.decode(assert(H.read(DATA .. "/models.json"))))
    samples = assert(json.decode(assert(H.read(DATA .. "/questions-sample.json"))))
  end)
  teardown(function() H.rm(dir) end)

  local function copy(v) return json.decode(json.encode(v)) end

  -- what a user must never see, in any output
  local function clean(text)
    assert.is_nil(text:find("traceback", 1, true), text)
    assert.is_nil(text:find("internal error", 1, true), text)
    assert.is_nil(text:find("%.lua:%d"), text)
    assert.is_nil(text:find("%f[%w]nil%f[%W]"), text)
  end

  local function question(id, nvars, gt)
    local nodes, edges, model = {}, {}, {}
    for i = 1, nvars do
      nodes[i] = "V" .. i
      model[i] = { name = "V" .. i, parents = i > 1 and { "V" .. (i - 1) } or json.array({}), p = i > 1 and { 0.2, 0.7 } or { 0.5 } }
      if i > 1 then edges[#edges + 1] = { "V" .. (i - 1), "V" .. i } end
    end
    return json.encode({ id = id, answer_type = "number", ground_truth = gt, graph = { nodes = nodes, edges = json.array(edges) },
                         model = model, query = { type = "prob", event = { V1 = 1 } } })
  end

  it("says a question over 24 variables is invalid and checks the rest", function()
    local f = H.write(dir .. "/big.jsonl", question("big", 25, 0.5) .. "\n" .. question("small", 3, 0.5) .. "\n")
    local r = H.run({ "validate", f })
    clean(r.stdout .. r.stderr)
    assert.are.equal(1, r.code)
    assert.matches(f .. ":1 (question big): model: 25 variables; the engine takes at most 24", r.stdout, 1, true)
    assert.matches("total%s+2%s+1%s+0%s+0%s+1", r.stdout)
    assert.matches("\n2 checked, 0 disagree, 1 invalid\n$", r.stdout)
  end)

  it("says a CLadder model with a table missing is invalid and checks the rest", function()
    local broken = copy(models[1])
    broken.params["p(Y | X, V2)"] = nil
    local big = copy(models[2])
    for i = 1, 24 do big.params[("p(W%d)"):format(i)] = 0.5 end
    local f = H.write(dir .. "/models.json", json.encode({ broken, big, models[3] }))
    local r = H.run({ "validate", f, "--quiet" })
    clean(r.stdout .. r.stderr)
    assert.are.equal(1, r.code)
    assert.matches(f .. ": item 1 (model 0): params: missing table for 'Y' (graph X->V2,X->Y,V2->Y)", r.stdout, 1, true)
    assert.matches(f .. ": item 2 (model 1): params: 27 tables; the engine takes at most 24 variables", r.stdout, 1, true)
    assert.matches("\n3 checked, %d disagree, 2 invalid\n$", r.stdout)
    -- the questions on such a model, answered from the tables: invalid, the others still answered
    local mid = samples[1].meta.model_id
    local all = copy(models)
    assert.are.equal(mid, all[mid + 1].model_id)
    for k in pairs(all[mid + 1].params) do if k:match("^p%(Y") then all[mid + 1].params[k] = nil end end
    local mf = H.write(dir .. "/all-models.json", json.encode(all))
    local n = 0
    for _, q in ipairs(samples) do if q.meta.model_id == mid then n = n + 1 end end
    r = H.run({ "validate", DATA .. "/questions-sample.json", "--models", mf })
    clean(r.stdout .. r.stderr)
    assert.are.equal(1, r.code)
    assert.matches("field meta.model_id: model " .. mid .. " of " .. mf .. " is invalid: params: missing table for 'Y'", r.stdout, 1, true)
    assert.matches(("\n%d checked, 0 disagree, %d invalid\n$"):format(#samples, n), r.stdout)
  end)

  it("says a missing label or ground truth is invalid, not a disagreement (exit 1)", function()
    local q = copy(samples[1])
    q.answer = nil
    local f = H.write(dir .. "/nolabel.json", json.encode({ q, samples[2] }))
    local r = H.run({ "validate", f })
    clean(r.stdout .. r.stderr)
    assert.are.equal(1, r.code)
    assert.matches(f .. ": item 1 (question " .. q.question_id .. ", " .. q.meta.query_type .. "): field answer: missing", r.stdout, 1, true)
    assert.matches("\n2 checked, 0 disagree, 1 invalid\n$", r.stdout)
    local g = H.questions(dir, { "ladder", "--n", "2", "--no-prompt" })
    local lines = {}
    for line in H.read(g):gmatch("[^\n]+") do lines[#lines + 1] = line end
    local first = json.decode(lines[1])
    first.ground_truth = nil
    lines[1] = json.encode(first)
    H.write(g, table.concat(lines, "\n") .. "\n")
    r = H.run({ "validate", g })
    clean(r.stdout .. r.stderr)
    assert.are.equal(1, r.code)
    assert.matches(g .. ":1 (question " .. first.id .. "): ground_truth: missing", r.stdout, 1, true)
    assert.matches("\n2 checked, 0 disagree, 1 invalid\n$", r.stdout)
  end)

  it("refuses probabilities outside [0, 1] in given_info, naming the key", function()
    local by_type = {}
    for _, q in ipairs(samples) do by_type[q.meta.query_type] = by_type[q.meta.query_type] or q end
    local a = copy(by_type.marginal)
    a.meta.given_info["P(X)"] = 1.7
    local b = copy(by_type.ate)
    local key = next(b.meta.given_info)
    local t = b.meta.given_info[key]
    if type(t) == "table" then
      while type(t[1]) == "table" do t = t[1] end
      t[1] = -0.25
    else
      b.meta.given_info[key] = -0.25
    end
    -- a difference of probabilities may be negative
    local c = copy(by_type.collider_bias)
    local dkey = next(c.meta.given_info)
    c.meta.given_info[dkey] = -0.4
    local f = H.write(dir .. "/range.json", json.encode({ a, b, c }))
    local r = H.run({ "validate", f })
    clean(r.stdout .. r.stderr)
    assert.are.equal(1, r.code)
    assert.matches("field meta.given_info['P(X)']: 1.7 is outside [0, 1]", r.stdout, 1, true)
    assert.matches("field meta.given_info['" .. key .. "']" .. (type(b.meta.given_info[key]) == "table" and "[1]" or ""), r.stdout, 1, true)
    assert.matches("-0.25 is outside [0, 1]", r.stdout, 1, true)
    assert.matches("collider_bias%s+1%s+1%s+0%s+0%s+0", r.stdout)
    assert.matches("\n3 checked, 0 disagree, 2 invalid\n$", r.stdout)
  end)

  it("names a missing query type plainly", function()
    local q = copy(samples[1])
    q.meta.query_type = nil
    local f = H.write(dir .. "/notype.json", json.encode({ q }))
    local r = H.run({ "validate", f })
    clean(r.stdout .. r.stderr)
    assert.matches("(question " .. q.question_id .. ", (no query type)): field meta.query_type: missing", r.stdout, 1, true)
    local g = H.write(dir .. "/notype.jsonl", '{"id": "a", "ground_truth": "yes", "graph": {"nodes": ["X"]}, "query": {}}\n')
    r = H.run({ "validate", g })
    clean(r.stdout .. r.stderr)
    assert.matches(g .. ":1 (question a): query.type: missing", r.stdout, 1, true)
  end)

  it("names the file of each item in a dump of several files", function()
    local g = H.questions(dir, { "intervention", "--n", "3", "--no-prompt" })
    local out = dir .. "/dump.jsonl"
    local r = H.run({ "validate", DATA .. "/det-sample.json", g, "--dump", out, "--quiet" })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local files = {}
    for line in H.read(out):gmatch("[^\n]+") do
      local d = assert(json.decode(line))
      files[d.file] = (files[d.file] or 0) + 1
      assert.is_number(d.item)
      if d.file == g then assert.are.equal(d.item, d.line) end
    end
    assert.are.same({ [DATA .. "/det-sample.json"] = 12, [g] = 3 }, files)
  end)

  it("dumps to standard output with --dump -, the report going to stderr", function()
    local r = H.run({ "validate", DATA .. "/det-sample.json", "--dump", "-" }, { cwd = dir })
    assert.are.equal(0, r.code, r.stdout .. r.stderr)
    local n = 0
    for line in r.stdout:gmatch("[^\n]+") do
      assert.is_table(json.decode(line), line)
      n = n + 1
    end
    assert.are.equal(12, n)
    assert.truthy(r.stderr:find("12 checked, 0 disagree", 1, true), r.stderr)
    assert.is_nil(H.read(dir .. "/-"))
  end)

  it("refuses a file of questions given as --models", function()
    local r = H.run({ "validate", DATA .. "/questions-sample.json", "--models", DATA .. "/questions-sample.json" })
    assert.are.equal(1, r.code)
    assert.are.equal("", r.stdout)
    assert.matches("--models " .. DATA .. "/questions-sample.json: holds CLadder questions, not CLadder models", r.stderr, 1, true)
  end)

  it("survives every field of every kind of item being removed or replaced", function()
    -- mutations of real items: each field in turn removed, or replaced by a
    -- value of each wrong kind; every item is counted, none escapes as a crash
    local rng = require("causal_eval.rng").new(7)
    local odd = { "x", 1.5, -3, 2, true, json.null, {}, { "V9" }, { x = 1 } }
    -- every (table, key) of an item, in an order that does not change from run to run
    local function paths(v, out)
      local keys = {}
      for k in pairs(v) do keys[#keys + 1] = k end
      table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
      for _, k in ipairs(keys) do
        out[#out + 1] = { v, k }
        if type(v[k]) == "table" and #out < 400 then paths(v[k], out) end
      end
      return out
    end
    local gen = {}
    for line in H.read(H.questions(dir, { "all", "--n", "2", "--no-prompt" })):gmatch("[^\n]+") do gen[#gen + 1] = line end
    local sources = {
      { "cladder.json", samples, false },
      { "det.json", assert(json.decode(H.read(DATA .. "/det-sample.json"))), false },
      { "models.json", { models[1], models[40], models[150] }, false },
      { "gen.jsonl", gen, true },
    }
    for _, src in ipairs(sources) do
      local name, items, as_lines = src[1], src[2], src[3]
      local out = {}
      for round = 1, 60 do
        local base = items[rng:int(#items)]
        local it = as_lines and json.decode(base) or copy(base)
        local ps = paths(it, {})
        local pick = ps[rng:int(#ps)]
        local parent, key = pick[1], pick[2]
        if round % 3 == 0 then parent[key] = nil else parent[key] = copy(odd[rng:int(#odd)]) end
        out[#out + 1] = it
      end
      local f
      if as_lines then
        local ls = {}
        for i, it in ipairs(out) do ls[i] = json.encode(it) end
        f = H.write(dir .. "/fuzz-" .. name, table.concat(ls, "\n") .. "\n")
      else
        f = H.write(dir .. "/fuzz-" .. name, json.encode(out))
      end
      local r = H.run({ "validate", f, "--quiet" })
      clean(r.stdout .. r.stderr)
      -- every case has a rule: none falls through to the safety net
      assert.is_nil(r.stdout:find("could not be checked", 1, true), r.stdout)
      assert.matches("\n60 checked, %d+ disagree", r.stdout, nil, false)
      assert.is_true(r.code == 0 or r.code == 1)
      if r.stdout:find(" invalid\n$") then assert.are.equal(1, r.code) end
    end
  end)
end)
