-- SPDX-License-Identifier: MIT
-- The causal_eval library as one table (`ce` in the REPL). Submodules load on
-- first use, so `require "causal_eval"` costs nothing until a field is read:
-- ce.config, ce.yaml, ce.host, ce.pretty, ...
local host = require "causal_eval.host"

local M = { version = host.version }

-- first-level submodules: causal_eval.<name> from the stdlib and the natives
local function submodules()
  local names, seen = {}, {}
  local function add(mod)
    local n = mod:match("^causal_eval%.([%w_]+)$")
    if n and not seen[n] then
      seen[n] = true
      names[#names + 1] = n
    end
  end
  for _, m in ipairs(host.stdlib_modules()) do add(m) end
  for _, m in ipairs(host.native_modules()) do add(m) end
  table.sort(names)
  return names
end

local known
setmetatable(M, {
  __index = function(t, k)
    if type(k) ~= "string" then return nil end
    known = known or submodules()
    for _, n in ipairs(known) do
      if n == k then
        local mod = require("causal_eval." .. k)
        rawset(t, k, mod)
        return mod
      end
    end
    return nil
  end,
  __complete = function() known = known or submodules(); return known end,
})

return M
