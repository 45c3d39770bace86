-- SPDX-License-Identifier: MIT
-- The embedded stdlib is compiled once per process (host/runtime.c): the
-- states that start after the first (a run's worker threads, serve's
-- replaced worker states) load its bytecode. They must get the same code
-- with the same file and line information: the first state below compiles
-- causal_eval.bench from its source, the next two load the bytecode.
local H = require "spec.helpers"
local json = require "causal_eval.json"

describe("embedded modules compiled once per process", function()
  it("load in later states with the same behaviour, source names and lines", function()
    local dir = H.tmpdir()
    H.write(dir .. "/probe.lua", [[
local M = {}
function M.main()
  local bench = require "causal_eval.bench"
  local info = debug.getinfo(bench.family, "S")
  local _, tb = xpcall(bench.family, debug.traceback, "not a table")
  local q = bench.question(assert(bench.load("ladder")), assert(bench.options{}), 3, 5)
  return require("causal_eval.json").encode({ source = info.source, first = info.linedefined,
    last = info.lastlinedefined, traceback = tb, prompt = q.prompt, truth = q.ground_truth })
end
return M]])
    H.write(dir .. "/main.lua", [[
local threads = require "causal_eval.threads"
local out = {}
for round = 1, 3 do out[round] = threads.start(1, "probe", ""):join()[1].result end
io.write(require("causal_eval.json").encode(out))]])
    local r = H.run({ dir .. "/main.lua" }, { env = { CAUSAL_EVAL_PATH = dir } })
    H.rm(dir)
    assert.are.equal(0, r.code, r.stderr)
    local out = json.decode(r.stdout)
    local first = json.decode(out[1])
    assert.are.equal("@lua/stdlib/causal_eval/bench.lua", first.source)
    assert.is_true(first.first > 1 and first.last > first.first)
    assert.matches("lua/stdlib/causal_eval/bench.lua:%d+: in function", first.traceback)
    assert.matches("Answer yes or no%.$", first.prompt)
    for round = 2, 3 do assert.are.same(first, json.decode(out[round])) end
  end)
end)
