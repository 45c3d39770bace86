-- SPDX-License-Identifier: MIT
-- The bodies `causal-eval serve` accepts, decoded and checked before any
-- work is done: POST /auth/login, /evaluate/single and /evaluate/batch.
-- Each parser returns plain data, or nil and an error { status = 400, code,
-- message } whose message names the field at fault. Nothing here touches
-- the network, the store or a model, so tools/fuzz/fuzz_request.c feeds
-- these functions arbitrary bytes: any Lua error raised here is a bug.
--
--   local req = require "causal_eval.serve.request"
--   local login, err = req.login(body)                  -- { username, password }
--   local single, err = req.single(body)                -- { model, item, mode }
--   local batch, err = req.batch(body, max_batch)       -- { model, items = { item | { error } }, mode }
--
-- An item is one question to evaluate: { question = {...} } given inline,
-- { question_id = "..." } stored, or { task_type, domain, difficulty, seed,
-- index } generated; with model_response when the answer is given.
local json = require "causal_eval.json"
local question_file = require "causal_eval.question_file"

local M = {}

--- The largest question index a request may ask for: question i of a family
--- is made after every question before it (the plan of its pairs), so an
--- index of 2^40 kept a worker busy for months and its server deaf.
--- Question 99,999 takes about a second.
M.MAX_INDEX = 99999

M.MAX_MODEL_RESPONSE = 256 * 1024
M.DIFFICULTIES = { easy = true, medium = true, hard = true }

local ARRAY_MT = getmetatable(json.array())

local function bad(code, message) return { status = 400, code = code, message = message } end

-- a value as a message shows it: short, and never the word nil
local function show(v)
  if type(v) == "string" then
    if #v > 40 then v = v:sub(1, 37) .. "..." end
    return (("string %q"):format(v):gsub("\\\n", "\\n"))
  end
  if v == json.null then return "null" end
  if math.type(v) then return ("%s %s"):format(math.type(v) == "integer" and "integer" or "number", tostring(v)) end
  if type(v) == "table" then return (getmetatable(v) == ARRAY_MT or rawlen(v) > 0) and "an array" or "an object" end
  return type(v)
end

-- The decoder marks an empty array; a non-empty one has keys 1..n, which no
-- object has (its keys are strings).
local function is_array(v) return type(v) == "table" and (getmetatable(v) == ARRAY_MT or rawlen(v) > 0) end
local function is_object(v) return type(v) == "table" and not is_array(v) end

local function field_error(name, expected, v)
  if v == nil then return bad("missing_field", ("field '%s': missing"):format(name)) end
  return bad("bad_field", ("field '%s': expected %s, got %s"):format(name, expected, show(v)))
end

--- The body as a JSON object, or nil and a 400 naming where it is wrong.
function M.object(body)
  if type(body) ~= "string" or body == "" then
    return nil, bad("invalid_json", "request body: expected a JSON object, got an empty body")
  end
  local v, err = json.decode(body, "request body")
  if v == nil then return nil, bad("invalid_json", tostring(err)) end
  if not is_object(v) then
    return nil, bad("invalid_json", "request body: expected a JSON object, got " .. show(v))
  end
  return v
end

