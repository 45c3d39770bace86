-- SPDX-License-Identifier: MIT
-- A complete benchmark family, as docs/authoring.md walks through it:
-- "Is Z an instrument for the effect of X on Y?" over a small random graph.
--   causal-eval generate docs/examples/instrument.lua --n 10
local bench = require "causal_eval.bench"

return bench.family{
  name = "instrument",
  version = 1,
  rungs = { 2 },
  description = "is a variable a valid instrument for an effect?",

  -- One question. ctx.rng drives the content; ctx.want is the answer the kit
  -- would like ("yes" or "no") so that answers come out balanced.
  generate = function(ctx)
    -- Z -> X -> Y with an unobserved confounder U of X and Y; for a "no",
    -- break the instrument with a direct Z -> Y edge or a Z <- U edge
    local edges = { { "Z", "X" }, { "X", "Y" }, { "U", "X" }, { "U", "Y" } }
    if ctx.want == "no" then
      edges[#edges + 1] = ctx:chance(0.5) and { "Z", "Y" } or { "U", "Z" }
    end
    local m = ctx:random_model({ nodes = { "U", "Z", "X", "Y" }, edges = edges })
    -- the query: the kit solves it exactly; the ground truth never comes from here
    local query = { type = "graph", relation = "instrument", var = "Z", treatment = "X", outcome = "Y" }
    -- the words: drawn from ctx.text after the content is fixed
    local function render()
      local words = ctx:label(m:topo())
      local prompt = ("Consider %s in a world where only these causal relationships hold: %s %s is never measured. "):format(
          ctx.domain.units, ctx:describe_edges(m, words), bench.capitalize(words.U.name)) ..
        ("Can %s serve as an instrument for estimating the effect of %s on %s? Answer yes or no."):format(
          words.Z.name, words.X.name, words.Y.name)
      local variables = {}
      for n, w in pairs(words) do variables[n] = w.name end
      return prompt, variables
    end
    return { model = m, query = query, rung = 2, render = render }
  end,
}
