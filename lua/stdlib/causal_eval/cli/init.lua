-- SPDX-License-Identifier: MIT
-- Subcommand dispatch. `causal-eval NAME args...` runs the module
-- causal_eval.cli.<name> ('-' in NAME becomes '_'), which returns
--
--   { summary = "one line", usage = "NAME [options]", run = function(argv, cli) ... end }
--
-- run returns an exit status (nil means 0). A command adds itself by adding a
-- file under lua/stdlib/causal_eval/cli/; nothing here needs to change.
local host = require "causal_eval.host"
local argparse = require "causal_eval.argparse"

local M = {}
M.PROG = "causal-eval"

local function module_name(cmd) return "causal_eval.cli." .. cmd:gsub("-", "_") end

--- Names of all commands, sorted (from the stdlib compiled into the binary).
function M.names()
  local names = {}
  for _, mod in ipairs(host.stdlib_modules()) do
    local n = mod:match("^causal_eval%.cli%.([%w_]+)$")
    if n then names[#names + 1] = (n:gsub("_", "-")) end
  end
  table.sort(names)
  return names
end

--- The command's table, or nil and a message.
function M.find(cmd)
  if type(cmd) ~= "string" or not cmd:match("^[%a][%w_-]*$") then
    return nil, ("unknown command '%s'"):format(tostring(cmd))
  end
  local name = module_name(cmd)
  local ok, mod = pcall(require, name)
  if ok and type(mod) == "table" and type(mod.run) == "function" then return mod end
  if not ok and not tostring(mod):find("module '" .. name .. "' not found", 1, true) then
    error(mod, 0) -- the command exists but fails to load: a bug to show, not hide
  end
  local hint = argparse.suggest(cmd, M.names())
  return nil, ("unknown command '%s'%s"):format(cmd, hint and (" (did you mean '" .. hint .. "'?)") or "")
end

function M.usage()
  local out = {
    ("usage: %s COMMAND [args]"):format(M.PROG),
    ("       %s [lua options] [script [args]]   (like the lua command; %s --help)"):format(M.PROG, M.PROG),
    "",
    "commands:",
  }
  local rows, w = {}, 0
  for _, n in ipairs(M.names()) do
    local ok, mod = pcall(require, module_name(n))
    local summary = ok and type(mod) == "table" and mod.summary or ""
    rows[#rows + 1] = { n, summary }
    w = math.max(w, #n)
  end
  for _, r in ipairs(rows) do out[#out + 1] = ("  %-" .. w .. "s  %s"):format(r[1], r[2]) end
  out[#out + 1] = ""
  out[#out + 1] = ("'%s help COMMAND' shows a command's options."):format(M.PROG)
  return table.concat(out, "\n") .. "\n"
end

--- A usage error: message on stderr with the command's usage, exit status 2.
function M.usage_error(parser_or_usage, msg)
  local usage = type(parser_or_usage) == "table" and parser_or_usage:usage() or parser_or_usage
  io.stderr:write(("%s: %s\n"):format(M.PROG, msg))
  if usage then io.stderr:write(usage, "\n") end
  return 2
end

--- Option lists one after the other, in a new list: a subcommand's own
--- options followed by those every subcommand of a command takes.
function M.options(...)
  local out = {}
  for _, list in ipairs({ ... }) do
    for _, o in ipairs(list) do out[#out + 1] = o end
  end
  return out
end

--- For commands with subcommands (`results list`, `cache stats`): picks the
--- parser of argv[1] and parses the rest. Returns the subcommand's name and
--- its arguments, or nil and an exit status (help printed: 0 with -h, 2
--- when nothing was given; an unknown one: a usage error).
function M.subcommand(argv, parsers, help, usage, what)
  local sub = argv[1]
  if sub == nil or sub == "-h" or sub == "--help" then
    io.stdout:write(help())
    return nil, sub == nil and 2 or 0
  end
  local parser = parsers[sub]
  if not parser then return nil, M.usage_error(usage, ("unknown %s command '%s'"):format(what, sub)) end
  local args, code = M.parse(parser, table.move(argv, 2, #argv, 1, {}))
  if not args then return nil, code end
  return sub, args
end

--- Parses argv with an argparse parser; on --help prints help and returns nil, 0,
--- on a usage error prints it and returns nil, 2. Commands use it as
---   local args, code = cli.parse(parser, argv); if not args then return code end
function M.parse(parser, argv)
  local args, err = parser:parse(argv)
  if args then return args end
  if err == "help" then
    io.stdout:write(parser:help())
    return nil, 0
  end
  return nil, M.usage_error(parser, err)
end

function M.main(arg)
  local cmd = arg[1]
  local argv = table.move(arg, 2, #arg, 1, {})
  local mod, err = M.find(cmd)
  if not mod then
    io.stderr:write(("%s: %s\n\n"):format(M.PROG, err), M.usage())
    return 2
  end
  -- An error raised as a table with a message is an expected failure met
  -- deep down (a damaged results store): said plainly, exit 1. Anything
  -- else is a bug and keeps its traceback.
  local ok, code = xpcall(mod.run, function(e)
    if type(e) == "table" and e.message then return e end
    return debug.traceback(e, 2)
  end, argv, M)
  io.stdout:flush()
  if not ok then
    if type(code) ~= "table" then error(code, 0) end
    io.stderr:write(("%s %s: %s\n"):format(M.PROG, cmd, tostring(code.message)))
    if code.damaged and code.dir then io.stderr:write(require("causal_eval.results").damage_hint(code.dir), "\n") end
    return 1
  end
  if code == nil or code == true then return 0 end
  if code == false then return 1 end
  return math.tointeger(code) or 1
end

return M
