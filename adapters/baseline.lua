-- SPDX-License-Identifier: MIT
-- Reference models that need no network, so that the benchmark's power to
-- tell reasoning from guessing is visible in every run:
--   random         a fair coin (and a uniform number, a random option)
--   always_yes     "Yes." to everything (0.5 for numbers, the first option)
--   associational  answers every question from correlations alone: it reads
--                  the question's tables and treats association as
--                  causation, the classic mistake. It gets rung-1 questions
--                  right and fails where confounding or colliders matter.
local rng = require "causal_eval.rng"
local questions = require "causal_eval.questions"

local M = { kind = "local" }

local KINDS = { random = true, always_yes = true, associational = true }

function M.check(model)
  if not KINDS[model.model] then
    return nil, ("unknown baseline '%s' (random, always_yes, associational)"):format(tostring(model.model))
  end
  return true
end

local function yn(b) return b and "Yes." or "No." end

local function labels(q)
  if type(q.choices) == "table" and #q.choices > 0 then return q.choices end
  local out = {}
  if type(q.query) == "table" and type(q.query.choices) == "table" then
    for i, c in ipairs(q.query.choices) do out[i] = c.label end
  end
  return out
end

-- ---- the associational reasoner ----

local function assoc_diff(m, x, y)
  local p1 = m:p({ [y] = 1 }, { [x] = 1 })
  local p0 = m:p({ [y] = 1 }, { [x] = 0 })
  if not p1 or not p0 then return 0 end
  return p1 - p0
end

local function merged(a, b)
  local out = {}
  for k, v in pairs(a or {}) do out[k] = v end
  for k, v in pairs(b or {}) do out[k] = v end
  return out
end

local function correlated(m, a, b) return not m:dsep(a, b, {}) end

local function assoc_term(m, t)
  if t.value ~= nil then return t.value end
  return m:p(t.event, merged(t.given, t["do"])) or 0
end

-- the answer an associational reasoner gives to a query: yes/no, number or label
local function associational(m, qu, q)
  local t = qu.type
  if t == "prob" then return assoc_term(m, qu) end
  if t == "prob_compare" then
    local d = assoc_term(m, qu.left) - assoc_term(m, qu.right)
    if math.abs(d) < (qu.threshold or 0) then return false end
    return (qu.relation == ">" and d > 0) or (qu.relation == "<" and d < 0)
  end
  if t == "effect_sign" or t == "effect_value" then
    local d = assoc_diff(m, qu.treatment, qu.outcome) -- association taken for the effect
    if t == "effect_value" then return d end
    if math.abs(d) < (qu.threshold or questions.THRESHOLD) then return false end
    return (qu.direction == "increase" and d > 0) or (qu.direction == "decrease" and d < 0)
  end
  if t == "counterfactual" then
    local given = {}
    for k, v in pairs(qu.given or {}) do if not (qu["do"] or {})[k] then given[k] = v end end
    return m:p(qu.event, merged(given, qu["do"])) or 0
  end
  if t == "counterfactual_value" then
    -- ignores the intervention: what the factual world says
    local p = m:p({ [qu.var] = 1 }, qu.given) or 0.5
    return (p >= 0.5 and 1 or 0) == (qu.value or 1)
  end
  if t == "graph" then
    local r = qu.relation
    local v
    if r == "causes" or r == "direct_cause" then v = correlated(m, qu.from, qu.to)
    elseif r == "mediator" then v = correlated(m, qu.from, qu.var) and correlated(m, qu.var, qu.to)
    elseif r == "independent" then v = not correlated(m, qu.a, qu.b)
    elseif r == "backdoor" or r == "frontdoor" then v = type(qu.set) ~= "table" or #qu.set == 0
    else v = false end
    if qu.negate then v = not v end
    return v
  end
  if t == "adjust_compare" then return type(qu.set1) == "table" and #qu.set1 == 0 end
  if t == "mec" then
    local r = qu.relation
    if r == "parent" or r == "child" or r == "ancestor" or r == "descendant" then return correlated(m, qu.a, qu.b) end
    if r == "collider" then return correlated(m, qu.a, qu.var) and correlated(m, qu.b, qu.var) end
    return false
  end
  if t == "choice" then
    for _, c in ipairs(qu.choices) do
      local cq = c.query or {}
      if cq.via and cq.a and cq.b and correlated(m, cq.via, cq.a) and correlated(m, cq.via, cq.b) then return c.label end
    end
    return qu.choices[1] and qu.choices[1].label
  end
  return false
end

local function format(v)
  if type(v) == "boolean" then return yn(v) end
  if type(v) == "number" then return ("%.4f"):format(v) end
  return tostring(v)
end

function M.answer(model, q)
  local kind = model.model
  local r = rng.new(rng.hash(tostring(q.id) .. "|" .. model.label))
  if kind == "always_yes" then
    if q.answer_type == "number" then return { text = "0.5" } end
    if q.answer_type == "choice" then return { text = tostring(labels(q)[1] or "A") } end
    return { text = "Yes." }
  end
  if kind == "random" then
    if q.answer_type == "number" then return { text = format(r:uniform(-1, 1)) } end
    if q.answer_type == "choice" then
      local l = labels(q)
      return { text = #l > 0 and tostring(r:pick(l)) or "A" }
    end
    return { text = yn(r:bernoulli(0.5)) }
  end
  -- associational: needs the question's graph and tables
  if type(q.query) ~= "table" then return nil, "baseline", "the question has no structured query" end
  local m, err = questions.model_of(q)
  if not m then return nil, "baseline", err end
  local ok, v = pcall(associational, m, q.query, q)
  m:close()
  if not ok then return nil, "baseline", tostring(v) end
  return { text = format(v) }
end

return M
