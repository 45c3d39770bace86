-- SPDX-License-Identifier: MIT
-- Threads carry names (top -H, perf, /proc/PID/task/TID/comm), so that a
-- profile and tools/bench/rusage.c can tell a run's workers from its
-- store writer: before, every thread was "causal-eval".
local H = require "spec.helpers"
local json = require "causal_eval.json"

describe("thread names", function()
  it("names Lua worker threads after their module and index, and the store's writer", function()
    local dir = H.tmpdir()
    H.write(dir .. "/namer.lua", [[
return { main = function()
  local f = assert(io.open("/proc/thread-self/comm"))
  local name = f:read("l")
  f:close()
  return name
end }]])
    H.write(dir .. "/main.lua", ([[
local json, threads = require "causal_eval.json", require "causal_eval.threads"
local results = require "causal_eval.results"
local names = {}
for _, r in ipairs(threads.start(2, "namer", "{}"):join()) do names[#names + 1] = r.ok and r.result or r.error end
local st = assert(results.open(%q, {}))
assert(st:start_writer{ batch = 8, flush_ms = 5 })
local task = {}
local p = io.popen("cat /proc/" .. require("causal_eval.host").getpid() .. "/task/*/comm")
for line in p:lines() do task[#task + 1] = line end
p:close()
st:close()
io.write(json.encode{ workers = names, task = task })]]):format(dir .. "/store"))
    local r = H.run({ dir .. "/main.lua" }, { env = { CAUSAL_EVAL_PATH = dir } })
    assert.are.equal(0, r.code, r.stderr)
    local got = json.decode(r.stdout)
    assert.are.same({ "namer-1", "namer-2" }, got.workers)
    local writer = false
    for _, n in ipairs(got.task) do writer = writer or n == "store-writer" end
    assert.is_true(writer, table.concat(got.task, ","))
    H.rm(dir)
  end)
end)
