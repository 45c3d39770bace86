-- SPDX-License-Identifier: MIT
-- Readable rendering of Lua values for the REPL and error messages: tables
-- with sorted keys, limits on depth and on items per table, cycles marked,
-- short tables on one line and long ones indented.
--
--   pretty.format(value, { depth = 4, items = 50, width = 80, indent = "  " })
local M = {}

local DEFAULTS = { depth = 4, items = 50, width = 80, indent = "  ", string_limit = 2000 }

local KEYWORDS = {}
for w in ([[and break do else elseif end false for function goto if in local nil not
  or repeat return then true until while]]):gmatch("%a+") do KEYWORDS[w] = true end

local ESCAPES = { ["\\"] = "\\\\", ['"'] = '\\"', ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t",
                  ["\a"] = "\\a", ["\b"] = "\\b", ["\f"] = "\\f", ["\v"] = "\\v" }

--- A string as a Lua literal that reads back to the same bytes.
function M.quote(s, limit)
  local full = #s
  local cut = limit and full > limit
  if cut then s = s:sub(1, limit) end
  -- always three digits, so a NUL followed by "1" reads back as two bytes
  local q = s:gsub('[%c\\"]', function(c) return ESCAPES[c] or ("\\%03d"):format(c:byte()) end)
  return '"' .. q .. '"' .. (cut and ("... (%d bytes)"):format(full) or "")
end

local function is_identifier(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") and not KEYWORDS[k]
end

local TYPE_ORDER = { number = 1, string = 2, boolean = 3 }

local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta ~= tb then
    local ra, rb = TYPE_ORDER[ta] or 9, TYPE_ORDER[tb] or 9
    if ra ~= rb then return ra < rb end
    return ta < tb
  end
  if ta == "number" or ta == "string" then return a < b end
  if ta == "boolean" then return (not a) and b end
  return tostring(a) < tostring(b)
end

local function scalar(v, opts)
  local t = type(v)
  if t == "string" then return M.quote(v, opts.string_limit) end
  if t == "number" then
    if v ~= v then return "0/0" end
    if v == math.huge then return "math.huge" end
    if v == -math.huge then return "-math.huge" end
    return tostring(v)
  end
  if t == "function" then
    local info = debug.getinfo(v, "S")
    if info.what == "C" then return "<function: builtin>" end
    return ("<function: %s:%d>"):format(info.short_src, info.linedefined)
  end
  if t == "userdata" or t == "thread" then
    local mt = getmetatable(v)
    if type(mt) == "table" and mt.__tostring then
      local ok, s = pcall(tostring, v)
      if ok then return "<" .. tostring(s) .. ">" end
    end
    if t == "userdata" and tostring(v):find("^userdata: %(nil%)") then return "null" end
    return "<" .. tostring(v) .. ">"
  end
  return tostring(v)
end

local function render(v, opts, level, path)
  if type(v) ~= "table" then return scalar(v, opts) end
  if path[v] then return ("<cycle: %s>"):format(tostring(v):gsub("^table: ", "table ")) end
  local mt = getmetatable(v)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, s = pcall(tostring, v)
    if ok then return "<" .. tostring(s) .. ">" end
  end
  -- array part, then the other keys sorted
  local n = #v
  local keys, seq = {}, {}
  for i = 1, n do seq[i] = true end
  for k in next, v do
    if not (math.type(k) == "integer" and seq[k]) then keys[#keys + 1] = k end
  end
  table.sort(keys, key_less)
  local total = n + #keys
  if total == 0 then return "{}" end
  if level >= opts.depth then return ("{...} --[[%d item%s]]"):format(total, total == 1 and "" or "s") end
  path[v] = true
  local parts = {}
  local shown = 0
  for i = 1, n do
    if shown >= opts.items then break end
    parts[#parts + 1] = render(rawget(v, i), opts, level + 1, path)
    shown = shown + 1
  end
  for _, k in ipairs(keys) do
    if shown >= opts.items then break end
    local ks = is_identifier(k) and k or ("[" .. render(k, opts, opts.depth, path) .. "]")
    parts[#parts + 1] = ks .. " = " .. render(rawget(v, k), opts, level + 1, path)
    shown = shown + 1
  end
  path[v] = nil
  if shown < total then parts[#parts + 1] = ("... (%d more)"):format(total - shown) end
  local one = "{ " .. table.concat(parts, ", ") .. " }"
  if #one + level * #opts.indent <= opts.width and not one:find("\n", 1, true) then return one end
  local pad = opts.indent:rep(level + 1)
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. opts.indent:rep(level) .. "}"
end

function M.format(v, opts)
  local o = {}
  for k, d in pairs(DEFAULTS) do o[k] = d end
  if opts then for k, x in pairs(opts) do o[k] = x end end
  return render(v, o, 0, {})
end

--- Formats several values (as a REPL shows a multiple return) separated by tabs.
function M.format_values(n, values, opts)
  local out = {}
  for i = 1, n do out[i] = M.format(values[i], opts) end
  return table.concat(out, "\t")
end

return M
