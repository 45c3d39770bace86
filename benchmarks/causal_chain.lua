-- SPDX-License-Identifier: MIT
-- Multi-step chains and mediation: does an early variable affect a late one,
-- does holding a middle variable fixed block the influence, is a variable a
-- mediator, and the sign of direct and indirect effects.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"

local KINDS = { "ancestor", "blocking", "mediator", "direct", "indirect" }

-- a chain V1 -> ... -> Vk with a few side branches and shortcuts
local function chain_graph(ctx, n)
  local nodes, edges = {}, {}
  for i = 1, n do nodes[i] = "V" .. i end
  local k = math.max(3, n - ctx:int(0, 2)) -- main chain length
  for i = 1, k - 1 do edges[#edges + 1] = { nodes[i], nodes[i + 1] } end
  for i = k + 1, n do -- side variables hang off or feed into the chain
    local j = ctx:int(1, k)
    if ctx:chance(0.5) and j < k then edges[#edges + 1] = { nodes[j], nodes[i] }
    else edges[#edges + 1] = { nodes[i], nodes[math.max(j, 2)] } end
  end
  if n >= 4 and ctx:chance(0.4) then -- a shortcut
    local a = ctx:int(1, k - 2)
    edges[#edges + 1] = { nodes[a], nodes[ctx:int(a + 2, k)] }
  end
  -- side nodes may feed a chain node that comes earlier in the numbering:
  -- renumber by a topological order so labelling stays in causal order
  return nodes, edges, k
end

-- The graph of a pair and what can be asked about it, split by answer:
-- ordered pairs with or without a causal path (ancestor); a pair joined by
-- a path and a third variable that does or does not make them independent
-- (blocking); variables that are or are not mediators between the first
-- and the last (mediator). Drawn from the pair's stream until both answers
-- can be asked, so the yes and the no question share the graph. Each
-- candidate is a code over places in order, (i * 32 + j) * 32 + k, for
-- order[i], order[j] (and order[k]): a graph gives dozens.
local function chain_pair(ctx, kind)
  for _ = 1, 20 do
    local nodes, edges = chain_graph(ctx, ctx:size() + 1)
    local order = bench.topo({ nodes = nodes, edges = edges })
    local m = ctx:random_model({ nodes = order, edges = edges }, { graph_only = true })
    local core = m.core
    local n = #order
    -- the model's variables are order's: place i is bit i - 1
    local bit, de = {}, {}
    for i = 1, n do bit[i] = 1 << m:id(order[i]) end
    for i = n, 1, -1 do de[i] = core:descendants(bit[i]) & ~bit[i] end
    local yes, no, ny, nn = {}, {}, 0, 0
    if kind == "ancestor" then
      for i = 1, n do for j = 1, n do
        if i ~= j then
          if de[i] & bit[j] ~= 0 then ny = ny + 1; yes[ny] = (i * 32 + j) * 32
          else nn = nn + 1; no[nn] = (i * 32 + j) * 32 end
        end
      end end
    elseif kind == "blocking" then
      for i = 1, n do for j = i + 1, n do
        if de[i] & bit[j] ~= 0 then
          for k = 1, n do
            if k ~= i and k ~= j then
              if core:dsep(bit[i], bit[j], bit[k]) then ny = ny + 1; yes[ny] = (i * 32 + j) * 32 + k
              else nn = nn + 1; no[nn] = (i * 32 + j) * 32 + k end
            end
          end
        end
      end end
    else -- mediator
      if de[1] & bit[n] ~= 0 then
        local meds = core:mediators(bit[1], bit[n])
        for k = 2, n - 1 do
          if meds & bit[k] ~= 0 then ny = ny + 1; yes[ny] = (1 * 32 + n) * 32 + k
          else nn = nn + 1; no[nn] = (1 * 32 + n) * 32 + k end
        end
      end
    end
    m:close()
    if ny > 0 and nn > 0 then return order, edges, { yes = yes, no = no } end
  end
end

return bench.family{
  name = "causal_chain",
  version = 3,
  rungs = { 2, 3 },
  description = "multi-step chains and mediation: ancestors, blocking, direct vs indirect effects",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 100000, medium = 100000, hard = 100000,
    method = "measured: 100,000 made at each difficulty without running out (up to 27 draws a pair); a lower bound" },
  generate = function(ctx)
    local kind = ctx.pair:pick(KINDS)
    local u, units = ctx.domain.unit, ctx.domain.units
    local want = ctx.want == "yes"
    local m, order, query, tables
    local rung = 2
    local ask -- what the text needs: a function of the words
    if kind == "direct" or kind == "indirect" then
      -- the sign of a natural effect in a mediation triangle (rung 3)
      local g = { nodes = { "V1", "V2", "V3" }, edges = { { "V1", "V2" }, { "V1", "V3" }, { "V2", "V3" } } }
      m = ctx:random_model(g)
      order = m:topo()
      rung = 3
      local effect = kind == "direct" and "nde" or "nie"
      local v = assert(m[effect](m, "V1", "V3"))
      if math.abs(v) < 0.02 then m:close() return nil end
      local up = (v > 0) == want
      query = { type = "effect_sign", effect = effect, treatment = "V1", outcome = "V3", direction = up and "increase" or "decrease" }
      tables = true -- the prompt states them
      ask = function(words)
        local tables = ctx:describe_tables(m, words) .. " "
        if effect == "nde" then
          return tables .. ("If %s stayed as it would be without %s, would %s still %s the chance that a %s %s?"):format(
            words.V2.name, words.V1.name, words.V1.name, up and "raise" or "lower", u, words.V3.yes)
        end
        return tables .. ("Does %s %s the chance that a %s %s through its effect on %s alone?"):format(
          words.V1.name, up and "raise" or "lower", u, words.V3.yes, words.V2.name)
      end
    else
      local edges, cands
      order, edges, cands = ctx:shared(chain_pair, ctx, kind)
      if not order then return nil end
      m = ctx:random_model({ nodes = order, edges = edges })
      local code = ctx:pick(cands[ctx.want])
      local k = code % 32
      local c = { order[code // 1024], order[code // 32 % 32], k > 0 and order[k] or nil }
      if kind == "ancestor" then
        query = { type = "graph", relation = "causes", from = c[1], to = c[2] }
        ask = function(words)
          return ("Does %s affect %s, directly or through other variables?"):format(words[c[1]].name, words[c[2]].name)
        end
      elseif kind == "blocking" then
        query = { type = "graph", relation = "independent", a = c[1], b = c[2], given = json.array({ c[3] }) }
        ask = function(words)
          return ("Among %s that all share the same value of %s, are %s and %s statistically independent?"):format(
            units, words[c[3]].name, words[c[1]].name, words[c[2]].name)
        end
      else
        query = { type = "graph", relation = "mediator", from = c[1], to = c[2], var = c[3] }
        ask = function(words)
          return ("Does some of the effect of %s on %s pass through %s?"):format(words[c[1]].name, words[c[2]].name, words[c[3]].name)
        end
      end
    end
    local function render()
      local words = ctx:label(order)
      local prompt = ("Consider %s in a world where only these causal relationships hold: "):format(units) ..
        ctx:describe_edges(m, words) .. " " .. ask(words) .. " Answer yes or no."
      local variables = {}
      for nn, w in pairs(words) do variables[nn] = w.name end
      return prompt, variables
    end
    return { model = m, query = query, rung = rung, query_kind = kind, render = render, shows_tables = tables }
  end,
}
