-- SPDX-License-Identifier: MIT
-- Finding and loading performance suites: a name is benchmarks/perf/NAME.lua
-- on the module search path (CAUSAL_EVAL_PATH, then the program's root), a
-- path is any file. Each is checked by causal_eval.perf before anything
-- runs, so a mistake is reported with its file, never met halfway.
local perf = require "causal_eval.perf"

local M = {}

--- Names of the suites on the search path, sorted; a name found twice is
--- the one loaded (the first folder wins, as with require).
function M.list()
  local host = require "causal_eval.host"
  local out, seen = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)%?%.lua$")
    if dir then
      for _, f in ipairs(host.listdir(dir .. "benchmarks/perf") or {}) do
        local n = f:match("^([%w_]+)%.lua$")
        if n and not seen[n] then
          seen[n] = true
          out[#out + 1] = n
        end
      end
    end
  end
  table.sort(out)
  return out
end

local function load_file(path, name)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  f:close()
  local chunk
  chunk, err = loadfile(path, "t")
  if not chunk then return nil, err end
  local ok, def = pcall(chunk)
  if not ok then
    def = type(def) == "table" and def.message or tostring(def)
    -- Lua's message names the file and line already, unless error() was given level 0
    if def:find("^[^\n]-:%d+: ") then return nil, def end
    return nil, ("%s: %s"):format(path, def)
  end
  local b, cerr = perf.check(def)
  if not b then return nil, ("%s: %s"):format(path, cerr) end
  return { name = b.name or name, file = path, def = b }
end

--- A suite by name or path: { name, file, def }, or nil and a message.
function M.load(what)
  if type(what) ~= "string" or what == "" then return nil, "a suite is a name or a path to a .lua file" end
  if what:find("/", 1, true) or what:match("%.lua$") then
    return load_file(what, (what:match("([^/]+)%.lua$") or what:match("[^/]+$")):gsub("[^%w_]", "_"))
  end
  if not what:match("^[%a_][%w_]*$") then return nil, ("bad suite name '%s' (a name, or a path to a .lua file)"):format(what) end
  local path = package.searchpath("benchmarks.perf." .. what, package.path)
  if not path then
    return nil, ("unknown suite '%s' (known: %s; or give a path to a .lua file)"):format(what, table.concat(M.list(), ", "))
  end
  return load_file(path, what)
end

--- Suites named on the command line (commas separate, "all" is every
--- suite on the search path; none given: all), each once, in order.
function M.resolve(names)
  local wanted = {}
  for _, item in ipairs(names or {}) do
    for n in item:gmatch("[^,]+") do
      if n == "all" then
        for _, s in ipairs(M.list()) do wanted[#wanted + 1] = s end
      else
        wanted[#wanted + 1] = n
      end
    end
  end
  if #wanted == 0 then wanted = M.list() end
  local out, seen = {}, {}
  for _, n in ipairs(wanted) do
    local s, err = M.load(n)
    if not s then return nil, err end
    if seen[s.name] then
      if seen[s.name] ~= s.file then
        return nil, ("two suites are named '%s': %s and %s"):format(s.name, seen[s.name], s.file)
      end
    else
      seen[s.name] = s.file
      out[#out + 1] = s
    end
  end
  return out
end

return M
