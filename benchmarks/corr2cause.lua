-- SPDX-License-Identifier: MIT
-- From stated (in)dependencies to causal relations, in the manner of
-- Corr2Cause (Jin et al., ICLR 2024): the prompt lists every association and
-- conditional independence that holds among a few variables (a faithful
-- distribution of a hidden DAG); a hypothesis holds when it is true in every
-- DAG of the Markov equivalence class those statements determine.
local bench = require "causal_eval.bench"
local scm_core = require "causal_eval.scm_core"
local questions = require "causal_eval.questions"

local LETTERS = { "A", "B", "C", "D", "E", "F" }

-- variables per difficulty: three are too few (30 distinct questions in all)
local SIZE = { easy = 4, medium = 5, hard = 6 }

-- Hypotheses, each in one direction only: "A directly causes B" is asked as
-- parent(A, B), never as child(B, A), which would read the same.
local HYPOTHESES = {
  parent = function(a, b) return ("%s directly causes %s."):format(a, b) end,
  ancestor = function(a, b) return ("%s causes %s, directly or through other variables."):format(a, b) end,
  confounder = function(a, b) return ("%s and %s share a common cause among the variables."):format(a, b) end,
  collider = function(a, b, c) return ("%s and %s both directly cause %s."):format(a, b, c) end,
}
local RELS = { "parent", "ancestor", "confounder", "collider" }

-- A connected DAG over n nodes, each pair joined (lower to higher) with
-- probability one half, at most 3 parents each; drawn again until connected.
-- Unlike ctx:random_dag, whose spanning tree gives V2 the parent V1, any
-- collider is possible. Returns the edges as two lists of node numbers,
-- from and to, in the order drawn, their count, and the nodes' parent and
-- neighbour masks: a pair draws dozens of graphs before one suits it, so
-- none is built as names.
local function any_dag(r, n)
  local all = (1 << n) - 1
  while true do
    local from, to, m, npa, pa, adj = {}, {}, 0, {}, {}, {}
    for i = 1, n do npa[i], pa[i], adj[i] = 0, 0, 0 end
    for i = 1, n do
      for j = i + 1, n do
        if npa[j] < 3 and r:bernoulli(0.5) then
          m = m + 1
          from[m], to[m] = i, j
          npa[j] = npa[j] + 1
          pa[j] = pa[j] | (1 << (i - 1))
          adj[i], adj[j] = adj[i] | (1 << (j - 1)), adj[j] | (1 << (i - 1))
        end
      end
    end
    local seen, frontier = 1, 1
    while frontier ~= 0 do
      local reached = 0
      for v = 1, n do
        if frontier & (1 << (v - 1)) ~= 0 then reached = reached | adj[v] end
      end
      frontier = reached & ~seen
      seen = seen | reached
    end
    if seen == all then return from, to, m, pa, adj end
  end
end

-- a -> c <- b with a and b not adjacent, in a graph of parent and
-- neighbour masks
local function has_vstructure(pa, adj, n)
  for c = 1, n do
    local ps = pa[c]
    if ps & (ps - 1) ~= 0 then -- two parents or more
      for a = 1, n do
        local bit = 1 << (a - 1)
        if ps & bit ~= 0 and ps & ~bit & ~adj[a] ~= 0 then return true end
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
  -- each statement's pair and given set as masks over the letters'
  -- numbers, for m.core:dsep_each
  local x, y, z = {}, {}, {}
  for k, st in ipairs(list) do
    local mask = 0
    for _, g in ipairs(st.given) do mask = mask | (1 << (g - 1)) end
    x[k], y[k], z[k] = 1 << (st.i - 1), 1 << (st.j - 1), mask
  end
  list.x, list.y, list.z = x, y, z
  t[n] = list
  return list
end })

-- The statements of a pair's class, as the prompt writes them: both
-- questions of a pair share the class, so its statements are written once
-- (the text depends on the graph alone).
local WRITTEN = setmetatable({}, { __mode = "k" })

-- bits set in each mask over six letters
local POP = { [0] = 0 }
for x = 1, 63 do POP[x] = POP[x >> 1] + (x & 1) end

