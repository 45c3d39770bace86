-- SPDX-License-Identifier: MIT
local host = require "causal_eval.host"
local argparse = require "causal_eval.argparse"

local parser = argparse.new{
  prog = "causal-eval version",
  summary = "print the version (and with --verbose, where the program finds its files)",
  options = {
    { "-v", "--verbose", help = "also print paths, layout and modules" },
    { "--json", help = "print one JSON object" },
  },
}

local M = { summary = "print the version", help = function() return parser:help() end }

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local info = {
    version = host.version,
    lua = host.lua_version,
    exe = host.exe(),
    root = host.root(),
    layout = host.layout(),
    stdlib = host.dev() and "source tree (CAUSAL_EVAL_DEV)" or "embedded",
    native_modules = host.native_modules(),
  }
  if args.json then
    io.stdout:write(require("cjson").encode(info), "\n")
    return 0
  end
  print(("causal-eval %s (%s)"):format(info.version, info.lua))
  if args.verbose then
    print("executable:     " .. tostring(info.exe))
    print("root:           " .. tostring(info.root) .. " (" .. info.layout .. ")")
    print("stdlib:         " .. info.stdlib)
    print("native modules: " .. table.concat(info.native_modules, ", "))
  end
  return 0
end

return M
