-- SPDX-License-Identifier: MIT
-- causal_eval.logprobs.yes_no: the yes/no answer of a reply's token
-- log-probabilities, on hand-made OpenAI logprobs.content arrays.
local logprobs = require "causal_eval.logprobs"

local ln = math.log

local function alt(token, p) return { token = token, logprob = ln(p) } end

local function pos(token, p, alts) return { token = token, logprob = ln(p), top_logprobs = alts or {} } end

describe("logprobs.yes_no", function()
  it("sums the yes and the no variants of the answer position, whatever their spaces and case", function()
    local r = assert(logprobs.yes_no({
      pos("Yes", 0.6, { alt("Yes", 0.6), alt(" yes", 0.1), alt("No", 0.15), alt(" NO", 0.05), alt("Maybe", 0.1) }),
    }))
    assert.are.equal("yes", r.answer)
    assert.is_near(0.7, r.mass_yes, 1e-12)
    assert.is_near(0.2, r.mass_no, 1e-12)
    assert.is_near(0.9, r.mass, 1e-12)
    assert.is_near(0.7 / 0.9, r.p_yes, 1e-12)
    assert.is_near(0.2 / 0.9, r.p_no, 1e-12)
    assert.is_near(1, r.p_yes + r.p_no, 1e-12)
  end)

  it("answers no when the no variants weigh more, even if the chosen token is yes", function()
    -- a sampled reply may pick the less likely token: the probabilities decide
    local r = assert(logprobs.yes_no({ pos("yes", 0.3, { alt("no", 0.4), alt("No.", 0.2), alt("yes", 0.3) }) }))
    assert.are.equal("no", r.answer)
    assert.is_near(0.6 / 0.9, r.p_no, 1e-12)
  end)

  it("reads true and false as yes and no, and strips punctuation and tokenizer space marks", function()
    local r = assert(logprobs.yes_no({
      pos("True", 0.5, { alt("True", 0.5), alt("\"false\"", 0.2), alt("\xc4\xa0yes", 0.1), alt("\xe2\x96\x81No", 0.1),
                         alt("**TRUE**", 0.05) }),
    }))
    assert.are.equal("yes", r.answer)
    assert.is_near(0.65, r.mass_yes, 1e-12)
    assert.is_near(0.3, r.mass_no, 1e-12)
  end)

  it("takes the first position that offers yes or no, as its token or among its alternatives", function()
    local content = {
      pos("Answer", 0.9, { alt("Answer", 0.9), alt("The", 0.05) }),
      pos(":", 1, { alt(":", 1) }),
      -- chosen "Maybe", but yes/no are among the alternatives: this position
      pos(" Maybe", 0.5, { alt(" Maybe", 0.5), alt(" no", 0.3), alt(" yes", 0.1) }),
      pos(" Yes", 0.99, { alt(" Yes", 0.99) }),
    }
    local r = assert(logprobs.yes_no(content))
    assert.are.equal("no", r.answer)
    assert.is_near(0.75, r.p_no, 1e-12)
    assert.is_near(0.4, r.mass, 1e-12)
  end)

  it("counts the chosen token once, and also when the alternatives leave it out", function()
    local once = assert(logprobs.yes_no({ pos("No", 0.5, { alt("No", 0.5), alt("Yes", 0.25) }) }))
    assert.is_near(0.5, once.mass_no, 1e-12)
    local left_out = assert(logprobs.yes_no({ pos("No", 0.5, { alt("Yes", 0.25) }) }))
    assert.is_near(0.5, left_out.mass_no, 1e-12)
    assert.is_near(2 / 3, left_out.p_no, 1e-12)
    -- no alternatives at all (top_logprobs 0): the chosen token alone
    local alone = assert(logprobs.yes_no({ { token = "No", logprob = ln(0.8) } }))
    assert.are.equal("no", alone.answer)
    assert.are.equal(1, alone.p_no)
    assert.are.equal(0, alone.p_yes)
  end)

  it("breaks a tie by the chosen token", function()
    assert.are.equal("no", assert(logprobs.yes_no({ pos("No", 0.4, { alt("Yes", 0.4) }) })).answer)
    assert.are.equal("yes", assert(logprobs.yes_no({ pos("yes", 0.4, { alt("no", 0.4) }) })).answer)
  end)

  it("says why when there is nothing to read", function()
    local r, why = logprobs.yes_no(nil)
    assert.is_nil(r)
    assert.are.equal("no logprobs", why)
    assert.are.same({ nil, "no logprobs" }, { logprobs.yes_no({}) })
    assert.are.same({ nil, "no logprobs" }, { logprobs.yes_no("Yes") })
    assert.are.same({ nil, "no yes/no token in the top logprobs" },
      { logprobs.yes_no({ pos("0.25", 0.9, { alt("0.25", 0.9), alt("0.3", 0.05) }), pos("Yesterday", 1) }) })
    -- entries of the wrong shape are skipped, not an error
    assert.are.same({ nil, "no yes/no token in the top logprobs" },
      { logprobs.yes_no({ 1, { token = 2 }, { top_logprobs = "x" } }) })
    assert.are.same({ nil, "the yes/no tokens have probability 0" },
      { logprobs.yes_no({ { token = "Yes", logprob = -math.huge, top_logprobs = { { token = "no", logprob = -math.huge } } } }) })
  end)
end)
