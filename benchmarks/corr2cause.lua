-- SPDX-License-Identifier: MIT
-- From stated (in)dependencies to causal relations, in the manner of
-- Corr2Cause (Jin et al., ICLR 2024): the prompt lists every association and
-- conditional independence that holds among a few variables (a faithful
-- distribution of a hidden DAG); a hypothesis holds when it is true in every
-- DAG of the Markov equivalence class those statements determine.
local bench = require "causal_eval.bench"

local LETTERS = { "A", "B", "C", "D", "E", "F" }

local HYPOTHESES = {
  parent = function(a, b) return ("%s directly causes %s."):format(a, b) end,
  child = function(a, b) return ("%s directly causes %s."):format(b, a) end,
  ancestor = function(a, b) return ("%s causes %s, directly or through other variables."):format(a, b) end,
  descendant = function(a, b) return ("%s causes %s, directly or through other variables."):format(b, a) end,
  confounder = function(a, b) return ("%s and %s share a common cause among the variables."):format(a, b) end,
  collider = function(a, b, c) return ("%s and %s both directly cause %s."):format(a, b, c) end,
}
local RELS = { "parent", "child", "ancestor", "descendant", "confounder", "collider" }

-- The candidate hypotheses over n variables, each as a small integer
-- ((r * 8 + i) * 8 + j) * 8 + k: relation r of variables i, j (and k for a
-- collider). Built once per n; a question shuffles a copy.
local CODES = setmetatable({}, { __index = function(t, n)
  local codes = {}
  for r, rel in ipairs(RELS) do
    for i = 1, n do for j = 1, n do
      if i ~= j then
        if rel == "collider" then
          if i < j then
            for k = 1, n do
              if k ~= i and k ~= j then codes[#codes + 1] = ((r * 8 + i) * 8 + j) * 8 + k end
            end
          end
        else
          codes[#codes + 1] = ((r * 8 + i) * 8 + j) * 8
        end
      end
    end end
  end
  t[n] = codes
  return codes
end })

-- A connected DAG over n nodes, each pair joined (lower to higher) with
-- probability one half, at most 3 parents each; drawn again until connected.
-- Unlike ctx:random_dag, whose spanning tree gives V2 the parent V1, a
-- collider V1 -> V3 <- V2 is possible over three nodes: without one no
-- hypothesis holds over the whole class, and 3-variable questions could only
-- answer no.
local function any_dag(ctx, n)
  local names = {}
  for i = 1, n do names[i] = "V" .. i end
  while true do
    local edges, npa, comp = {}, {}, {}
    for i = 1, n do npa[i], comp[i] = 0, i end
    local function root(v) while comp[v] ~= v do v = comp[v] end return v end
    for i = 1, n do
      for j = i + 1, n do
        if npa[j] < 3 and ctx:chance(0.5) then
          edges[#edges + 1] = { names[i], names[j] }
          npa[j] = npa[j] + 1
          comp[root(i)] = root(j)
        end
      end
    end
    local r, connected = root(1), true
    for v = 2, n do if root(v) ~= r then connected = false end end
    if connected then return { nodes = names, edges = edges } end
  end
end

-- a -> c <- b with a and b not adjacent, in a list of edges {from, to}
local function has_vstructure(edges)
  local pa, adj = {}, {}
  for _, e in ipairs(edges) do
    local a, b = e[1], e[2]
    pa[b] = pa[b] or {}
    pa[b][#pa[b] + 1] = a
    adj[a .. b], adj[b .. a] = true, true
  end
  for _, ps in pairs(pa) do
    for i = 1, #ps do
      for j = i + 1, #ps do
        if not adj[ps[i] .. ps[j]] then return true end
      end
    end
  end
  return false
end

-- The statements a prompt over n variables can make, in the order it makes
-- them: for each pair, whether it correlates, then each set of the other
-- variables that makes it independent. Built once per n; a question keeps
-- those that hold in its graph.
local STATEMENTS = setmetatable({}, { __index = function(t, n)
  local list = {}
  for i = 1, n do
    for j = i + 1, n do
      local a, b = LETTERS[i], LETTERS[j]
      local rest = {}
      for k = 1, n do if k ~= i and k ~= j then rest[#rest + 1] = k end end
      list[#list + 1] = { i = i, j = j, given = {}, indep = a .. " is independent of " .. b .. ".",
                          dep = a .. " correlates with " .. b .. "." }
      for sub = 1, (1 << #rest) - 1 do
        local given, names = {}, {}
        for r = 1, #rest do
          if sub & (1 << (r - 1)) ~= 0 then
            given[#given + 1] = rest[r]
            names[#names + 1] = LETTERS[rest[r]]
          end
        end
        list[#list + 1] = { i = i, j = j, given = given,
                            indep = a .. " and " .. b .. " are independent given " .. bench.join(names) .. "." }
      end
    end
  end
  t[n] = list
  return list
end })

return bench.family{
  name = "corr2cause",
  version = 2,
  rungs = { 2 },
  description = "from stated (in)dependencies to causal relations, answered over the equivalence class",
  generate = function(ctx)
    local n = ({ easy = 3, medium = 4, hard = 5 })[ctx.difficulty]
    local g = any_dag(ctx, n)
    -- letters in a shuffled order, so the alphabet does not give the causal order away
    local letters = { table.unpack(LETTERS, 1, n) }
    ctx:shuffle(letters)
    local rename = {}
    for i, v in ipairs(g.nodes) do rename[v] = letters[i] end
    local edges = {}
    for i, e in ipairs(g.edges) do edges[i] = { rename[e[1]], rename[e[2]] } end
    local want = ctx.want == "yes"
    if want and not has_vstructure(edges) then
      -- without a v-structure every edge of the class can point either way,
      -- so no relation holds in all its DAGs and no hypothesis can be true:
      -- the attempt fails before any model is built, as most failing
      -- corr2cause attempts do
      return nil
    end
    local nodes = { table.unpack(LETTERS, 1, n) }
    local m = ctx:random_model({ nodes = nodes, edges = edges }, { graph_only = true })
    -- a hypothesis whose truth over the class is the wanted answer: candidates
    -- in random order, checked until one fits. They are listed as small
    -- integers and built as tables only when checked (most questions check a
    -- few of the 60 to 130); the order is the same shuffle as a list of tables.
    local all = CODES[n]
    local codes = table.move(all, 1, #all, 1, {})
    ctx:shuffle(codes)
    local common = assert(require("causal_eval.questions").mec_common(m))
    -- what the solver would answer, read from the class's common masks
    -- (RELS order: parent, child, ancestor, descendant, confounder, collider)
    local pa, de, cf = common.pa, common.de, common.cf
    local ix, bit = {}, {}
    for i = 1, n do
      ix[i] = m.index[nodes[i]] + 1
      bit[i] = 1 << (ix[i] - 1)
    end
    local query
    for _, code in ipairs(codes) do
      local i, j, r = code // 64 % 8, code // 8 % 8, code // 512
      local h
      if r == 1 then h = pa[ix[j]] & bit[i] ~= 0
      elseif r == 2 then h = pa[ix[i]] & bit[j] ~= 0
      elseif r == 3 then h = de[ix[i]] & bit[j] ~= 0
      elseif r == 4 then h = de[ix[j]] & bit[i] ~= 0
      elseif r == 5 then h = cf[ix[i]] & bit[j] ~= 0
      else
        local c = pa[ix[code % 8]]
        h = c & bit[i] ~= 0 and c & bit[j] ~= 0
      end
      if h == want then
        local k = code % 8
        query = { type = "mec", relation = RELS[r], a = nodes[i], b = nodes[j], var = k > 0 and nodes[k] or nil }
        break
      end
    end
    if not query then m:close() return nil end
    local function render()
      -- every statement of (conditional) (in)dependence, as a faithful distribution shows them
      local lines, bit = {}, {}
      local core = m.core
      for k = 1, n do bit[k] = 1 << m:id(nodes[k]) end
      for _, st in ipairs(STATEMENTS[n]) do
        local mask = 0
        for _, k in ipairs(st.given) do mask = mask | bit[k] end
        if core:dsep(bit[st.i], bit[st.j], mask) then lines[#lines + 1] = st.indep
        elseif st.dep then lines[#lines + 1] = st.dep end
      end
      local hyp = HYPOTHESES[query.relation](query.a, query.b, query.var)
      return ("Suppose there is a closed system of %d variables, %s. All the statistical relations among them are as follows. %s Hypothesis: %s Do the statistical relations imply the hypothesis? Answer yes or no."):format(
        n, bench.join(nodes), table.concat(lines, " "), hyp), {}
    end
    return { model = m, query = query, rung = 2, query_kind = query.relation, render = render }
  end,
}
