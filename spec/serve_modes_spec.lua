-- SPDX-License-Identifier: MIT
-- The evaluation modes in `causal-eval serve`'s evaluate endpoints: the
-- "mode" object (shots, cot, samples, temperature, judge), checked field by
-- field, asked of the mock model server on 127.0.0.1, and part of the
-- request cache's key.
local H = require "spec.helpers"
local S = require "spec.serve_helpers"
local json = require "causal_eval.json"

local function field(r, name) return r.json and r.json.error and r.json.error[name] end

describe("serve: evaluation modes", function()
  local base, srv, mock, qfile, questions
  setup(function()
    base = S.setup()
    local _
    qfile, _, questions = H.unique_questions(base.dir .. "/q.jsonl", { "ladder,confounding", "--n", "8", "--seed", "11" })
    mock = H.mock({ "--questions", qfile, "--accuracy", "0.6" })
    H.write(base.dir .. "/models.yaml", ([[
models:
  mocked:
    adapter: openai
    model: mock-model
    base_url: %s
    temperature: 0
  grader:
    adapter: openai
    model: mock-judge
    base_url: %s
    temperature: 0
]]):format(mock.url, mock.url))
    base.env.CAUSAL_EVAL_MODELS = base.dir .. "/models.yaml"
    srv = S.start{ base = base, set = { "api.worker_count=1" } }
    srv:login()
  end)
  teardown(function()
    if srv then srv:stop() end
    if mock then mock:stop() end
    H.rm(base.dir)
  end)

  local function inline(q)
    return { id = q.id, family = q.family, prompt = q.prompt, answer_type = q.answer_type, ground_truth = q.ground_truth }
  end

  it("refuses a bad mode with a 400 naming the field", function()
    local q = inline(questions[1])
    local cases = {
      { { shots = -1 }, "mode.shots" }, { { shots = "2" }, "mode.shots" }, { { samples = 0 }, "mode.samples" },
      { { cot = "yes" }, "mode.cot" }, { { temperature = -0.5 }, "mode.temperature" }, { { colour = 1 }, "mode.colour" },
      { { samples = 3 }, "mode.temperature" }, { { judge = "nobody" }, "mode.judge" }, { 5, "'mode'" },
    }
    for _, c in ipairs(cases) do
      local r = srv:post("/evaluate/single", { model = "mocked", question = q, mode = c[1] })
      assert.are.equal(400, r.status, json.encode(c[1]))
      assert.matches(c[2], field(r, "message"), 1, true)
    end
    local r = srv:post("/evaluate/single", { model = "mocked", question = q, model_response = "yes",
                                             mode = { samples = 3, temperature = 0.5 } })
    assert.are.equal(400, r.status)
    assert.matches("model_response", field(r, "message"), 1, true)
  end)

  it("asks for a chain of thought and scores its final answer only, keeping the reasoning", function()
    for i = 1, 6 do
      local q = questions[i]
      local r = srv:post("/evaluate/single", { model = "mocked", question = inline(q), mode = { cot = true } })
      assert.are.equal(200, r.status, r.body)
      local a = r.json
      assert.matches("Final answer:", a.answer, 1, true)
      assert.is_string(a.reasoning)
      assert.are.equal(a.parsed == q.ground_truth, a.correct)
      -- the same request again comes from the cache; the plain one is another request
      local again = srv:post("/evaluate/single", { model = "mocked", question = inline(q), mode = { cot = true } })
      assert.are.equal("hit", again.headers["x-cache"])
      local plain = srv:post("/evaluate/single", { model = "mocked", question = inline(q) })
      assert.are.equal("miss", plain.headers["x-cache"])
      assert.is_nil(plain.json.reasoning)
    end
  end)

  it("reads a given chain-of-thought response's final answer", function()
    local q = inline(questions[1])
    local wrong = q.ground_truth == "yes" and "no" or "yes"
    local text = ("At first sight %s, but the graph says otherwise.\nFinal answer: %s"):format(wrong, q.ground_truth)
    local r = srv:post("/evaluate/single", { model = "mocked", question = q, model_response = text, mode = { cot = true } })
    assert.are.equal(200, r.status, r.body)
    assert.is_true(r.json.correct)
    assert.matches("At first sight", r.json.reasoning, 1, true)
  end)

  it("asks K samples and answers by majority vote with the agreement", function()
    local q = inline(questions[2])
    local r = srv:post("/evaluate/single", { model = "mocked", question = q, mode = { samples = 5, temperature = 0.8 } })
    assert.are.equal(200, r.status, r.body)
    local s = r.json.samples
    assert.are.equal(5, s.n)
    assert.are.equal(5, #s.answers)
    local votes = {}
    for _, a in ipairs(s.answers) do votes[a] = (votes[a] or 0) + 1 end
    assert.are.equal(votes[r.json.parsed], math.floor(s.agreement * 5 + 0.5))
    for _, n in pairs(votes) do assert.is_true(n <= votes[r.json.parsed]) end
    local right = 0
    for _, a in ipairs(s.answers) do if a == q.ground_truth then right = right + 1 end end
    assert.are.equal(right, s.correct)
  end)

  it("grades a free-text answer with the judge and keeps it out of exact scores", function()
    local q = { id = "why-1", family = "explain", answer_type = "free_text", prompt = "Why do umbrellas not cause rain?",
                reference = "rain causes umbrellas" }
    local good = srv:post("/evaluate/single", { model = "mocked", question = q,
      model_response = "Because rain causes umbrellas to be opened.", mode = { judge = "grader" } })
    assert.are.equal(200, good.status, good.body)
    assert.are.equal("C", good.json.judge.grade)
    assert.are.equal(1, good.json.score)
    assert.are.equal(json.null, good.json.correct)
    local bad = srv:post("/evaluate/single", { model = "mocked", question = q,
      model_response = "Umbrellas are made of cloth.", mode = { judge = "grader" } })
    assert.are.equal(200, bad.status, bad.body)
    assert.are.equal("I", bad.json.judge.grade)
    assert.are.equal(0, bad.json.score)
    local none = srv:post("/evaluate/single", { model = "mocked", question = q, model_response = "Something." })
    assert.are.equal(200, none.status)
    assert.is_true(none.json.needs_judge)
  end)

  it("applies a batch's mode to every item", function()
    local items = {}
    for i = 1, 3 do items[i] = { question = inline(questions[i]) } end
    local r = srv:post("/evaluate/batch", { model = "mocked", questions = items, mode = { cot = true } })
    assert.are.equal(200, r.status, r.body)
    assert.are.equal(3, r.json.succeeded)
    for _, a in ipairs(r.json.results) do assert.is_string(a.reasoning) end
  end)
end)
