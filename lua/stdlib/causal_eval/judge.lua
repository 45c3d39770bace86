-- SPDX-License-Identifier: MIT
-- Model-graded answers (`run --judge MODEL`): a rubric turns a free-text
-- question and a model's response into a request for the judge model, and
-- reads a grade out of the judge's reply.
--
--   local rubric, err = judge.load(path)            -- nil path: the default rubric
--   local jq, err = judge.question(rubric, q, text) -- asked of the judge model
--   local grade, why = judge.read(rubric, reply)    -- { score, grade, explanation }
--
-- A rubric is a Lua file returning { name, system, prompt, read, max_tokens }
-- (docs/modes.md). Its functions are the user's code: every call goes
-- through pcall, and what fails names the rubric's file, never the judge.
-- The judge model should decode greedily (temperature 0, the adapters'
-- default), so that the same response gets the same grade and the judge's
-- request is cacheable like any other.
local M = {}

M.DEFAULT = "causal_eval.rubrics.default"

local FIELDS = { name = true, system = true, prompt = true, read = true, max_tokens = true }
local FIELD_LIST = "name, system, prompt, read, max_tokens"

local function callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and type(mt.__call) == "function"
end

local function kind(v)
  if v == nil then return "nothing" end
  if type(v) == "string" then return ("a string (%q)"):format(#v > 30 and v:sub(1, 27) .. "..." or v) end
  return "a " .. type(v)
end

-- the message of an error raised by the rubric's code, one line, named
local function failure(rubric, what, err)
  if type(err) == "table" and err.message then err = err.message end
  return ("%s: %s failed: %s"):format(rubric.file, what, tostring(err))
end

--- Checks the table a rubric file returned; the rubric, or nil and a
--- message naming the file. file: the path (or label) messages name.
function M.check(t, file)
  if type(t) ~= "table" then
    return nil, ("%s: a rubric returns a table with prompt and read functions, got %s"):format(file, kind(t))
  end
  local unknown = {}
  for k in pairs(t) do
    if not FIELDS[k] then unknown[#unknown + 1] = tostring(k) end
  end
  if #unknown > 0 then
    table.sort(unknown)
    return nil, ("%s: unknown field%s %s (a rubric has %s)"):format(file, #unknown > 1 and "s" or "",
      table.concat(unknown, ", "), FIELD_LIST)
  end
  if t.prompt == nil then return nil, file .. ": prompt: missing (function(q, response) returning the judge's message)" end
  if not callable(t.prompt) then return nil, ("%s: prompt: expected a function, got %s"):format(file, kind(t.prompt)) end
  if t.read == nil then return nil, file .. ": read: missing (function(reply) returning { score, grade, explanation })" end
  if not callable(t.read) then return nil, ("%s: read: expected a function, got %s"):format(file, kind(t.read)) end
  if t.name ~= nil and (type(t.name) ~= "string" or not t.name:find("%S")) then
    return nil, ("%s: name: expected a non-empty string, got %s"):format(file, kind(t.name))
  end
  if t.system ~= nil and type(t.system) ~= "string" then
    return nil, ("%s: system: expected a string, got %s"):format(file, kind(t.system))
  end
  local mt = t.max_tokens
  if mt ~= nil and (math.type(mt) ~= "integer" or mt < 1) then
    return nil, ("%s: max_tokens: expected a whole number >= 1, got %s"):format(file, type(mt) == "number" and tostring(mt) or kind(mt))
  end
  local name = t.name or file:match("([^/]+)%.lua$") or file:match("[^/]+$") or file
  local system = t.system
  if system and not system:find("%S") then system = nil end
  return { name = name, system = system, prompt = t.prompt, read = t.read, max_tokens = mt, file = file,
           default = false }
end

--- The rubric of a file (nil: the default rubric): { name, system, prompt,
--- read, max_tokens, file, default }, or nil and a message naming the file
--- (and line, for a syntax error or an error while it runs). With source,
--- the file's text as read before (the run keeps it) instead of the file.
function M.load(path, source)
  if source ~= nil and path ~= nil then
    -- the rubric as a run stored it: a resumed run grades as it began
    local chunk, err = load(source, "@" .. path, "t")
    if not chunk then return nil, err end
    local ok, t = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(path, tostring(t)) end
    return M.check(t, path)
  end
  if path == nil then
    local r = assert(M.check(require(M.DEFAULT), "default rubric"))
    r.default = true
    return r
  end
  if type(path) ~= "string" or path == "" then return nil, "a rubric is a path to a .lua file" end
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  -- a directory opens on Linux, and fails to read
  local _, rerr = f:read(1)
  f:close()
  if rerr then return nil, ("%s: %s"):format(path, rerr) end
  local chunk
  chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  local ok, t = pcall(chunk)
  if not ok then
    t = type(t) == "table" and t.message or tostring(t)
    if t:find("^[^\n]-:%d+: ") then return nil, t end
    return nil, ("%s: %s"):format(path, t)
  end
  return M.check(t, path)
end

--- The request for the judge model: a question-like table an adapter takes
--- (q.prompt, q.messages), { id = q.id .. "#judge", prompt, messages,
--- family, answer_type = "judge", judged = q.id, max_tokens }, or nil and a
--- message naming the rubric's file when its prompt fails.
function M.question(rubric, q, response)
  assert(type(rubric) == "table" and rubric.prompt, "judge.question: a rubric from judge.load expected")
  assert(type(q) == "table", "judge.question: a question expected")
  if type(response) ~= "string" then return nil, "no response to judge" end
  local ok, text = pcall(rubric.prompt, q, response)
  if not ok then return nil, failure(rubric, "prompt", text) end
  if type(text) ~= "string" or not text:find("%S") then
    return nil, ("%s: prompt: expected the judge's message as text, got %s"):format(rubric.file, kind(text))
  end
  local messages = {}
  if rubric.system then messages[1] = { role = "system", content = rubric.system } end
  messages[#messages + 1] = { role = "user", content = text }
  return { id = tostring(q.id) .. "#judge", prompt = text, messages = messages, family = q.family,
           answer_type = "judge", judged = q.id, max_tokens = rubric.max_tokens }
end

--- The grade in the judge's reply: { score = 0..1, grade = text or nil,
--- explanation = text }, or nil and the reason (the rubric's own, as "no
--- grade found", or what went wrong calling it, naming its file).
function M.read(rubric, reply)
  assert(type(rubric) == "table" and rubric.read, "judge.read: a rubric from judge.load expected")
  if type(reply) ~= "string" then return nil, "no reply text" end
  local ok, r, why = pcall(rubric.read, reply)
  if not ok then return nil, failure(rubric, "read", r) end
  if r == nil then return nil, type(why) == "string" and why or "no grade found" end
  if type(r) ~= "table" then
    return nil, ("%s: read: expected a table { score, grade, explanation } or nil, got %s"):format(rubric.file, kind(r))
  end
  local score = r.score
  if type(score) ~= "number" or score ~= score or score < 0 or score > 1 then
    return nil, ("%s: read: expected a score from 0 to 1, got %s"):format(rubric.file,
      type(score) == "number" and tostring(score) or kind(score))
  end
  local grade = r.grade
  if grade ~= nil and type(grade) ~= "string" then
    return nil, ("%s: read: expected the grade as text, got %s"):format(rubric.file, kind(grade))
  end
  local explanation = r.explanation
  if explanation ~= nil and type(explanation) ~= "string" then
    return nil, ("%s: read: expected the explanation as text, got %s"):format(rubric.file, kind(explanation))
  end
  return { score = score, grade = grade, explanation = explanation or "" }
end

--- A short label of a rubric for summaries and reports: "default", or its
--- name and file ("strict (rubrics/strict.lua)").
function M.describe(rubric)
  if rubric.default then return rubric.name end
  if rubric.name == (rubric.file:match("([^/]+)%.lua$")) then return rubric.file end
  return ("%s (%s)"):format(rubric.name, rubric.file)
end

return M
