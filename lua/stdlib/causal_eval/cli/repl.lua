-- SPDX-License-Identifier: MIT
local argparse = require "causal_eval.argparse"

local parser = argparse.new{
  prog = "causal-eval repl",
  summary = "interactive Lua with the causal_eval library loaded as `ce`",
  description = [[
Line editing and history (libedit; ~/.editrc applies), Tab completion of
globals and of fields after '.' and ':', multi-line input for incomplete
chunks, '=expr' or a bare expression prints its value. Ctrl-C cancels the
line being typed or interrupts a running chunk; Ctrl-D on an empty line exits.]],
  options = {
    { "--history", arg = "FILE", help = "history file (default: $XDG_STATE_HOME/causal-eval/history)" },
    { "--no-history", help = "do not read or write a history file" },
  },
}

local M = { summary = "interactive Lua session with the causal_eval library", help = function() return parser:help() end }

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local history = args.history
  if args.no_history then history = false end
  return require("causal_eval.repl").run{ history = history, banner = true }
end

return M
