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
  -- The rules search a response with patterns tried only where they can
  -- match (a long response took 300 us, a choice 25 ms). Each search must
  -- give what the plain pattern call gives; responses made of the pieces
  -- the rules look for, in random order, long and short.
  describe("searching a response", function()
    local PIECES = {
      " ", " ", "  ", "\n", "\t", "yes", "no", "Yes", "NO", "not", "a", "and", "or", "/", "so", "therefore", "thus",
      "Therefore,", ",", ";", ":", ".", "!", "-", "=", "(", ")", "[", "\"", "'", "answer", "Answer", "final answer",
      "the answer is", "my answer is", "answer would be", "answer is", "is", "conclusion", "In conclusion,",
      "verdict", "option", "Option (b)", "b", "c", "(c)", "approximately", "about", "roughly", "\226\137\136",
      "\226\136\146", "1,000", "12,345", "0.35", "-2", "+3", ".5", "1/3", "2 / 4", "35%", "35 percent",
      "12 per cent", "1e-3", "2E+4", "\\frac{1}{3}", "\\dfrac{2}{0}", "frac", "\\boxed{yes}", "\\boxed{0.3}",
      "\\text{no}", "\\", "**", "_", "`", "#", ">", "\226\128\156", "\226\128\157", "\226\128\153",
      "true", "false", "correct", "incorrect", "neither", "X", "Y", "co-operation", "e-3", "so yes", "thus no",
      "smoking causes cancer", "i don't know", "not sure", "7", "42", "x-1",
    }
    local PATTERNS = {
      "%f[%a]yes%s+and%s+no%f[%A]", "%f[%a]no%s+and%s+yes%f[%A]", "%f[%a]yes%s*/%s*no%f[%A]",
      "%f[%a]yes%s+or%s+no%f[%A]", "%f[%a]not%s+a?%s*yes%f[%A]", "%f[%a]not%s+a?%s*no%f[%A]",
      "%f[%a]so%s+(%a+)%s*[%.!]?%s*$", "%f[%a]therefore%s+(%a+)%s*[%.!]?%s*$", "%f[%a]thus%s+(%a+)%s*[%.!]?%s*$",
      "%f[%a]option%s+%(?(%a)%f[%A]", "%f[%a]approximately%s*", "%f[%a]about%s*", "%f[%a]roughly%s*",
      "\226\137\136%s*",
      "final answer%s*[:=%-]?%s*is%s*[:%-]?%s*[%(%[\"']?%s*(%a+)", "final answer%s*[:=%-]%s*[%(%[\"']?%s*(%a)",
      "final answer%s+", "the answer is%s*[:%-]?%s*[%(%[\"']?%s*(%a+)", "answer%s*[:=%-]%s*",
      "my answer is%s*[:%-]?%s*", "conclusion%s*[:%-]%s*[%(%[\"']?%s*(%a+)", "verdict%s*[:%-]%s*",
      "in conclusion,?%s*[%(%[\"']?%s*(%a)", "therefore,?%s*the answer is%s*", "so the answer is%s*",
      "thus,?%s*the answer is%s*[%(%[\"']?%s*(%a+)", "answer would be%s*", "answer is:?%s*",
    }
    -- the reading of one number before it took positions (as it was)
    local function read_number_before(s)
      local a, b = s:match("^\\d?frac%s*{%s*([%-%+]?%d+%.?%d*)%s*}%s*{%s*(%d+%.?%d*)%s*}")
      if a then
        local d = tonumber(b)
        if d and d ~= 0 then return tonumber(a) / d end
      end
      local n, rest = s:match("^([%-%+]?%d*%.?%d+)(.*)$")
      if not n then return nil end
      local exp, rest2 = rest:match("^([eE][%-%+]?%d+)(.*)$")
      if exp then n, rest = n .. exp, rest2 end
      local den = rest:match("^%s*/%s*(%d+%.?%d*)(.*)$")
      local v = tonumber(n)
      if not v then return nil end
      if den then
        local d = tonumber(den)
        if not d or d == 0 then return nil end
        return v / d
      end
      if rest:match("^%s*%%") or rest:match("^%s*percent") or rest:match("^%s*per cent") then return v / 100 end
      return v
    end
    local function normalise_before(text)
      local t = text:lower()
      t = t:gsub("\\boxed%s*{([^}]*)}", " final answer: %1 ")
      t = t:gsub("\\text%s*{([^}]*)}", "%1")
      t = t:gsub("[%*_`#>]", " ")
      t = t:gsub("\226\128\156", '"'):gsub("\226\128\157", '"'):gsub("\226\128\153", "'")
      return t
    end
    local function same(a, b) return a == b or (a ~= a and b ~= b) end -- NaN reads as NaN

    it("finds what the plain patterns find, where they find it", function()
      local rng = require("causal_eval.rng").new(20261205, 1)
      local function below(k) return rng:int(k) - 1 end -- 0 .. k-1
      local checked = 0
      for n = 1, 1500 do
        local parts = {}
        for i = 1, below(n % 10 == 0 and 400 or 40) + 1 do parts[i] = PIECES[below(#PIECES) + 1] end
        local raw = table.concat(parts, below(3) == 0 and "" or " ")
        local t = scoring._normalise(raw)
        assert.are.equal(normalise_before(raw), t)
        for _, pat in ipairs(PATTERNS) do
          local init = below(#t + 2) + 1
          if below(2) == 0 then init = 1 end
          assert.are.same({ t:find(pat, init) }, { scoring.find_literal(t, pat, init) }, pat .. " in " .. ("%q"):format(t))
        end
        assert.are.equal(t:match("[,;:]%s*(%a+)%s*[%.!]?%s*$"), scoring._after_last_mark(t), ("%q"):format(t))
        assert.are.equal(t:match(".*%f[%a]option%s+%(?(%a)%f[%A]"), scoring._last_option(t), ("%q"):format(t))
        -- every place of a short response, fifty of a long one
        for k = 1, math.min(#t + 1, 50) do
          local i = #t < 50 and k or below(#t + 1) + 1
          local want = t:find("[%-%+]?%d*%.?%d", i)
          assert.are.equal(want, scoring._number_start(t, i), ("%q from %d"):format(t, i))
          if want then
            assert.is_true(same(read_number_before(t:sub(want)), scoring._read_number(t, want)), ("%q at %d"):format(t, want))
          end
        end
        -- digits found a byte value at a time, remembered from place to place
        local seen, i = {}, 1
        while i <= #t + 1 do
          assert.are.equal(t:find("%d", i), scoring._first_digit(t, i, seen), ("%q from %d"):format(t, i))
          assert.are.equal(t:find("%d", i), scoring._first_digit(t, i), ("%q from %d"):format(t, i))
          i = i + below(9) + 1
        end
        assert.are.equal(t:find("%d,%d") ~= nil, scoring._digit_comma_digit(t), ("%q"):format(t))
        checked = checked + 1
      end
      assert.are.equal(1500, checked)
    end)

    -- a reply with no digit is read as a number without the markers'
    -- search: it must say what the whole reading says, reason included
    it("reads a number from a reply as the whole reading does, with or without a digit", function()
      local rng = require("causal_eval.rng").new(20261206, 1)
      local function below(k) return rng:int(k) - 1 end
      local words = {}
      for _, p in ipairs(PIECES) do
        if not p:find("%d") then words[#words + 1] = p end
      end
      for _, p in ipairs({ "I cannot determine", "unknown", "cannot be computed", "I'm unable to answer", "none" }) do
        words[#words + 1] = p
      end
      local reasons = {}
      for n = 1, 1500 do
        local pool = n % 5 == 0 and PIECES or words -- a fifth hold digits
        local parts = {}
        for i = 1, below(n % 10 == 0 and 200 or 20) + 1 do parts[i] = pool[below(#pool) + 1] end
        local raw = table.concat(parts, below(3) == 0 and "" or " ")
        local v, why = scoring.number(raw)
        local fv, fwhy = scoring._number_full(raw)
        assert.is_true(same(v, fv), ("%q"):format(raw))
        assert.are.equal(fwhy, why, ("%q"):format(raw))
        if not raw:find("%d") then reasons[why] = (reasons[why] or 0) + 1 end
      end
      -- each way a digit-free reply is read came up
      assert.is_true((reasons["no number found"] or 0) > 50)
      assert.is_true((reasons.refusal or 0) > 50)
      assert.is_true((reasons["empty response"] or 0) > 0)
    end)

    it("takes a marker's plain text only up to what a quantifier makes optional", function()
      assert.are.equal("answer is", scoring._literal("answer is:?%s*"))
      assert.are.equal("in conclusion", scoring._literal("in conclusion,?%s*"))
      assert.are.equal("final answer", scoring._literal("final answer%s*[:=%-]?%s*is"))
      assert.are.equal("yes", scoring._literal("%f[%a]yes%s+and%s+no%f[%A]"))
      assert.has_error(function() scoring._literal("[%-%+]?%d") end)
    end)
  end)
end)
