-- SPDX-License-Identifier: MIT
-- Which model a --model argument means: a spec "adapter:model[@base_url]"
-- (openai:gpt-4o-mini, openai:qwen2.5@http://127.0.0.1:8000/v1,
-- anthropic:claude-3-5-haiku-latest, command:./model.sh, baseline:random) or
-- a name from configs/models.yaml. The result is plain data (it travels to
-- worker threads as JSON).
local yaml = require "causal_eval.yaml"
local host = require "causal_eval.host"

local M = {}

M.ADAPTERS = { openai = true, anthropic = true, command = true, baseline = true }

local DEFAULTS = {
  -- greedy decoding by default: an evaluation should be repeatable (and cacheable)
  openai = { base_url = "https://api.openai.com/v1", api_key_env = "OPENAI_API_KEY", temperature = 0 },
  anthropic = { base_url = "https://api.anthropic.com/v1", api_key_env = "ANTHROPIC_API_KEY", max_tokens = 512,
                temperature = 0 },
  command = {},
  baseline = {},
}

local FIELDS = {
  adapter = "string", model = "string", base_url = "string", api_key_env = "string", system = "string",
  temperature = "number", max_tokens = "number", extra_body = "table", timeout = "number",
  connect_timeout = "number", max_attempts = "number", price = "table", command = "string", args = "table",
  seed = "number", cache = "string",
}

--- The configured models: file, else $CAUSAL_EVAL_MODELS, else
--- configs/models.yaml, as a table name -> entry.
function M.catalog(file)
  local env = os.getenv("CAUSAL_EVAL_MODELS")
  file = file or (env and env ~= "" and env) or (host.root() and host.root() .. "/configs/models.yaml")
  if not file then return {} end
  local doc, err, kind = yaml.load_file(file)
  if doc == nil then
    if kind == "io" then return {} end
    return nil, err
  end
  if type(doc) ~= "table" or (doc.models ~= nil and type(doc.models) ~= "table") then
    return nil, file .. ": expected a mapping 'models:' of named models"
  end
  return doc.models or {}, nil, file
end

local function check_entry(name, e, where)
  if type(e) ~= "table" then return nil, ("%s: model '%s' must be a mapping"):format(where, name) end
  for k, v in pairs(e) do
    local want = FIELDS[k]
    if not want then return nil, ("%s: model '%s': unknown field '%s'"):format(where, name, tostring(k)) end
    if type(v) ~= want then
      return nil, ("%s: model '%s': field '%s' should be a %s, got %s"):format(where, name, k, want, type(v))
    end
  end
  if not M.ADAPTERS[e.adapter] then
    return nil, ("%s: model '%s': adapter must be one of openai, anthropic, command, baseline"):format(where, name)
  end
  return true
end

--- Resolves one --model argument to a model table, or nil and a message.
function M.resolve(spec, catalog)
  if type(spec) ~= "string" or spec == "" then return nil, "empty model spec" end
  local entry
  if catalog and catalog[spec] then
    local ok, err = check_entry(spec, catalog[spec], "configs/models.yaml")
    if not ok then return nil, err end
    entry = {}
    for k, v in pairs(catalog[spec]) do entry[k] = v end
  else
    local adapter, rest = spec:match("^([%w_]+):(.+)$")
    if not adapter then
      return nil, ("unknown model '%s': use adapter:model (openai:gpt-4o-mini, baseline:random, ...) or a name from configs/models.yaml"):format(spec)
    end
    if not M.ADAPTERS[adapter] then
      return nil, ("unknown adapter '%s' in '%s' (openai, anthropic, command, baseline)"):format(adapter, spec)
    end
    entry = { adapter = adapter }
    if adapter == "command" then
      entry.command = rest
    else
      local model, url = rest:match("^(.-)@(.+)$")
      entry.model = model or rest
      entry.base_url = url
    end
  end
  for k, v in pairs(DEFAULTS[entry.adapter]) do if entry[k] == nil then entry[k] = v end end
  if entry.adapter == "baseline" then
    local kinds = { random = true, always_yes = true, associational = true }
    if not kinds[entry.model] then
      return nil, ("unknown baseline '%s' (random, always_yes, associational)"):format(tostring(entry.model))
    end
  end
  if entry.base_url then entry.base_url = entry.base_url:gsub("/+$", "") end
  entry.label = spec
  return entry
end

return M
