-- SPDX-License-Identifier: MIT
-- A record's score line written in C (store_core.score_line) is the text
-- json.encode gives the table results.score_fields makes, for every kind of
-- record a run or the service stores, and for odd values a question file
-- may bring; what the writer does not take goes to json.encode.
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local outcome = require "causal_eval.run.outcome"
local store_core = require "causal_eval.store_core"

local function encoded(rec) return json.encode(results.score_fields(rec)) end

local function same(rec, what)
  local line = store_core.score_line(rec)
  assert.is_not_nil(line, what)
  assert.are.equal(encoded(rec), line, what)
  assert.are.equal(line, results.score_line(rec), what)
end

describe("store_core.score_line", function()
  local q = { id = "q1", family = "confounding", domain = "health", difficulty = "hard", rung = 2,
              answer_type = "yes_no", ground_truth = "yes", prompt = "Does X cause Y?" }

  it("writes the line json.encode writes of results.score_fields", function()
    local answers = { "Yes.", "no", "maybe", "", "The answer is yes\n" }
    for i, text in ipairs(answers) do
      local rec = outcome.new_record("run", q, "m", 1, { text = text, input_tokens = 10 * i, output_tokens = i }, nil)
      rec.latency_ms = 12.3456789 * i
      same(rec, text)
      rec.cached = "disk"
      same(rec, "cached " .. text)
      rec.tokens = {}
      same(rec, "no tokens " .. text)
      rec.tokens, rec.latency_ms = nil, nil
      same(rec, "no tokens or latency " .. text)
    end
    local err = outcome.new_record("run", q, "m", 3, nil, { class = "server", message = "HTTP 500" })
    same(err, "an error")
    err.error.class = nil
    same(err, "an error without its class")
    -- numbers and text: integers, floats that are whole, escapes, non-ASCII
    local nq = { id = "n", family = "ladder \"x\"\n\1", difficulty = 3.0, rung = 1 << 40, answer_type = "number",
                 ground_truth = 0.25, prompt = "p" }
    local rec = outcome.new_record("run", nq, "m", 1, { text = "0.25", input_tokens = 0, output_tokens = 2.5 }, nil)
    rec.latency_ms = 1e-7
    same(rec, "numbers")
    rec.family, rec.difficulty, rec.rung, rec.day = "caf\195\169 \255", json.null, false, nil
    same(rec, "odd values")
    rec.correct, rec.unparseable = false, "no number"
    same(rec, "false and unparseable")
  end)

  it("writes the fields of repeated samples and of a judged free-text answer", function()
    local parts = {}
    for i = 1, 3 do parts[i] = { answer = { text = i == 2 and "No" or "Yes", input_tokens = 5, output_tokens = 1 } } end
    local rec = outcome.sampled_record("run", q, "m", parts, nil)
    rec.latency_ms = 40.5
    same(rec, "samples")
    local fq = { id = "f", family = "free", answer_type = "free_text", reference = "because", prompt = "Why?" }
    local ft = outcome.new_record("run", fq, "m", 1, { text = "Because of Z." }, nil)
    same(ft, "free text, not judged")
    ft.judged, ft.score = true, 0.75
    same(ft, "free text, judged")
    -- the answer type is compared whole
    ft.answer_type = "free_text\0x"
    same(ft, "not free text")
  end)

  it("leaves to json.encode what it does not write", function()
    local rec = outcome.new_record("run", q, "m", 1, { text = "Yes" }, nil)
    rec.family = { "a", "table" }
    assert.is_nil(store_core.score_line(rec))
    assert.are.equal(encoded(rec), results.score_line(rec))
    rec.family, rec.latency_ms = "f", 0 / 0
    assert.is_nil(store_core.score_line(rec))
    local ok, err = pcall(results.score_line, rec)
    assert.is_false(ok)
    local _, want = pcall(encoded, rec)
    assert.are.equal(want:match("json%.encode:.*"), err:match("json%.encode:.*"))
    rec.latency_ms, rec.error = 1, "a string"
    assert.is_nil(store_core.score_line(rec))
    assert.are.equal(encoded(rec), results.score_line(rec))
  end)
end)
