-- SPDX-License-Identifier: MIT
-- A question file of `causal-eval run --questions`: JSON lines in the format
-- `causal-eval generate` writes (docs/questions.md).
--
--   local info, err = question_file.scan("q.jsonl", limit) -- before a run
--   local next_item = question_file.source(cfg, tickets)   -- in a worker
--
-- scan() reads the questions once before anything is sent and refuses what
-- must not start a run: a file that cannot be read, a directory, no
-- questions, no line that is a question, and duplicate ids (both would be
-- paid for and one answer would overwrite the other). source() hands a
-- worker one item per ticket: { id, q } or { id, make } for a question,
-- { id, bad } for a line that is not one, which the run stores as a
-- `bad_question` record naming file:line and field rather than skipping it.
-- Both read lines through the same reader (causal_eval.shared lines: blank
-- lines and a byte order mark skipped) and take a line as M.item does (the
-- lines that plainly are questions in C, which spec/question_file_spec.lua
-- holds to M.item's reading), so the count scan() gives and the items the
-- workers take agree line for line.
local json = require "causal_eval.json"
local shared = require "causal_eval.shared"

local CONTAINER = json.container

local M = {}

-- free_text: no exact answer; a judge model grades the response against
-- the question's `reference` (`run --judge`, causal_eval.judge)
M.ANSWER_TYPES = { yes_no = true, number = true, choice = true, free_text = true }

-- a value as a message shows it: short, and never the word nil
local function show(v)
  if type(v) == "string" then
    if #v > 40 then v = v:sub(1, 37) .. "..." end
    return (("%q"):format(v):gsub("\\\n", "\\n"))
  end
  if type(v) == "number" then return tostring(v) end
  if v == json.null then return "null" end
  if type(v) == "table" then return next(v) == nil and "an empty list or object" or "a list or object" end
  return "a " .. type(v)
end

-- The labels a choice question is scored against, as scoring.extract reads
-- them: the query's options when it has them, else the `choices` list.
local function choice_labels(q)
  local qc = type(q.query) == "table" and q.query.choices
  if type(qc) == "table" then
    local labels = {}
    for i, c in ipairs(qc) do
      if type(c) ~= "table" or type(c.label) ~= "string" then
        return nil, ("field query.choices[%d].label: expected a string"):format(i)
      end
      labels[i] = c.label
    end
    return labels
  end
  if q.choices == nil then return nil, "field choices: missing (a choice question lists its labels)" end
  if type(q.choices) ~= "table" then return nil, "field choices: expected a list of labels, got " .. show(q.choices) end
  for i, c in ipairs(q.choices) do
    if type(c) ~= "string" then return nil, ("field choices[%d]: expected a string, got %s"):format(i, show(c)) end
  end
  return q.choices
end

--- The id a question is stored under: a non-empty string or an integer
--- (as text), else nil.
function M.id_of(v)
  if type(v) == "string" and v ~= "" then return v end
  if math.type(v) == "integer" then return tostring(v) end
  return nil
end

--- What keeps a decoded object from being asked and scored, as
--- "field F: problem"; nil when it is a question.
function M.check(q)
  if q.id == nil then return "field id: missing" end
  if not M.id_of(q.id) then return "field id: expected a non-empty string or an integer, got " .. show(q.id) end
  if q.prompt == nil then return "field prompt: missing" end
  if type(q.prompt) ~= "string" or not q.prompt:find("%S") then
    return "field prompt: expected the text to ask, got " .. show(q.prompt)
  end
  local at = q.answer_type
  if at == nil then return "field answer_type: missing" end
  if not M.ANSWER_TYPES[at] then
    return "field answer_type: expected yes_no, number, choice or free_text, got " .. show(at)
  end
  if at == "free_text" then
    -- graded against the reference by a judge: a ground_truth is not read
    local ref = q.reference
    if ref == nil then return "field reference: missing (a free_text question gives its reference answer)" end
    if type(ref) ~= "string" or not ref:find("%S") then
      return "field reference: expected the reference answer as text, got " .. show(ref)
    end
    local notes = q.rubric_notes
    if notes ~= nil and type(notes) ~= "string" then
      return "field rubric_notes: expected text for the judge, got " .. show(notes)
    end
    return nil
  end
  local gt = q.ground_truth
  if gt == nil then return "field ground_truth: missing" end
  if at == "yes_no" then
    if gt ~= "yes" and gt ~= "no" then return 'field ground_truth: expected "yes" or "no", got ' .. show(gt) end
  elseif at == "number" then
    if type(gt) ~= "number" then return "field ground_truth: expected a number, got " .. show(gt) end
    local tol = q.tolerance
    if tol ~= nil and (type(tol) ~= "number" or tol < 0) then
      return "field tolerance: expected a number >= 0, got " .. show(tol)
    end
  else
    local labels, err = choice_labels(q)
    if not labels then return err end
    local found = false
    for _, l in ipairs(labels) do if l == gt then found = true end end
    if not found then return ("field ground_truth: %s is not one of the choices"):format(show(gt)) end
  end
  return nil
end

--- The fields check() and the id read: all a scan of the file needs to
--- build of each line (a question's graph and model are most of its text).
M.CHECKED = { "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "query", "reference",
              "rubric_notes" }

--- The fields a run reads of most questions: scored, recorded and asked
--- (a question's graph and model, most of its text, are read only by
--- adapters that need them, as baseline:associational does).
M.ASKED = { "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "query", "family", "domain",
            "difficulty", "rung", "reference", "rubric_notes" }

-- A question decoded with ASKED only: its other fields are decoded from
-- its line the first time one is read, or when it is iterated (pairs).
-- Raw access (rawget, next, json.encode) sees the ASKED fields only.
local line_of = setmetatable({}, { __mode = "k" })
local asked = {} -- an ASKED field missing from a question is absent from its line too
for _, k in ipairs(M.ASKED) do asked[k] = true end
local function complete(q)
  local line = line_of[q]
  if not line then return end
  line_of[q] = nil
  for k, v in pairs(json.decode(line)) do
    if rawget(q, k) == nil then rawset(q, k, v) end
  end
end
-- the metatable of a question read with the fields `known` (key -> true)
local function lazy(known)
  return {
    __index = function(q, k)
      if known[k] or not line_of[q] then return nil end
      complete(q)
      return rawget(q, k)
    end,
    __pairs = function(q)
      complete(q)
      return next, q, nil
    end,
  }
end
local LAZY = lazy(asked)

-- What a worker reads of a line that is not a choice question: M.ASKED but
-- the query, a list or object read only of choice questions (and by the
-- adapters that want the structure: it is decoded from the line then).
-- Read through a json.picker, a third fewer instructions than decoding
-- them (tools/bench/instructions.sh; docs/development.md).
local PICKED = { "id", "prompt", "answer_type", "ground_truth", "tolerance", "choices", "family", "domain",
                 "difficulty", "rung", "reference", "rubric_notes" }
local PICK, picked = nil, {}
do
  local paths = { {} }
  for i, k in ipairs(PICKED) do
    paths[i + 1] = { k }
    picked[k] = true
  end
  PICK = json.picker(table.unpack(paths))
end
local LAZY_PICKED = lazy(picked)

--- Line `no` of `path` decoded: the value, or nil and "FILE:LINE:COL: message".
--- keep: only those fields (json.decode's keep), for a reader that needs no more.
function M.decode(line, no, path, keep)
  local v, err = json.decode(line, path, keep)
  if v ~= nil then return v end
  -- the decoder counts lines within the one line it was given: say which
  local col, msg = err:sub(#path + 2):match("^1:(%d+): (.*)$")
  return nil, col and ("%s:%d:%s: %s"):format(path, no, col, msg) or ("%s:%d: %s"):format(path, no, err)
end

-- a question's problem, where it is
local function at_line(path, no, problem) return ("%s:%d"):format(path, no) .. ": " .. problem end

--- The fields PICKED of a line that is a JSON object holding no list or
--- object in them and is not a choice question, as a table; nil for any
--- other line (M.decode reads it, and says what is wrong with it).
function M.pick_asked(line)
  local ok, top, id, prompt, at, gt, tol, choices, family, domain, difficulty, rung, ref, notes = PICK:pick(line)
  if not ok or top ~= CONTAINER or at == "choice" or id == CONTAINER or prompt == CONTAINER or at == CONTAINER
    or gt == CONTAINER or tol == CONTAINER or choices == CONTAINER or family == CONTAINER or domain == CONTAINER
    or difficulty == CONTAINER or rung == CONTAINER or ref == CONTAINER or notes == CONTAINER then
    return nil
  end
  return { id = id, prompt = prompt, answer_type = at, ground_truth = gt, tolerance = tol, choices = choices,
           family = family, domain = domain, difficulty = difficulty, rung = rung, reference = ref,
           rubric_notes = notes }
end

--- The item of line `no` of `path`: { id, make } or { id, bad = message }.
--- A line without a usable id is known as "line-N". keep: decode only those
--- fields (M.CHECKED is enough to tell the id and whether it is bad);
--- without it the question's fields past M.ASKED are decoded when read.
function M.item(line, no, path, keep)
  -- (where the line is, and the id of a line without one, are made only
  -- for a line that needs them: this runs for every line, twice)
  if not line:find("^%s*{") then
    return { id = "line-" .. no, bad = ("%s:%d"):format(path, no) .. ": expected a JSON object, one question per line" }
  end
  local q, meta = nil, LAZY
  if not keep then q = M.pick_asked(line) end
  if q then
    meta = LAZY_PICKED
  else
    local err
    q, err = M.decode(line, no, path, keep or M.ASKED)
    if q == nil then return { id = "line-" .. no, bad = err } end
  end
  local id = M.id_of(q.id) or "line-" .. no
  local problem = M.check(q)
  if problem then return { id = id, bad = at_line(path, no, problem) } end
  q.id = id
  if not keep then
    line_of[q] = line
    setmetatable(q, meta)
  end
  return { id = id, make = function() return q end }
end

-- What the scan reads of a line: the fields M.check reads of a question
-- that is not a choice one (a choice question's labels are lists). Not
-- M.pick_asked: its five more fields cost 3,000 instructions a line.
local CHECK = json.picker({}, { "id" }, { "prompt" }, { "answer_type" }, { "ground_truth" }, { "tolerance" },
  { "reference" }, { "rubric_notes" })

--- A line's id and, when it is no question, why (as M.item gives them with
--- M.CHECKED): the scan's reading of every line before a run. Most lines
--- are read through a json.picker, without building the question (a
--- fifth of a question's instructions went to reading its line twice);
--- a line that is bad, a choice question or one with a list or object
--- where M.check wants text is read as M.item reads it, for the same
--- message.
function M.scan_line(line, no, path)
  local ok, top, id, prompt, at, gt, tol, ref, notes = CHECK:pick(line)
  if ok and top == CONTAINER and at ~= "choice" and id ~= CONTAINER and prompt ~= CONTAINER and at ~= CONTAINER
    and gt ~= CONTAINER and tol ~= CONTAINER and ref ~= CONTAINER and notes ~= CONTAINER
    and line:find("^%s*{") then
    local q = { id = id, prompt = prompt, answer_type = at, ground_truth = gt, tolerance = tol, reference = ref,
                rubric_notes = notes }
    local qid = M.id_of(id) or "line-" .. no
    local problem = M.check(q)
    if problem then return qid, at_line(path, no, problem) end
    return qid
  end
  local it = M.item(line, no, path, M.CHECKED)
  return it.id, it.bad
end

-- Each first line of the ids in `wanted` (read again: the scan keeps only
-- hashes of the ids, so a large file costs 8 bytes per question).
local function first_lines(path, wanted, last)
  local lines = shared.lines(path)
  local first = {}
  while lines do
    local line, no = lines:next()
    if not line or no > last then break end
    local id = M.scan_line(line, no, path)
    if wanted[id] and not first[id] then first[id] = no end
  end
  return first
end

local function duplicates_message(path, dups)
  if #dups == 1 then
    local d = dups[1]
    return ("%s:%d: duplicate id %s, first on line %d: each question needs its own id"):format(path, d.line, show(d.id), d.first)
  end
  local parts = {}
  for i = 1, math.min(#dups, 5) do
    parts[i] = ("line %d repeats %s of line %d"):format(dups[i].line, show(dups[i].id), dups[i].first)
  end
  if #dups > 5 then parts[#parts + 1] = ("%d more"):format(#dups - 5) end
  return ("%s: %d duplicate ids: %s; each question needs its own id"):format(path, #dups, table.concat(parts, ", "))
end

--- Reads the first `limit` questions of a file (all without a limit) before
--- a run: { count = items the run will take, bad = lines that are not
--- questions, digest = 16 hex digits of their ids in order (a resume's
--- scan must find the same) }, or nil and a message naming the file (and
--- line) when the file must not be run. Messages name the file `name`
--- (default: path).
function M.scan(path, limit, name)
  local lines, err = shared.lines(path)
  if not lines then return nil, err end
  local shown = name or path
  local ids = shared.set()
  local n, bad, first_bad, maybe = 0, 0, nil, {}
  while not limit or n < limit do
    -- the lines that plainly are questions with new ids are read in C; a
    -- line it leaves is read here (M.scan_line says what is wrong with it)
    local took, line, no, dup = lines:scan_questions(ids, limit and limit - n or -1)
    n = n + took
    if dup then
      n = n + 1
      maybe[#maybe + 1] = { id = dup, line = no }
    elseif line then
      n = n + 1
      local id, why = M.scan_line(line, no, shown)
      if why then
        bad = bad + 1
        first_bad = first_bad or why
      end
      if not ids:add(id) then maybe[#maybe + 1] = { id = id, line = no } end
    else
      if no then return nil, ("%s: %s"):format(shown, no) end
      break
    end
  end
  if #maybe > 0 then
    local wanted = {}
    for _, d in ipairs(maybe) do wanted[d.id] = true end
    local first = first_lines(path, wanted, maybe[#maybe].line)
    local dups = {}
    for _, d in ipairs(maybe) do
      -- a line that is its id's first is a collision of two ids' hashes
      if first[d.id] and first[d.id] < d.line then
        d.first = first[d.id]
        dups[#dups + 1] = d
      end
    end
    if #dups > 0 then return nil, duplicates_message(shown, dups) end
  end
  if n == 0 then
    if limit == 0 then return { count = 0, bad = 0, digest = ids:digest() } end
    return nil, shown .. ": no questions: the file is empty or holds only blank lines"
  end
  if bad == n then
    return nil, ("%s: no line is a question (JSON lines with id, prompt, answer_type and ground_truth, as `causal-eval generate` writes); %s"):format(
      shown, first_bad)
  end
  return { count = n, bad = bad, digest = ids:digest() }
end

--- A worker's reader of a scanned file: cfg = { lines = id of the run's
--- shared lines, path }, tickets = the run's shared counter. Returns a
--- function giving the next item, or nil when the run's tickets or the file
--- are used up.
function M.source(cfg, tickets)
  local lines = assert(shared.attach("lines", cfg.lines))
  return function()
    local ticket = tickets:next()
    if not ticket then return nil end
    -- a line that plainly is a question comes as the table M.item would
    -- make of it (lines:next_question); any other line as text, for M.item
    local q, line, no = lines:next_question()
    if q == nil then
      -- a read error after the scan: this ticket's question is lost, and says so
      if line then return { id = "unread-" .. ticket, bad = ("%s: %s"):format(cfg.path, line) } end
      return nil
    end
    if not q then return M.item(line, no, cfg.path) end
    line_of[q] = line
    setmetatable(q, LAZY_PICKED)
    -- the question itself, made already (no make to call)
    return { id = q.id, q = q }
  end
end

return M
