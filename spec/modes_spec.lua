-- SPDX-License-Identifier: MIT
-- Evaluation modes (causal_eval.mode): prompt templates, few-shot examples,
-- the cache key of each mode, and runs in each mode end to end against the
-- mock model server on 127.0.0.1.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local bench = require "causal_eval.bench"
local mode = require "causal_eval.mode"
local prompt = require "causal_eval.mode.prompt"
local template = require "causal_eval.mode.template"
local shots = require "causal_eval.mode.shots"
local openai = require "adapters.openai"
local anthropic = require "adapters.anthropic"

local function question(fam, i, seed, opts)
  return bench.question(assert(bench.load(fam)), assert(bench.options(opts or {})), seed or 0, i)
end

local function model(extra)
  local m = { label = "openai:m", adapter = "openai", model = "m", base_url = "http://127.0.0.1:1/v1", temperature = 0 }
  for k, v in pairs(extra or {}) do m[k] = v end
  return m
end

local function tfile(dir, name, src)
  local path = dir .. "/" .. name
  H.write(path, src)
  return path
end

describe("prompt templates", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("a template of the prompt alone sends the request a run without one sends, byte for byte", function()
    local path = tfile(dir, "plain.lua", 'return { user = "{{prompt}}" }')
    local m = assert(mode.from_options({ template = path }, {}))
    for _, extra in ipairs({ {}, { system = "Be brief." } }) do
      for _, a in ipairs({ openai, anthropic }) do
        local mm = model(extra)
        for i = 0, 5 do
          local q = question("ladder", i)
          local asker = prompt.asker(m, mm, {}, 0)
          local q2 = assert(asker.question(q))
          assert.are.equal(a.request(mm, q, nil).body, a.request(asker.model(1), q2, nil).body)
        end
      end
    end
  end)

  it("the default request reads no field a question from a file leaves undecoded", function()
    -- a run decodes the fields it asks and scores with; a look for the
    -- mode's conversation on the question itself decoded its whole line
    -- (graph and tables: 23% more instructions per question)
    local question_file = require "causal_eval.question_file"
    local q = question("counterfactual", 4)
    local line = json.encode(q)
    for _, a in ipairs({ openai, anthropic }) do
      local fq = question_file.item(line, 1, "q.jsonl").make()
      local req = a.request(model(), fq, nil)
      assert.is_nil(rawget(fq, "graph"))
      assert.are.equal(a.request(model(), q, nil).body, req.body)
    end
  end)

  it("builds system and user messages from the question's fields", function()
    local path = tfile(dir, "fields.lua", [[
return {
  system = "You study {{family}} questions.",
  user = function(q, info) return ("[%s/%s] %s"):format(q.difficulty, info.model, q.prompt) end,
}]])
    local m = assert(mode.from_options({ template = path }, {}))
    local q = question("confounding", 2)
    local q2 = assert(prompt.asker(m, model(), {}, 0).question(q))
    assert.are.same({ role = "system", content = "You study confounding questions." }, q2.messages[1])
    assert.are.equal(("[%s/openai:m] %s"):format(q.difficulty, q.prompt), q2.messages[2].content)
    -- a command reads the conversation without its system message
    assert.are.equal(q2.messages[2].content, q2.prompt)
  end)

  it("refuses a bad template with a message naming the file", function()
    local cases = {
      { "syntax.lua", "return {", "syntax%.lua" },
      { "notable.lua", "return 3", "must return a table" },
      { "nouser.lua", "return { system = 'x' }", "needs user" },
      { "unknown.lua", "return { user = 'x', users = 'y' }", "unknown entry 'users'" },
      { "kind.lua", "return { user = 3 }", "user must be a string or a function" },
      { "raises.lua", "error('boom')", "boom" },
    }
    for _, c in ipairs(cases) do
      local path = tfile(dir, c[1], c[2])
      local m, err = mode.from_options({ template = path }, {})
      assert.is_nil(m)
      assert.matches(c[1]:gsub("%.", "%%."), err)
      assert.matches(c[3], err)
    end
    local m, err = mode.from_options({ template = dir .. "/missing.lua" }, {})
    assert.is_nil(m)
    assert.matches("%-%-template: .*missing%.lua", err)
  end)

  it("names the field a question lacks when the template writes it", function()
    local path = tfile(dir, "nofield.lua", 'return { user = "{{prompt}} {{colour}}" }')
    local m = assert(mode.from_options({ template = path }, {}))
    local ok, err = pcall(prompt.asker(m, model(), {}, 0).question, question("ladder", 0))
    assert.is_false(ok)
    assert.matches("nofield%.lua.*no field 'colour'", err)
  end)

  it("a model's own template applies to its questions; --template to every model", function()
    local a = tfile(dir, "a.lua", 'return { user = "A: {{prompt}}" }')
    local b = tfile(dir, "b.lua", 'return { user = "B: {{prompt}}" }')
    local models = { model{ label = "x", template = a }, model{ label = "y" } }
    local m = assert(mode.from_options({}, models))
    local q = question("ladder", 1)
    assert.are.equal("A: " .. q.prompt, prompt.asker(m, models[1], {}, 0).question(q).prompt)
    assert.are.equal(q.prompt, prompt.asker(m, models[2], {}, 0).question(q).prompt)
    local over = assert(mode.from_options({ template = b }, models))
    for _, mm in ipairs(models) do
      assert.are.equal("B: " .. q.prompt, prompt.asker(over, mm, {}, 0).question(q).prompt)
    end
  end)
end)

