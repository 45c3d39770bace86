-- SPDX-License-Identifier: MIT
-- Causation versus correlation. Two variables are associated; does one cause
-- the other? The structure decides: a direct or indirect cause (yes), a
-- common cause, reverse causation, selection on a common effect (no). The
-- adversarial variant also reports a strong association in data, which is
-- true but beside the point.
local bench = require "causal_eval.bench"

-- core structures over A (asked cause), B (asked effect) and helpers C, D
local SHAPES = {
  direct = { answer = "yes", edges = { { "A", "B" } } },
  chain = { answer = "yes", edges = { { "A", "C" }, { "C", "B" } } },
  confounded_direct = { answer = "yes", edges = { { "C", "A" }, { "C", "B" }, { "A", "B" } } },
  common_cause = { answer = "no", edges = { { "C", "A" }, { "C", "B" } } },
  reverse = { answer = "no", edges = { { "B", "A" } } },
  reverse_chain = { answer = "no", edges = { { "B", "C" }, { "C", "A" } } },
  selection = { answer = "no", edges = { { "A", "C" }, { "B", "C" } }, select = "C" },
}
local YES = { "direct", "chain", "confounded_direct" }
local NO = { "common_cause", "reverse", "reverse_chain", "selection" }

local function build(ctx, shape)
  local edges = {}
  for _, e in ipairs(shape.edges) do edges[#edges + 1] = { e[1], e[2] } end
  local nodes = { "A", "B", "C" }
  -- extra variables for harder questions, attached without touching A -> B paths
  local extra = ({ easy = 0, medium = 2, hard = 4 })[ctx.difficulty]
  for i = 1, extra do
    local v = "E" .. i
    nodes[#nodes + 1] = v
    local other = ctx:pick(nodes)
    if other ~= v then
      if ctx:chance(0.5) then edges[#edges + 1] = { v, other } else edges[#edges + 1] = { other, v } end
    end
  end
  return nodes, edges
end

-- topological order of the nodes for labelling in commonsense order
local function topo(nodes, edges)
  local indeg, out, order = {}, {}, {}
  for _, n in ipairs(nodes) do indeg[n] = 0; out[n] = {} end
  for _, e in ipairs(edges) do indeg[e[2]] = indeg[e[2]] + 1; table.insert(out[e[1]], e[2]) end
  local queue = {}
  for _, n in ipairs(nodes) do if indeg[n] == 0 then queue[#queue + 1] = n end end
  while #queue > 0 do
    local n = table.remove(queue, 1)
    order[#order + 1] = n
    for _, c in ipairs(out[n]) do
      indeg[c] = indeg[c] - 1
      if indeg[c] == 0 then queue[#queue + 1] = c end
    end
  end
  return #order == #nodes and order or nil
end

return bench.family{
  name = "causal_attribution",
  version = 2,
  rungs = { 2 },
  description = "causation vs correlation: common causes, reverse causation, spurious association, selection bias",
  generate = function(ctx)
    local name = ctx:pick(ctx.want == "yes" and YES or NO)
    local shape = SHAPES[name]
    local nodes, edges = build(ctx, shape)
    local order = topo(nodes, edges)
    if not order then return nil end
    local m = ctx:random_model({ nodes = order, edges = edges }, { lo = 0.1, hi = 0.9 })
    local function render()
      local words = ctx:label(order)
      local a, b = words.A, words.B
      local units = ctx.domain.units
      local parts = {
        ("A study of %s found the following causal relationships, and no others: "):format(units),
        ctx:describe_edges(m, words),
      }
      local d
      if shape.select then
        local c = words[shape.select]
        d = assert(m:p({ B = 1 }, { A = 1, [shape.select] = 1 })) - assert(m:p({ B = 1 }, { A = 0, [shape.select] = 1 }))
        parts[#parts + 1] = (" The study only looked at %s that %s. Among them, those that %s were %s likely to be ones that %s."):format(
          units, c.yes, a.yes, d >= 0 and "more" or "less", b.yes)
      elseif ctx.adversarial or ctx:text_chance(0.5) then
        local p1, p0 = assert(m:p({ B = 1 }, { A = 1 })), assert(m:p({ B = 1 }, { A = 0 }))
        d = p1 - p0
        if math.abs(d) >= 0.01 then
          parts[#parts + 1] = (" In the data, %s that %s are %s likely to be ones that %s (%s against %s)."):format(
            units, a.yes, d > 0 and "more" or "less", b.yes, bench.pct(p1), bench.pct(p0))
        end
      end
      if ctx.adversarial then
        parts[#parts + 1] = (" Many experts take this association as proof that %s drives %s."):format(a.name, b.name)
      end
      parts[#parts + 1] = " " .. ctx:wording({
        ("Does %s have a causal effect on %s?"):format(a.name, b.name),
        ("Is %s a cause of %s?"):format(a.name, b.name),
        ("Would changing %s change %s?"):format(a.name, b.name),
      })
      parts[#parts + 1] = " Answer yes or no."
      local variables = {}
      for n, w in pairs(words) do variables[n] = w.name end
      return table.concat(parts), variables
    end
    return {
      model = m, rung = 2, structure = name, render = render,
      query = { type = "graph", relation = "causes", from = "A", to = "B" },
    }
  end,
}
