-- SPDX-License-Identifier: MIT
-- threads.start's heap_mb: each thread's heap made present before it runs
-- (core/util/heap_reserve.h, checked in spec/c/test_heap_reserve.c); a
-- value out of range is refused by name, not handed to malloc.
local H = require "spec.helpers"
local json = require "causal_eval.json"

describe("threads.start", function()
  it("runs threads given heap_mb and refuses one out of range", function()
    local dir = H.tmpdir()
    H.write(dir .. "/echo.lua", [[
return { main = function(cfg, i)
  local t = {}
  for k = 1, 20000 do t[k] = ("%d:%d"):format(i, k) end
  return cfg .. "/" .. i .. "/" .. #t
end }]])
    H.write(dir .. "/main.lua", [[
local json, threads = require "causal_eval.json", require "causal_eval.threads"
local out = {}
for _, r in ipairs(threads.start(2, "echo", "c", { heap_mb = 6 }):join()) do out[#out + 1] = r.ok and r.result or r.error end
local ok, err = pcall(threads.start, 1, "echo", "c", { heap_mb = 65 })
local ok2, err2 = pcall(threads.start, 1, "echo", "c", "six")
io.write(json.encode{ out = out, big = ok and "started" or err, bad = ok2 and "started" or err2 })]])
    local r = H.run({ dir .. "/main.lua" }, { env = { CAUSAL_EVAL_PATH = dir } })
    assert.are.equal(0, r.code, r.stderr)
    local got = json.decode(r.stdout)
    assert.are.same({ "c/1/20000", "c/2/20000" }, got.out)
    assert.matches("heap_mb: between 0 and 64", got.big)
    assert.matches("table expected", got.bad)
    H.rm(dir)
  end)

  it("gives a run's workers a reserve by their share of the requests in flight, bounded", function()
    local runner = require "causal_eval.runner"
    assert.are.same({ 2, 3, 4, 5, 11, 12, 12 },
      { runner.worker_heap_mb(1), runner.worker_heap_mb(8), runner.worker_heap_mb(16), runner.worker_heap_mb(32),
        runner.worker_heap_mb(128), runner.worker_heap_mb(256), runner.worker_heap_mb(100000) })
  end)
end)
