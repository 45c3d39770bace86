-- SPDX-License-Identifier: MIT
local cot = require "causal_eval.cot"
local scoring = require "causal_eval.scoring"

local Q = {
  yes_no = { answer_type = "yes_no", ground_truth = "no" },
  number = { answer_type = "number", ground_truth = 0.35, tolerance = 0.01 },
  choice = {
    answer_type = "choice", ground_truth = "B",
    query = { choices = {
      { label = "A", text = "smoking" }, { label = "B", text = "tar deposits" },
      { label = "C", text = "exercise" }, { label = "D", text = "genetics" },
    } },
  },
}

local LONG = "Let's think step by step. Smoking raises tar deposits, and tar deposits raise the risk of "
  .. "cancer; the back-door path through genotype is blocked once we condition on"

-- { answer type, reply, expected answer or false (unparseable), reason (when
-- unparseable), reasoning (when given: the reasoning split returns; false for nil) }
local CASES = {
  -- yes / no
  { "yes_no", "The treatment lowers blood pressure.\nFinal answer: no", "no", nil,
    "The treatment lowers blood pressure." },
  { "yes_no", "Step 1: the back-door path is open.\n\n**Final Answer**: Yes", "yes", nil,
    "Step 1: the back-door path is open." },
  { "yes_no", "Reasoning here.\n**Final answer:** **No**", "no" },
  { "yes_no", "The effect is positive.\nFinal Answer - yes", "yes" },
  { "yes_no", "the effect vanishes after adjustment.\nfinal answer: no", "no" },
  { "yes_no", "Thinking.\nFinal answer: yes   \n\n\n", "yes", nil, "Thinking." },
  { "yes_no", "Line one.\r\nLine two.\r\nFinal answer: no\r\n", "no", nil, "Line one.\nLine two." },
  { "yes_no", "We adjust for Z.\nFinal answer: \226\128\156No\226\128\157", "no" },
  { "yes_no", "At first I thought yes, since X and Y correlate. But Z confounds them.\nFinal answer: no",
    "no", nil, "At first I thought yes, since X and Y correlate. But Z confounds them." },
  { "yes_no", "Yes, it looks causal... no, wait. Yes. Let me recheck.\nFinal answer: no", "no" },
  { "yes_no", "Answer: yes\nHmm, that ignores the confounder.\nAnswer: no", "no", nil,
    "Answer: yes\nHmm, that ignores the confounder." },
  { "yes_no", "The mediator carries the effect.\nThe final answer is yes.", "yes", nil,
    "The mediator carries the effect." },
  { "yes_no", "P(Y|do(X)) differs from P(Y).\nTherefore, the answer is yes.", "yes" },
  { "yes_no", "No arrow enters Y from X, so the answer is no.", "no" },
  { "yes_no", "Both strata agree.\n<answer>Yes</answer>", "yes", nil, "Both strata agree." },
  { "yes_no", "Some reasoning.\n<answer>\nno\n</answer>\n", "no" },
  { "yes_no", 'The correlation is spurious.\n{"answer": "no"}', "no", nil, "The correlation is spurious." },
  { "yes_no", 'Here is my reply:\n```json\n{"reasoning": "Z blocks it", "answer": "yes"}\n```', "yes" },
  { "yes_no", "Collider bias explains it, so $\\boxed{\\text{No}}$", "no" },
  { "yes_no", "We computed it.\n\n## Answer\nyes", "yes", nil, "We computed it." },
  { "yes_no", "Reasoning.\nFinal answer: no. Hope this helps!", "no" },
  { "yes_no", "Reasoning.\nFinal answer: No (the back-door path is blocked)", "no" },
  { "yes_no", "Reasoning.\nFinal answer: Yes, there is no confounding left.", "yes" },
  { "yes_no", "Final answer (yes/no): no", "no" },
  { "yes_no", "I think the answer is yes. Wait, let me reconsider. The answer is no.", "no" },
  { "yes_no", "Smoking causes tar, which causes cancer.\n\n**No.**", "no", nil,
    "Smoking causes tar, which causes cancer." },
  { "yes_no", "The ATE is negative.\nSo, yes.", "yes" },
  -- unparseable yes / no
  { "yes_no", "Reasoning.\nFinal answer: yes or no?", false, "both yes and no" },
  { "yes_no", "Reasoning.\nFinal answer: yes, no", false, "both yes and no" },
  { "yes_no", "Reasoning.\nAnswer: yes. Final answer: no.", false, cot.CONFLICT },
  { "yes_no", "Reasoning.\nFinal answer: not yes", false, "negated answer" },
  { "yes_no", LONG, false, cot.NO_FINAL, LONG },
  { "yes_no", "Yes, X precedes Y. But is the answer yes? We compute P(Y=1|X=1) = 0.3 and then we see there is no",
    false, cot.NO_FINAL },
  { "yes_no", "Let us check the answer is yes by computing the effect.\nThere is no", false, cot.NO_FINAL },
  { "yes_no", "Step 1: compute the strata.\nStep 2: P(Y=1|X=0) = 0.", false, cot.NO_FINAL },
  { "yes_no", "Yes: a final answer-style summary needs the strata first, and there is no", false, cot.NO_FINAL },
  { "yes_no", "Let me lay it out.\nFinal answer:", false, cot.EMPTY_FINAL, "Let me lay it out." },
  { "yes_no", "", false, "empty response", false },
  { "yes_no", "  \n\n ", false, "empty response" },
  { "yes_no", "I'm sorry, but I cannot answer this question without more data.", false, "refusal" },
  -- numbers
  { "number", "P(Y=1|do(X=1)) = 0.6 and P(Y=1|do(X=0)) = 0.25.\nFinal answer: 0.35", 0.35 },
  { "number", "The risk rises by 35 points.\nFinal answer: 35%", 0.35 },
  { "number", "Each of three doors is equally likely.\nFinal answer: 1/3", 1 / 3 },
  { "number", "The effect is harmful.\nFinal answer: -0.2", -0.2 },
  { "number", "The effect is harmful.\nFinal answer: \226\136\1460.2", -0.2 },
  { "number", "Adding the paths: 0.1 + 0.3 = 0.4.\nThe final answer is $\\boxed{0.4}$.", 0.4 },
  { "number", "\\boxed{\\frac{1}{4}}", 0.25 },
  { "number", "\\boxed{35\\%}", 0.35 },
  { "number", "She has 3 boxes of 4 apples.\n3 * 4 = 12\n#### 12", 12, nil, "She has 3 boxes of 4 apples.\n3 * 4 = 12" },
  { "number", "Step 1: 0.5.\nStep 2: 0.3.\nAnswer: 0.5\nAnswer: 0.3", 0.3 },
  { "number", 'Computed above.\n{"answer": 0.35}', 0.35 },
  { "number", "Computed above.\n<answer>0.35</answer>", 0.35 },
  { "number", "Final answer: 0.35 (that is, 35%)", 0.35 },
  { "number", "Final answer: 0.35. That is the average effect.", 0.35 },
  { "number", "Adjusting for Z.\nThe ATE is 0.35.", 0.35 },
  { "number", "Final answer: 0.2 (from 0.6 - 0.4)", 0.2 },
  { "number", "Subtracting.\nFinal answer: 1 - 0.65 = 0.35", 0.35 },
  { "number", "Counting.\nFinal answer: 1,000", 1000 },
  { "number", "Reasoning.\nFinal answer: 0.3 or 0.4", false, cot.SEVERAL },
  { "number", "Reasoning.\nFinal answer: 0.3, 0.4", false, cot.SEVERAL },
  { "number", "The difference is 0.6 - 0.25", false, cot.NO_FINAL },
  { "number", "I cannot determine the probability.", false, "refusal" },
  -- choices
  { "choice", "Tar deposits mediate the effect.\nFinal answer: B", "B", nil, "Tar deposits mediate the effect." },
  { "choice", "Reasoning.\nFinal answer: (C)", "C" },
  { "choice", "Reasoning.\nfinal answer: d", "D" },
  { "choice", "Reasoning.\n**Final Answer:**\n\n**A**", "A" },
  { "choice", "Reasoning.\nFinal answer: B. Tar deposits lie on the path.", "B" },
  { "choice", "Reasoning.\nFinal answer: B because tar lies on the path", "B" },
  { "choice", "Thus the correct answer is C.", "C" },
  { "choice", "Option A is tempting. Option D too.\nAnswer: B", "B" },
  { "choice", "Reasoning.\n\\boxed{B}", "B" },
  { "choice", "Reasoning.\n<answer>(D)</answer>", "D" },
  { "choice", 'Reasoning.\n{"answer": "C"}', "C" },
  { "choice", "Reasoning.\n(B) tar deposits", "B" },
  { "choice", "Reasoning.\nFinal answer: A or B", false, cot.SEVERAL },
  { "choice", "Reasoning.\nFinal answer: (a) or (b)", false, cot.SEVERAL },
  { "choice", "Reasoning.\nFinal answer: E", false, "no option found" },
  { "choice", "A is the exposure and B the mediator, so the most plausible option is", false, cot.NO_FINAL },
}

