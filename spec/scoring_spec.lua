-- SPDX-License-Identifier: MIT
local scoring = require "causal_eval.scoring"

-- { response, expected answer or false for unparseable, expected reason (optional) }
local YES_NO = {
  { "Yes.", "yes" },
  { "No.", "no" },
  { "yes", "yes" },
  { "NO", "no" },
  { "**No**", "no" },
  { "**Yes**, because the drug lowers blood pressure.", "yes" },
  { "Answer: yes", "yes" },
  { "Answer: No", "no" },
  { "Final answer: yes", "yes" },
  { "The answer is no.", "no" },
  { "The answer is: **yes**", "yes" },
  { "No, because the association comes from a common cause.", "no" },
  { "Yes - intervening raises the probability.", "yes" },
  { "Let me think step by step. Smoking affects tar, tar affects cancer. So the answer is yes.", "yes" },
  { "First, compute P(Y=1|X=1) = 0.4 and P(Y=1|X=0) = 0.6. The difference is negative.\nTherefore, the answer is no.", "no" },
  { "There is no direct effect here, but the indirect one is positive.\n\nFinal answer: yes", "yes" },
  { "There is no causal effect of X on Y.\nNo", "no" },
  { "Reasoning: the back-door path is blocked.\n\n**Answer:** Yes", "yes" },
  { "$\\boxed{no}$", "no" },
  { "\\boxed{\\text{Yes}}", "yes" },
  { "True", "yes" },
  { "Answer: false", "no" },
  { "(yes)", "yes" },
  { "\"No.\"", "no" },
  { "After adjusting for the confounder the effect flips sign, so no.", "no" },
  { "Both stratified rates are higher with treatment; therefore yes.", "yes" },
  { "I think the answer is yes. Wait, let me reconsider. The answer is no.", "no" },
  -- traps
  { "yes and no", false, "both yes and no" },
  { "It could be yes or no depending on the data.", false, "both yes and no" },
  { "Yes/No", false, "both yes and no" },
  { "The answer is not yes.", false, "negated answer" },
  { "Definitely not yes.", false, "negated answer" },
  { "There is no way to tell.", false, "no answer found" },
  { "No idea.", false, "refusal" },
  { "I'm not sure; it could go either way.", false, "refusal" },
  { "I cannot determine this from the information given.", false, "refusal" },
  { "As an AI, I don't have enough information.", false, "refusal" },
  { "", false, "empty response" },
  { "   \n  ", false, "empty response" },
  { "Nobody knows.", false, "no answer found" },
  { "The effect is positive.", false, "no answer found" },
}

local NUMBERS = {
  { "0.35", 0.35 },
  { "35%", 0.35 },
  { "35 %", 0.35 },
  { "The probability is 42%.", 0.42 },
  { "Answer: 0.125", 0.125 },
  { ".5", 0.5 },
  { "-0.12", -0.12 },
  { "The ATE is \226\136\146.08 (a decrease).", -0.08 },
  { "1/3", 1 / 3 },
  { "Final answer: 3/4", 0.75 },
  { "about 0.27", 0.27 },
  { "approximately 27 percent", 0.27 },
  { "P(Y=1|do(X=1)) = 0.6 and P(Y=1|do(X=0)) = 0.4, so the answer is 0.2.", 0.2 },
  { "Step 1: 0.3 * 0.5 = 0.15. Step 2: 0.15 + 0.2 = 0.35. Answer: 0.35", 0.35 },
  { "$\\boxed{0.42}$", 0.42 },
  { "\\frac{1}{4}", 0.25 },
  { "The result is 1.5e-2.", 0.015 },
  { "0.35 (that is, 35%)", 0.35 },
  { "Answer: -0.2 (the effect is negative)", -0.2 },
  -- a marker's optional '-' separator must not swallow a minus sign
  { "The answer is -0.6900.", -0.69 },
  { "Final answer -0.3", -0.3 },
  { "The answer is - 0.3", 0.3 },
  { "I cannot determine the probability.", false, "refusal" },
  { "It is likely.", false, "no number found" },
}

