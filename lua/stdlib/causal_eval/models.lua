-- SPDX-License-Identifier: MIT
-- Which model a --model argument means: a spec "adapter:model[@base_url]"
-- (openai:gpt-4o-mini, openai:qwen2.5@http://127.0.0.1:8000/v1,
-- anthropic:claude-3-5-haiku-latest, command:./model.sh, baseline:random) or
-- a name from the models file (configs/models.yaml, or $CAUSAL_EVAL_MODELS).
-- The result is plain data (it travels to worker threads as JSON), checked
-- here so that no worker meets a field of the wrong type.
--
-- Adapters are modules adapters.NAME found on the module path, like
-- families: a user adds a protocol with one file, adapters/NAME.lua, in a
-- folder of $CAUSAL_EVAL_PATH.
local yaml = require "causal_eval.yaml"
local host = require "causal_eval.host"
local argparse = require "causal_eval.argparse"

local M = {}

-- ---- values ----

local function describe(v)
  local t = math.type(v) or type(v)
  if t == "table" then return next(v) == nil and "an empty table" or (#v > 0 and "a sequence" or "a mapping") end
  if t == "string" then return ("string %q"):format(v) end
  if v == yaml.null then return "null" end
  return ("%s %s"):format(t, tostring(v))
end

--- Checks a base URL: http:// or https://, a host, a port in 1-65535.
--- Returns url, or nil and what is wrong.
function M.check_url(url)
  if type(url) ~= "string" then return nil, "must be a string, got " .. describe(url) end
  local scheme, rest = url:match("^(%a[%w+.-]*)://(.*)$")
  if not scheme then
    return nil, ("'%s' is not a URL (expected http://HOST[:PORT][/PATH] or https://...)"):format(url)
  end
  if scheme:lower() ~= "http" and scheme:lower() ~= "https" then
    return nil, ("'%s': only http:// and https:// URLs are allowed"):format(url)
  end
  if url:find("[%s%c]") then return nil, ("'%s' contains a space or a control character"):format(url) end
  local authority = rest:match("^[^/?#]*")
  local hostport = authority:match("@(.*)$") or authority
  local hostname, port
  if hostport:sub(1, 1) == "[" then
    hostname, port = hostport:match("^(%[[%x:.]+%])(.*)$")
    if not hostname then return nil, ("'%s': an IPv6 host is written [ADDRESS]"):format(url) end
  else
    hostname, port = hostport:match("^([^:]*)(.*)$")
    if hostname == "" then return nil, ("'%s' has no host"):format(url) end
    if not hostname:match("^[%w._~%%-]+$") then return nil, ("'%s': bad host '%s'"):format(url, hostname) end
  end
  if port ~= "" then
    local n = tonumber(port:match("^:(%d+)$"))
    if not n or n < 1 or n > 65535 then return nil, ("'%s': the port must be a number from 1 to 65535"):format(url) end
  end
  return url
end

-- Checks per field: each returns nil, or what is wrong with v.
local function is_string(v) if type(v) ~= "string" then return "must be a string, got " .. describe(v) end end
local function non_empty(v)
  if type(v) ~= "string" or v == "" then return "must be a non-empty string, got " .. describe(v) end
end
local function integer_at_least(min)
  return function(v)
    if math.type(v) ~= "integer" or v < min then return ("must be an integer >= %d, got %s"):format(min, describe(v)) end
  end
end
local function number_at_least(min, strict)
  return function(v)
    if type(v) ~= "number" or v ~= v or (strict and v <= min) or v < min then
      return ("must be a number %s %g, got %s"):format(strict and ">" or ">=", min, describe(v))
    end
  end
end
local function mapping(v)
  if type(v) ~= "table" or (next(v) ~= nil and #v > 0) then return "must be a mapping, got " .. describe(v) end
end

local PRICE_KEYS = { input = true, output = true }

local FIELDS = {
  adapter = non_empty,
  model = non_empty,
  base_url = function(v)
    local ok, err = M.check_url(v)
    if not ok then return err end
  end,
  api_key_env = function(v)
    if type(v) ~= "string" or not v:match("^[%a_][%w_]*$") then
      return "must be the name of an environment variable, got " .. describe(v)
    end
  end,
  system = is_string,
  template = non_empty, -- a prompt template file (causal_eval.mode.template)
  temperature = number_at_least(0),
  max_tokens = integer_at_least(1),
  seed = function(v) if math.type(v) ~= "integer" then return "must be an integer, got " .. describe(v) end end,
  extra_body = mapping,
  timeout = number_at_least(0, true),
  connect_timeout = number_at_least(0, true),
  max_attempts = integer_at_least(1),
  price = function(v)
    local bad = mapping(v)
    if bad then return bad .. " (input:, output: in USD per million tokens)" end
    for k, p in pairs(v) do
      if not PRICE_KEYS[k] then return ("has an unknown key '%s' (input, output)"):format(tostring(k)) end
      if type(p) ~= "number" or p ~= p or p < 0 then
        return ("%s must be a number >= 0 (USD per million tokens), got %s"):format(k, describe(p))
      end
    end
  end,
  command = non_empty,
  args = function(v)
    if type(v) ~= "table" or (next(v) ~= nil and #v == 0) then return "must be a list, got " .. describe(v) end
    for i, a in pairs(v) do
      if math.type(i) ~= "integer" or (type(a) ~= "string" and type(a) ~= "number") then
        return ("item %s must be a string or a number, got %s"):format(tostring(i), describe(a))
      end
    end
  end,
  cache = function(v)
    if v ~= "auto" and v ~= "always" and v ~= "off" then return "must be auto, always or off, got " .. describe(v) end
  end,
}
local FIELD_NAMES = {}
for k in pairs(FIELDS) do FIELD_NAMES[#FIELD_NAMES + 1] = k end
table.sort(FIELD_NAMES)

-- ---- adapters ----

--- The folders where adapters.NAME is looked for: each "DIR/?.lua" of
--- package.path, as DIR/adapters.
local function adapter_dirs()
  local dirs, seen = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)/%?%.lua$")
    if dir and not seen[dir] then
      seen[dir] = true
      dirs[#dirs + 1] = dir .. "/adapters"
    end
  end
  return dirs
end

--- Names of the adapters on the module path, sorted.
function M.adapter_names()
  local names, seen = {}, {}
  for _, dir in ipairs(adapter_dirs()) do
    for _, f in ipairs(host.listdir(dir) or {}) do
      local n = f:match("^([%w_]+)%.lua$")
      if n and not seen[n] then
        seen[n] = true
        names[#names + 1] = n
      end
    end
  end
  table.sort(names)
  return names
end

--- Checks an adapter module's table; file names it in the messages.
function M.check_adapter(a, file)
  if type(a) ~= "table" then
    return nil, ("%s: an adapter returns a table (kind and its functions), got %s"):format(file, describe(a))
  end
  local need
  if a.kind == "http" then need = { "request", "parse" }
  elseif a.kind == "local" then need = { "answer" }
  else return nil, ("%s: kind must be \"http\" or \"local\", got %s"):format(file, describe(a.kind)) end
  for _, f in ipairs(need) do
    if type(a[f]) ~= "function" then
      return nil, ("%s: kind \"%s\" needs a function %s, got %s"):format(file, a.kind, f, describe(a[f]))
    end
  end
  if a.spec_field ~= nil and not FIELDS[a.spec_field] and not (a.fields or {})[a.spec_field] then
    return nil, ("%s: spec_field must name a model field, got %s"):format(file, describe(a.spec_field))
  end
  for _, f in ipairs({ "defaults", "fields" }) do
    if a[f] ~= nil and type(a[f]) ~= "table" then
      return nil, ("%s: %s must be a table, got %s"):format(file, f, describe(a[f]))
    end
  end
  for k, v in pairs(a.fields or {}) do
    if type(k) ~= "string" or (v ~= "string" and v ~= "number" and v ~= "boolean" and v ~= "table") then
      return nil, ("%s: fields.%s must be \"string\", \"number\", \"boolean\" or \"table\""):format(file, tostring(k))
    end
  end
  if a.check ~= nil and type(a.check) ~= "function" then
    return nil, ("%s: check must be a function, got %s"):format(file, describe(a.check))
  end
  return a
end

local adapters = {} -- name -> checked module, in this state

--- The adapter called name: the module adapters.NAME from the module path,
--- loaded and checked. nil and a message naming the file when it is wrong.
function M.adapter(name)
  if adapters[name] then return adapters[name] end
  if type(name) ~= "string" or not name:match("^[%w_]+$") then
    return nil, ("bad adapter name %s (letters, digits and _)"):format(describe(name))
  end
  local modname = "adapters." .. name
  local file = package.searchpath(modname, package.path)
  if not file then
    return nil, ("unknown adapter '%s' (known: %s; a new one is a file adapters/%s.lua in a folder of CAUSAL_EVAL_PATH)")
      :format(name, table.concat(M.adapter_names(), ", "), name)
  end
  local a = package.loaded[modname]
  if a == nil then
    local chunk, err = loadfile(file)
    if not chunk then return nil, err end
    local ok, result = pcall(chunk, modname, file)
    if not ok then
      local msg = tostring(result)
      return nil, msg:sub(1, #file) == file and msg or (file .. ": " .. msg)
    end
    a = result
  end
  local checked, err = M.check_adapter(a, file)
  if not checked then return nil, err end
  package.loaded[modname] = a -- what the workers' require finds too
  adapters[name] = a
  return a
end

-- ---- model entries ----

-- Checks one entry (name -> fields) against FIELDS and its adapter's extra
-- fields. Each problem goes to errs as { key = "field" or nil, message }.
local function entry_errors(e, errs)
  if type(e) ~= "table" or (next(e) ~= nil and #e > 0) then
    errs[#errs + 1] = { message = "must be a mapping of fields (adapter, model, ...), got " .. describe(e) }
    return
  end
  local a, aerr
  if e.adapter == nil then
    errs[#errs + 1] = { message = "needs an adapter (" .. table.concat(M.adapter_names(), ", ") .. ")" }
  elseif type(e.adapter) ~= "string" then
    errs[#errs + 1] = { key = "adapter", message = "adapter must be a string, got " .. describe(e.adapter) }
  else
    a, aerr = M.adapter(e.adapter)
    if not a then errs[#errs + 1] = { key = "adapter", message = aerr } end
  end
  local extra = a and a.fields or {}
  local keys = {}
  for k in pairs(e) do keys[#keys + 1] = k end
  table.sort(keys, function(x, y) return tostring(x) < tostring(y) end)
  for _, k in ipairs(keys) do
    local v = e[k]
    local check = FIELDS[k]
    if k ~= "adapter" and check then
      local bad = check(v)
      if bad then errs[#errs + 1] = { key = k, message = ("%s %s"):format(k, bad) } end
    elseif extra[k] then
      if type(v) ~= extra[k] then
        errs[#errs + 1] = { key = k, message = ("%s must be a %s, got %s"):format(k, extra[k], describe(v)) }
      end
    elseif not check then
      local known = {}
      for _, n in ipairs(FIELD_NAMES) do known[#known + 1] = n end
      for n in pairs(extra) do known[#known + 1] = n end
      local hint = type(k) == "string" and argparse.suggest(k, known)
      errs[#errs + 1] = { key = k, unknown = true,
        message = ("unknown field '%s'%s"):format(tostring(k), hint and (" (did you mean '" .. hint .. "'?)") or "") }
    end
  end
  return a
end

local function format_errors(where, name, errs, marks)
  local lines = {}
  for i, err in ipairs(errs) do
    local path = "models." .. name .. (err.key and ("." .. err.key) or "")
    local m = marks and marks[path]
    local pos = ""
    if m then
      local line, col = m.line, m.column
      if err.unknown and m.key_line then line, col = m.key_line, m.key_column end
      pos = (":%d:%d"):format(line, col)
    end
    lines[i] = ("%s%s: model '%s': %s"):format(where, pos, name, err.message)
  end
  return table.concat(lines, "\n")
end

local display_path = require("causal_eval.config").display_path

local catalog_file = setmetatable({}, { __mode = "k" }) -- catalog -> the file it came from

--- The configured models: file, else $CAUSAL_EVAL_MODELS, else
--- configs/models.yaml, as a table name -> entry, every entry checked.
--- Returns catalog, nil, file; or nil and every problem, each with the file
--- (and line) it is in. A missing file is an error unless it is the default.
function M.catalog(file)
  local env = os.getenv("CAUSAL_EVAL_MODELS")
  local explicit = file ~= nil or (env ~= nil and env ~= "")
  if not file and explicit then file = env end
  if not file then file = host.root() and (host.root() .. "/configs/models.yaml") end
  if not file then return {} end
  local shown = display_path(file)
  local doc, marks, kind = yaml.load_file(file, { marks = true })
  if doc == nil then
    if kind == "io" and not explicit then return {} end
    local msg = tostring(marks)
    if msg:sub(1, #file) == file then msg = shown .. msg:sub(#file + 1) end
    if kind == "io" and env and file == env then msg = msg .. " (from CAUSAL_EVAL_MODELS)" end
    return nil, msg
  end
  if doc == yaml.null then doc = {} end -- an empty file: no named models
  local top = marks[""] or {}
  if type(doc) ~= "table" or (next(doc) ~= nil and #doc > 0) then
    return nil, ("%s:%d:%d: expected a mapping with 'models:', got %s"):format(shown, top.line or 1, top.column or 1,
      describe(doc))
  end
  local problems = {}
  for k in pairs(doc) do
    if k ~= "models" then
      local m = marks[tostring(k)] or {}
      problems[#problems + 1] = ("%s:%d:%d: unknown key '%s' (the file holds 'models:')"):format(shown,
        m.key_line or m.line or 1, m.key_column or m.column or 1, tostring(k))
    end
  end
  local models = doc.models
  if models == nil or models == yaml.null then models = {} end
  if type(models) ~= "table" or (next(models) ~= nil and #models > 0) then
    local m = marks.models or {}
    problems[#problems + 1] = ("%s:%d:%d: 'models' must be a mapping of names to models, got %s"):format(shown,
      m.line or 1, m.column or 1, describe(models))
    return nil, table.concat(problems, "\n")
  end
  local names = {}
  for name in pairs(models) do names[#names + 1] = name end
  table.sort(names, function(x, y) return tostring(x) < tostring(y) end)
  for _, name in ipairs(names) do
    local errs = {}
    if type(name) ~= "string" then
      errs[1] = { message = "a model's name must be text (quote it)" }
    else
      entry_errors(models[name], errs)
    end
    if #errs > 0 then problems[#problems + 1] = format_errors(shown, tostring(name), errs, marks) end
  end
  if #problems > 0 then return nil, table.concat(problems, "\n") end
  catalog_file[models] = shown
  return models, nil, file
end

-- A resolved model: its adapter's defaults filled in and checked whole.
local function finish(entry, label, where)
  local a, err = M.adapter(entry.adapter)
  if not a then return nil, ("%s: %s"):format(where, err) end
  for k, v in pairs(a.defaults or {}) do if entry[k] == nil then entry[k] = v end end
  local errs = {}
  entry_errors(entry, errs)
  if #errs > 0 then
    local msgs = {}
    for i, e in ipairs(errs) do msgs[i] = e.message end
    return nil, ("%s: %s"):format(where, table.concat(msgs, "; "))
  end
  if a.kind == "http" and not entry.base_url then
    return nil, ("%s: the adapter %s needs a base_url (%s:MODEL@http://HOST:PORT/v1)"):format(where, entry.adapter,
      entry.adapter)
  end
  if a.check then
    local ok, cerr = a.check(entry)
    if not ok then return nil, ("%s: %s"):format(where, tostring(cerr)) end
  end
  if entry.base_url then entry.base_url = entry.base_url:gsub("/+$", "") end
  entry.label = label
  return entry
end

--- Resolves one --model argument to a model table, or nil and a message.
function M.resolve(spec, catalog)
  if type(spec) ~= "string" or spec == "" then return nil, "empty model spec" end
  local entry, where
  if catalog and catalog[spec] ~= nil then
    local file = catalog_file[catalog] or "models"
    local errs = {}
    entry_errors(catalog[spec], errs)
    if #errs > 0 then return nil, format_errors(file, spec, errs) end
    entry = {}
    for k, v in pairs(catalog[spec]) do entry[k] = v end
    where = ("%s: model '%s'"):format(file, spec)
  else
    local adapter, rest = spec:match("^([%w_]+):(.+)$")
    if not adapter then
      return nil, ("unknown model '%s': use adapter:model (openai:gpt-4o-mini, baseline:random, ...) or a name from the models file"):format(spec)
    end
    local a, err = M.adapter(adapter)
    if not a then return nil, ("model '%s': %s"):format(spec, err) end
    entry = { adapter = adapter }
    if a.kind == "http" then
      local model, url = rest:match("^(.-)@(.+)$")
      entry.model = model or rest
      entry.base_url = url
    else
      -- command:./model.sh@v2 names a program, not a URL
      entry[a.spec_field or "model"] = rest
    end
    where = ("model '%s'"):format(spec)
  end
  return finish(entry, spec, where)
end

--- Checks a model as a run stored it (a resume): the same checks as a new
--- run's, so that a run stored by an older version cannot crash the workers.
function M.check_resolved(m, where)
  if type(m) ~= "table" then return nil, ("%s: a stored model must be a table, got %s"):format(where, describe(m)) end
  local entry = {}
  for k, v in pairs(m) do if k ~= "label" then entry[k] = v end end
  local ok, err = finish(entry, m.label, ("%s: model '%s'"):format(where, tostring(m.label)))
  if not ok then return nil, err end
  return m
end

return M
