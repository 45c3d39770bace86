-- SPDX-License-Identifier: MIT
-- Reading a model's answer out of its response, and scoring it.
--
--   scoring.yes_no(text)            -> "yes" | "no"            | nil, reason
--   scoring.number(text)            -> number                  | nil, reason
--   scoring.choice(text, choices)   -> label                   | nil, reason
--   scoring.free_text(text)         -> trimmed text            | nil, reason
--   scoring.extract(q, text)        -> parsed answer           | nil, reason
--   scoring.score(q, text)          -> { parsed, correct, score, reason }
--   scoring.find_literal(t, pat, i) -> t:find(pat, i), tried only where the
--                                      plain text pat starts with occurs
--
-- An answer the rules cannot read is unparseable, with a reason ("no
-- answer found", "both yes and no", "refusal", ...), never a guess: an
-- explicit final answer ("Answer: no", "the answer is **yes**", \boxed{0.3})
-- wins; otherwise a bare yes/no that opens the response or stands alone on
-- the last line; otherwise the last number. Words like "no" inside a sentence
-- ("there is no effect") are not answers.
local M = {}

M.UNPARSEABLE = "unparseable"

local REFUSALS = {
  "i cannot answer", "i can't answer", "i cannot determine", "i can't determine", "cannot be determined",
  "can't be determined", "not possible to determine", "impossible to determine", "i am unable", "i'm unable",
  "i am not able", "i'm not able", "insufficient information", "not enough information", "i don't know",
  "i do not know", "unable to answer", "i refuse", "as an ai", "i won't answer", "i will not answer",
  "no idea", "not sure",
}

local WORDS = { yes = "yes", no = "no", ["true"] = "yes", ["false"] = "no", correct = "yes", incorrect = "no" }

-- ---- searching a long response ----
-- A model that reasons answers in a kilobyte or more, and an unanchored
-- pattern is tried at every position of it: 11-35 us a pattern for 1.4 KB,
-- and the rules below try dozens (a response scored in 300 us, a choice
-- in 25 ms, `.*` backtracking from every position). Each search below
-- gives what the plain pattern call gives (spec/scoring_spec.lua holds
-- them side by side), trying the pattern only where it can match.
local find, match = string.find, string.match

--- t:find(pat, init) for a pattern whose every match starts with the
--- plain text lit (a frontier before it allowed): anchored is "^" .. pat,
--- tried where lit occurs. At most one capture.
local function find_lit(t, anchored, lit, init)
  local p = find(t, lit, init, true)
  while p do
    local s, e, c = find(t, anchored, p)
    if s then return s, e, c end
    p = find(t, lit, p + 1, true)
  end
  return nil
end

-- the plain text every match of pat starts with (after a leading
-- frontier): up to its first pattern item, less a character that a
-- quantifier makes optional ("answer is:?")
local function literal(pat)
  local body = pat:gsub("^%%f%[[^%]]*%]", "")
  local lit = body:match("^[^%%%[%(%.%*%+%-%?%^%$]*")
  local q = body:sub(#lit + 1, #lit + 1)
  if q == "?" or q == "*" or q == "-" then lit = lit:sub(1, -2) end
  assert(lit ~= "", pat)
  return lit
end
M._literal = literal

--- t:find(pat, init) (its position, end and capture) for a pattern whose
--- every match starts with plain text, after a frontier at most ("answer
--- is:?%s*", "%f[%a]so%s+(%a+)"): tried only where that text occurs. Its
--- anchored form and text are made once a pattern.
local lit_of, anchored_of = {}, {}
local function findp(t, pat, init)
  local lit = lit_of[pat]
  if not lit then
    lit = literal(pat)
    lit_of[pat], anchored_of[pat] = lit, "^" .. pat
  end
  return find_lit(t, anchored_of[pat], lit, init or 1)
end
M.find_literal = findp

-- lower case, markdown emphasis and LaTeX wrappers removed, spaces squeezed
-- (each replacement only where its text occurs: most responses hold none)
local function normalise(text)
  local t = text:lower()
  if find(t, "\\", 1, true) then
    t = t:gsub("\\boxed%s*{([^}]*)}", " final answer: %1 ")
    t = t:gsub("\\text%s*{([^}]*)}", "%1")
  end
  if find(t, "*", 1, true) or find(t, "_", 1, true) or find(t, "`", 1, true) or find(t, "#", 1, true)
    or find(t, ">", 1, true) then
    t = t:gsub("[%*_`#>]", " ")
  end
  if find(t, "\226\128", 1, true) then
    t = t:gsub("\226\128\156", '"'):gsub("\226\128\157", '"'):gsub("\226\128\153", "'")
  end
  return t
end
M._normalise = normalise

local function refusal(t)
  for _, r in ipairs(REFUSALS) do
    if t:find(r, 1, true) then return true end
  end
  return false
end

-- "answer is yes", "answer: no", "final answer - yes", "conclusion: no"
local MARKERS = {
  "final answer%s*[:=%-]?%s*is%s*[:%-]?%s*", "final answer%s*[:=%-]%s*", "final answer%s+",
  "the answer is%s*[:%-]?%s*", "answer%s*[:=%-]%s*", "my answer is%s*[:%-]?%s*",
  "conclusion%s*[:%-]%s*", "verdict%s*[:%-]%s*", "in conclusion,?%s*", "therefore,?%s*the answer is%s*",
  "so the answer is%s*", "thus,?%s*the answer is%s*", "answer would be%s*", "answer is:?%s*",
}

-- every marker holds one of these words: a text without them has no marker
local MARKER_WORDS = { "answer", "conclusion", "verdict" }
local marker_patterns = {} -- word pattern -> the markers followed by it, built once

-- each marker's plain text, and the marker anchored
local MARKER_LIT, MARKER_ANCHORED = {}, {}
for i, mk in ipairs(MARKERS) do MARKER_LIT[i], MARKER_ANCHORED[i] = literal(mk), "^" .. mk end

local function last_marker_value(t, word_pattern)
  local any = false
  for _, w in ipairs(MARKER_WORDS) do
    if t:find(w, 1, true) then
      any = true
      break
    end
  end
  if not any then return nil end
  local pats = marker_patterns[word_pattern]
  if not pats then
    pats = {}
    for i, mk in ipairs(MARKERS) do pats[i] = "^" .. mk .. "[%(%[\"']?%s*(" .. word_pattern .. ")" end
    marker_patterns[word_pattern] = pats
  end
  local best_pos, best
  for i, pat in ipairs(pats) do
    local lit, init = MARKER_LIT[i], 1
    while true do
      local s, e, cap = find_lit(t, pat, lit, init)
      if not s then break end
      if not best_pos or s > best_pos then best_pos, best = s, cap end
      init = e + 1
    end
  end
  return best
end

--- t:match("[,;:]%s*(%a+)%s*[%.!]?%s*$"): only the last , ; or : of t can
--- start it, since none may follow it (a match holds only spaces,
--- letters and one . or ! after its first character).
local MARKS = { ",", ";", ":" }
local function after_last_mark(t)
  local last
  for _, c in ipairs(MARKS) do
    local p = find(t, c, last and last + 1 or 1, true)
    while p do
      last = p
      p = find(t, c, p + 1, true)
    end
  end
  return last and match(t, "^[,;:]%s*(%a+)%s*[%.!]?%s*$", last) or nil
end
M._after_last_mark = after_last_mark

--- "yes" / "no" from a response, or nil and the reason.
function M.yes_no(text)
  if type(text) ~= "string" then return nil, "no response text" end
  -- the reply that is the bare word ("Yes.", "no"), as most replies to
  -- "Answer yes or no." are: what the rules below make of it, at once
  local bare = #text < 16 and text:match("^%s*(%a%a%a?)[%.!]?%s*$")
  if bare then
    bare = bare:lower()
    if bare == "yes" or bare == "no" then return bare end
  end
  local t = normalise(text)
  if not t:find("%S") then return nil, "empty response" end
  -- both answers offered side by side
  if findp(t, "%f[%a]yes%s+and%s+no%f[%A]") or findp(t, "%f[%a]no%s+and%s+yes%f[%A]") or
     findp(t, "%f[%a]yes%s*/%s*no%f[%A]") or findp(t, "%f[%a]yes%s+or%s+no%f[%A]") then
    -- "yes or no" is only fine when a later explicit answer settles it
    local m = last_marker_value(t, "%a+")
    if m and WORDS[m] then return WORDS[m] end
    return nil, "both yes and no"
  end
  local m = last_marker_value(t, "%a+")
  if m and WORDS[m] then
    return WORDS[m]
  end
  if m == "not" or m == "neither" then return nil, "negated answer" end
  -- a negated answer word anywhere ("not yes", "isn't a yes") is a trap, not an answer
  if findp(t, "%f[%a]not%s+a?%s*yes%f[%A]") or findp(t, "%f[%a]not%s+a?%s*no%f[%A]") then
    return nil, "negated answer"
  end
  -- the response opens with yes/no: "Yes.", "No, because ...", "yes - ..."
  local first = t:match("^%s*[%(%[\"']?%s*(%a+)%s*[%.,!;:%-%)\"']") or t:match("^%s*(%a+)%s*$")
  if first and (first == "yes" or first == "no") then return first end
  -- a line that is only yes/no (the last such line wins)
  local found
  for line in t:gmatch("[^\n]+") do
    local w = line:match("^%s*[%(%[\"']?%s*(%a+)%s*[%.!%)\"']?%s*$")
    if w and WORDS[w] then found = WORDS[w] end
  end
  if found then return found end
  -- the last sentence ends with a bare answer: "..., so yes." / "therefore no."
  local tail = after_last_mark(t) or select(3, findp(t, "%f[%a]so%s+(%a+)%s*[%.!]?%s*$")) or
    select(3, findp(t, "%f[%a]therefore%s+(%a+)%s*[%.!]?%s*$")) or select(3, findp(t, "%f[%a]thus%s+(%a+)%s*[%.!]?%s*$"))
  if tail and (tail == "yes" or tail == "no") then return tail end
  if refusal(t) then return nil, "refusal" end
  return nil, "no answer found"
end

-- ---- numbers ----

local NUMBER = "[%-%+]?%d*%.?%d+[eE]?[%-%+]?%d*"

-- Reads one number token at the start of s: "0.35", "35%", "1/3", "-.2",
-- "35 percent", "\frac{1}{3}". Returns value (percent applied) or nil.
-- (at position i of s, where it read s:sub(i) and split off the rest of
-- the string at each step: a copy of the response's tail for each number)
local function read_number(s, i)
  local a, b = match(s, "^\\d?frac%s*{%s*([%-%+]?%d+%.?%d*)%s*}%s*{%s*(%d+%.?%d*)%s*}", i)
  if a then
    local d = tonumber(b)
    if d and d ~= 0 then return tonumber(a) / d end
  end
  local n, rest = match(s, "^([%-%+]?%d*%.?%d+)()", i)
  if not n then return nil end
  local exp, rest2 = match(s, "^([eE][%-%+]?%d+)()", rest)
  if exp then n, rest = n .. exp, rest2 end
  local den = match(s, "^%s*/%s*(%d+%.?%d*)", rest)
  local v = tonumber(n)
  if not v then return nil end
  if den then
    local d = tonumber(den)
    if not d or d == 0 then return nil end
    return v / d
  end
  if find(s, "^%s*%%", rest) or find(s, "^%s*percent", rest) or find(s, "^%s*per cent", rest) then return v / 100 end
  return v
end
M._read_number = read_number

-- Digits are looked for one byte value at a time (memchr), where a class
-- (find(t, "%d")) is tried at every position: 12 us for 1.4 KB of text
-- before a number, what the rest of reading it took. In a short text the
-- class is quicker than ten calls.
local DIGITS = { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }
local SHORT = 64

local function has_digit(t)
  if #t < SHORT then return find(t, "%d") ~= nil end
  for k = 1, 10 do
    if find(t, DIGITS[k], 1, true) then return true end
  end
  return false
end

--- t:find("%d", i). seen (optional) keeps each digit's next place for the
--- next call, whose i must not be smaller: a reading of many numbers scans
--- the text once for each digit.
local function first_digit(t, i, seen)
  if #t - i < SHORT then return (find(t, "%d", i)) end
  local best
  for k = 1, 10 do
    local p
    if seen then
      p = seen[k]
      if p == nil or (p and p < i) then
        p = find(t, DIGITS[k], i, true) or false
        seen[k] = p
      end
    else
      p = find(t, DIGITS[k], i, true)
    end
    if p and (not best or p < best) then best = p end
  end
  return best
end
M._first_digit = first_digit

-- find(t, "%d,%d"): at a comma
local function digit_comma_digit(t)
  local c = find(t, ",", 2, true)
  while c do
    if find(t, "^%d,%d", c - 1) then return true end
    c = find(t, ",", c + 1, true)
  end
  return false
end
M._digit_comma_digit = digit_comma_digit

--- t:find("[%-%+]?%d*%.?%d", i): a match holds a digit, and at most a
--- sign and a point before its first, so it starts at most two places
--- before the first digit from i; and at that digit one always does.
--- seen: as first_digit's.
local function number_start(t, i, seen)
  local d = first_digit(t, i, seen)
  if not d then return nil end
  for p = math.max(i, d - 2), d do
    if find(t, "^[%-%+]?%d*%.?%d", p) then return p end
  end
  return d
end
M._number_start = number_start

local function numbers_in(t)
  local out = {}
  local i = 1
  -- (a \frac is looked for only in a response that holds one)
  local fracs = find(t, "frac", 1, true)
  local seen = #t >= SHORT and {} or nil
  -- the next \frac from i, found again only once i has passed it: the
  -- pattern is tried at every position
  local fs, fe = nil, nil
  while i <= #t do
    local s, e
    if fracs then
      if fs == nil or (fs and fs < i) then
        fs, fe = t:find("\\d?frac%s*{[^}]*}%s*{[^}]*}", i)
        fs = fs or false
      end
      if fs then s, e = fs, fe end
    end
    local s2 = number_start(t, i, seen)
    if s and (not s2 or s <= s2) then
      local v = read_number(t, s)
      if v then out[#out + 1] = { pos = s, value = v } end
      i = e + 1
    elseif s2 then
      -- a minus sign belongs to the number only when it is not a hyphen in a word
      local start = s2
      if t:sub(s2, s2):match("[%-%+]") and s2 > 1 and t:sub(s2 - 1, s2 - 1):match("[%w]") then start = s2 + 1 end
      local v = read_number(t, start)
      local _, len = t:find("^[%-%+]?%d*%.?%d+[eE]?[%-%+]?%d*%s*/?%s*%d*%.?%d*%s*%%?", start)
      if v then out[#out + 1] = { pos = start, value = v } end
      i = (len or start) + 1
    else
      break
    end
  end
  return out
end

local APPROX = { "%f[%a]approximately%s*", "%f[%a]about%s*", "%f[%a]roughly%s*", "\226\137\136%s*" }

-- The number of t (normalised, not blank) as the markers lead to it.
local function marked_number(t)
  -- after the last explicit answer marker, the first number
  local best_pos
  for i in ipairs(MARKERS) do
    local init, lit, pat = 1, MARKER_LIT[i], MARKER_ANCHORED[i]
    while true do
      local s, e = find_lit(t, pat, lit, init)
      if not s then break end
      if not best_pos or e > best_pos then best_pos = e end
      init = e + 1
    end
  end
  for _, mk in ipairs(APPROX) do
    local s, e = findp(t, mk)
    while s do
      if not best_pos or e > best_pos then best_pos = e end
      s, e = findp(t, mk, e + 1)
    end
  end
  if best_pos then
    -- "the answer is -0.3": the marker's optional '-' separator took the sign
    if t:sub(best_pos, best_pos) == "-" and t:find("^%.?%d", best_pos + 1) then best_pos = best_pos - 1 end
    local nums = numbers_in(t:sub(best_pos + 1))
    if #nums > 0 then return nums[1].value end
  end
  local nums = numbers_in(t)
  if #nums == 0 then
    if refusal(t) then return nil, "refusal" end
    return nil, "no number found"
  end
  return nums[#nums].value
end

local function number(text, full)
  if type(text) ~= "string" then return nil, "no response text" end
  local t = normalise(text)
  if find(t, "\226\136\146", 1, true) then t = t:gsub("\226\136\146", "-") end -- U+2212 minus sign
  if digit_comma_digit(t) then t = t:gsub("(%d),(%d%d%d)%f[%D]", "%1%2") end -- 1,000 -> 1000
  if not t:find("%S") then return nil, "empty response" end
  -- every number numbers_in reads holds a digit: in a reply without one no
  -- marker leads to a number, and looking for them all took 2.5 us (a
  -- refusal, a word where a number was asked)
  if not full and not has_digit(t) then
    if refusal(t) then return nil, "refusal" end
    return nil, "no number found"
  end
  return marked_number(t)
end

--- A number from a response (percentages as fractions), or nil and the reason.
function M.number(text) return number(text) end
M._number_full = function(text) return number(text, true) end -- without the shortcut, for the spec

-- ---- choices ----

--- t:match(".*%f[%a]option%s+%(?(%a)%f[%A]"), the letter of the last
--- "option X": that pattern backtracked from every position of the
--- response (25 ms for 1.4 KB).
local function last_option(t)
  local opt
  local s, _, o = findp(t, "%f[%a]option%s+%(?(%a)%f[%A]")
  while s do
    opt = o
    s, _, o = findp(t, "%f[%a]option%s+%(?(%a)%f[%A]", s + 1)
  end
  return opt
end
M._last_option = last_option

--- A choice label ("A".."Z") from a response, given the question's labels and,
--- optionally, the text of each option (to accept "the answer is smoking").
function M.choice(text, labels, texts)
  if type(text) ~= "string" then return nil, "no response text" end
  local t = normalise(text)
  if not t:find("%S") then return nil, "empty response" end
  local valid = {}
  for _, l in ipairs(labels or {}) do valid[l:lower()] = l end
  local m = last_marker_value(t, "%a")
  if m and valid[m] then return valid[m] end
  local opt = last_option(t)
  if opt and valid[opt] then return valid[opt] end
  local first = t:match("^%s*[%(%[]?%s*(%a)%s*[%)%]%.:]") or t:match("^%s*(%a)%s*$")
  if first and valid[first] then return valid[first] end
  -- exactly one label standing alone, like "(c)" or "c)"
  local seen, count = nil, 0
  for l in t:gmatch("%(%s*(%a)%s*%)") do
    if valid[l] and seen ~= l then seen = l; count = count + 1 end
  end
  if count == 1 then return valid[seen] end
  if texts then
    local hit
    for i, tx in ipairs(texts) do
      if t:find(tx:lower(), 1, true) then
        if hit then return nil, "several options named" end
        hit = labels[i]
      end
    end
    if hit then return hit end
  end
  if refusal(t) then return nil, "refusal" end
  return nil, "no option found"
end

-- ---- free text ----

--- The answer of a free_text question: the response without the space
--- around it, or nil and the reason. Only a judge can tell if it is right.
function M.free_text(text)
  if type(text) ~= "string" then return nil, "no response text" end
  local i = text:find("%S")
  if not i then return nil, "empty response" end
  local j = #text
  while text:find("^%s", j) do j = j - 1 end -- no pattern backtracking over long runs of space
  return text:sub(i, j)
end

--- The parsed answer for a question, by its answer type.
function M.extract(q, text)
  local kind = q.answer_type
  if kind == "yes_no" then return M.yes_no(text) end
  if kind == "number" then return M.number(text) end
  if kind == "choice" then
    local labels, texts = q.choices, nil
    if type(q.query) == "table" and type(q.query.choices) == "table" then
      labels, texts = {}, {}
      for i, c in ipairs(q.query.choices) do labels[i] = c.label; texts[i] = c.text end
    end
    return M.choice(text, labels or {}, texts)
  end
  if kind == "free_text" then return M.free_text(text) end
  return nil, ("unknown answer type '%s'"):format(tostring(kind))
end

--- Whether a parsed answer (not nil) is q's ground truth: a number within
--- q.tolerance (default 0.01), any other answer exactly.
function M.correct(q, parsed)
  if q.answer_type == "number" then
    return type(q.ground_truth) == "number" and math.abs(parsed - q.ground_truth) <= (q.tolerance or 0.01) + 1e-12
  end
  return parsed == q.ground_truth
end

--- Scores a response: { parsed = answer or nil, correct = bool or nil
--- (nil when unparseable), score = 1 or 0, reason = why unparseable }.
--- A free_text answer that is not empty cannot be scored here: { parsed =
--- the text, correct = nil, score = nil, needs_judge = true }.
function M.score(q, text)
  local parsed, reason = M.extract(q, text)
  if parsed == nil then
    return { parsed = nil, correct = nil, score = 0, reason = reason, unparseable = true }
  end
  if q.answer_type == "free_text" then return { parsed = parsed, correct = nil, score = nil, needs_judge = true } end
  local correct = M.correct(q, parsed)
  return { parsed = parsed, correct = correct, score = correct and 1 or 0 }
end

return M
