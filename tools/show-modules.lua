-- SPDX-License-Identifier: MIT
-- What `make run` shows until the evaluation pipeline exists: the native
-- modules this binary carries (loaded, with what each exports) and the Lua
-- stdlib compiled into it.
local host = require "causal_eval.host"

print(("causal-eval %s on %s"):format(host.version, host.lua_version))
print(("root: %s (%s)"):format(tostring(host.root()), host.layout()))
print()
print("native modules (package.preload):")
for _, name in ipairs(host.native_modules()) do
  local t0 = host.clock()
  local mod = require(name)
  local ms = (host.clock() - t0) * 1e3
  local fns = {}
  for k, v in pairs(mod) do
    if type(v) == "function" then fns[#fns + 1] = k end
  end
  table.sort(fns)
  print(("  %-22s loaded in %.3f ms: %s"):format(name, ms, table.concat(fns, ", ")))
end
print()
local stdlib = host.stdlib_modules()
print(("stdlib modules compiled in (%d):"):format(#stdlib))
local line = " "
for i, m in ipairs(stdlib) do
  local piece = " " .. m .. (i < #stdlib and "," or "")
  if #line + #piece > 78 then print(line) line = " " end
  line = line .. piece
end
print(line)
local mem = host.memory()
print()
print(("Lua heap: %.1f KiB in use, %.1f KiB peak"):format(mem.used / 1024, mem.peak / 1024))
