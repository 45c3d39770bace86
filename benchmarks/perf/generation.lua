-- SPDX-License-Identifier: MIT
-- Question generation per family on one core: questions/s with exact
-- ground truth and the prompt rendered (what `causal-eval generate` makes,
-- before JSON), each family alone and the mix of all of them.
-- tools/bench/generate.lua splits the same time between engine and Lua.
local perf = require "causal_eval.perf"
local bench = require "causal_eval.bench"
local host = require "causal_eval.host"

return perf.benchmark{
  name = "generation",
  description = "questions generated per second per family, ground truth and prompt (one core)",
  measures = function(ctx)
    local n = ctx:pick(40, 2000)
    local opts = assert(bench.options{ render = true })
    local all, list = {}, {}
    local function measure(name, fams)
      local per = math.max(1, n // #fams)
      return {
        name = name, label = name .. ": questions generated per second", unit = "q/s", better = "higher",
        run = function(c)
          collectgarbage()
          local k, t0 = 0, host.clock()
          for _, fam in ipairs(fams) do
            for _ in bench.generate(fam, opts, c.round, per) do k = k + 1 end
          end
          return k / (host.clock() - t0)
        end,
      }
    end
    for _, name in ipairs(bench.list()) do
      local fam = assert(bench.load(name))
      all[#all + 1] = fam
      list[#list + 1] = measure(name, { fam })
    end
    list[#list + 1] = measure("all", all)
    ctx:note("%d questions a round per family (seed = round), prompts rendered, one thread", n)
    return list
  end,
}
