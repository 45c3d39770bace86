-- SPDX-License-Identifier: MIT
-- A local program as a model: the prompt on its stdin, the answer on its
-- stdout, within model.timeout seconds (default 60). model.command is the
-- program (a path or a name on PATH); model.args adds arguments.
local process = require "causal_eval.process"

-- "command:./model.sh" fills model.command.
local M = { kind = "local", spec_field = "command" }

function M.check(model)
  if type(model.command) ~= "string" or model.command == "" then
    return nil, "the command adapter needs a command (command:./model.sh, or command: in the models file)"
  end
  return true
end

function M.answer(model, q)
  local argv = { model.command }
  for _, a in ipairs(model.args or {}) do argv[#argv + 1] = tostring(a) end
  local r, err = process.run{ argv = argv, input = q.prompt, timeout = model.timeout or 60 }
  if not r then return nil, "command", err end
  if r.timed_out then return nil, "timeout", ("%s did not answer within %gs"):format(model.command, model.timeout or 60) end
  if r.code ~= 0 then
    local tail = r.stderr:sub(-200):gsub("%s+$", "")
    return nil, "command", ("%s exited with %s%s"):format(model.command,
      r.signal ~= 0 and ("signal " .. r.signal) or ("status " .. r.code), tail ~= "" and (": " .. tail) or "")
  end
  return { text = r.stdout }
end

return M