describe("causal_eval.scoring", function()
  describe("yes/no", function()
    for _, c in ipairs(YES_NO) do
      it(("reads %q"):format(c[1]), function()
        local v, reason = scoring.yes_no(c[1])
        if c[2] then
          assert.are.equal(c[2], v, reason)
        else
          assert.is_nil(v)
          if c[3] then assert.are.equal(c[3], reason) end
        end
      end)
    end
  end)

  it("reads a short bare reply as the rules read it padded (the short one takes a shortcut)", function()
    local words = { "yes", "no", "Yes", "No", "YES", "NO", "yEs", "nO", "yea", "nah", "yep", "non", "ye", "n", "y",
                    "not", "tru", "fal" }
    local around = { { "", "" }, { " ", "" }, { "", "." }, { "", "!" }, { "\t", ".\n" }, { "\n", " " }, { "", ".." },
                     { "", "?" }, { "", "," }, { "  ", " . " }, { "", ".!" }, { "\r\n", "\r\n" }, { "", ". " },
                     { "", "!\n\n" }, { "(", ")" }, { '"', '"' }, { "*", "*" }, { "", ":" } }
    local answered = 0
    for _, w in ipairs(words) do
      for _, a in ipairs(around) do
        local text = a[1] .. w .. a[2]
        local v, reason = scoring.yes_no(text)
        -- 16 spaces more: past the shortcut, and nothing the rules look at
        local pv, preason = scoring.yes_no(text .. string.rep(" ", 16))
        assert.are.equal(pv, v, ("%q"):format(text))
        assert.are.equal(preason, reason, ("%q"):format(text))
        if v then answered = answered + 1 end
      end
    end
    assert.is_true(answered > 100, answered .. " answered")
  end)

  describe("numbers", function()
    for _, c in ipairs(NUMBERS) do
      it(("reads %q"):format(c[1]), function()
        local v, reason = scoring.number(c[1])
        if c[2] then
          assert.is_number(v, reason)
          assert.is_true(math.abs(v - c[2]) < 1e-12, ("got %s"):format(tostring(v)))
        else
          assert.is_nil(v)
          if c[3] then assert.are.equal(c[3], reason) end
        end
      end)
    end
  end)

  describe("choices", function()
    local labels = { "A", "B", "C", "D" }
    local texts = { "smoking", "tar deposits", "exercise", "genetics" }
    local CASES = {
      { "B", "B" }, { "(C)", "C" }, { "Answer: D", "D" }, { "The answer is (a).", "A" },
      { "**B**) tar deposits", "B" }, { "Option C is the confounder.", "C" },
      { "It is genetics, which affects both.", "D" }, { "c", "C" },
      { "Either smoking or exercise.", false }, { "None of them.", false },
      { "E", false },
    }
    for _, c in ipairs(CASES) do
      it(("reads %q"):format(c[1]), function()
        local v = scoring.choice(c[1], labels, texts)
        if c[2] then assert.are.equal(c[2], v) else assert.is_nil(v) end
      end)
    end
  end)

  describe("score", function()
    it("scores yes/no, numbers within tolerance, and unparseable answers", function()
      local q = { answer_type = "yes_no", ground_truth = "yes" }
      assert.are.same({ parsed = "yes", correct = true, score = 1 }, scoring.score(q, "Yes."))
      assert.are.equal(0, scoring.score(q, "No.").score)
      local r = scoring.score(q, "maybe")
      assert.is_true(r.unparseable)
      assert.is_nil(r.correct)
      assert.are.equal("no answer found", r.reason)
      local qn = { answer_type = "number", ground_truth = 0.3, tolerance = 0.01 }
      assert.is_true(scoring.score(qn, "0.305").correct)
      assert.is_true(scoring.score(qn, "31%").correct)
      assert.is_false(scoring.score(qn, "0.32").correct)
      local qc = { answer_type = "choice", ground_truth = "B", choices = { "A", "B", "C" } }
      assert.is_true(scoring.score(qc, "Answer: B").correct)
    end)
  end)
end)
