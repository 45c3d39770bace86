-- SPDX-License-Identifier: MIT
-- The embedded stdlib is bytecode compiled with the build
-- (cmake/stdlib_compile.c), loaded by every state (the main one, a run's
-- worker threads, serve's replaced worker states). It must be the same code
-- as the source, with the same file and line information: three states
-- load causal_eval.bench from the bytecode, and a process in dev mode
-- (CAUSAL_EVAL_DEV=1) compiles it from lua/stdlib.
local H = require "spec.helpers"
local json = require "causal_eval.json"

describe("embedded modules, compiled with the build", function()
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
    local dev = H.run({ dir .. "/main.lua" }, { env = { CAUSAL_EVAL_PATH = dir, CAUSAL_EVAL_DEV = "1" } })
    H.rm(dir)
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(0, dev.code, dev.stderr)
    local out = json.decode(r.stdout)
    local first = json.decode(out[1])
    assert.are.equal("@lua/stdlib/causal_eval/bench.lua", first.source)
    assert.is_true(first.first > 1 and first.last > first.first)
    assert.matches("^lua/stdlib/causal_eval/bench.lua:%d+: bench.family expects a table\nstack traceback:", first.traceback)
    assert.matches("\n%s*lua/stdlib/causal_eval/bench.lua:%d+: in function 'causal_eval.bench.family'", first.traceback)
    assert.matches("Answer yes or no%.$", first.prompt)
    for round = 2, 3 do assert.are.same(first, json.decode(out[round])) end
    -- the source (dev mode names it by its full path) says the same lines
    local src = json.decode(json.decode(dev.stdout)[1])
    assert.matches("/lua/stdlib/causal_eval/bench.lua$", src.source)
    assert.are.same({ first.first, first.last, first.prompt, first.truth }, { src.first, src.last, src.prompt, src.truth })
    assert.are.equal(first.traceback:match("bench.lua:(%d+):"), src.traceback:match("bench.lua:(%d+):"))
  end)
end)
