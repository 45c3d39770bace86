-- SPDX-License-Identifier: MIT
-- causal-eval profile [options] SCRIPT.lua [args...]: run any script under
-- the CPU, memory and I/O profilers and report where the time went.
local profiling = require "causal_eval.profiling"
local json = require "causal_eval.json"

local USAGE = [[
usage: causal-eval profile [options] SCRIPT.lua [args...]

Runs the script (with `arg` set as the lua command does) under the profilers
and prints a report on stderr: functions by self or cumulative CPU time with
their callers and callees, memory peak, growth and growing data structures,
and I/O per native path.

options:
  --top N            functions in the report (default 20)
  --sort KEY         self (default) or cumulative
  --interval MS      CPU sampling interval in milliseconds of CPU (default 1)
  --svg FILE         write a flame graph (self-contained SVG)
  --folded FILE      write folded stacks (flamegraph.pl's input)
  --json FILE        write the analysis as JSON
]]

local M = { summary = "profile a Lua script: CPU hotspots, memory, I/O, flame graph", help = function() return USAGE end }

local function write(path, text) -- "-": standard output
  local out, err = require("causal_eval.outfile").open(path)
  if not out then return nil, err end
  out.file:write(text)
  return out:commit()
end

function M.run(argv, cli)
  local opts = { top = 20, sort = "self", interval = 1 }
  local i = 1
  while argv[i] and argv[i]:match("^%-") do
    local a = argv[i]
    local function value()
      i = i + 1
      if argv[i] == nil then return nil end
      return argv[i]
    end
    if a == "-h" or a == "--help" then
      io.stdout:write(USAGE)
      return 0
    elseif a == "--top" then opts.top = tonumber(value())
    elseif a == "--sort" then opts.sort = value()
    elseif a == "--interval" then opts.interval = tonumber(value())
    elseif a == "--svg" then opts.svg = value()
    elseif a == "--folded" then opts.folded = value()
    elseif a == "--json" then opts.json = value()
    else
      return cli.usage_error(USAGE, ("unknown option '%s'"):format(a))
    end
    i = i + 1
  end
  local script = argv[i]
  if not script then return cli.usage_error(USAGE, "no script given") end
  if not opts.top or opts.top < 1 then return cli.usage_error(USAGE, "--top needs a positive number") end
  if opts.sort ~= "self" and opts.sort ~= "cumulative" then return cli.usage_error(USAGE, "--sort is self or cumulative") end
  if not opts.interval or opts.interval <= 0 then return cli.usage_error(USAGE, "--interval needs a positive number") end
  local chunk, err = loadfile(script)
  if not chunk then
    io.stderr:write("causal-eval profile: ", err, "\n")
    return 1
  end
  local args = { [0] = script }
  for k = i + 1, #argv do args[#args + 1] = argv[k] end
  _G.arg = args
  local p = profiling.PerformanceProfiler{ cpu_interval = opts.interval / 1000 }
  p:start()
  local ok, perr = xpcall(chunk, debug.traceback, table.unpack(args))
  p:stop()
  if not ok then io.stderr:write("causal-eval profile: the script failed: ", tostring(perr), "\n") end
  io.stderr:write(p:report{ sort = opts.sort, top = opts.top })
  for _, out in ipairs({ { opts.svg, function() return p:flamegraph{ title = script } end },
                         { opts.folded, function() return p:folded() end },
                         { opts.json, function() return json.encode(p:analyze()) .. "\n" end } }) do
    if out[1] then
      local wok, werr = write(out[1], out[2]())
      if not wok then
        io.stderr:write("causal-eval profile: ", werr, "\n")
        return 1
      end
    end
  end
  return ok and 0 or 1
end

return M
