-- SPDX-License-Identifier: MIT
-- Declarative command-line parsing for subcommands: options and positionals
-- are declared once and give both the parser and the help text.
--
--   local p = argparse.new{
--     prog = "causal-eval config show",
--     summary = "print the resolved configuration",
--     options = {
--       { "--env", arg = "NAME", help = "environment to resolve" },
--       { "-n", "--limit", arg = "N", type = "integer", default = 10 },
--       { "--set", arg = "KEY=VALUE", multiple = true },
--       { "--json", help = "print JSON" },                 -- a flag
--     },
--     positionals = { { "FILE", multiple = true, optional = true } },
--   }
--   local args, err = p:parse(argv)   -- args.env, args.limit, args.set, args.json, args.FILE
--
-- parse returns nil, message on a usage error and nil, "help" for -h/--help.
local M = {}
local Parser = {}
Parser.__index = Parser

local function key_of(opt)
  local long
  for _, n in ipairs(opt.names) do
    if n:sub(1, 2) == "--" then long = n:sub(3) break end
  end
  local name = opt.key or long or opt.names[1]:sub(2)
  return (name:gsub("-", "_"))
end

-- Levenshtein distance, for "did you mean" on mistyped names
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The closest candidate to word, if close enough to be a likely typo.
function M.suggest(word, candidates)
  local best, bestd
  for _, c in ipairs(candidates) do
    local d = distance(word, c)
    if not bestd or d < bestd then best, bestd = c, d end
  end
  if best and bestd <= math.max(1, #word // 3) then return best end
  return nil
end

function M.new(spec)
  assert(type(spec) == "table", "argparse.new expects a table")
  local p = setmetatable({
    prog = spec.prog or "causal-eval",
    summary = spec.summary,
    description = spec.description,
    epilog = spec.epilog,
    options = {},
    positionals = {},
    by_name = {},
  }, Parser)
  for _, o in ipairs(spec.options or {}) do
    local opt = {
      names = {},
      arg = o.arg,
      type = o.type or (o.arg and "string" or "flag"),
      default = o.default,
      help = o.help or "",
      multiple = o.multiple,
      choices = o.choices,
      key = o.key,
    }
    for _, n in ipairs(o) do
      assert(n:sub(1, 1) == "-", "option names start with '-': " .. tostring(n))
      opt.names[#opt.names + 1] = n
      p.by_name[n] = opt
    end
    assert(#opt.names > 0, "option without a name")
    opt.dest = key_of(opt)
    p.options[#p.options + 1] = opt
  end
  for _, a in ipairs(spec.positionals or {}) do
    p.positionals[#p.positionals + 1] = {
      name = a[1], help = a.help or "", multiple = a.multiple, optional = a.optional,
      type = a.type or "string", choices = a.choices,
    }
  end
  return p
end

local function convert(kind, value, what, choices)
  local v = value
  if kind == "integer" then
    v = math.tointeger(tonumber(value))
    if not v then return nil, ("%s expects an integer, got '%s'"):format(what, value) end
  elseif kind == "number" then
    v = tonumber(value)
    if not v then return nil, ("%s expects a number, got '%s'"):format(what, value) end
  end
  if choices then
    for _, c in ipairs(choices) do
      if c == v then return v end
    end
    return nil, ("%s must be one of %s, got '%s'"):format(what, table.concat(choices, ", "), value)
  end
  return v
end

function Parser:usage()
  local parts = { "usage: " .. self.prog }
  if #self.options > 0 then parts[#parts + 1] = "[options]" end
  for _, a in ipairs(self.positionals) do
    local s = a.name .. (a.multiple and "..." or "")
    parts[#parts + 1] = a.optional and ("[" .. s .. "]") or s
  end
  return table.concat(parts, " ")
end

function Parser:help()
  local out = { self:usage() }
  if self.summary then out[#out + 1] = "\n" .. self.summary end
  if self.description then out[#out + 1] = "\n" .. self.description end
  local rows = {}
  for _, a in ipairs(self.positionals) do
    if a.help ~= "" then rows[#rows + 1] = { a.name, a.help } end
  end
  if #rows > 0 then out[#out + 1] = "\narguments:" end
  local function emit(list)
    local w = 0
    for _, r in ipairs(list) do w = math.max(w, #r[1]) end
    for _, r in ipairs(list) do
      out[#out + 1] = ("  %-" .. w .. "s  %s"):format(r[1], r[2])
    end
  end
  emit(rows)
  rows = {}
  for _, o in ipairs(self.options) do
    local names = table.concat(o.names, ", ")
    if o.arg then names = names .. " " .. o.arg end
    local h = o.help
    if o.default ~= nil and o.type ~= "flag" then h = h .. (" (default: %s)"):format(tostring(o.default)) end
    if o.multiple then h = h .. " (repeatable)" end
    rows[#rows + 1] = { names, h }
  end
  rows[#rows + 1] = { "-h, --help", "show this help" }
  out[#out + 1] = "\noptions:"
  emit(rows)
  if self.epilog then out[#out + 1] = "\n" .. self.epilog end
  return table.concat(out, "\n") .. "\n"
end

function Parser:_option_names()
  local names = { "--help" }
  for n in pairs(self.by_name) do names[#names + 1] = n end
  table.sort(names)
  return names
end

function Parser:parse(argv)
  local args, positional = {}, {}
  for _, o in ipairs(self.options) do
    if o.multiple then args[o.dest] = {} end
    if o.type == "flag" then args[o.dest] = false end
  end
  local i, only_positional = 1, false
  while i <= #argv do
    local a = argv[i]
    if only_positional or a == "-" or a:sub(1, 1) ~= "-" then
      positional[#positional + 1] = a
    elseif a == "--" then
      only_positional = true
    elseif a == "-h" or a == "--help" then
      return nil, "help"
    else
      local name, inline = a:match("^(%-%-[^=]+)=(.*)$")
      name = name or a
      local opt = self.by_name[name]
      if not opt and a:sub(1, 2) ~= "--" and #a > 2 and self.by_name[a:sub(1, 2)] then
        opt, name, inline = self.by_name[a:sub(1, 2)], a:sub(1, 2), a:sub(3) -- -n10
      end
      if not opt then
        local hint = M.suggest(name, self:_option_names())
        return nil, ("unknown option '%s'%s"):format(name, hint and (" (did you mean '" .. hint .. "'?)") or "")
      end
      local value
      if opt.type == "flag" then
        if inline then return nil, ("option '%s' takes no value"):format(name) end
        value = true
      else
        value = inline
        if value == nil then
          i = i + 1
          value = argv[i]
          if value == nil then
            return nil, ("option '%s' needs a value (%s)"):format(name, opt.arg)
          end
        end
        local err
        value, err = convert(opt.type, value, "option '" .. name .. "'", opt.choices)
        if value == nil then return nil, err end
      end
      if opt.multiple then
        local list = args[opt.dest]
        list[#list + 1] = value
      else
        args[opt.dest] = value
      end
    end
    i = i + 1
  end
  for _, o in ipairs(self.options) do
    if args[o.dest] == nil and o.default ~= nil then args[o.dest] = o.default end
  end
  local k = 1
  for idx, p in ipairs(self.positionals) do
    if p.multiple then
      local rest = {}
      local keep = #self.positionals - idx -- positionals after this one
      while k <= #positional - keep do
        local v, err = convert(p.type, positional[k], p.name, p.choices)
        if v == nil then return nil, err end
        rest[#rest + 1] = v
        k = k + 1
      end
      if #rest == 0 and not p.optional then return nil, ("missing %s"):format(p.name) end
      args[p.name] = rest
    else
      local v = positional[k]
      if v == nil then
        if not p.optional then return nil, ("missing %s"):format(p.name) end
      else
        local err
        v, err = convert(p.type, v, p.name, p.choices)
        if v == nil then return nil, err end
        args[p.name] = v
        k = k + 1
      end
    end
  end
  if k <= #positional then
    return nil, ("unexpected argument '%s'"):format(positional[k])
  end
  return args
end

return M
