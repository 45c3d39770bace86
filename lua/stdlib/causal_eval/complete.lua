-- SPDX-License-Identifier: MIT
-- Tab completion for the REPL: the word before the cursor is completed from
-- the globals (and keywords), or, after `a.b.` or `a.b:`, from the fields of
-- the value a.b (its own keys, its metatable's __index tables, and the names
-- a metatable's __complete function lists, as `ce` does for lazy modules).
-- After ':' only functions are offered.
local M = {}

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not
  or repeat return then true until while]]):gmatch("%a+") do KEYWORDS[#KEYWORDS + 1] = w end

local MAX_CHAIN = 16 -- __index tables followed at most this deep

-- Looks a field up as indexing would, without raising: rawget, then the
-- __index chain (calling an __index function under pcall).
local function lookup(v, k)
  for _ = 1, MAX_CHAIN do
    if type(v) == "table" then
      local r = rawget(v, k)
      if r ~= nil then return r end
    end
    local mt = getmetatable(v)
    local idx = type(mt) == "table" and rawget(mt, "__index") or nil
    if type(idx) == "function" then
      local ok, r = pcall(idx, v, k)
      return ok and r or nil
    elseif idx == nil then
      return nil
    end
    v = idx
  end
  return nil
end

local function field_names(v)
  local names, seen = {}, {}
  local function add(k)
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not seen[k] then
      seen[k] = true
      names[#names + 1] = k
    end
  end
  for _ = 1, MAX_CHAIN do
    if type(v) == "table" then
      for k in next, v do add(k) end
    end
    local mt = getmetatable(v)
    if type(mt) ~= "table" then break end
    local lister = rawget(mt, "__complete")
    if type(lister) == "function" then
      local ok, list = pcall(lister, v)
      if ok and type(list) == "table" then for _, k in ipairs(list) do add(k) end end
    end
    local idx = rawget(mt, "__index")
    if type(idx) ~= "table" then break end
    v = idx
  end
  return names
end

local function is_callable(v)
  if type(v) == "function" then return true end
  local mt = getmetatable(v)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

--- Candidates for the text before the cursor: a sorted list of words and how
--- many bytes of the current word are already typed.
function M.candidates(env, line)
  local expr = line:match("([%a_][%w_%.:]*)$")
  if not expr then return {}, 0 end
  local head, sep, prefix = expr:match("^(.*)([%.:])([%w_]*)$")
  local names
  if not head then
    prefix = expr
    names = field_names(env)
    for _, k in ipairs(KEYWORDS) do names[#names + 1] = k end
  else
    if head:find(":", 1, true) or head == "" or head:sub(-1) == "." then return {}, 0 end
    local v = env
    for part in head:gmatch("[^%.]+") do
      v = lookup(v, part)
      if v == nil then return {}, 0 end
    end
    names = field_names(v)
    if sep == ":" then
      local methods = {}
      for _, k in ipairs(names) do
        if is_callable(lookup(v, k)) then methods[#methods + 1] = k end
      end
      names = methods
    end
  end
  local out, seen = {}, {}
  for _, k in ipairs(names) do
    if k:sub(1, #prefix) == prefix and not seen[k] then
      seen[k] = true
      out[#out + 1] = k
    end
  end
  table.sort(out)
  return out, #prefix
end

return M
