-- SPDX-License-Identifier: MIT
-- Model-graded answers: free-text questions in question files and scoring,
-- rubric files (the default one and a user's), the judge's request and how
-- a grade is read out of its reply.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local judge = require "causal_eval.judge"
local scoring = require "causal_eval.scoring"
local qf = require "causal_eval.question_file"

local Q = {
  id = "ft-1", family = "explain", answer_type = "free_text",
  prompt = "Why do ice cream sales and drownings rise together?",
  reference = "Hot weather causes both; neither causes the other.",
  rubric_notes = "Any common cause named as summer or heat is fine.",
}

-- the lines of a text
local function lines_of(text)
  local out = {}
  for l in (text .. "\n"):gmatch("([^\n]*)\n") do out[#out + 1] = l end
  return out
end

-- the index of the line equal to s, or nil
local function line_index(ls, s)
  for i, l in ipairs(ls) do if l == s then return i end end
  return nil
end

describe("free_text questions", function()
  it("scores the trimmed response as needing a judge, never as right or wrong", function()
    local s = scoring.score(Q, "  \n Heat drives both.\n\n")
    assert.are.same({ parsed = "Heat drives both.", needs_judge = true }, s)
    assert.is_nil(s.correct)
    assert.is_nil(s.score)
    assert.are.equal("Heat drives both.", scoring.extract(Q, "Heat drives both."))
    -- inner space and lines stay as written
    assert.are.equal("a\n\n  b", scoring.free_text("\t a\n\n  b \r\n"))
  end)

  it("makes an empty response unparseable, as for every other type", function()
    for _, text in ipairs({ "", "   ", "\n\t \r\n" }) do
      local s = scoring.score(Q, text)
      assert.is_true(s.unparseable)
      assert.are.equal("empty response", s.reason)
      assert.are.equal(0, s.score)
      assert.is_nil(s.needs_judge)
    end
    assert.are.same({ nil, "no response text" }, { scoring.free_text(nil) })
  end)

  it("trims a long run of space in linear time", function()
    local text = "x" .. (" "):rep(200000) .. "y" .. (" "):rep(200000)
    local t0 = os.clock()
    assert.are.equal(#text - 200000, #scoring.free_text(text))
    assert.is_true(os.clock() - t0 < 1)
  end)

  it("leaves the other answer types as they were", function()
    assert.are.same({ parsed = "yes", correct = true, score = 1 },
                    scoring.score({ answer_type = "yes_no", ground_truth = "yes" }, "Yes."))
    assert.are.same({ parsed = 0.3, correct = true, score = 1 },
                    scoring.score({ answer_type = "number", ground_truth = 0.3 }, "Answer: 0.3"))
    assert.is_nil(scoring.score({ answer_type = "yes_no", ground_truth = "yes" }, "maybe").needs_judge)
  end)

  it("are questions of a file when they give a reference", function()
    local it = qf.item(json.encode(Q), 3, "q.jsonl")
    assert.is_nil(it.bad)
    local q = it.make()
    assert.are.equal(Q.reference, q.reference)
    assert.are.equal(Q.rubric_notes, rawget(q, "rubric_notes")) -- decoded with the asked fields
    assert.is_nil(qf.check({ id = "a", prompt = "p", answer_type = "free_text", reference = "r" }))
    -- a ground_truth is not read: a free-text question needs none and may keep one
    assert.is_nil(qf.check({ id = "a", prompt = "p", answer_type = "free_text", reference = "r", ground_truth = 3 }))
  end)
end)

describe("judge.load", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  local function file(name, text) return H.write(dir .. "/" .. name, text) end

  it("gives the default rubric without a path", function()
    local r = assert(judge.load())
    assert.are.equal("default", r.name)
    assert.are.equal("default", judge.describe(r))
    assert.is_true(r.default)
    assert.is_nil(r.system)
    assert.is_function(r.prompt)
    assert.is_function(r.read)
  end)

  it("loads a rubric of the user's, with its system message and token budget", function()
    local path = file("strict.lua", [[
      return {
        name = "strict",
        system = "You are a strict grader.",
        max_tokens = 300,
        prompt = function(q, response) return "Q: " .. q.prompt .. "\nREF: " .. q.reference .. "\nA: " .. response end,
        read = function(reply)
          if reply:find("PASS") then return { score = 1, grade = "pass", explanation = "ok" } end
          if reply:find("FAIL") then return { score = 0 } end
          return nil, "neither PASS nor FAIL"
        end,
      }]])
    local r = assert(judge.load(path))
    assert.are.equal("strict", r.name)
    assert.are.equal(path, r.file)
    assert.are.equal(path, judge.describe(r))
    local jq = assert(judge.question(r, Q, "Heat."))
    assert.are.same({ { role = "system", content = "You are a strict grader." },
                      { role = "user", content = "Q: " .. Q.prompt .. "\nREF: " .. Q.reference .. "\nA: Heat." } },
                    jq.messages)
    assert.are.equal(jq.messages[2].content, jq.prompt)
    assert.are.equal(300, jq.max_tokens)
    assert.are.same({ score = 1, grade = "pass", explanation = "ok" }, judge.read(r, "PASS"))
    assert.are.same({ score = 0, explanation = "" }, judge.read(r, "FAIL"))
    assert.are.same({ nil, "neither PASS nor FAIL" }, { judge.read(r, "hmm") })
  end)

  it("names a rubric without a name by its file, and describes it by name and file", function()
    local r = assert(judge.load(file("plain.lua", "return { prompt = function() return 'x' end, read = function() end }")))
    assert.are.equal("plain", r.name)
    r = assert(judge.load(file("other.lua", "return { name = 'lenient', prompt = function() return 'x' end, read = function() end }")))
    assert.are.equal("lenient (" .. dir .. "/other.lua)", judge.describe(r))
  end)

  it("refuses a bad rubric file with a message naming it", function()
    local P = "prompt = function() return 'x' end"
    local R = "read = function() end"
    local cases = {
      { "notable.lua", "return 42", "notable.lua: a rubric returns a table with prompt and read functions, got a number" },
      { "string.lua", "return 'hi'", 'string.lua: a rubric returns a table with prompt and read functions, got a string ("hi")' },
      { "nothing.lua", "local x = 1", "nothing.lua: a rubric returns a table with prompt and read functions, got nothing" },
      { "empty.lua", "", "empty.lua: a rubric returns a table" },
      { "noprompt.lua", "return { " .. R .. " }", "noprompt.lua: prompt: missing" },
      { "noread.lua", "return { " .. P .. " }", "noread.lua: read: missing" },
      { "badprompt.lua", "return { prompt = 'text', " .. R .. " }", 'badprompt.lua: prompt: expected a function, got a string ("text")' },
      { "badread.lua", "return { " .. P .. ", read = true }", "badread.lua: read: expected a function, got a boolean" },
      { "syntax.lua", "return { prompt = function( }", "syntax.lua:1:" },
      { "raises.lua", "local x\nerror('no rubric today')", "raises.lua:2: no rubric today" },
      { "raises0.lua", "error('flat', 0)", "raises0.lua: flat" },
      { "badsystem.lua", "return { " .. P .. ", " .. R .. ", system = 7 }", "badsystem.lua: system: expected a string, got a number" },
      { "badname.lua", "return { " .. P .. ", " .. R .. ", name = '' }", "badname.lua: name: expected a non-empty string" },
      { "badmax.lua", "return { " .. P .. ", " .. R .. ", max_tokens = 0.5 }", "badmax.lua: max_tokens: expected a whole number >= 1, got 0.5" },
      { "typo.lua", "return { " .. P .. ", " .. R .. ", sytem = 'be fair', Read = 1 }",
        "typo.lua: unknown fields Read, sytem (a rubric has name, system, prompt, read, max_tokens)" },
    }
    for _, c in ipairs(cases) do
      local path = file(c[1], c[2])
      local r, err = judge.load(path)
      assert.is_nil(r, c[1])
      assert.is_string(err, c[1])
      assert.are.equal(path, err:sub(1, #path), err)
      assert.matches(c[3], err, 1, true)
      assert.is_nil(err:find("%f[%w]nil%f[%W]"), err)
    end
  end)

  it("refuses a missing file, a directory and a path that is not text", function()
    local r, err = judge.load(dir .. "/none.lua")
    assert.is_nil(r)
    assert.matches(dir .. "/none.lua: No such file or directory", err, 1, true)
    r, err = judge.load(dir)
    assert.is_nil(r)
    assert.matches(dir .. ": Is a directory", err, 1, true)
    r, err = judge.load("")
    assert.is_nil(r)
    assert.are.equal("a rubric is a path to a .lua file", err)
  end)
end)

describe("judge.question", function()
  local r = assert(judge.load())

  it("asks the judge with the question, reference, notes and response between exact section lines", function()
    local jq = assert(judge.question(r, Q, "Summer heat drives both."))
    assert.are.equal("ft-1#judge", jq.id)
    assert.are.equal("ft-1", jq.judged)
    assert.are.equal("judge", jq.answer_type)
    assert.are.equal("explain", jq.family)
    assert.are.same({ { role = "user", content = jq.prompt } }, jq.messages)
    local ls = lines_of(jq.prompt)
    local order = { "[Question]", "[Reference answer]", "[Notes]", "[Response]", "[End]" }
    local want = { Q.prompt, Q.reference, Q.rubric_notes, "Summer heat drives both." }
    local last = 0
    for i, m in ipairs(order) do
      local at = line_index(ls, m)
      assert.is_number(at, m)
      assert.is_true(at > last, m .. " out of order")
      if want[i] then assert.are.equal(want[i], ls[at + 1], m) end
      last = at
    end
    -- after the data: explain, then a last line GRADE: C, P or I
    local tail = table.concat(ls, "\n", last + 1)
    assert.matches("explain", tail:lower(), 1, true)
    for _, g in ipairs({ "GRADE: C", "GRADE: P", "GRADE: I" }) do assert.matches(g, tail, 1, true) end
  end)

  it("leaves out the notes when a question has none, and keeps texts of several lines whole", function()
    local q = { id = 7, prompt = "Explain.\n\nIn two lines.", reference = "Line one.\nLine two." }
    local jq = assert(judge.question(r, q, "\n  My answer\nhas two lines.  \n"))
    assert.are.equal("7#judge", jq.id)
    assert.is_nil(jq.prompt:find("[Notes]", 1, true))
    assert.matches("\n%[Question%]\nExplain%.\n\nIn two lines%.\n%[Reference answer%]\nLine one%.\nLine two%.\n" ..
                   "%[Response%]\nMy answer\nhas two lines%.\n%[End%]\n", jq.prompt)
    -- empty notes are no notes
    q.rubric_notes = "  "
    assert.is_nil(assert(judge.question(r, q, "x")).prompt:find("[Notes]", 1, true))
  end)

  it("asks the same thing every time, so the judge's request is cached like any other", function()
    local a = assert(judge.question(r, Q, "Heat."))
    local b = assert(judge.question(assert(judge.load()), Q, "Heat."))
    assert.are.equal(json.encode(a), json.encode(b))
    local openai = require "adapters.openai"
    local model = { model = "judge", base_url = "http://127.0.0.1:1/v1", temperature = 0, system = "ignored" }
    local req = openai.request(model, a)
    assert.are.equal(req.body, openai.request(model, b).body)
    -- the rubric's conversation is what is sent
    assert.are.same(a.messages, req.fields.messages)
    assert.are.equal(0, req.fields.temperature)
  end)

  it("names the rubric's file when its prompt fails or gives no text", function()
    local dir = H.tmpdir()
    local boom = assert(judge.load(H.write(dir .. "/boom.lua",
      "return { prompt = function(q) return q.missing.field end, read = function() end }")))
    local jq, err = judge.question(boom, Q, "x")
    assert.is_nil(jq)
    assert.matches("^" .. dir:gsub("%p", "%%%0") .. "/boom%.lua: prompt failed: .*boom%.lua:1: ", err)
    local blank = assert(judge.load(H.write(dir .. "/blank.lua",
      "return { prompt = function() return '  ' end, read = function() end }")))
    jq, err = judge.question(blank, Q, "x")
    assert.is_nil(jq)
    assert.are.equal(dir .. '/blank.lua: prompt: expected the judge\'s message as text, got a string ("  ")', err)
    local none = assert(judge.load(H.write(dir .. "/none.lua",
      "return { prompt = function() end, read = function() end }")))
    jq, err = judge.question(none, Q, "x")
    assert.is_nil(jq)
    assert.are.equal(dir .. "/none.lua: prompt: expected the judge's message as text, got nothing", err)
    H.rm(dir)
    assert.are.same({ nil, "no response to judge" }, { judge.question(r, Q, nil) })
  end)

  it("raises on misuse", function()
    assert.has_error(function() judge.question(nil, Q, "x") end)
    assert.has_error(function() judge.read({}, "x") end)
  end)
end)

describe("the default rubric's grade", function()
  local r = assert(judge.load())
  -- { reply, score or false, grade, explanation (optional) }
  local CASES = {
    { "The response names heat as the common cause.\nGRADE: C", 1, "C", "The response names heat as the common cause." },
    { "Partly right.\nGRADE: P", 0.5, "P", "Partly right." },
    { "Wrong cause.\nGRADE: I", 0, "I", "Wrong cause." },
    { "GRADE: C", 1, "C", "" },
    { "grade: c", 1, "C" },
    { "Grade: p", 0.5, "P" },
    { "GRADE:I", 0, "I" },
    { "GRADE :  C", 1, "C" },
    { "Matches.\n**GRADE: C**", 1, "C", "Matches." },
    { "Matches.\n**GRADE:** C", 1, "C", "Matches." },
    { "GRADE: **P**", 0.5, "P" },
    { "__GRADE: I__", 0, "I" },
    { "*Grade*: *c*", 1, "C" },
    { "GRADE: C.", 1, "C" },
    { "GRADE: C (correct)", 1, "C" },
    { "GRADE: P - half of it", 0.5, "P" },
    { "GRADE: I \226\128\148 contradicts the reference", 0, "I" },
    { "It gets it right. GRADE: C", 1, "C", "It gets it right." },
    { "Reasoning here.\n\nFinal grade: I", 0, "I", "Reasoning here." },
    { "  GRADE: C  \n\n", 1, "C" },
    -- the last grade wins
    { "At first GRADE: I seemed right.\nOn reflection it matches.\nGRADE: C", 1, "C" },
    { "GRADE: C\nWait, the response contradicts the reference.\nGRADE: I", 0, "I",
      "GRADE: C\nWait, the response contradicts the reference." },
    { "GRADE: P\nGRADE: C\ngrade: i", 0, "I" },
    -- what follows a last real grade does not undo it
    { "GRADE: C\nI'd give the same grade: I think it is complete.", 1, "C" },
    -- not grades
    { "", false },
    { "The response is correct.", false },
    { "GRADE: X", false },
    { "GRADE: $LETTER", false },
    { "GRADE: correct", false },
    { "GRADE: Incorrect", false },
    { "GRADE C", false },
    { "upgrade: c", false },
    { "GRADE: C/I", false },
    { "Before I give a grade: I note the response is vague.", false },
  }
  for _, c in ipairs(CASES) do
    it(("reads %q"):format(c[1]), function()
      local g, why = judge.read(r, c[1])
      if c[2] then
        assert.is_table(g, why)
        assert.are.equal(c[2], g.score)
        assert.are.equal(c[3], g.grade)
        assert.is_string(g.explanation)
        if c[4] then assert.are.equal(c[4], g.explanation) end
      else
        assert.is_nil(g)
        assert.are.equal("no grade found", why)
      end
    end)
  end

  it("is read the same by the rubric module and through judge.read", function()
    local default = require "causal_eval.rubrics.default"
    assert.are.same(default.read("ok\nGRADE: P"), judge.read(r, "ok\nGRADE: P"))
    assert.are.same({ nil, "no reply text" }, { judge.read(r, nil) })
  end)
end)

describe("judge.read with a rubric of the user's", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  local function rubric(name, read_src)
    return assert(judge.load(H.write(dir .. "/" .. name .. ".lua",
      "return { prompt = function() return 'x' end, read = " .. read_src .. " }")))
  end

  it("names the rubric's file when read fails or gives what is not a grade", function()
    local cases = {
      { "raises", "function(reply) return reply.x.y end", "raises.lua: read failed: " },
      { "flat", "function() error('no luck', 0) end", "flat.lua: read failed: no luck" },
      { "tableerr", "function() error({ message = 'tabled' }) end", "tableerr.lua: read failed: tabled" },
      { "number", "function() return 1 end", "number.lua: read: expected a table { score, grade, explanation } or nil, got a number" },
      { "noscore", "function() return { grade = 'C' } end", "noscore.lua: read: expected a score from 0 to 1, got nothing" },
      { "big", "function() return { score = 2 } end", "big.lua: read: expected a score from 0 to 1, got 2" },
      { "neg", "function() return { score = -0.5 } end", "neg.lua: read: expected a score from 0 to 1, got -0.5" },
      { "nan", "function() return { score = 0/0 } end", "nan.lua: read: expected a score from 0 to 1, got " },
      { "textscore", "function() return { score = '1' } end", 'textscore.lua: read: expected a score from 0 to 1, got a string ("1")' },
      { "badgrade", "function() return { score = 1, grade = {} } end", "badgrade.lua: read: expected the grade as text, got a table" },
      { "badexpl", "function() return { score = 1, explanation = 3 } end", "badexpl.lua: read: expected the explanation as text, got a number" },
    }
    for _, c in ipairs(cases) do
      local g, why = judge.read(rubric(c[1], c[2]), "GRADE: C")
      assert.is_nil(g, c[1])
      assert.are.equal(dir .. "/", why:sub(1, #dir + 1), why)
      assert.matches(c[3], why, 1, true)
    end
  end)

  it("gives the rubric's own reason, or 'no grade found' without one", function()
    assert.are.same({ nil, "no grade found" }, { judge.read(rubric("plainnil", "function() return nil end"), "x") })
    assert.are.same({ nil, "too short" }, { judge.read(rubric("why", "function() return nil, 'too short' end"), "x") })
    assert.are.same({ score = 0.25, explanation = "" }, judge.read(rubric("quarter", "function() return { score = 0.25 } end"), "x"))
  end)
end)

describe("question_file and free_text lines", function()
  local function bad(t) return qf.item(json.encode(t), 9, "f.jsonl").bad end
  local base = { id = "a", prompt = "Explain.", answer_type = "free_text" }
  local function with(extra)
    local t = {}
    for k, v in pairs(base) do t[k] = v end
    for k, v in pairs(extra) do t[k] = v end
    return t
  end

  it("names the line and field of a missing or empty reference and of bad notes", function()
    assert.are.equal("f.jsonl:9: field reference: missing (a free_text question gives its reference answer)", bad(base))
    assert.are.equal('f.jsonl:9: field reference: expected the reference answer as text, got ""', bad(with({ reference = "" })))
    assert.are.equal('f.jsonl:9: field reference: expected the reference answer as text, got " \\n "',
                     bad(with({ reference = " \n " })))
    assert.are.equal("f.jsonl:9: field reference: expected the reference answer as text, got 4", bad(with({ reference = 4 })))
    assert.are.equal("f.jsonl:9: field reference: expected the reference answer as text, got null",
                     qf.item('{"id": "a", "prompt": "p", "answer_type": "free_text", "reference": null}', 9, "f.jsonl").bad)
    assert.are.equal("f.jsonl:9: field rubric_notes: expected text for the judge, got a list or object",
                     bad(with({ reference = "r", rubric_notes = { "x" } })))
    assert.is_nil(bad(with({ reference = "r", rubric_notes = "" })))
  end)
end)
