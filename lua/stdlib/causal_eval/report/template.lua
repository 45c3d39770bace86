-- SPDX-License-Identifier: MIT
-- A small template language for the report's HTML: text with Lua inside.
--
--   {{ expr }}     the value of a Lua expression, HTML-escaped
--   {{! expr }}    the value, as is (markup made by a chart builder or include)
--   {% code %}     Lua statements: {% for _, m in ipairs(models) do %} ... {% end %}
--   {# note #}     a comment, left out
--
-- A template compiles once to a Lua function; it runs in an environment of
-- the variables given and the helpers (esc, pct, include, charts, ...), with
-- Lua's safe basics (ipairs, pairs, string, table, math, ...) and nothing
-- else: no io, no os.execute, no require. Errors name the template and its
-- line: "template 'report.headline':12: attempt to index a nil value".
local html = require "causal_eval.report.html"

local M = {}

-- what a template may use besides its variables and helpers
local BASICS = {
  ipairs = ipairs, pairs = pairs, next = next, select = select, type = type, tostring = tostring,
  tonumber = tonumber, error = error, assert = assert, pcall = pcall, rawget = rawget, rawlen = rawlen,
  setmetatable = setmetatable, getmetatable = getmetatable,
  string = string, table = table, math = math, utf8 = utf8,
  os = { date = os.date, time = os.time },
}

-- Lua source for a template: each piece of text one string, each {{ }} one
-- value; line breaks kept where the template has them, so that Lua's line
-- numbers are the template's.
local function translate(src, name)
  local out = { "local _ENV, _esc, _str = ...; local _b, _n = {}, 0; " }
  local pos, line = 1, 1
  local function text(s)
    if s == "" then return end
    -- %q writes a newline as "\" + newline: the line count stays
    out[#out + 1] = ("_n = _n + 1; _b[_n] = %q; "):format(s)
    local _, nl = s:gsub("\n", "")
    line = line + nl
  end
  while true do
    local s, e, kind = src:find("{([{%%#])", pos)
    if not s then
      text(src:sub(pos))
      break
    end
    text(src:sub(pos, s - 1))
    local close = ({ ["{"] = "}}", ["%"] = "%}", ["#"] = "#}" })[kind]
    local cs, ce = src:find(close, e + 1, true)
    if not cs then
      return nil, ("template '%s':%d: '{%s' is not closed by '%s'"):format(name, line, kind, close)
    end
    local body = src:sub(e + 1, cs - 1)
    local _, nl = body:gsub("\n", "")
    if kind == "{" then
      local raw = body:match("^!")
      if raw then body = body:sub(2) end
      if not body:find("%S") then return nil, ("template '%s':%d: empty {{ }}"):format(name, line) end
      if raw then
        out[#out + 1] = ("_n = _n + 1; _b[_n] = _str(%s); "):format(body)
      else
        out[#out + 1] = ("_n = _n + 1; _b[_n] = _esc(%s); "):format(body)
      end
      out[#out + 1] = ("\n"):rep(nl)
    elseif kind == "%" then
      out[#out + 1] = body .. " "
    else
      out[#out + 1] = ("\n"):rep(nl)
    end
    line = line + nl
    pos = ce + 1
  end
  out[#out + 1] = " return table.concat(_b)"
  return table.concat(out)
end

local function str(v)
  if v == nil then return "" end
  return tostring(v)
end

--- Compiles template source; the template (call :render(env)) or nil, message.
function M.compile(src, name)
  name = name or "?"
  if type(src) ~= "string" then return nil, ("template '%s' is a %s, not text"):format(name, type(src)) end
  local code, err = translate(src, name)
  if not code then return nil, err end
  -- the environment is the chunk's first argument (its _ENV), so one
  -- compiled template serves every render
  local fn, serr = load(code, "=template '" .. name .. "'", "t", {})
  if not fn then return nil, serr end
  return { name = name, fn = fn }
end

--- The text of a compiled template with these variables (a table; its
--- metatable, if any, is kept as the fallback for names it lacks).
function M.render(t, vars)
  local env = setmetatable({}, { __index = function(_, k)
    local v = vars[k]
    if v ~= nil then return v end
    return BASICS[k]
  end })
  return t.fn(env, html.esc, str)
end

--- A set of named templates (name -> source) that can include each other:
--- set:render(name, vars) and, inside a template, include(name [, more
--- variables]) (its markup, to write with {{! }}). Helpers (a table) are
--- visible in every template. Sources compile on first use.
function M.set(sources, helpers)
  local set = { sources = sources, compiled = {}, helpers = helpers or {} }
  function set:get(name)
    local t = self.compiled[name]
    if t then return t end
    local src = self.sources[name]
    if src == nil then error(("no template '%s'"):format(tostring(name)), 3) end
    local err
    t, err = M.compile(src, name)
    if not t then error(err, 0) end
    self.compiled[name] = t
    return t
  end
  function set:render(name, vars, parent)
    local t = self:get(name)
    vars = vars or {}
    local scope = setmetatable({}, { __index = function(_, k)
      local v = vars[k]
      if v ~= nil then return v end
      if parent then
        v = parent[k]
        if v ~= nil then return v end
      end
      return self.helpers[k]
    end })
    rawset(scope, "include", function(other, more) return self:render(other, more or {}, scope) end)
    return M.render(t, scope)
  end
  return set
end

return M
