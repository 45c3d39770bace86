-- SPDX-License-Identifier: MIT
-- Question generation speed, per core (one thread), with exact ground truth:
--   causal-eval tools/bench/generate.lua [N] [ROUNDS]
-- For each family and for the mix of all seven, as the median of ROUNDS rounds
-- of N questions:
--   generated   questions per second with exact ground truth: graph, tables,
--               query, answer (the "generate" arrow of DESIGN.md; what
--               `generate --no-prompt` writes), and how that time splits
--               between the engine (C: building models, queries, equivalence
--               classes) and Lua (the families and the kit);
--   +prompt     with the prompt rendered from the story tables as well;
--   +JSON       and serialised as a JSON line, as `generate` writes them.
-- Graphs have 3 to 8 variables (easy 3-4, medium 5-6, hard 7-8; default mix).
local host = require "causal_eval.host"
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"
local core = require "causal_eval.scm_core"

local N = tonumber(arg and arg[1]) or 5000
local ROUNDS = tonumber(arg and arg[2]) or 5
local clock = host.clock

-- time spent in the engine: wrap every method of the native model, and new
local engine_time = 0
do
  local probe = assert(core.new({ { name = "a", p = { 0.5 } } }))
  local methods = getmetatable(probe).__index
  for name, f in pairs(methods) do
    methods[name] = function(...)
      local t0 = clock()
      local a, b, c = f(...)
      engine_time = engine_time + (clock() - t0)
      return a, b, c
    end
  end
  local new = core.new
  core.new = function(...)
    local t0 = clock()
    local a, b = new(...)
    engine_time = engine_time + (clock() - t0)
    return a, b
  end
  probe:close()
end

-- the cost of the timing wrapper itself, subtracted from the engine share
local overhead
do
  local f = function() end
  local w = function(...) local t0 = clock(); f(...); engine_time = engine_time + (clock() - t0) end
  local t0 = clock()
  for _ = 1, 200000 do w() end
  overhead = (clock() - t0) / 200000
  engine_time = 0
end
local calls = 0
do
  local inner = core.new
  core.new = function(...) calls = calls + 1 return inner(...) end
  local probe = assert(inner({ { name = "a", p = { 0.5 } } }))
  local methods = getmetatable(probe).__index
  for name, f in pairs(methods) do
    methods[name] = function(...) calls = calls + 1 return f(...) end
  end
  probe:close()
end

local function median(t)
  table.sort(t)
  local n = #t
  return n % 2 == 1 and t[(n + 1) // 2] or (t[n // 2] + t[n // 2 + 1]) / 2
end

local function run(fams, encode, seed, render)
  local opts = assert(bench.options{ render = render })
  engine_time, calls = 0, 0
  collectgarbage()
  local t0 = clock()
  local per = N // #fams
  for _, fam in ipairs(fams) do
    for q in bench.generate(fam, opts, seed, per) do
      if encode then json.encode(q) end
    end
  end
  local wall = clock() - t0
  local engine = math.max(0, engine_time - calls * overhead)
  return per * #fams / wall, engine / wall
end

local names = bench.list()
table.sort(names)
local rows = {}
for _, name in ipairs(names) do rows[#rows + 1] = { name, { assert(bench.load(name)) } } end
local all = {}
for _, r in ipairs(rows) do all[#all + 1] = r[2][1] end
rows[#rows + 1] = { "all (mix)", all }

print(("causal-eval %s, %s; %d questions a round, median of %d rounds, one core"):format(
  host.version, host.lua_version, N, ROUNDS))
print(("%-20s %12s %8s %8s %12s %12s"):format("family", "generated/s", "engine", "Lua", "+prompt/s", "+JSON/s"))
for _, r in ipairs(rows) do
  local qps, share, qpsp, qpsj = {}, {}, {}, {}
  for round = 1, ROUNDS do
    local q, e = run(r[2], false, round, false)
    qps[round], share[round] = q, e
    qpsp[round] = run(r[2], false, round, true)
    qpsj[round] = run(r[2], true, round, true)
  end
  local e = median(share)
  print(("%-20s %12.0f %7.1f%% %7.1f%% %12.0f %12.0f"):format(r[1], median(qps), e * 100, (1 - e) * 100,
    median(qpsp), median(qpsj)))
end
