-- SPDX-License-Identifier: MIT
-- How a run asks its questions and reads the answers: its evaluation mode.
-- A mode is plain data (it is stored with the run and travels to worker
-- threads as JSON):
--
--   { template = { path, source },   -- prompt template of the run (--template)
--     templates = { [label] = { path, source } }, -- per model (template: in models.yaml)
--     shots = K,                     -- few-shot examples per question (--shots)
--     cot = true, cot_budget = N,    -- chain of thought, tokens per answer (--cot)
--     samples = K, temperature = T,  -- repeated samples, majority vote (--samples)
--     judge = { model = {...}, rubric = { path, source } } } -- model-graded answers (--judge)
--
-- The default mode (nothing of these) asks exactly what runs asked before
-- modes existed: the same request bodies and the same cache keys.
local rng = require "causal_eval.rng"

local M = {}

M.DEFAULT_COT_BUDGET = 1024
M.MAX_SHOTS = 32
M.MAX_SAMPLES = 100

--- true when m asks questions the way runs without a mode did.
function M.is_default(m)
  if type(m) ~= "table" then return true end
  return not m.template and not (m.templates and next(m.templates)) and (m.shots or 0) == 0 and not m.cot
    and (m.samples or 1) == 1 and m.temperature == nil and not m.judge
end

local function read_file(path, what)
  local f, err = io.open(path, "rb")
  if not f then return nil, ("%s: %s"):format(what, err) end
  local src = f:read("a")
  f:close()
  return src
end

--- The mode of a new run from its options (command-line values: template,
--- shots, cot, cot_budget, samples, temperature, judge = resolved model
--- table, rubric) and its resolved models (their template: fields). nil,
--- message naming the flag or file when something is wrong.
function M.from_options(o, models)
  local m = {}
  local function bad(fmt, ...) return nil, fmt:format(...) end
  -- nil, or what is wrong with a whole-number flag
  local function whole(v, flag, lo, hi)
    if v ~= nil and (math.type(v) ~= "integer" or v < lo or v > hi) then
      return ("%s must be a whole number from %d to %d"):format(flag, lo, hi)
    end
  end
  local werr = whole(o.shots, "--shots", 0, M.MAX_SHOTS) or whole(o.samples, "--samples", 1, M.MAX_SAMPLES)
  if werr then return nil, werr end
  if (o.shots or 0) > 0 then m.shots = o.shots end
  if (o.samples or 1) > 1 then m.samples = o.samples end
  if o.temperature ~= nil then
    if type(o.temperature) ~= "number" or o.temperature ~= o.temperature or o.temperature < 0 or o.temperature > 10 then
      return bad("--temperature must be a number from 0 to 10")
    end
    m.temperature = o.temperature
  end
  if m.samples and not m.temperature then
    return bad("--samples %d needs --temperature T > 0: at temperature 0 every sample is the same answer", m.samples)
  end
  if m.samples and m.temperature == 0 then
    return bad("--samples %d at --temperature 0 would ask the same question for the same answer %d times", m.samples,
      m.samples)
  end
  if o.cot then
    m.cot = true
    m.cot_budget = o.cot_budget or M.DEFAULT_COT_BUDGET
    if math.type(m.cot_budget) ~= "integer" or m.cot_budget < 1 then
      return bad("--cot-budget must be a whole number of tokens >= 1")
    end
  elseif o.cot_budget then
    return bad("--cot-budget sets the tokens of a chain of thought: give it with --cot")
  end
  local template = require "causal_eval.mode.template"
  if o.template then
    local src, err = read_file(o.template, "--template")
    if not src then return nil, err end
    local ok, terr = template.load(src, o.template)
    if not ok then return nil, terr end
    m.template = { path = o.template, source = src }
  end
  for _, spec in ipairs(models or {}) do
    if spec.template and not m.template then
      local src, err = read_file(spec.template, ("model %s: template"):format(spec.label))
      if not src then return nil, err end
      local ok, terr = template.load(src, spec.template)
      if not ok then return nil, ("model %s: %s"):format(spec.label, terr) end
      m.templates = m.templates or {}
      m.templates[spec.label] = { path = spec.template, source = src }
    end
  end
  if o.judge then
    if m.samples then return bad("--judge grades one answer per question: it does not combine with --samples") end
    local judge = require "causal_eval.judge"
    local rubric, rerr = judge.load(o.rubric)
    if not rubric then return nil, rerr end
    local src
    if o.rubric then src = assert(read_file(o.rubric, "--rubric")) end
    m.judge = { model = o.judge, rubric = { path = o.rubric, source = src } }
  elseif o.rubric then
    return bad("--rubric is the judge's rubric: give it with --judge MODEL")
  end
  return m
end

-- the template of a model's questions: the run's, else the model's own
local function template_of(m, label)
  return m.template or (m.templates and m.templates[label]) or nil
end

--- What the mode adds to the cache key of a model's calls: "" for the
--- default mode (keys as before), else a short digest of everything that
--- changes the question asked: template, shots, chain of thought, sampling.
function M.key(m, label, sample)
  if M.is_default(m) then return "" end
  local t = template_of(m, label)
  local parts = {
    t and ("t" .. rng.hex(t.source):sub(1, 12)) or "",
    m.shots and ("k" .. m.shots) or "",
    m.cot and ("c" .. m.cot_budget) or "",
    m.temperature and ("T" .. ("%.17g"):format(m.temperature)) or "",
    sample and ("s" .. sample) or "",
  }
  return "#" .. table.concat(parts, ".")
end

local function fmt_num(x) return ("%g"):format(x) end

--- One line naming the mode, for the run summary and reports.
function M.describe(m)
  if M.is_default(m) then return "zero-shot, the benchmark's prompt, one greedy answer" end
  local out = {}
  out[#out + 1] = m.shots and ("%d-shot"):format(m.shots) or "zero-shot"
  if m.cot then out[#out + 1] = ("chain of thought (%d tokens)"):format(m.cot_budget) end
  if m.samples then
    out[#out + 1] = ("%d samples at T=%s, majority vote"):format(m.samples, fmt_num(m.temperature))
  elseif m.temperature then
    out[#out + 1] = ("T=%s"):format(fmt_num(m.temperature))
  end
  if m.template then
    out[#out + 1] = "template " .. m.template.path
  elseif m.templates and next(m.templates) then
    local names = {}
    for label, t in pairs(m.templates) do names[#names + 1] = ("%s: %s"):format(label, t.path) end
    table.sort(names)
    out[#out + 1] = "templates " .. table.concat(names, ", ")
  end
  if m.judge then
    out[#out + 1] = ("judged by %s (rubric %s)"):format(m.judge.model.label, m.judge.rubric.path or "default")
  end
  return table.concat(out, ", ")
end

--- The short name of the mode as a table of flags, for JSON output.
function M.summary(m)
  if M.is_default(m) then return { name = M.describe(m) } end
  local t = template_of(m, nil)
  return {
    name = M.describe(m), shots = m.shots or 0, cot = m.cot or false, cot_budget = m.cot_budget,
    samples = m.samples or 1, temperature = m.temperature, template = t and t.path or nil,
    judge = m.judge and m.judge.model.label or nil,
  }
end

return M