-- Every key of t is one of `known`; else the first unknown one, sorted, as an error.
local function only(t, known, prefix)
  local extra
  for k in pairs(t) do
    if not known[k] and (extra == nil or tostring(k) < extra) then extra = tostring(k) end
  end
  if extra then
    local names = {}
    for k in pairs(known) do names[#names + 1] = k end
    table.sort(names)
    return bad("unknown_field", ("field '%s%s': unknown (expected %s)"):format(prefix, extra, table.concat(names, ", ")))
  end
end

local function string_field(t, name, prefix, opts)
  local v = t[name]
  if v == nil and opts.optional then return nil end
  if type(v) ~= "string" or (v == "" and not opts.empty) then
    return nil, field_error(prefix .. name, opts.empty and "a string" or "a non-empty string", v)
  end
  if opts.max and #v > opts.max then
    return nil, bad("bad_field", ("field '%s%s': longer than %d bytes"):format(prefix, name, opts.max))
  end
  return v
end

local function integer_field(t, name, prefix, min, max)
  local v = t[name]
  if v == nil then return nil end
  if math.type(v) ~= "integer" or v < min or v > max then
    return nil, field_error(prefix .. name, ("an integer from %d to %d"):format(min, max), v)
  end
  return v
end

--- POST /auth/login: { username, password }.
function M.login(body)
  local t, err = M.object(body)
  if not t then return nil, err end
  err = only(t, { username = true, password = true }, "")
  if err then return nil, err end
  local user, uerr = string_field(t, "username", "", { max = 256 })
  if not user then return nil, uerr end
  local pass, perr = string_field(t, "password", "", { max = 4096 })
  if not pass then return nil, perr end
  return { username = user, password = pass }
end

local ITEM_FIELDS = { question = true, question_id = true, task_type = true, domain = true, difficulty = true,
                      seed = true, index = true, model_response = true }
-- the checks' options, made once: a request is checked thousands of times a second
local TASK_TYPE, DOMAIN, DIFFICULTY = { max = 64 }, { optional = true, max = 64 }, { optional = true, max = 16 }
local MODEL_RESPONSE = { empty = true, max = M.MAX_MODEL_RESPONSE }
local TASK_ONLY = { "domain", "difficulty", "seed", "index" }

-- A question given inline: the fields `run --questions` reads, checked the
-- same way; an id is made from its content when none is given.
local function inline_question(q, prefix)
  if not is_object(q) then return nil, field_error(prefix .. "question", "a question object", q) end
  if q.id == nil then q.id = "inline-" .. require("causal_eval.rng").hex(json.encode(q)):sub(1, 16) end
  local problem = question_file.check(q)
  if problem then
    -- "field prompt: missing" -> "field 'question.prompt': missing"
    local name, rest = problem:match("^field ([^:]+): (.*)$")
    if name then return nil, bad("bad_field", ("field '%squestion.%s': %s"):format(prefix, name, rest)) end
    return nil, bad("bad_field", ("field '%squestion': %s"):format(prefix, problem))
  end
  q.id = question_file.id_of(q.id)
  return q
end

--- One item of an evaluation (the body of /evaluate/single without its
--- model, or an element of a batch's questions); prefix names where it is
--- ("questions[3]." in a batch).
function M.item(t, prefix)
  prefix = prefix or ""
  if not is_object(t) then return nil, field_error((prefix:gsub("%.$", "")), "an object", t) end
  local err = only(t, ITEM_FIELDS, prefix)
  if err then return nil, err end
  local item = {}
  local n_given = (t.question ~= nil and 1 or 0) + (t.question_id ~= nil and 1 or 0) + (t.task_type ~= nil and 1 or 0)
  if n_given == 0 then
    return nil, bad("missing_field",
      ("field '%squestion': missing (give question, question_id, or task_type with domain and difficulty)"):format(prefix))
  end
  if n_given > 1 then
    local given = {}
    for _, k in ipairs({ "question", "question_id", "task_type" }) do
      if t[k] ~= nil then given[#given + 1] = k end
    end
    return nil, bad("bad_field", ("fields '%s%s' and '%s%s': give only one"):format(prefix, given[1], prefix, given[2]))
  end
  if t.question ~= nil then
    local q, qerr = inline_question(t.question, prefix)
    if not q then return nil, qerr end
    item.question = q
  elseif t.question_id ~= nil then
    local id = question_file.id_of(t.question_id)
    if not id or #id > 512 then return nil, field_error(prefix .. "question_id", "a non-empty string or an integer", t.question_id) end
    item.question_id = id
  else
    local tt, terr = string_field(t, "task_type", prefix, TASK_TYPE)
    if not tt then return nil, terr end
    if not tt:match("^[%w_]+$") then
      return nil, bad("bad_field", ("field '%stask_type': expected a family name (letters, digits, _), got %s"):format(prefix, show(tt)))
    end
    item.task_type = tt
    local d, derr = string_field(t, "domain", prefix, DOMAIN)
    if derr then return nil, derr end
    item.domain = d
    local diff, ferr = string_field(t, "difficulty", prefix, DIFFICULTY)
    if ferr then return nil, ferr end
    if diff and not M.DIFFICULTIES[diff] then
      return nil, bad("bad_field", ("field '%sdifficulty': expected easy, medium or hard, got %s"):format(prefix, show(diff)))
    end
    item.difficulty = diff
    local seed, serr = integer_field(t, "seed", prefix, 0, math.maxinteger)
    if serr then return nil, serr end
    local index, ierr = integer_field(t, "index", prefix, 0, M.MAX_INDEX)
    if ierr then return nil, ierr end
    item.seed, item.index = seed or 0, index or 0
  end
  if t.task_type == nil then
    for _, k in ipairs(TASK_ONLY) do
      if t[k] ~= nil then return nil, bad("bad_field", ("field '%s%s': only with task_type"):format(prefix, k)) end
    end
  end
  if t.model_response ~= nil then
    local r, rerr = string_field(t, "model_response", prefix, MODEL_RESPONSE)
    if not r then return nil, rerr end
    item.model_response = r
  end
  return item
end

local function model_field(t)
  return string_field(t, "model", "", { max = 512 })
end

local MODE_FIELDS = { shots = true, cot = true, cot_budget = true, samples = true, temperature = true, judge = true }
local JUDGE = { optional = true, max = 512 }

--- The evaluation mode of a request (its "mode" object): { shots, cot,
--- cot_budget, samples, temperature, judge } as `run` takes them, checked
--- here for types and bounds (causal_eval.mode checks how they combine).
--- nil when absent; nil, error naming the field when wrong.
function M.mode(t)
  local v = t.mode
  if v == nil then return nil end
  if not is_object(v) then return nil, field_error("mode", "an object", v) end
  local err = only(v, MODE_FIELDS, "mode.")
  if err then return nil, err end
  local out = {}
  local e
  out.shots, e = integer_field(v, "shots", "mode.", 0, 32)
  if e then return nil, e end
  out.samples, e = integer_field(v, "samples", "mode.", 1, 100)
  if e then return nil, e end
  out.cot_budget, e = integer_field(v, "cot_budget", "mode.", 1, 1 << 20)
  if e then return nil, e end
  if v.cot ~= nil and type(v.cot) ~= "boolean" then return nil, field_error("mode.cot", "true or false", v.cot) end
  out.cot = v.cot or nil
  if v.temperature ~= nil then
    local x = v.temperature
    if type(x) ~= "number" or x ~= x or x < 0 or x > 10 then
      return nil, field_error("mode.temperature", "a number from 0 to 10", x)
    end
    out.temperature = x
  end
  out.judge, e = string_field(v, "judge", "mode.", JUDGE)
  if e then return nil, e end
  return out
end

--- POST /evaluate/single: { model, item }.
function M.single(body)
  local t, err = M.object(body)
  if not t then return nil, err end
  local model, merr = model_field(t)
  if not model then return nil, merr end
  local mode, moderr = M.mode(t)
  if moderr then return nil, moderr end
  t.model, t.mode = nil, nil
  local item, ierr = M.item(t, "")
  if not item then return nil, ierr end
  return { model = model, item = item, mode = mode }
end

--- POST /evaluate/batch: { model, items }, at most max_batch items. An item
--- that is wrong is kept as { error = ... } so the others still run.
function M.batch(body, max_batch)
  local t, err = M.object(body)
  if not t then return nil, err end
  err = only(t, { model = true, questions = true, mode = true }, "")
  if err then return nil, err end
  local model, merr = model_field(t)
  if not model then return nil, merr end
  local mode, moderr = M.mode(t)
  if moderr then return nil, moderr end
  local qs = t.questions
  if not is_array(qs) then return nil, field_error("questions", "an array of questions", qs) end
  if #qs == 0 then return nil, bad("bad_field", "field 'questions': empty (give at least one)") end
  if max_batch and #qs > max_batch then
    return nil, bad("too_many", ("field 'questions': %d questions, more than api.max_batch (%d)"):format(#qs, max_batch))
  end
  local items = {}
  for i, q in ipairs(qs) do
    local item, ierr = M.item(q, ("questions[%d]."):format(i - 1))
    items[i] = item or { error = ierr }
  end
  return { model = model, items = items, mode = mode }
end

--- A query parameter as an integer in [min, max], the default when absent,
--- or nil and a 400 naming it.
function M.query_int(query, name, default, min, max)
  local s = query[name]
  if s == nil or s == "" then return default end
  local n = tonumber(s)
  if not (n and math.tointeger(n) and n >= min and n <= max) then
    return nil, bad("bad_parameter", ("parameter '%s': expected an integer from %d to %d, got %s"):format(name, min, max,
      show(s)))
  end
  return math.tointeger(n)
end

return M