local function check(c)
  local q = Q[c[1]]
  local parsed, reason, reasoning = cot.extract(q, c[2])
  if c[3] then
    assert.is_not_nil(parsed, reason)
    if q.answer_type == "number" then
      assert.is_true(math.abs(parsed - c[3]) < 1e-12, ("got %s"):format(tostring(parsed)))
    else
      assert.are.equal(c[3], parsed)
    end
    reasoning = reason -- on success the reasoning comes second
  else
    assert.is_nil(parsed)
    assert.are.equal(c[4], reason)
  end
  if c[5] ~= nil then assert.are.equal(c[5] or nil, reasoning) end
end

describe("causal_eval.cot", function()
  it("covers at least 45 distinct reply forms", function()
    local seen, n = {}, 0
    for _, c in ipairs(CASES) do
      if not seen[c[2]] then seen[c[2]] = true; n = n + 1 end
    end
    assert.is_true(n >= 45, ("%d forms"):format(n))
  end)

  describe("extract", function()
    for _, c in ipairs(CASES) do
      it(("reads %s %q"):format(c[1], c[2]:sub(1, 80)), function() check(c) end)
    end
  end)

  describe("split", function()
    it("gives the final part and the reasoning before it", function()
      assert.are.same({ "no.", "We adjust." }, { cot.split("We adjust.\nFinal answer: no. Hope this helps!") })
      assert.are.same({ "0.4", "so" }, { cot.split("so \\boxed{0.4}") })
      assert.are.same({ "12", "3 * 4" }, { cot.split("3 * 4\n#### 12") })
      assert.are.same({ "yes" }, { cot.split("## Answer\nyes") })
    end)

    it("reads only the last marker, to the end of its sentence", function()
      local final, reasoning = cot.split("Answer: yes\nMore thought. Final answer: no. The path through Z is"
        .. " blocked, so yes, X does not cause Y.")
      assert.are.equal("no.", final)
      assert.are.equal("Answer: yes\nMore thought.", reasoning)
    end)

    it("returns no answer, with the whole reply as reasoning, for a cut-off reasoning", function()
      assert.are.same({ nil, cot.NO_FINAL, LONG }, { cot.split(LONG .. "\n") })
    end)

    it("keeps a marker inside an answer tag with its tag", function()
      assert.are.same({ "Final answer: B", "Why." }, { cot.split("Why.\n<answer>Final answer: B</answer>") })
    end)

    it("takes the reasoning from a JSON reply's own field when nothing precedes it", function()
      assert.are.same({ "yes", "Z blocks it" }, { cot.split('{"reasoning": "Z blocks it", "answer": "yes"}') })
      assert.are.same({ "0.35" }, { cot.split('{"answer": 0.35}') })
    end)

    it("refuses what is not text", function()
      assert.are.same({ nil, "no response text" }, { cot.split(nil) })
    end)
  end)

  describe("score", function()
    it("scores the final answer as scoring.score would, with the reasoning", function()
      local r = cot.score(Q.yes_no, "At first I thought yes.\nFinal answer: no")
      assert.are.same({ parsed = "no", correct = true, score = 1, reasoning = "At first I thought yes." }, r)
      r = cot.score(Q.yes_no, "It is clear.\nFinal answer: yes")
      assert.are.same({ parsed = "yes", correct = false, score = 0, reasoning = "It is clear." }, r)
    end)

    it("judges numbers with the question's tolerance", function()
      for _, c in ipairs({ { "0.355", true }, { "35%", true }, { "0.37", false }, { "1/3", false } }) do
        local r = cot.score(Q.number, "Work.\nFinal answer: " .. c[1])
        assert.are.equal(c[2], r.correct, c[1])
        assert.are.equal(scoring.score(Q.number, c[1]).correct, r.correct)
      end
      local third = { answer_type = "number", ground_truth = 1 / 3, tolerance = 0 }
      assert.is_true(cot.score(third, "Final answer: 1/3").correct)
      local tiny = { answer_type = "number", ground_truth = 1e-5, tolerance = 0 }
      assert.is_true(cot.score(tiny, "Final answer: 0.00001").correct)
      -- an answer that overflows a double scores as scoring.score scores it
      assert.are.same(scoring.score(Q.number, "1e999"), cot.score(Q.number, "Final answer: 1e999"))
    end)

    it("scores choices", function()
      assert.is_true(cot.score(Q.choice, "Tar mediates.\nFinal answer: (B)").correct)
      assert.is_false(cot.score(Q.choice, "Tar mediates.\nFinal answer: C").correct)
    end)

    it("marks a reply without a final answer unparseable, keeping its reasoning", function()
      local r = cot.score(Q.yes_no, LONG)
      assert.are.same({ score = 0, reason = cot.NO_FINAL, unparseable = true, reasoning = LONG }, r)
      -- scoring alone would read this reply's opening "Yes"
      local cut = "Yes, X precedes Y, but the back-door path through Z is still open, and"
      assert.are.equal("yes", scoring.extract(Q.yes_no, cut))
      assert.is_true(cot.score(Q.yes_no, cut).unparseable)
    end)
  end)

  describe("instruction", function()
    for kind, q in pairs(Q) do
      it("asks for reasoning and a final answer line for " .. kind, function()
        local s = cot.instruction(q)
        assert.is_truthy(s:find("step by step", 1, true))
        assert.is_truthy(s:find("Final answer:", 1, true))
        assert.is_falsy(s:find("\n", 1, true))
      end)
    end

    it("names what X is per answer type", function()
      assert.is_truthy(cot.instruction(Q.yes_no):find("yes or no", 1, true))
      assert.is_truthy(cot.instruction(Q.number):find("a single number", 1, true))
      assert.is_truthy(cot.instruction(Q.choice):find("letter", 1, true))
      assert.is_truthy(cot.instruction(Q.choice):find("(A, B, C or D)", 1, true))
      assert.is_truthy(cot.instruction({ answer_type = "choice", choices = { "A", "B" } }):find("(A or B)", 1, true))
    end)

    it("is the same for the same question", function()
      assert.are.equal(cot.instruction(Q.choice), cot.instruction(Q.choice))
    end)
  end)
  -- Long replies are read without stepping through them a byte at a time
  -- or copying them to trim them: the same results as the plain ways.
  describe("reading a long reply", function()
    it("trims and finds a line's start as the plain ways do", function()
      local rng = require("causal_eval.rng").new(4, 2)
      local PIECES = { "a", "word", " ", "  ", "\t", "\r", "\v", "\f", ".", "0", "\n", "\n\n", "x\ny" }
      for n = 1, 600 do
        local parts = {}
        -- (every third reply a long last line: after its first twenty pieces,
        -- only the first ten kinds, which hold no newline)
        for i = 1, rng:int(n % 20 == 0 and 600 or 30) do
          parts[i] = PIECES[rng:int((n % 3 == 0 and i > 20) and 10 or #PIECES)]
        end
        local t = table.concat(parts)
        assert.are.equal((t:gsub("^%s+", ""):gsub("%s+$", "")), cot._trim(t), ("%q"):format(t))
        for _ = 1, 20 do
          local p = rng:int(#t + 1)
          local ls = p
          while ls > 1 and t:byte(ls - 1) ~= 10 do ls = ls - 1 end
          assert.are.equal(ls, cot._line_start(t, p), ("%q at %d"):format(t, p))
        end
      end
    end)
  end)
end)
