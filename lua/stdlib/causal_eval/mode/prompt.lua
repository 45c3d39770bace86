-- SPDX-License-Identifier: MIT
-- What a mode sends for one question: the conversation (template, few-shot
-- examples, chain-of-thought instruction) and the model settings of each
-- request (temperature, a seed per sample, the chain of thought's tokens).
--
--   local asker = prompt.asker(mode, model, source_options, seed)
--   local q2 = asker.question(q)          -- q with messages and prompt; nil, message
--   local m2 = asker.model(i)             -- the model table for sample i (1-based)
--
-- Adapters read q2.messages (chat APIs) or q2.prompt (a local command: the
-- conversation as plain text).
local template = require "causal_eval.mode.template"
local shots_mod = require "causal_eval.mode.shots"

local M = {}

local function flatten(messages)
  -- a command reads one text: the examples and their answers in order,
  -- separated by blank lines, as few-shot prompts were written before chat APIs
  local parts = {}
  for _, msg in ipairs(messages) do parts[#parts + 1] = msg.content end
  return table.concat(parts, "\n\n")
end

--- An asker for one model of a run in mode m (see causal_eval.mode);
--- source_options: the run's bench options; seed: the run's seed.
function M.asker(m, model, source_options, seed)
  local tsrc = m.template or (m.templates and m.templates[model.label])
  local t = tsrc and assert(template.load(tsrc.source, tsrc.path)) or nil
  local draw = (m.shots or 0) > 0 and shots_mod.drawer(source_options, seed) or nil
  local info = { model = model.label, shots = m.shots or 0, cot = m.cot or false, example = false }
  local example_info = { model = model.label, shots = m.shots or 0, cot = m.cot or false, example = true }
  local self = {}

  function self.question(q)
    local messages = {}
    local system = template.system(t, q, info) or model.system
    if system then messages[1] = { role = "system", content = system } end
    if draw then
      local examples, err = draw(q, m.shots)
      if not examples then return nil, err end
      for _, ex in ipairs(examples) do
        messages[#messages + 1] = { role = "user", content = template.user(t, ex, example_info) }
        messages[#messages + 1] = { role = "assistant", content = template.answer(t, ex, example_info) }
      end
    end
    local user = template.user(t, q, info)
    if m.cot then user = user .. "\n\n" .. template.cot(t, q, info) end
    messages[#messages + 1] = { role = "user", content = user }
    local q2 = setmetatable({ messages = messages }, { __index = q })
    local convo = messages
    if system and #messages > 1 then
      convo = { table.unpack(messages, 2) } -- a command has no system message
    end
    q2.prompt = flatten(convo)
    return q2
  end

  local plain = m.temperature == nil and not m.samples and not m.cot
  local models = {}
  function self.model(i)
    if plain then return model end
    local key = i or 1
    local mm = models[key]
    if mm then return mm end
    mm = setmetatable({}, { __index = model })
    if m.temperature then mm.temperature = m.temperature end
    if m.samples then
      -- a seed per sample: servers that take one give each sample its own
      -- draw, and the same one when the run is asked again
      mm.seed = (model.seed or 0) + key - 1
    end
    if m.cot then
      -- the reasoning needs room: the budget is the model's max_tokens
      mm.max_tokens = m.cot_budget
    end
    models[key] = mm
    return mm
  end

  return self
end

return M
