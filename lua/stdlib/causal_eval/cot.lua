-- SPDX-License-Identifier: MIT
-- Chain-of-thought replies: the instruction that asks for one, and reading
-- the final answer out of it (scoring.lua reads the answer itself).
--
--   cot.instruction(q)   -> string appended to the user message ("\n\n" .. it)
--   cot.split(text)      -> final, reasoning          | nil, reason, reasoning
--   cot.extract(q, text) -> parsed, reasoning         | nil, reason, reasoning
--   cot.score(q, text)   -> scoring.score's table plus `reasoning` (string or nil)
--
-- Only the final part is read. It follows the LAST explicit final-answer
-- marker ("Final answer:", "**Final Answer**:", "Answer:" opening a line,
-- "Therefore, the answer is", \boxed{}, <answer></answer>, a trailing JSON
-- {"answer": ...}, GSM8K's "#### 12", a "## Answer" heading over its line)
-- and runs to the end of that line or sentence. Without a marker only a
-- short last line that looks like an answer counts: a reasoning cut off by
-- the token budget is no answer, whatever "yes" or "no" it holds.
local json = require "causal_eval.json"
local scoring = require "causal_eval.scoring"
-- a search tried only where its pattern's plain text occurs: a frontier
-- pattern tried at every position of a reply cost 33 us a kilobyte and a half
local find_literal = scoring.find_literal

local M = {}

M.NO_FINAL = "no final answer"
M.EMPTY_FINAL = "empty final answer"
M.CONFLICT = "conflicting final answers"
M.SEVERAL = "several final answers"

-- the fallback's limit: a last line longer than this is reasoning, not an answer
M.FALLBACK_MAX = 60

-- s without the space around it (as gsub("^%s+", ""):gsub("%s+$", "")
-- gave it, which copied all of a long reasoning twice to do it)
local function trim(s)
  local i = s:find("%S")
  if not i then return "" end
  local j = #s
  while s:find("^%s", j) do j = j - 1 end
  if i == 1 and j == #s then return s end
  return s:sub(i, j)
end
M._trim = trim

-- ---- the instruction ----

local function labels_of(q)
  local out = {}
  if type(q.query) == "table" and type(q.query.choices) == "table" then
    for i, c in ipairs(q.query.choices) do out[i] = c.label end
  elseif type(q.choices) == "table" then
    for i, l in ipairs(q.choices) do out[i] = l end
  end
  return out
end

--- The text asking for reasoning and then a final answer line, by answer type.
function M.instruction(q)
  local what
  if q.answer_type == "yes_no" then
    what = "yes or no"
  elseif q.answer_type == "number" then
    what = "a single number"
  elseif q.answer_type == "choice" then
    local ls = labels_of(q)
    what = "the letter of the option you choose"
    if #ls >= 2 then
      what = ("%s (%s or %s)"):format(what, table.concat(ls, ", ", 1, #ls - 1), ls[#ls])
    end
  else
    what = "your answer"
  end
  return ('Think step by step, then give your final answer on its own last line as "Final answer: X", where X is %s.')
    :format(what)
end

-- ---- finding the final part ----

-- the shortest text that reads back as v: 0.35, not 0.34999999999999998
-- ("1e999" for an infinity, as tonumber reads it)
local function number_text(v)
  if v == math.huge or v == -math.huge then return v > 0 and "1e999" or "-1e999" end
  for digits = 15, 17 do
    local s = ("%." .. digits .. "g"):format(v)
    if tonumber(s) == v then return s end
  end
  return ("%.17g"):format(v)
end

-- LaTeX and markdown wrappers scoring does not strip itself
local function clean(s)
  s = s:gsub("\\%%", "%%"):gsub("\\[%(%)%[%]]", " "):gsub("%$", "")
  return trim(s)
end

local CLOSERS = { "^[%*_\"'%)%]]+", "^\226\128[\153\157]" } -- ** _ " ' ) ] and ’ ”

-- s up to the end of its first sentence: "no. Hope this helps!" -> "no."
local function first_sentence(s)
  local i = 1
  while true do
    local p = s:find("[%.!?]", i)
    if not p then return s end
    local q = p + 1
    local moved = true
    while moved do
      moved = false
      for _, c in ipairs(CLOSERS) do
        local _, e = s:find(c, q)
        if e then q, moved = e + 1, true end
      end
    end
    if q > #s or s:find("^%s", q) then return s:sub(1, q - 1) end
    i = p + 1
  end
end

-- what a line holds besides markdown: "" for "**", "> ---" and blank lines
local function blank(s) return not s:find("[^%s%*_#>%-]") end

-- Replies run long and the token budget cuts them anywhere: every look around
-- a marker is bounded, so that reading one stays linear in its length.
local SPAN = 1000    -- the most a final part may run from its marker
local LOOKBACK = 200 -- the most of a line looked at before a marker

-- The final answer starting at p (up to stop): the rest of its line, or the
-- next line holding something when the marker ends its line ("## Answer\nyes").
local function value_at(t, p, stop)
  local w = t:sub(p, math.min(stop or #t, p + SPAN))
  local eol = w:find("\n", 1, true) or (#w + 1)
  local v = w:sub(1, eol - 1)
  if blank(v:gsub(":", "")) then
    v = ""
    for line in w:sub(eol + 1):gmatch("[^\n]+") do
      if not blank(line) then v = line; break end
    end
  end
  return clean(first_sentence(trim(v)))
end

-- the text of p's line before p (at most LOOKBACK of it), its start, and
-- whether that is the line's real start
local function line_before(t, p)
  local ls, limit = p, math.max(1, p - LOOKBACK)
  while ls > limit and t:byte(ls - 1) ~= 10 do ls = ls - 1 end
  return t:sub(ls, p - 1), ls, ls == 1 or t:byte(ls - 1) == 10
end

-- markdown and bullets only before p on its line
local function at_line_start(t, p)
  local pre, _, whole = line_before(t, p)
  return whole and not pre:find("[^%s%*_#>%-]")
end

-- p opens a sentence: a line start, or after ". " / "! " / "? "
local function at_sentence_start(t, p)
  if at_line_start(t, p) then return true end
  local pre = line_before(t, p)
  return pre:find("[%.!?][%*_\"'%)]*%s+[%*_]*$") ~= nil
end

-- Where a marker begins for the reasoning's sake: markdown glued to it, and
-- the whole line prefix when that is only markdown ("## Final Answer").
local function marker_start(t, s)
  while s > 1 and t:sub(s - 1, s - 1):match("[%*_]") do s = s - 1 end
  local pre, ls, whole = line_before(t, s)
  if whole and not pre:find("[^%s%*_#>%-]") then return ls end
  return s
end

-- After a marker's words at p: the value's start, or nil when what follows is
-- no separator (":", "=", "-", "is", a dash) and the line holds no more than
-- the marker (a heading, or "**Final Answer**" alone on its line).
local function after_words(low, p, s, colon_only)
  local w = low:sub(p, p + 80)
  local _, e = w:find("^[%*_ \t]*")
  local q = e + 1
  local ps, pe = w:find("^%b()[%*_ \t]*", q) -- "Final answer (yes/no): ..."
  if ps then q = pe + 1 end
  local seps = colon_only and { "^[:=]" } or { "^[:=]", "^is%f[%A]%s*:?", "^%-+%s", "^\226\128[\147\148]" }
  for _, sep in ipairs(seps) do
    local _, se = w:find(sep, q)
    if se then return p + se end
  end
  if (w:find("^[%*_: \t]*\n", q) or (p + #w > #low and w:find("^[%*_: \t]*$", q))) and at_line_start(low, s) then
    return p + q - 1
  end
  return nil
end

-- The next match at or after i of any of the patterns: each pattern's next
-- match is kept until passed, so a scan over the whole text stays linear.
local function scanner(low, patterns)
  local ahead = {}
  return function(i)
    local bs, be
    for k, pat in ipairs(patterns) do
      local n = ahead[k]
      if n == nil or (n and n[1] < i) then
        local s, e = find_literal(low, pat, i)
        n = s and { s, e } or false
        ahead[k] = n
      end
      if n and (not bs or n[1] < bs) then bs, be = n[1], n[2] end
    end
    return bs, be
  end
end

local CONCLUDING = { therefore = true, so = true, thus = true, hence = true, conclusion = true }

-- Explicit final-answer markers written in words: each { s = start, vs =
-- where its value starts }.
local function word_markers(t, low, out)
  local function add(s, vs) out[#out + 1] = { s = marker_start(t, s), vs = vs } end
  -- "final answer", anywhere ("The final answer is", "**Final Answer**:")
  local i = 1
  while true do
    local s, e = find_literal(low, "%f[%a]final%s+answer%f[%A]", i)
    if not s then break end
    local vs = after_words(low, e + 1, s)
    if vs then
      local pre0 = math.max(1, s - 12)
      local b = low:sub(pre0, s - 1):match("()%f[%a]the%s+$") or low:sub(pre0, s - 1):match("()%f[%a]my%s+$")
      add(b and pre0 + b - 1 or s, vs)
    end
    i = e + 1
  end
  -- "Answer:" opening a line, and "## Answer" / "**Answer**" over the answer
  i = 1
  while true do
    local s, e = find_literal(low, "%f[%a]answer%f[%A]", i)
    if not s then break end
    if at_line_start(low, s) then
      local vs = after_words(low, e + 1, s, true)
      if vs then add(s, vs) end
    end
    i = e + 1
  end
  -- "Therefore, the answer is", "So the correct answer is", and "The answer is"
  -- opening a sentence (not "to check whether the answer is yes, ...")
  local next_is = scanner(low, { "%f[%a]the%s+answer%s+is%f[%A]", "%f[%a]the%s+correct%s+answer%s+is%f[%A]" })
  i = 1
  while true do
    local s, e = next_is(i)
    if not s then break end
    local pre0 = math.max(1, s - 30)
    local word_s, word = low:sub(pre0, s - 1):match("()(%a+),?%s+$")
    local _, ve = low:find("^[%s:]*", e + 1)
    if word and CONCLUDING[word] then
      add(pre0 + word_s - 1, ve + 1)
    elseif at_sentence_start(low, s) then
      add(s, ve + 1)
    end
    i = e + 1
  end
end

-- "12", "-0.2", "$1,000", "35%", "1/3", "yes", "(B)", "c." : a line that is only an answer
local function bare_answer(s)
  s = clean(s:gsub("[%*_`]", ""))
  s = s:gsub("[%.!]$", "")
  if s:lower():find("^%a+$") then
    local w = s:lower()
    return w == "yes" or w == "no" or w == "true" or w == "false"
  end
  if s:find("^[%-%+]?[%d,]*%.?%d+%s*%%?$") or s:find("^[%-%+]?%d+%s*/%s*%d+$") then return true end
  if s:find("^\226\136\146[%d,]*%.?%d+%s*%%?$") then return true end -- U+2212 minus
  return s:find("^%(?%a%)?$") ~= nil
end

-- Containers whose content is the final answer: \boxed{}, <answer></answer>,
-- "#### X" (GSM8K). Each { s, e (where it ends), final }.
local function container_markers(t, low, out)
  local next_box = scanner(low, { "\\boxed%s*{", "\\fbox%s*{" })
  local i = 1
  while true do
    local s, e = next_box(i)
    if not s then break end
    local w = t:sub(e, e + SPAN)
    local _, be = w:find("^%b{}")
    local content
    if be then
      content = w:sub(2, be - 1)
    else -- cut off: the rest of the line
      be = (w:find("\n", 1, true) or (#w + 1)) - 1
      content = w:sub(2, be)
    end
    be = e + be - 1
    out[#out + 1] = { s = s, e = be, final = clean(content) }
    i = be + 1
  end
  local next_tag = scanner(low, { "<%s*answer%s*>", "<%s*final[_ ]?answer%s*>" })
  local next_close = scanner(low, { "<%s*/%s*answer%s*>", "<%s*/%s*final[_ ]?answer%s*>" })
  i = 1
  while true do
    local s, e = next_tag(i)
    if not s then break end
    local cs, ce = next_close(e + 1)
    out[#out + 1] = { s = s, e = ce or #t, final = value_at(t, e + 1, cs and cs - 1) }
    i = (ce or #t) + 1
  end
  i = 1
  while true do
    local s, e = t:find("####", i, true)
    if not s then break end
    local rest = t:sub(e + 1, e + 80):match("^[ \t]*([^\n#][^\n]*)")
    if rest and at_line_start(t, s) and bare_answer(rest) then
      out[#out + 1] = { s = s, final = clean(rest) }
    end
    i = e + 1
  end
end

-- A JSON object closing the reply, with an "answer" (or "final_answer") key.
local function json_tail(t)
  local last = #t
  while last > 0 and t:find("^%s", last) do last = last - 1 end
  if t:sub(last - 2, last) == "```" then
    last = last - 3
    while last > 0 and t:find("^%s", last) do last = last - 1 end
  end
  if t:sub(last, last) ~= "}" then return nil end
  local tries = 0
  for i = last - 1, math.max(1, last - 20 * SPAN), -1 do
    if t:byte(i) == 123 then -- '{'
      tries = tries + 1
      if tries > 32 then return nil end
      local ok, obj = pcall(json.decode, t:sub(i, last))
      if ok and type(obj) == "table" then
        for k, v in pairs(obj) do
          local key = type(k) == "string" and k:lower():gsub("[^%a]", "")
          if key == "answer" or key == "finalanswer" then
            local final = ""
            if type(v) == "string" then
              final = value_at(v, 1)
            elseif type(v) == "number" then
              final = number_text(v)
            elseif type(v) == "boolean" then
              final = tostring(v)
            end
            local why = obj.reasoning or obj.explanation or obj.rationale
            return { s = i, e = #t, final = final, json_reasoning = type(why) == "string" and why or nil }
          end
        end
      end
    end
  end
  return nil
end

-- A short last line that looks like an answer: "No.", "**0.35**", "(B) tar",
-- "So, yes.", "The ATE is 0.2." -- but not "There is no" nor "Step 2: P(Y=1) = 0.".
local function answer_looking(line)
  if #line > M.FALLBACK_MAX then return false end
  local l = trim(line:gsub("[%*_`#>]", " "))
  if #l == 0 or l:find("[:=]$") then return false end
  if bare_answer(l) then return true end
  local low = l:lower()
  local first = low:match("^[%(%[\"']?%s*(%a+)[%s%p]") or low:match("^(%a+)$")
  if first == "yes" or first == "no" or first == "true" or first == "false" then return true end
  local tail = low:match("[,;]%s*(%a+)%s*[%.!]?$") or low:match("%f[%a]so%s+(%a+)%s*[%.!]?$")
    or low:match("%f[%a]therefore%s+(%a+)%s*[%.!]?$") or low:match("%f[%a]thus%s+(%a+)%s*[%.!]?$")
    or low:match("%f[%a]hence%s+(%a+)%s*[%.!]?$")
  if tail == "yes" or tail == "no" then return true end
  if l:find("^%(%a%)") or l:find("^%a[%)%.:]%s") or low:find("%f[%a]option%s+%(?%a%)?[%s%p]*$") then return true end
  -- one number, ending the line: "The ATE is 0.2."
  local count = 0
  for _ in low:gmatch("%d+[%.,/]?%d*") do count = count + 1 end
  return count == 1 and low:find("%d%s*%%?[%.!]?$") ~= nil
end

-- where p's line starts: after the last newline before p, looked for in a
-- window before p that grows until it holds one (stepping back a byte at a
-- time took 50 us over a reply of one long line)
local function line_start(t, p)
  local span = 256
  while true do
    local lo = math.max(1, p - span)
    local s, nl = nil, t:find("\n", lo, true)
    while nl and nl < p do
      s = nl + 1
      nl = t:find("\n", s, true)
    end
    if s then return s end
    if lo == 1 then return 1 end
    span = span * 4
  end
end
M._line_start = line_start

-- the last line holding something, and where it starts
local function last_line(t)
  local e = #t
  while e > 0 and t:find("^%s", e) do e = e - 1 end
  if e == 0 then return nil end
  local s = line_start(t, e)
  return trim(t:sub(s, e)), s
end

-- The markers not inside a container ("<answer>Final answer: B</answer>" is
-- the tag's), in order.
local function locate(text)
  local t = text -- CRLF, no-break spaces (replaced in a reply that holds them)
  if t:find("\r", 1, true) then t = t:gsub("\r\n?", "\n") end
  if t:find("\194\160", 1, true) then t = t:gsub("\194\160", " ") end
  local low = t:lower()
  local marks = {}
  word_markers(t, low, marks)
  container_markers(t, low, marks)
  marks[#marks + 1] = json_tail(t)
  table.sort(marks, function(a, b) return a.s < b.s end)
  local top, reach = {}, 0
  for _, m in ipairs(marks) do
    if m.s > reach then top[#top + 1] = m end
    if m.e and m.e > reach then reach = m.e end
  end
  return t, top
end

local function final_of(t, m)
  if not m.final then m.final = value_at(t, m.vs) end
  return m.final
end

local function reasoning_before(t, s)
  local r = t:sub(1, s - 1)
  if r:find("```", 1, true) then r = r:gsub("```%a*%s*$", "") end
  r = trim(r)
  return r ~= "" and r or nil
end

local MAX_SIBLINGS = 16

-- split's work, with the finals of the other markers on the final one's line
-- for extract
local function split(text)
  if type(text) ~= "string" then return nil, "no response text" end
  if not text:find("%S") then return nil, "empty response" end
  local t, top = locate(text)
  local last = top[#top]
  if last then
    local reasoning = reasoning_before(t, last.s) or last.json_reasoning
    local final = final_of(t, last)
    if final == "" then return nil, M.EMPTY_FINAL, reasoning end
    local ls = line_start(t, last.s)
    local siblings = {}
    for k = #top - 1, math.max(1, #top - MAX_SIBLINGS), -1 do
      if top[k].s < ls then break end
      siblings[#siblings + 1] = final_of(t, top[k])
    end
    return final, reasoning, siblings
  end
  -- no marker: the last line, when short and answer-looking
  local line, s = last_line(t)
  if line and answer_looking(line) then
    return clean(first_sentence(line)), reasoning_before(t, s), {}
  end
  return nil, M.NO_FINAL, trim(t)
end

--- The final answer part of a reply and the reasoning before it:
--- final, reasoning (nil when none) | nil, reason, reasoning.
function M.split(text)
  local final, a, b = split(text)
  if final == nil then return nil, a, b end
  return final, a
end

-- ---- reading the final part ----

local function same(q, a, b)
  if q.answer_type == "number" then return math.abs(a - b) <= 1e-9 end
  return a == b
end

-- answers of the question's type in s, in order: { s, e, value }
local function answer_tokens(q, s)
  local out = {}
  if q.answer_type == "yes_no" then
    for p, w, e in s:lower():gmatch("()%f[%a](%a+)%f[%A]()") do
      if w == "yes" or w == "no" or w == "true" or w == "false" then
        out[#out + 1] = { s = p, e = e, value = scoring.yes_no(w) }
      end
    end
  elseif q.answer_type == "choice" then
    local valid = {}
    for _, l in ipairs(labels_of(q)) do valid[l] = true end
    for p, c, e in s:gmatch("()%f[%w](%a)%f[%W]()") do
      local up = c:upper()
      if valid[up] then
        local paren = s:sub(p - 1, p - 1) == "(" and s:sub(e, e) == ")"
        if paren then out[#out + 1] = { s = p - 1, e = e + 1, value = up }
        elseif c == up then out[#out + 1] = { s = p, e = e, value = up } end
      end
    end
  elseif q.answer_type == "number" then
    local i = 1
    while true do
      local p, e = s:find("[%-%+]?%d*%.?%d+", i)
      if not p then break end
      local _, fe = s:find("^%s*/%s*%d+", e + 1)
      local _, pe = s:find("^%s*%%", (fe or e) + 1)
      e = pe or fe or e
      local v = scoring.number(s:sub(p, e))
      if v then out[#out + 1] = { s = p, e = e + 1, value = v } end
      i = e + 1
    end
  end
  return out
end

local JOINS = { [""] = true, [","] = true, ["/"] = true, [";"] = true, ["|"] = true, ["or"] = true,
  [",or"] = true, ["and"] = true, [",and"] = true, ["vs"] = true, ["vs."] = true }

-- "yes, no", "A or B", "0.3 or 0.4": the answer, joined to a different one.
-- Later answers are the explanation's ("0.2 (from 0.6 - 0.4)").
local function two_answers(q, final)
  if q.answer_type == "number" then final = final:gsub("(%d),(%d%d%d)%f[%D]", "%1%2") end -- 1,000
  local toks = answer_tokens(q, final)
  local a, b = toks[1], toks[2]
  if not b or same(q, a.value, b.value) then return false end
  local gap = final:sub(a.e, b.s - 1):lower():gsub("[%s%*_\"']", "")
  if gap == "" and q.answer_type == "number" and final:find("^[%-%+]", b.s) then return false end -- "0.6-0.4"
  return JOINS[gap] == true
end

-- Where an aside begins after the answer: "No (the path is blocked)",
-- "0.2 (0.6 - 0.4)", "B because ...", "yes - as computed". Only a short head
-- counts.
local ASIDES = { "%s*%(", "%s+because%f[%A]", "%s+since%f[%A]", "%s+as%f[%A]", "%s+%-%s", "%s*\226\128[\147\148]" }

local function head_of(q, final)
  local cut
  for _, pat in ipairs(ASIDES) do
    -- for a number " - " is a minus: "1 - 0.65 = 0.35"
    local s = not (pat == "%s+%-%s" and q.answer_type == "number") and final:lower():find(pat, 2)
    if s and (not cut or s < cut) then cut = s end
  end
  local head = cut and trim(final:sub(1, cut - 1))
  if head and head ~= "" and #head <= 24 then return head end
  return nil
end

-- scoring's reading of a final part; an answer followed by an aside is read
-- alone, since scoring's rules take the last number ("0.2 (0.6 - 0.4)" ->
-- 0.4) and want punctuation after a leading yes/no ("No (...)")
local function read(q, final)
  if two_answers(q, final) then
    return nil, q.answer_type == "yes_no" and "both yes and no" or M.SEVERAL
  end
  local head = head_of(q, final)
  if head then
    local v = scoring.extract(q, head)
    if v ~= nil then return v end
  end
  return scoring.extract(q, final)
end

--- The parsed answer from the final part only:
--- parsed, reasoning | nil, reason, reasoning.
function M.extract(q, text)
  local final, reasoning, siblings = split(text)
  if final == nil then
    local reason = reasoning
    reasoning = siblings
    -- no final answer: name a refusal as such (scoring decides what is one),
    -- never read an answer from the reasoning
    if reason == M.NO_FINAL then
      local last = reasoning and last_line(reasoning)
      if last and #last <= 300 and last:find("[%.!]$") then
        local v, why = scoring.extract(q, last)
        if v == nil and why == "refusal" then reason = why end
      end
    end
    return nil, reason, reasoning
  end
  local v, why = read(q, final)
  if v == nil then return nil, why, reasoning end
  for _, other in ipairs(siblings) do
    local ov = read(q, other)
    if ov ~= nil and not same(q, v, ov) then return nil, M.CONFLICT, reasoning end
  end
  return v, reasoning
end

--- scoring.score's table for the final answer, plus `reasoning`.
function M.score(q, text)
  local parsed, a, b = M.extract(q, text)
  local r
  if parsed == nil then
    r = { parsed = nil, correct = nil, score = 0, reason = a, unparseable = true, reasoning = b }
  else
    -- scoring.score judges correctness (tolerances and all) from a text that
    -- reads back as exactly this answer
    local canonical = parsed
    if type(parsed) == "number" then canonical = number_text(parsed) end
    r = scoring.score(q, canonical)
    r.parsed = parsed
    r.reasoning = a
  end
  return r
end

return M
