-- SPDX-License-Identifier: MIT
-- The interactive loop behind `causal-eval repl`, `-i` and a bare `causal-eval`
-- on a terminal. Input handling follows lua.c (an expression is tried first
-- as `return <line>`, an incomplete chunk asks for more lines), with values
-- shown by causal_eval.pretty and Ctrl-C handled as a person expects.
local host = require "causal_eval.host"
local lineedit = require "causal_eval.lineedit"
local pretty = require "causal_eval.pretty"
local complete = require "causal_eval.complete"

local M = {}

M.PROMPT = "ce> "
M.PROMPT2 = ".. "

--- Where history lives: $XDG_STATE_HOME/causal-eval/history, else
--- ~/.local/state/causal-eval/history; nil when neither is known.
function M.history_path(getenv)
  getenv = getenv or os.getenv
  local state = getenv("XDG_STATE_HOME")
  if state and state:sub(1, 1) == "/" then return state .. "/causal-eval/history" end
  local home = getenv("HOME")
  if home and home ~= "" then return home .. "/.local/state/causal-eval/history" end
  return nil
end

local function incomplete(msg)
  return msg and msg:sub(-5) == "<eof>"
end

--- Compiles one REPL input. Returns the function, or nil and a message, or
--- nil, nil, true when the chunk is incomplete and needs more lines.
function M.compile(chunk, env)
  if chunk:sub(1, 1) == "=" then chunk = "return " .. chunk:sub(2) end
  local fn, experr = load("return " .. chunk, "=stdin", "t", env)
  if fn then return fn end
  local err
  fn, err = load(chunk, "=stdin", "t", env)
  if fn then return fn end
  -- "1 +" is an unfinished expression even though it is no valid statement
  if incomplete(err) or incomplete(experr) then return nil, nil, true end
  return nil, err
end

-- The traceback below the REPL's own call is noise to the person typing.
local function trim_traceback(msg)
  msg = tostring(msg)
  local cut = msg:find("\n%s*%[C%]: in function 'causal_eval%.host%.interruptible'")
  return cut and msg:sub(1, cut - 1) or msg
end

-- true when the chunk ran
local function show_results(ok, ...)
  local n = select("#", ...)
  if not ok then
    local msg = trim_traceback((...))
    if msg:find("interrupted!", 1, true) then io.stdout:write("\n") io.stdout:flush() end
    io.stderr:write(msg, "\n")
    return false
  end
  if n > 0 then
    io.stdout:write(pretty.format_values(n, { ... }), "\n")
  end
  return true
end

--- Runs the loop until end of input. opts: env (default _G), history (path,
--- false for none, nil for the default), banner (print a greeting). Input
--- that is not a terminal (a pipe, a file) is read as a script is: no
--- greeting, prompts or history, a chunk left unfinished at its end is an
--- error, and any error makes the exit status 1 (it was 0, and an
--- unfinished last chunk was dropped without a word). Returns the status.
function M.run(opts)
  opts = opts or {}
  local env = opts.env or _G
  if rawget(env, "ce") == nil then rawset(env, "ce", require("causal_eval")) end
  local interactive = opts.interactive
  if interactive == nil then interactive = host.isatty(0) end
  local history = opts.history
  if history == nil then history = M.history_path() end
  if not interactive then history = false end
  local ed, err = lineedit.open{
    history = history or nil,
    complete = function(line) return complete.candidates(env, line) end,
  }
  if not ed then
    -- a history folder we cannot create must not cost the user the REPL
    io.stderr:write("causal-eval: ", err, " (history disabled)\n")
    ed = assert(lineedit.open{ complete = function(line) return complete.candidates(env, line) end })
  end
  if opts.banner and interactive then
    io.stdout:write(("causal-eval %s (%s). `ce` is the causal_eval library; Ctrl-D exits.\n")
      :format(host.version, host.lua_version))
  end
  local buffer
  local failed = false
  while true do
    io.stdout:flush()
    local line = ed:read(not interactive and "" or buffer and M.PROMPT2 or M.PROMPT)
    if line == nil then
      if interactive then io.stdout:write("\n") end
      if buffer and not interactive then
        local _, cerr = load(buffer, "=stdin", "t", env)
        io.stderr:write(cerr or "stdin: unfinished chunk at the end of input", "\n")
        failed = true
      end
      break
    elseif line == false then
      buffer = nil -- Ctrl-C: drop what was being typed
    else
      local chunk = buffer and (buffer .. "\n" .. line) or line
      local fn, cerr, more = M.compile(chunk, env)
      if more then
        buffer = chunk
      else
        buffer = nil
        if interactive and chunk:find("%S") then
          local ok, herr = ed:add_history(chunk)
          if not ok and not opts.quiet_history then
            io.stderr:write("causal-eval: ", herr, "\n")
            opts.quiet_history = true
          end
        end
        if fn then
          if not show_results(host.interruptible(fn)) then failed = true end
        else
          io.stderr:write(cerr, "\n")
          failed = true
        end
      end
    end
  end
  ed:close()
  return (failed and not interactive) and 1 or 0
end

return M
