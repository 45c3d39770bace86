-- SPDX-License-Identifier: MIT
-- Prompt templates: how a question becomes the messages sent to a model.
-- A template is a Lua file returning a table:
--
--   return {
--     system = "You are a careful causal reasoner.",   -- string, function(q, info) or nil
--     user = "Question:\n{{prompt}}\n\nAnswer yes or no.",  -- string or function(q, info)
--     answer = function(q, info) return "Answer: " .. q.ground_truth end, -- optional: a solved example's reply
--     cot = "Reason step by step, then ...",          -- optional: replaces the chain-of-thought instruction
--   }
--
-- In strings, {{field}} is the question's field (prompt, family, domain,
-- difficulty, answer_type, ...). info = { model = label, shots = K, cot = bool,
-- example = bool (a few-shot example, not the question asked) }. Without a
-- system entry the model's own system message (models.yaml) is used. The
-- default template is the benchmark's prompt as the only user message: what
-- runs sent before templates existed.
local M = {}

local KEYS = { system = true, user = true, answer = true, cot = true }

local function kind_ok(v) return v == nil or type(v) == "string" or type(v) == "function" end

--- Compiles a template from its source; file names it in messages. Returns
--- the template table or nil, message.
function M.load(source, file)
  local chunk, err = load(source, "@" .. file, "t", setmetatable({}, { __index = _G }))
  if not chunk then return nil, ("template %s: %s"):format(file, err) end
  local ok, t = pcall(chunk)
  if not ok then return nil, ("template %s: %s"):format(file, tostring(t)) end
  if type(t) ~= "table" then
    return nil, ("template %s: must return a table (system, user, answer, cot), got %s"):format(file, type(t))
  end
  for k, v in pairs(t) do
    if not KEYS[k] then
      return nil, ("template %s: unknown entry '%s' (system, user, answer, cot)"):format(file, tostring(k))
    end
    if not kind_ok(v) then
      return nil, ("template %s: %s must be a string or a function, got %s"):format(file, k, type(v))
    end
  end
  if t.user == nil then return nil, ("template %s: needs user (a string or a function(q, info))"):format(file) end
  t.file = file
  return t
end

local function fill(s, q, file, what)
  return (s:gsub("{{%s*([%w_]+)%s*}}", function(name)
    local v = q[name]
    if type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean" then
      error(("template %s: %s: the question has no field '%s' to write"):format(file, what, name), 0)
    end
    return tostring(v)
  end))
end

-- an entry's text for q: its string filled in, or what its function returns
local function text(t, key, q, info)
  local v = t[key]
  if v == nil then return nil end
  if type(v) == "string" then return fill(v, q, t.file, key) end
  local ok, out = pcall(v, q, info)
  if not ok then error(("template %s: %s: %s"):format(t.file, key, tostring(out)), 0) end
  if out ~= nil and type(out) ~= "string" then
    error(("template %s: %s must return a string, got %s"):format(t.file, key, type(out)), 0)
  end
  return out
end

--- The template's system message for q (nil: the model's own).
function M.system(t, q, info) return t and text(t, "system", q, info) end

--- The user message for q: the template's, else the question's prompt.
function M.user(t, q, info)
  if not t then return q.prompt end
  local s = text(t, "user", q, info)
  if s == nil then error(("template %s: user gave nothing for question %s"):format(t.file, tostring(q.id)), 0) end
  return s
end

-- an answer as a solved example states it
local function answer_value(q)
  local v = q.ground_truth
  if q.answer_type == "number" and type(v) == "number" then return ("%.4g"):format(v) end
  return tostring(v)
end

--- A solved example's reply: the template's answer, else "Answer: X"
--- ("Final answer: X" with chain of thought), which the scoring reads.
function M.answer(t, q, info)
  local s = t and text(t, "answer", q, info)
  if s then return s end
  return (info and info.cot and "Final answer: " or "Answer: ") .. answer_value(q)
end

--- The chain-of-thought instruction: the template's, else the default.
function M.cot(t, q, info)
  local s = t and text(t, "cot", q, info)
  return s or require("causal_eval.cot").instruction(q)
end

return M