describe("few-shot examples", function()
  it("are solved questions of the question's family, the same ones every time", function()
    local m = assert(mode.from_options({ shots = 3 }, {}))
    for _, fam in ipairs({ "ladder", "corr2cause", "intervention" }) do
      for i = 0, 9 do
        local q = question(fam, i, 7)
        local a = assert(prompt.asker(m, model(), {}, 7).question(q))
        local b = assert(prompt.asker(m, model(), {}, 7).question(q))
        assert.are.same(a.messages, b.messages)
        assert.are.equal(7, #a.messages) -- 3 examples and their answers, then the question
        for k = 1, 6, 2 do
          assert.are.equal("user", a.messages[k].role)
          assert.are.equal("assistant", a.messages[k + 1].role)
          assert.matches("^Answer: ", a.messages[k + 1].content)
        end
        assert.are.equal(q.prompt, a.messages[7].content)
      end
    end
  end)

  it("never show the question itself or a repeat of it", function()
    -- corr2cause's easy questions are few: other seeds repeat them, and the
    -- pool of examples holds some of the run's own questions
    local draw = shots.drawer({ difficulty = "easy" }, 0)
    local fam = assert(bench.load("corr2cause"))
    local opts = assert(bench.options{ difficulty = "easy" })
    local repeats, checked = 0, 0
    for i = 0, 39 do
      local q = bench.question(fam, opts, 0, i)
      local examples = assert(draw(q, 4))
      assert.are.equal(4, #examples)
      local seen = {}
      for _, ex in ipairs(examples) do
        checked = checked + 1
        assert.are_not.equal(q.id, ex.id)
        assert.are_not.equal(q.prompt, ex.prompt)
        assert.are_not.equal(json.encode({ q.graph, q.model, q.query }), json.encode({ ex.graph, ex.model, ex.query }))
        assert.is_nil(seen[ex.id])
        seen[ex.id] = true
        assert.are.equal("corr2cause", ex.family)
      end
    end
    assert.are.equal(160, checked)
    -- a question that is a member of the pool, under another id (a repeat:
    -- another seed made the same question) never gets itself as an example
    for j = 0, shots.POOL - 1 do
      local twin = bench.question(fam, opts, shots.seed(0), j)
      -- worded otherwise, as a paraphrase would: the content tells it apart
      twin.id, twin.prompt = "other-id-" .. j, "Reworded: " .. twin.prompt
      local own = json.encode({ twin.graph, twin.model, twin.query })
      for _, ex in ipairs(assert(draw(twin, 8))) do
        assert.are_not.equal(own, json.encode({ ex.graph, ex.model, ex.query }))
        repeats = repeats + 1
      end
    end
    assert.are.equal(8 * shots.POOL, repeats)
  end)

  it("examples in chain-of-thought mode end with a final answer; numbers are written short", function()
    local m = assert(mode.from_options({ shots = 2, cot = true }, {}))
    local q = question("counterfactual", 3)
    local q2 = assert(prompt.asker(m, model(), {}, 0).question(q))
    assert.matches("^Final answer: ", q2.messages[2].content)
    assert.matches("step by step", q2.messages[#q2.messages].content)
    local nq = { family = "x", answer_type = "number", ground_truth = 0.123456789 }
    assert.are.equal("Answer: 0.1235", template.answer(nil, nq, {}))
  end)

  it("a family without a generator is an error naming it", function()
    local m = assert(mode.from_options({ shots = 1 }, {}))
    local q2, err = prompt.asker(m, model(), nil, 0).question({ id = "x1", family = "no_such_family", prompt = "p" })
    assert.is_nil(q2)
    assert.matches("no_such_family", err)
  end)
end)

describe("the mode of a run", function()
  it("checks its options", function()
    local bad = {
      { { shots = -1 }, "%-%-shots" }, { { shots = 99 }, "%-%-shots" }, { { samples = 0 }, "%-%-samples" },
      { { samples = 3 }, "needs %-%-temperature" }, { { samples = 3, temperature = 0 }, "temperature 0" },
      { { temperature = -1 }, "%-%-temperature" }, { { cot_budget = 10 }, "with %-%-cot" },
      { { cot = true, cot_budget = 0 }, "%-%-cot%-budget" }, { { rubric = "r.lua" }, "with %-%-judge" },
    }
    for _, c in ipairs(bad) do
      local m, err = mode.from_options(c[1], {})
      assert.is_nil(m)
      assert.matches(c[2], err)
    end
    assert.is_true(mode.is_default(assert(mode.from_options({ shots = 0, samples = 1 }, {}))))
  end)

  it("gives every change of template, shots, chain of thought or sampling a cache key of its own", function()
    local dir = H.tmpdir()
    local t1 = tfile(dir, "t1.lua", 'return { user = "{{prompt}}" }')
    local t2 = tfile(dir, "t2.lua", 'return { user = "Q: {{prompt}}" }')
    local variants = {
      {}, { template = t1 }, { template = t2 }, { shots = 1 }, { shots = 2 }, { cot = true },
      { cot = true, cot_budget = 200 }, { temperature = 0.5 }, { samples = 2, temperature = 0.5 },
      { samples = 2, temperature = 0.7 },
    }
    local seen = {}
    for _, o in ipairs(variants) do
      local m = assert(mode.from_options(o, {}))
      local key = mode.key(m, "x", m.samples and 1 or nil)
      assert.is_nil(seen[key], json.encode(o))
      seen[key] = true
    end
    assert.are.equal("", mode.key(assert(mode.from_options({}, {})), "x"))
    H.rm(dir)
  end)

  it("names itself in one line", function()
    local m = assert(mode.from_options({ shots = 3, cot = true, samples = 5, temperature = 0.7 }, {}))
    assert.are.equal("3-shot, chain of thought (1024 tokens), 5 samples at T=0.7, majority vote", mode.describe(m))
  end)
end)

describe("runs in a mode", function()
  local dir, qfile, mock
  setup(function()
    dir = H.tmpdir()
    qfile = H.unique_questions(dir .. "/q.jsonl", { "ladder,confounding,intervention", "--n", "10", "--seed", "5" })
    mock = H.mock({ "--questions", qfile, "--accuracy", "0.7" })
  end)
  teardown(function()
    if mock then mock:stop() end
    H.rm(dir)
  end)

  local function spec() return "openai:mock@" .. mock.url end

  it("stores the mode with the run, names it in the summary, and a resume keeps it", function()
    local data = dir .. "/a"
    local r = H.run({ "run", "--model", spec(), "--questions", qfile, "--data", data, "--shots", "2", "--cache", "off",
                      "--limit", "10" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("\nmode: 2%-shot\n", r.stdout)
    local run_id = r.stderr:match("run (%d+%-%d+%-%x+)")
    local show = H.run({ "results", "show", run_id, "--data", data })
    assert.matches("\nmode: 2%-shot\n", show.stdout)
    local j, rep = H.run_json({ "--model", spec(), "--questions", qfile, "--data", data, "--shots", "2", "--cache", "off" })
    assert.are.equal(0, j.code, j.stderr)
    assert.are.equal(2, rep.mode.shots)
    local again = H.run({ "run", "--resume", run_id, "--data", data, "--shots", "3" })
    assert.are.equal(2, again.code)
    assert.matches("no %-%-shots", again.stderr)
    -- flags that do not combine are a usage error, before anything is stored
    for _, bad in ipairs({ { "--samples", "3" }, { "--cot-budget", "10" }, { "--rubric", "r.lua" }, { "--shots", "-1" } }) do
      local u = H.run(H.concat({ "run", "--questions", qfile, "--data", dir .. "/never" }, bad))
      assert.are.equal(2, u.code, u.stderr)
      assert.matches("usage: causal%-eval run", u.stderr)
    end
    assert.is_nil(H.read(dir .. "/never/data.mdb"))
  end)

  it("asks the same conversation for the same question and the cache tells the modes apart", function()
    local data = dir .. "/c"
    local cache = { "--set", "cache.disk.path=" .. dir .. "/cache", "--set", "cache.disk.max_size_gb=1", "--cache", "readwrite" }
    local function go(extra)
      local r, rep = H.run_json(H.concat({ "--model", spec(), "--questions", qfile, "--data", data, "--limit", "12" }, cache, extra))
      assert.are.equal(0, r.code, r.stderr)
      return rep.models[1]
    end
    mock:reset()
    local first = go({ "--shots", "2" })
    assert.are.equal(0, first.cached)
    local again = go({ "--shots", "2" })
    assert.are.equal(12, again.cached)
    assert.are.equal(first.accuracy, again.accuracy)
    local other = go({ "--shots", "1" })
    assert.are.equal(0, other.cached)
    local plain = go({})
    assert.are.equal(0, plain.cached)
    local plain2 = go({})
    assert.are.equal(12, plain2.cached)
  end)

  it("scores a chain of thought by its final answer, whatever the reasoning says", function()
    local data = dir .. "/cot"
    local plain_r, plain = H.run_json({ "--model", spec(), "--questions", qfile, "--data", data, "--cache", "off" })
    assert.are.equal(0, plain_r.code, plain_r.stderr)
    -- the mock reasons past the wrong answer before its final one, and
    -- decides right or wrong per question as it does without the instruction
    local r, rep = H.run_json({ "--model", spec(), "--questions", qfile, "--data", data, "--cache", "off", "--cot",
                                "--cot-budget", "300" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(plain.models[1].correct, rep.models[1].correct)
    assert.are.equal(0, rep.models[1].unparseable)
    assert.is_true(rep.mode.cot)
    local recs = H.records(data, rep.run_id)
    assert.are.equal(plain.models[1].n, #recs)
    for _, rec in ipairs(recs) do
      assert.matches("Final answer:", rec.response, 1, true)
      assert.is_string(rec.reasoning)
      assert.is_nil(rec.reasoning:find("Final answer", 1, true))
    end
  end)

  it("asks K samples of each question and reports the vote, agreement and pass@k", function()
    local data = dir .. "/s"
    local cache = { "--set", "cache.disk.path=" .. dir .. "/scache", "--set", "cache.disk.max_size_gb=1" }
    local args = H.concat({ "--model", spec(), "--questions", qfile, "--data", data, "--samples", "5", "--temperature", "0.7",
                            "--limit", "15" }, cache)
    local r, rep = H.run_json(args)
    assert.are.equal(0, r.code, r.stderr)
    local m = rep.models[1]
    assert.are.equal(15, m.n)
    assert.are.equal(15, m.samples.questions)
    assert.are.equal(75, m.samples.samples)
    assert.are.equal(5, m.samples.k)
    -- samples of one question are not independent: the interval says so
    assert.is_true(m.samples.ci[2] - m.samples.ci[1] >= m.samples.naive.ci[2] - m.samples.naive.ci[1] - 1e-12)
    local recs = H.records(data, rep.run_id)
    local varied = 0
    for _, rec in ipairs(recs) do
      assert.are.equal(5, #rec.samples)
      local votes, right = {}, 0
      for _, smp in ipairs(rec.samples) do
        votes[smp.parsed] = (votes[smp.parsed] or 0) + 1
        if smp.correct then right = right + 1 end
      end
      assert.are.equal(right, rec.samples_correct)
      assert.are.equal(votes[rec.parsed] / 5, rec.agreement)
      if rec.agreement < 1 then varied = varied + 1 end
    end
    assert.is_true(varied > 0, "the samples never differed")
    assert.are.equal(m.samples.majority.accuracy, m.accuracy)
    -- seeded samples: asked again, the cache serves the same ones
    local r2, rep2 = H.run_json(args)
    assert.are.equal(0, r2.code, r2.stderr)
    assert.are.equal(15, rep2.models[1].cached)
    assert.are.same(m.samples.accuracy, rep2.models[1].samples.accuracy)
    local show = H.run({ "results", "show", rep.run_id, "--data", data })
    assert.matches("5 samples/question at T=0.7", show.stdout, 1, true)
    assert.matches("mode: zero-shot, 5 samples at T=0.7, majority vote", show.stdout, 1, true)
  end)

  it("reads yes and no from the log-probabilities of a model that returns them", function()
    local models = dir .. "/models.yaml"
    H.write(models, ("models:\n  lp:\n    adapter: openai\n    model: m\n    base_url: %s\n    logprobs: true\n"):format(mock.url))
    local data = dir .. "/lp"
    local r, rep = H.run_json({ "--model", "lp", "--questions", qfile, "--data", data, "--cache", "off" },
                              { env = { CAUSAL_EVAL_MODELS = models } })
    assert.are.equal(0, r.code, r.stderr)
    local n = 0
    for _, rec in ipairs(H.records(data, rep.run_id)) do
      if rec.answer_type == "yes_no" then
        n = n + 1
        assert.are.equal("logprobs", rec.scored_by)
        assert.is_true(rec.p_yes > 0 and rec.p_yes < 1)
        assert.are.equal(rec.p_yes > 0.5 and "yes" or "no", rec.parsed)
        assert.are.equal(require("causal_eval.scoring").yes_no(rec.response), rec.parsed)
      end
    end
    assert.is_true(n > 0)
  end)

  it("grades free-text answers with a judge model, apart from exact scores, and caches the judge's calls", function()
    local ft = dir .. "/ft.jsonl"
    H.write(ft, table.concat({
      '{"id":"f1","family":"explain","answer_type":"free_text","prompt":"Why do wet streets not cause rain?","reference":"rain wets the streets"}',
      '{"id":"f2","family":"explain","answer_type":"free_text","prompt":"What is a confounder?","reference":"a common cause of both"}',
      '{"id":"f3","family":"explain","answer_type":"free_text","prompt":"What does do(X) mean?","reference":"setting X by intervention"}',
      '{"id":"y1","family":"explain","answer_type":"yes_no","prompt":"Is this a yes question?","ground_truth":"yes"}',
    }, "\n") .. "\n")
    local cmd = dir .. "/explain.sh"
    H.write(cmd, [[#!/bin/sh
p=$(cat)
case "$p" in
  *streets*) echo "Because rain wets the streets, not the other way round." ;;
  *confounder*) echo "A variable that is a common cause of both." ;;
  *"do(X)"*) echo "Watching X happen." ;;
  *) echo "Answer: yes" ;;
esac
]])
    H.sh("chmod +x " .. H.quote(cmd))
    local data = dir .. "/judged"
    local cache = { "--set", "cache.disk.path=" .. dir .. "/jcache", "--set", "cache.disk.max_size_gb=1" }
    local args = H.concat({ "--model", "command:" .. cmd, "--questions", ft, "--data", data,
                            "--judge", "openai:judge@" .. mock.url }, cache)
    mock:reset()
    local r, rep = H.run_json(args)
    assert.are.equal(0, r.code, r.stderr)
    local m = rep.models[1]
    -- the exact figures count the one yes/no question only
    assert.are.equal(1, m.n)
    assert.are.equal(1, m.correct)
    assert.are.same({ n = 3, graded = 3, errors = 0, mean_score = 2 / 3, model = "openai:judge@" .. mock.url }, m.judged)
    local _, by_id = H.records(data, rep.run_id)
    assert.are.equal("C", by_id.f1.judge.grade)
    assert.are.equal("C", by_id.f2.judge.grade)
    assert.are.equal("I", by_id.f3.judge.grade)
    assert.is_true(by_id.f1.judged)
    assert.is_nil(by_id.f1.correct)
    local asked = mock:stats()
    assert.are.equal(3, asked.requests)
    local r2, rep2 = H.run_json(args)
    assert.are.equal(0, r2.code, r2.stderr)
    assert.are.same(m.judged, rep2.models[1].judged)
    assert.are.same(asked, mock:stats())
    local show = H.run({ "results", "show", rep.run_id, "--data", data })
    assert.matches("free-text answers, graded by openai:judge@", show.stdout, 1, true)
    assert.matches("mode: zero-shot, judged by openai:judge@", show.stdout, 1, true)
  end)

  it("sends the template's messages and the examples to a local command", function()
    local seen_file = dir .. "/seen.txt"
    local cmd = dir .. "/model.sh"
    H.write(cmd, "#!/bin/sh\ncat >> " .. H.quote(seen_file) .. "\nprintf '\\n----\\n' >> " .. H.quote(seen_file) .. "\necho 'Answer: yes'\n")
    H.sh("chmod +x " .. H.quote(cmd))
    local t = tfile(dir, "q.lua", 'return { user = "Question: {{prompt}}", answer = function(q) return "It is " .. q.ground_truth end }')
    local r = H.run({ "run", "--model", "command:" .. cmd, "--questions", qfile, "--data", dir .. "/t", "--limit", "3",
                      "--shots", "1", "--template", t, "--workers", "1", "--concurrency", "1" })
    assert.are.equal(0, r.code, r.stderr)
    local seen = H.read(seen_file)
    local n = 0
    for block in seen:gmatch("(.-)\n%-%-%-%-\n") do
      n = n + 1
      assert.matches("^Question: .-\n\nIt is [yesno]+\n\nQuestion: ", block)
    end
    assert.are.equal(3, n)
  end)
end)
