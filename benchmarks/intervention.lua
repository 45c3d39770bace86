-- SPDX-License-Identifier: MIT
-- Effects of interventions, do(X): the sign and the size of the average
-- treatment effect, interventional probabilities, and whether a set of
-- variables is a valid back-door adjustment or a front-door route.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"

local function subsets(list, max)
  local out = { {} }
  for _, v in ipairs(list) do
    local n = #out
    for i = 1, n do
      if #out[i] < max then
        local s = { table.unpack(out[i]) }
        s[#s + 1] = v
        out[#out + 1] = s
      end
    end
  end
  return out
end

local function names(words, set)
  local out = {}
  for i, v in ipairs(set) do out[i] = words[v].name end
  return out
end

local KINDS = { "sign", "sign", "sign", "value", "do_prob", "backdoor", "backdoor", "frontdoor" }
local EXTRA = { easy = 1, medium = 2, hard = 3 }

-- The front-door graph: U (V1, never measured) -> X (V2), U -> Y (V4),
-- X -> M (V3) -> Y, extra variables hanging off it by one edge each, and the
-- edges one more could add, split into those that keep M a front-door route
-- and those that break it. Both kinds exist, so the yes and the no question
-- of a pair add one edge each to the same graph.
local function frontdoor_graph(ctx)
  local nodes = { "V1", "V2", "V3", "V4" }
  local edges = { { "V1", "V2" }, { "V1", "V4" }, { "V2", "V3" }, { "V3", "V4" } }
  for i = 1, EXTRA[ctx.difficulty] do
    local v, other = "E" .. i, ctx:pick(nodes)
    edges[#edges + 1] = ctx:chance(0.5) and { v, other } or { other, v }
    nodes[#nodes + 1] = v
  end
  local order = bench.topo({ nodes = nodes, edges = edges })
  local has, cands = {}, {}
  for _, e in ipairs(edges) do has[e[1] .. ">" .. e[2]] = true end
  for i = 1, #order do
    for j = i + 1, #order do
      local a, b = order[i], order[j]
      if not has[a .. ">" .. b] and not has[b .. ">" .. a] then cands[#cands + 1] = { a, b } end
    end
  end
  -- a model for each edge tried: try them in random order and stop at
  -- three of each kind
  ctx:shuffle(cands)
  local keep, break_ = {}, {}
  for _, c in ipairs(cands) do
    local g = { nodes = order, edges = { table.unpack(edges) } }
    g.edges[#g.edges + 1] = c
    local m = ctx:random_model(g, { graph_only = true })
    local list = m:frontdoor("V2", "V4", { "V3" }) and keep or break_
    m:close()
    if #list < 3 then list[#list + 1] = c end
    if #keep >= 3 and #break_ >= 3 then break end
  end
  return order, edges, keep, break_
end

-- A random graph, a treatment and an outcome it affects, and (for the
-- back-door kind) the small adjustment sets that are valid and those that
-- are not, both present: shared by the two questions of a pair.
local function pair_graph(ctx, kind)
  for _ = 1, 20 do
    local g = ctx:random_dag(ctx:size())
    local m = ctx:random_model(g, { graph_only = true })
    local order = m:topo()
    local core, index, n = m.core, m.index, #order
    -- every treatment and outcome it affects (places i, j in order, as
    -- i * 32 + j), in random order, before another graph
    local bit, de = {}, {}
    for i = 1, n do
      bit[i] = 1 << index[order[i]]
      de[i] = core:descendants(bit[i]) & ~bit[i]
    end
    local cands = {}
    for i = 1, n - 1 do
      for j = i + 1, n do
        if de[i] & bit[j] ~= 0 then cands[#cands + 1] = i * 32 + j end
      end
    end
    ctx:shuffle(cands)
    for _, c in ipairs(cands) do
      local x, y = order[c // 32], order[c % 32]
      if kind ~= "backdoor" then
        m:close()
        return g, x, y
      end
      local valid, invalid, others = {}, {}, {}
      for _, v in ipairs(order) do if v ~= x and v ~= y then others[#others + 1] = v end end
      local bx, by = bit[c // 32], bit[c % 32]
      for _, set in ipairs(subsets(others, 2)) do
        local mask = 0
        for _, v in ipairs(set) do mask = mask | (1 << index[v]) end
        local list = core:backdoor(bx, by, mask) and valid or invalid
        list[#list + 1] = set
      end
      if #valid > 0 and #invalid > 0 then
        m:close()
        return g, x, y, valid, invalid
      end
    end
    m:close()
  end
end

return bench.family{
  name = "intervention",
  version = 3,
  rungs = { 2 },
  description = "effects of do(X): sign and size of the ATE, back-door and front-door adjustment",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 100000, medium = 520000, hard = 980000,
    method = "easy measured (100,000 made, a lower bound); medium and hard estimated: n^2/2(r+3) from r repeats in n = 100,000 (9440, 5078)" },
  generate = function(ctx)
    local kind = ctx.pair:pick(KINDS)
    local want = ctx.want == "yes"
    local m, x, y, chosen
    if kind == "frontdoor" then
      local order, edges, keep, break_ = ctx:shared(frontdoor_graph, ctx)
      local cands = want and keep or break_
      if #cands == 0 then return nil end
      local g = { nodes = order, edges = { table.unpack(edges) } }
      g.edges[#g.edges + 1] = ctx:pick(cands)
      m = ctx:random_model(g)
      x, y = "V2", "V4"
    else
      local g, valid, invalid
      g, x, y, valid, invalid = ctx:shared(pair_graph, ctx, kind)
      if not g then return nil end
      m = ctx:random_model(g)
      if kind == "backdoor" then chosen = ctx:pick(want and valid or invalid) end
    end
    -- content: the query (and what the text needs to say it)
    local query, rung = nil, 2
    local up, xv
    if kind == "sign" then
      local v = assert(m:ate(x, y))
      if math.abs(v) < 0.02 then m:close() return nil end -- keep signs clear of the threshold
      up = (v > 0) == want
      query = { type = "effect_sign", effect = "ate", treatment = x, outcome = y, direction = up and "increase" or "decrease" }
    elseif kind == "value" then
      query = { type = "effect_value", effect = "ate", treatment = x, outcome = y }
    elseif kind == "do_prob" then
      xv = ctx:int(0, 1)
      query = { type = "prob", event = { [y] = 1 }, ["do"] = { [x] = xv } }
    elseif kind == "backdoor" then
      query = { type = "graph", relation = "backdoor", treatment = x, outcome = y, set = json.array(chosen) }
    else -- frontdoor
      query = { type = "graph", relation = "frontdoor", treatment = "V2", outcome = "V4", set = json.array({ "V3" }) }
    end
    local function render()
      local words = ctx:label(m:topo())
      local u, units = ctx.domain.unit, ctx.domain.units
      local intro = ("Consider %s in a world where only these causal relationships hold: "):format(units)
      local body = ctx:describe_edges(m, words)
      local tables = " " .. ctx:describe_tables(m, words)
      local X, Y = words[x], words[y]
      local question
      if kind == "sign" then
        question = ctx:wording({
          ("If we intervened to make every %s one that %s, would the share of %s that %s %s?"):format(u, X.yes, units, Y.yes, up and "go up" or "go down"),
          ("Would forcing a %s to be one that %s %s the chance that it %s?"):format(u, X.yes, up and "raise" or "lower", Y.yes),
        }) .. " Answer yes or no."
      elseif kind == "value" then
        question = ("By how much would the probability that a %s %s change if we intervened to make it one that %s, compared with intervening to make it one that %s? Give the difference as a number between -1 and 1."):format(
          u, Y.yes, X.yes, X.no)
      elseif kind == "do_prob" then
        question = ("If we intervened to make every %s one that %s, what share of them would be ones that %s? Give a number between 0 and 1."):format(
          u, xv == 1 and X.yes or X.no, Y.yes)
      elseif kind == "backdoor" then
        local what = #chosen == 0 and "without adjusting for anything (comparing the groups directly)"
          or ("adjusting for %s"):format(bench.join(names(words, chosen)))
        question = ("We want the causal effect of %s on %s from observational data. Does %s give the right answer, by the back-door criterion? Answer yes or no."):format(
          X.name, Y.name, what)
        tables = ""
      else
        body = body .. (" Note that %s is never measured."):format(words.V1.name)
        question = ("Can the effect of %s on %s be identified through %s with the front-door adjustment? Answer yes or no."):format(
          X.name, Y.name, words.V3.name)
        tables = ""
      end
      local variables = {}
      for n, w in pairs(words) do variables[n] = w.name end
      return intro .. body .. tables .. " " .. question, variables
    end
    return { model = m, query = query, rung = rung, query_kind = kind, render = render,
             shows_tables = kind ~= "backdoor" and kind ~= "frontdoor" } -- those two prompts state no tables
  end,
}
