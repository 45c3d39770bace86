-- SPDX-License-Identifier: MIT
-- A complete benchmark family, as docs/authoring.md walks through it:
-- "Is Z an instrument for the effect of X on Y?" over a small random graph.
--   causal-eval generate docs/examples/instrument.lua --n 10
local bench = require "causal_eval.bench"

-- The graph the two questions of a pair share: Z -> X -> Y with an
-- unobserved confounder U of X and Y, a few covariates W hanging off it by
-- one edge each (more for harder questions), and the edges one more could
-- add, split into those that keep Z an instrument and those that break it.
-- Everything here is drawn through ctx, inside ctx:shared, so both
-- questions of the pair see the same graph.
local function shared_graph(ctx)
  local nodes = { "U", "Z", "X", "Y" }
  local edges = { { "Z", "X" }, { "X", "Y" }, { "U", "X" }, { "U", "Y" } }
  for i = 1, ctx:size() - 2 do
    local w, other = "W" .. i, ctx:pick(nodes)
    edges[#edges + 1] = ctx:chance(0.5) and { w, other } or { other, w }
    nodes[#nodes + 1] = w
  end
  local order = bench.topo({ nodes = nodes, edges = edges })
  local has, keep, breaks = {}, {}, {}
  for _, e in ipairs(edges) do has[e[1] .. ">" .. e[2]] = true end
  for i = 1, #order do
    for j = i + 1, #order do
      local a, b = order[i], order[j]
      if not has[a .. ">" .. b] and not has[b .. ">" .. a] then
        local more = { table.unpack(edges) }
        more[#more + 1] = { a, b }
        local m = ctx:random_model({ nodes = order, edges = more }, { graph_only = true })
        local list = m:instrument("Z", "X", "Y") and keep or breaks
        list[#list + 1] = { a, b }
        m:close()
      end
    end
  end
  return { order = order, edges = edges, keep = keep, breaks = breaks }
end

return bench.family{
  name = "instrument", -- the file's name: a family is used by it
  version = 2,
  rungs = { 2 },
  description = "is a variable a valid instrument for an effect?",

  -- One question. ctx.rng drives the content; ctx.want is the answer the kit
  -- would like ("yes" or "no") so that answers come out balanced.
  generate = function(ctx)
    local g = ctx:shared(shared_graph, ctx)
    -- the yes question adds an edge that keeps the instrument, the no
    -- question one that breaks it: both have as many variables and edges
    local cands = ctx.want == "yes" and g.keep or g.breaks
    if #cands == 0 then return nil end
    local edges = { table.unpack(g.edges) }
    edges[#edges + 1] = ctx:pick(cands)
    local m = ctx:random_model({ nodes = g.order, edges = edges })
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
    -- the prompt states the graph and the query and nothing else (no
    -- tables), which is what the kit takes as a question's identity by
    -- default; a prompt that stated the tables would add shows_tables = true
    return { model = m, query = query, rung = 2, render = render }
  end,
}
