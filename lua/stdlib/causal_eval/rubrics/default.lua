-- SPDX-License-Identifier: MIT
-- The rubric `run --judge MODEL` grades free-text answers with when no
-- rubric file is given, in the style of Inspect's model_graded_qa: the
-- judge sees the question, the reference answer, the question's notes and
-- the response between fixed section lines, explains briefly and ends with
-- "GRADE: C" (correct), "GRADE: P" (partially correct) or "GRADE: I"
-- (incorrect). A rubric of your own is a file returning a table of the same
-- shape (docs/modes.md, "Model-graded answers").
--
-- The section lines ("[Question]", "[Reference answer]", "[Notes]",
-- "[Response]", "[End]") are part of the contract: the mock judge of the
-- specs finds the reference and the response by them.
local M = {
  name = "default",
  -- no system message: the whole task is in the user message, as in
  -- model_graded_qa, so a judge that ignores system messages grades the same
  system = nil,
}

-- a section's text without the blank lines around it, so that each marker
-- line is followed directly by its text
local function trim(s)
  local i = s:find("%S")
  if not i then return "" end
  local j = #s
  while s:find("^%s", j) do j = j - 1 end
  return s:sub(i, j)
end

local INSTRUCTIONS = [[
Compare the response with the reference answer. The response is correct when it gives the same answer as the reference, in any wording; partially correct when it gets part of it right, or gives the right answer among wrong ones or hedged between several; incorrect when it contradicts the reference, misses its point or gives no answer. Judge the answer only, not its style or length, and follow the notes when there are any.

Explain your judgement briefly (a few sentences), then finish with a last line that is exactly one of:
GRADE: C
GRADE: P
GRADE: I
where C means correct, P partially correct and I incorrect.]]

--- The user message for question q (its prompt, reference and
--- rubric_notes) and the model's response text.
function M.prompt(q, response)
  local parts = {
    "You are grading a response to a question against a reference answer.",
    "",
    "[Question]", trim(q.prompt or ""),
    "[Reference answer]", trim(q.reference or ""),
  }
  if type(q.rubric_notes) == "string" and q.rubric_notes:find("%S") then
    parts[#parts + 1] = "[Notes]"
    parts[#parts + 1] = trim(q.rubric_notes)
  end
  parts[#parts + 1] = "[Response]"
  parts[#parts + 1] = trim(response or "")
  parts[#parts + 1] = "[End]"
  parts[#parts + 1] = ""
  parts[#parts + 1] = INSTRUCTIONS
  return table.concat(parts, "\n")
end

local GRADES = { c = { 1, "C" }, p = { 0.5, "P" }, i = { 0, "I" } }

-- What may follow the letter on its line: nothing, a full stop, or a note in
-- brackets or after a dash ("GRADE: C (correct)"). "grade: I think ..." is a
-- sentence, not a grade.
local function ends_grade(rest)
  rest = rest:gsub("[%*_`]", "")
  return rest:find("^%s*[%.!]?%s*$") ~= nil or rest:find("^%s*[%(%[:,;%-]") ~= nil
    or rest:find("^%s*\226\128[\147\148]") ~= nil -- en and em dashes
end

--- The grade in the judge's reply: the last "GRADE: X" (any case, markdown
--- bold or italics around it tolerated). { score, grade, explanation } or
--- nil, "no grade found".
function M.read(reply)
  local t = reply:lower() -- the same byte positions as the reply
  local at, letter
  local init = 1
  while true do
    local s, e, l, rest = t:find("%f[%w]grade[%*_ \t]*:[%*_ \t]*(%a)[%*_]*([^\n]*)", init)
    if not s then break end
    if GRADES[l] and not rest:find("^%w") and ends_grade(rest) then at, letter = s, l end
    init = s + 1
  end
  if not at then return nil, "no grade found" end
  local g = GRADES[letter]
  -- the explanation is what comes before the grade; what opens the grade's
  -- line ("Final", "**", "- ") goes with it unless it ends a sentence
  local line_start = at
  while line_start > 1 and reply:sub(line_start - 1, line_start - 1) ~= "\n" do line_start = line_start - 1 end
  local lead = reply:sub(line_start, at - 1)
  local explanation = lead:find("[%.!?]") and reply:sub(1, at - 1) or reply:sub(1, line_start - 1)
  explanation = trim(explanation):gsub("[%*_]+$", "")
  return { score = g[1], grade = g[2], explanation = trim(explanation) }
end

return M
