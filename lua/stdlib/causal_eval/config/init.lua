-- SPDX-License-Identifier: MIT
-- Layered configuration. A value resolves from, later layers winning:
--   1. the default in causal_eval.config.schema
--   2. the active environment's section of configs/performance.yaml
--   3. the variable CAUSAL_EVAL_<SECTION>_<KEY> (path upper-cased, '.' -> '_')
--   4. --set section.key=value
-- Each value remembers where it came from. Unknown keys and wrong types are
-- errors that name the key's path and its source (file:line:column, variable
-- or --set), all of them at once rather than the first only.
local yaml = require "causal_eval.yaml"
local host = require "causal_eval.host"
local schema = require "causal_eval.config.schema"
local argparse = require "causal_eval.argparse"

local M = {}
M.DEFAULT_ENV = "development"
M.ENV_PREFIX = "CAUSAL_EVAL_"
M.schema = schema

-- ---- schema helpers ----

local function is_leaf(node) return type(node) == "table" and rawget(node, "__leaf") == true end

--- All settings as a sorted list of { path = "a.b", spec = leaf }.
function M.settings(node, prefix, out)
  node, prefix, out = node or schema, prefix or "", out or {}
  local keys = {}
  for k in pairs(node) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local p = prefix .. k
    if is_leaf(node[k]) then out[#out + 1] = { path = p, spec = node[k] }
    else M.settings(node[k], p .. ".", out) end
  end
  return out
end

local function spec_at(path)
  local node = schema
  for part in path:gmatch("[^%.]+") do
    if type(node) ~= "table" or is_leaf(node) then return nil end
    node = node[part]
  end
  return is_leaf(node) and node or nil, node
end

local function names_of(node)
  local names = {}
  for k in pairs(node) do names[#names + 1] = k end
  table.sort(names)
  return names
end

function M.env_var(path) return M.ENV_PREFIX .. path:upper():gsub("%.", "_") end

-- ---- values ----

local function describe(v)
  if v == yaml.null then return "null" end
  local t = math.type(v) or type(v)
  if t == "table" then return next(v) == nil and "an empty table" or (#v > 0 and "a sequence" or "a mapping") end
  if t == "string" then return ("string %q"):format(v) end
  if t == "float" then return ("float %s"):format(tostring(v)) end
  return ("%s %s"):format(t, tostring(v))
end

--- Checks v against a leaf spec: returns v, or nil and the reason.
function M.check(spec, v)
  local ok
  if spec.type == "integer" then ok = math.type(v) == "integer"
  elseif spec.type == "number" then ok = type(v) == "number"
  elseif spec.type == "boolean" then ok = type(v) == "boolean"
  elseif spec.type == "string" then ok = type(v) == "string"
  else error("schema: unknown type " .. tostring(spec.type)) end
  if not ok then
    local hint = spec.type == "string" and type(v) ~= "table" and " (quote it to make it a string)" or ""
    return nil, ("expected %s, got %s%s"):format(spec.type, describe(v), hint)
  end
  if spec.check then -- a format the type alone does not say (a URL)
    local ok, why = spec.check(v)
    if not ok then return nil, ("%s, got %s"):format(why, describe(v)) end
  end
  if spec.min and v < spec.min then return nil, ("must be >= %s, got %s"):format(spec.min, v) end
  if spec.max and v > spec.max then return nil, ("must be <= %s, got %s"):format(spec.max, v) end
  if spec.choices then
    for _, c in ipairs(spec.choices) do if c == v then return v end end
    return nil, ("must be one of %s, got %s"):format(table.concat(spec.choices, ", "), describe(v))
  end
  return v
end

local BOOL_WORDS = { ["1"] = true, yes = true, on = true, ["0"] = false, no = false, off = false }

--- Parses text given on the command line or in a variable for a setting.
function M.parse_text(spec, text)
  if spec.type == "string" then return M.check(spec, text) end -- choices and formats too
  if spec.type == "boolean" and BOOL_WORDS[text:lower()] ~= nil then return BOOL_WORDS[text:lower()] end
  local v, err = yaml.resolve(text)
  if v == nil then return nil, err end
  if spec.type == "boolean" and type(v) == "string" and (text:lower() == "true" or text:lower() == "false") then
    v = text:lower() == "true"
  end
  return M.check(spec, v)
end

-- ---- file sections ----

--- A file's path as messages show it: relative to the working folder when
--- it lies below it.
function M.display_path(file)
  local pwd = os.getenv("PWD")
  if pwd and file:sub(1, #pwd + 1) == pwd .. "/" then return file:sub(#pwd + 2) end
  return file
end
local display_path = M.display_path

local function new_error(list, file, line, col, msg)
  list[#list + 1] = { file = file, line = line, column = col, message = msg }
end

local function format_error(e)
  if e.line then return ("%s:%d:%d: %s"):format(e.file, e.line, e.column or 1, e.message) end
  return ("%s: %s"):format(e.file, e.message)
end
M.format_error = format_error

local function sort_errors(list)
  table.sort(list, function(a, b)
    if a.file ~= b.file then return tostring(a.file) < tostring(b.file) end
    if (a.line or 0) ~= (b.line or 0) then return (a.line or 0) < (b.line or 0) end
    return (a.column or 0) < (b.column or 0)
  end)
  return list
end

-- Walks one environment's section; calls apply(path, value, mark) for each
-- valid setting, records every problem in errors.
local function walk_section(tbl, node, path, ctx)
  local keys = {}
  for k in pairs(tbl) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
  for _, k in ipairs(keys) do
    local v = tbl[k]
    local kpath = path == "" and tostring(k) or (path .. "." .. tostring(k))
    local full = ctx.prefix .. kpath
    local m = ctx.marks[full] or {}
    local spec = type(k) == "string" and node[k] or nil
    if spec == nil then
      local hint = type(k) == "string" and argparse.suggest(k, names_of(node)) or nil
      new_error(ctx.errors, ctx.file, m.key_line, m.key_column,
        ("%s: unknown key%s"):format(full, hint and (" (did you mean '" .. hint .. "'?)") or ""))
    elseif is_leaf(spec) then
      if v ~= yaml.null then -- null leaves the value as the earlier layer set it
        local ok, err = M.check(spec, v)
        if ok == nil then new_error(ctx.errors, ctx.file, m.line, m.column, full .. ": " .. err)
        else ctx.apply(kpath, v, m) end
      end
    elseif type(v) ~= "table" or #v > 0 then
      new_error(ctx.errors, ctx.file, m.line, m.column,
        ("%s: expected a mapping of settings (%s), got %s"):format(full, table.concat(names_of(spec), ", "), describe(v)))
    else
      walk_section(v, spec, kpath, ctx)
    end
  end
end

--- Validates a whole configuration file (every environment in it). Returns a
--- sorted list of error records (empty when the file is good).
function M.check_document(doc, marks, file)
  local errors = {}
  if type(doc) ~= "table" or #doc > 0 then
    new_error(errors, file, 1, 1, "expected a mapping of environments (development:, production:, ...)")
    return errors
  end
  for env, section in pairs(doc) do
    local m = marks[tostring(env)] or {}
    if type(section) ~= "table" or #section > 0 then
      new_error(errors, file, m.line, m.column,
        ("%s: expected a mapping of sections (%s), got %s"):format(tostring(env), table.concat(names_of(schema), ", "), describe(section)))
    else
      walk_section(section, schema, "", {
        errors = errors, marks = marks, file = file, prefix = tostring(env) .. ".", apply = function() end,
      })
    end
  end
  return sort_errors(errors)
end

--- True when a YAML document looks like a configuration file: a mapping whose
--- values are mappings and at least one uses a known section name.
function M.looks_like_config(doc)
  if type(doc) ~= "table" or #doc > 0 or next(doc) == nil then return false end
  for _, section in pairs(doc) do
    if type(section) == "table" then
      for k in pairs(section) do if schema[k] then return true end end
    end
  end
  return false
end

function M.default_file()
  local root = host.root()
  return root and (root .. "/configs/performance.yaml") or nil
end

-- ---- the resolved configuration ----

local Config = {}
Config.__index = Config

--- Value of a setting by path ("evaluation.batch_size"); raises on an unknown path.
function Config:get(path)
  if not spec_at(path) then error(("unknown setting '%s'"):format(tostring(path)), 2) end
  local v = self.values
  for part in path:gmatch("[^%.]+") do v = v[part] end
  return v
end

function Config:source(path) return self.sources[path] end

--- Sorted rows { path, value, source } for display.
function Config:rows()
  local out = {}
  for _, s in ipairs(M.settings()) do
    out[#out + 1] = { path = s.path, value = self:get(s.path), source = self.sources[s.path] }
  end
  return out
end

local function set_path(t, path, v)
  local parts = {}
  for part in path:gmatch("[^%.]+") do parts[#parts + 1] = part end
  for i = 1, #parts - 1 do
    t[parts[i]] = t[parts[i]] or {}
    t = t[parts[i]]
  end
  t[parts[#parts]] = v
end

--- Resolves the configuration. opts (all optional):
---   env     environment name (else $CAUSAL_EVAL_ENV, else "development")
---   file    configuration file (else $CAUSAL_EVAL_CONFIG, else configs/performance.yaml);
---           false for none (defaults, variables and --set only)
---   set     list of "section.key=value" overrides
---   environ table of environment variables (default: the process's)
--- Returns a Config, or nil, a message listing every error, and the error records.
function M.load(opts)
  opts = opts or {}
  local environ = opts.environ or host.environ()
  local errors = {}
  local cfg = setmetatable({ values = {}, sources = {} }, Config)
  for _, s in ipairs(M.settings()) do
    set_path(cfg.values, s.path, s.spec.default)
    cfg.sources[s.path] = "default"
  end

  local env_name, env_from = opts.env, "--env"
  if not env_name then env_name, env_from = environ.CAUSAL_EVAL_ENV, "CAUSAL_EVAL_ENV" end
  if not env_name or env_name == "" then env_name, env_from = M.DEFAULT_ENV, "default" end
  cfg.env, cfg.env_source = env_name, env_from

  local file, explicit = opts.file, opts.file ~= nil
  if file == nil and environ.CAUSAL_EVAL_CONFIG and environ.CAUSAL_EVAL_CONFIG ~= "" then
    file, explicit = environ.CAUSAL_EVAL_CONFIG, true
  end
  if file == nil then file = M.default_file() end
  if file then
    local doc, marks, kind = yaml.load_file(file, { marks = true })
    local shown = display_path(file)
    if doc == nil then
      -- the loader's message is already "file:line:column: ..."; show the short path
      local msg = marks
      if msg:sub(1, #file) == file then msg = shown .. msg:sub(#file + 1) end
      if explicit or kind ~= "io" then errors[#errors + 1] = { raw = msg } end
    else
      cfg.file = file
      if type(doc) ~= "table" or #doc > 0 then
        new_error(errors, shown, 1, 1, "expected a mapping of environments (development:, production:, ...)")
      elseif doc[env_name] == nil then
        local known = names_of(doc)
        new_error(errors, shown, nil, nil, ("no environment '%s' (from %s); known: %s"):format(
          env_name, env_from, #known > 0 and table.concat(known, ", ") or "none"))
      elseif doc[env_name] ~= yaml.null then
        local section = doc[env_name]
        local m = marks[env_name] or {}
        if type(section) ~= "table" or #section > 0 then
          new_error(errors, shown, m.line, m.column, ("%s: expected a mapping of sections, got %s"):format(env_name, describe(section)))
        else
          walk_section(section, schema, "", {
            errors = errors, marks = marks, file = shown, prefix = env_name .. ".",
            apply = function(path, v, mark)
              set_path(cfg.values, path, v)
              cfg.sources[path] = ("%s:%d:%d (%s)"):format(shown, mark.line or 0, mark.column or 0, env_name)
            end,
          })
        end
      end
    end
  end

  -- variables: every known one, then any CAUSAL_EVAL_<SECTION>_* that names nothing
  local known_vars = {}
  for _, s in ipairs(M.settings()) do
    local var = M.env_var(s.path)
    known_vars[var] = true
    local text = environ[var]
    if text ~= nil then
      local v, err = M.parse_text(s.spec, text)
      if v == nil then new_error(errors, var, nil, nil, s.path .. ": " .. err)
      else
        set_path(cfg.values, s.path, v)
        cfg.sources[s.path] = "env " .. var
      end
    end
  end
  local var_names = {}
  for name in pairs(environ) do var_names[#var_names + 1] = name end
  table.sort(var_names)
  for _, name in ipairs(var_names) do
    if not known_vars[name] then
      for section in pairs(schema) do
        local prefix = M.ENV_PREFIX .. section:upper() .. "_"
        if name:sub(1, #prefix) == prefix then
          local candidates = {}
          for v in pairs(known_vars) do candidates[#candidates + 1] = v end
          table.sort(candidates)
          local hint = argparse.suggest(name, candidates)
          new_error(errors, name, nil, nil, ("unknown setting%s"):format(hint and (" (did you mean " .. hint .. "?)") or ""))
        end
      end
    end
  end

  for _, item in ipairs(opts.set or {}) do
    local path, text = tostring(item):match("^([^=]+)=(.*)$")
    local where = "--set " .. tostring(item)
    if not path then
      new_error(errors, where, nil, nil, "expected section.key=value")
    else
      local spec, node = spec_at(path)
      if not spec then
        local all = {}
        for _, s in ipairs(M.settings()) do all[#all + 1] = s.path end
        local hint = argparse.suggest(path, all)
        new_error(errors, where, nil, nil, ("unknown setting '%s'%s"):format(path,
          hint and (" (did you mean '" .. hint .. "'?)") or (type(node) == "table" and " (a section, not a setting)" or "")))
      else
        local v, err = M.parse_text(spec, text)
        if v == nil then new_error(errors, where, nil, nil, path .. ": " .. err)
        else
          set_path(cfg.values, path, v)
          cfg.sources[path] = "--set"
        end
      end
    end
  end

  if #errors > 0 then
    local lines = {}
    for i, e in ipairs(errors) do lines[i] = e.raw or format_error(e) end
    return nil, table.concat(lines, "\n"), errors
  end
  return cfg
end

return M
