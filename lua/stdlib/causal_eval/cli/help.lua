-- SPDX-License-Identifier: MIT
local M = {
  summary = "list commands, or show one command's help",
  usage = "causal-eval help [COMMAND]",
}

function M.run(argv, cli)
  local name = argv[1]
  if name == nil or name == "-h" or name == "--help" then
    io.stdout:write(cli.usage())
    return 0
  end
  if #argv > 1 then return cli.usage_error(M.usage, "help takes one command name") end
  local mod, err = cli.find(name)
  if not mod then
    io.stderr:write(("%s: %s\n\n"):format(cli.PROG, err), cli.usage())
    return 2
  end
  if mod.help then
    io.stdout:write(type(mod.help) == "function" and mod.help() or mod.help)
  else
    io.stdout:write(("usage: %s\n\n%s\n"):format(mod.usage or (cli.PROG .. " " .. name), mod.summary or ""))
  end
  return 0
end

return M