-- How many hypotheses of each relation over n letters hold over the whole
-- class (common: questions.mec_common's masks, by letter number) and how
-- many there are, in RELS order: yes count, then all.
local function counts(common, n)
  local pa, de, cf = common.pa, common.de, common.cf
  local par, anc, con, col = 0, 0, 0, 0
  for i = 1, n do
    local self = 1 << (i - 1)
    local k = POP[pa[i] & ~self]
    par = par + k
    col = col + k * (k - 1) // 2
    anc = anc + POP[de[i] & ~self]
    con = con + POP[cf[i] & ~((self << 1) - 1)]
  end
  local pairs_ = n * (n - 1)
  return { par, pairs_, anc, pairs_, con, pairs_ // 2, col, pairs_ // 2 * (n - 2) }
end

-- The hypotheses of one relation over n letters, split into those that
-- hold over the whole class (yes) and those that do not (no), in a fixed
-- order; each a small integer (i * 8 + j) * 8 + k over letters i, j (and k).
local function hypotheses(common, n, rel)
  local pa, de, cf = common.pa, common.de, common.cf
  local yes, no, ny, nn = {}, {}, 0, 0
  for i = 1, n do
    local bi = 1 << (i - 1)
    for j = 1, n do
      if i ~= j and (i < j or rel == "parent" or rel == "ancestor") then
        local code, bj = (i * 8 + j) * 8, 1 << (j - 1)
        if rel == "collider" then
          local both = bi | bj
          for k = 1, n do
            if k ~= i and k ~= j then
              if pa[k] & both == both then ny = ny + 1; yes[ny] = code + k
              else nn = nn + 1; no[nn] = code + k end
            end
          end
        else
          local holds
          if rel == "parent" then holds = pa[j] & bi ~= 0
          elseif rel == "ancestor" then holds = de[i] & bj ~= 0
          else holds = cf[i] & bj ~= 0 end
          if holds then ny = ny + 1; yes[ny] = code
          else nn = nn + 1; no[nn] = code end
        end
      end
    end
  end
  return { yes = yes, no = no }
end

-- The class a prompt describes, as a string: its skeleton and v-structures
-- (two DAGs are Markov equivalent exactly when these agree), so DAGs of one
-- class, whose prompts read the same, count as one question. pa: parent
-- masks by letter number. The skeleton's pairs "AB" (first letter first)
-- and the v-structures "AB>C" (a -> C <- B, A and B not adjacent) each in
-- sorted order, which is letter order.
local PAIR, VSTRUCT = {}, {}
for a = 1, #LETTERS do
  PAIR[a], VSTRUCT[a] = {}, {}
  for b = 1, #LETTERS do
    PAIR[a][b], VSTRUCT[a][b] = LETTERS[a] .. LETTERS[b], {}
    for c = 1, #LETTERS do VSTRUCT[a][b][c] = LETTERS[a] .. LETTERS[b] .. ">" .. LETTERS[c] end
  end
end

local function class_key(pa, n)
  local adj = {}
  for v = 1, n do adj[v] = pa[v] end
  for v = 1, n do
    local ps = pa[v]
    for u = 1, n do
      if ps & (1 << (u - 1)) ~= 0 then adj[u] = adj[u] | (1 << (v - 1)) end
    end
  end
  local skel, vs, ns, nv = {}, {}, 0, 0
  for a = 1, n do
    for b = a + 1, n do
      local bb = 1 << (b - 1)
      if adj[a] & bb ~= 0 then
        ns = ns + 1
        skel[ns] = PAIR[a][b]
      else
        local both = (1 << (a - 1)) | bb
        for c = 1, n do
          if pa[c] & both == both then
            nv = nv + 1
            vs[nv] = VSTRUCT[a][b][c]
          end
        end
      end
    end
  end
  return table.concat(skel, ",") .. "|" .. table.concat(vs, ",")
end

-- Shared by the pair: the graph (so the statements, the prompt's bulk) and
-- the relation asked, with the hypotheses of that relation that hold over
-- the class and those that do not; each question then takes one of its
-- answer. Drawn until some relation has both; a graph with a v-structure
-- nearly always has one, so this returns nothing only in theory.
local LETTER_NUMBER = {}
for i, l in ipairs(LETTERS) do LETTER_NUMBER[l] = i end

local function pair_class(ctx, n)
  for _ = 1, 100 do
    -- drawn in C (scm_core.any_dag draws as any_dag does)
    local from, to, ne, node_pa, node_adj = scm_core.any_dag(ctx.rng, n)
    if not from then from, to, ne, node_pa, node_adj = any_dag(ctx.rng, n) end
    local letters = { table.unpack(LETTERS, 1, n) }
    ctx:shuffle(letters)
    -- without a v-structure every edge of the class can point either way
    -- and no hypothesis holds over all of it: no yes question
    if has_vstructure(node_pa, node_adj, n) then
      -- node v is named letters[v]; the class is asked of the graph over
      -- the letters, by letter number
      local num, pa = {}, {}
      for v = 1, n do num[v], pa[v] = LETTER_NUMBER[letters[v]], 0 end
      for e = 1, ne do
        local c = num[to[e]]
        pa[c] = pa[c] | (1 << (num[from[e]] - 1))
      end
      local common = assert(scm_core.mec_common(n, pa))
      local c = counts(common, n)
      local both = {}
      for r, name in ipairs(RELS) do
        local yes = c[2 * r - 1]
        if yes > 0 and yes < c[2 * r] then both[#both + 1] = name end
      end
      if #both > 0 then
        local rel = ctx:pick(both)
        local edges = {}
        for e = 1, ne do edges[e] = { letters[from[e]], letters[to[e]] } end
        return { edges = edges, rel = rel, lists = hypotheses(common, n, rel), class = class_key(pa, n),
                 common = common }
      end
    end
  end
end

return bench.family{
  name = "corr2cause",
  version = 3,
  rungs = { 2 },
  description = "from stated (in)dependencies to causal relations, answered over the equivalence class",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 1944, medium = 192200, hard = 7300000,
    method = "easy and medium exact: every graph the generator can draw enumerated, 2 x the hypotheses that hold, over "
      .. "each class and relation (fewer than those that do not); hard estimated: n^2/2(r+3) from 675 repeats in n = 100,000" },
  generate = function(ctx)
    local n = SIZE[ctx.difficulty]
    local shape = ctx:shared(pair_class, ctx, n)
    if not shape then return nil end
    local edges, rel = shape.edges, shape.rel
    local choices = shape.lists[ctx.want]
    local code = choices[ctx:int(1, #choices)]
    local third = code % 8
    local h = { LETTERS[code // 64], LETTERS[code // 8 % 8], third > 0 and LETTERS[third] or nil }
    local query = { type = "mec", relation = rel, a = h[1], b = h[2], var = h[3] }
    local m = ctx:random_model({ nodes = { table.unpack(LETTERS, 1, n) }, edges = edges }, { graph_only = true })
    -- the model's variables are the letters in order, as the class's masks
    -- are: the ground truth reads the pair's class instead of enumerating it
    questions.know_mec_common(m, shape.common)
    local nodes = { table.unpack(LETTERS, 1, n) }
    local function render()
      -- every statement of (conditional) (in)dependence, as a faithful distribution shows them
      local text = WRITTEN[shape]
      if not text then
        -- the model's variables are the letters in order: letter k is bit k - 1
        local list = STATEMENTS[n]
        local sep = m.core:dsep_each(list.x, list.y, list.z)
        local lines = {}
        for k, st in ipairs(list) do
          if sep[k] then lines[#lines + 1] = st.indep
          elseif st.dep then lines[#lines + 1] = st.dep end
        end
        text = table.concat(lines, " ")
        WRITTEN[shape] = text
      end
      local hyp = HYPOTHESES[rel](h[1], h[2], h[3])
      return ("Suppose there is a closed system of %d variables, %s. All the statistical relations among them are as follows. %s Hypothesis: %s Do the statistical relations imply the hypothesis? Answer yes or no."):format(
        n, bench.join(nodes), text, hyp), {}
    end
    return { model = m, query = query, rung = 2, query_kind = rel, render = render,
             key = shape.class .. "|" .. rel .. ":" .. h[1] .. h[2] .. (h[3] or "") }
  end,
}
