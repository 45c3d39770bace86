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

return bench.family{
  name = "corr2cause",
  version = 1,
  rungs = { 2 },
  description = "from stated (in)dependencies to causal relations, answered over the equivalence class",
  generate = function(ctx)
    local n = ({ easy = 3, medium = 4, hard = 5 })[ctx.difficulty]
    local g = ctx:random_dag(n, 0.4, 3)
    -- letters in a shuffled order, so the alphabet does not give the causal order away
    local letters = { table.unpack(LETTERS, 1, n) }
    ctx:shuffle(letters)
    local rename = {}
    for i, v in ipairs(g.nodes) do rename[v] = letters[i] end
    local edges = {}
    for i, e in ipairs(g.edges) do edges[i] = { rename[e[1]], rename[e[2]] } end
    local nodes = { table.unpack(LETTERS, 1, n) }
    local m = ctx:random_model({ nodes = nodes, edges = edges }, { graph_only = true })
    -- a hypothesis whose truth over the class is the wanted answer: candidates
    -- in random order, checked until one fits. They are listed as small
    -- integers and built as tables only when checked (most questions check a
    -- few of the 60 to 130); the order is the same shuffle as a list of tables.
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
    ctx:shuffle(codes)
    local want = ctx.want == "yes"
    local questions = require "causal_eval.questions"
    local solve_mec = questions.SOLVERS.mec
    local common = assert(questions.mec_common(m))
    local ix = {}
    for i = 1, n do ix[i] = m.index[nodes[i]] + 1 end
    -- what the solver would answer, read from the class's common masks (the
    -- confounder relation needs the DAGs themselves: the solver answers it)
    local function holds(r, i, j, k)
      local rel, a, b = RELS[r], ix[i], ix[j]
      if rel == "parent" then return common.pa[b] & (1 << (a - 1)) ~= 0 end
      if rel == "child" then return common.pa[a] & (1 << (b - 1)) ~= 0 end
      if rel == "ancestor" then return common.de[a] & (1 << (b - 1)) ~= 0 end
      if rel == "descendant" then return common.de[b] & (1 << (a - 1)) ~= 0 end
      if rel == "collider" then
        local c = ix[k]
        return common.pa[c] & (1 << (a - 1)) ~= 0 and common.pa[c] & (1 << (b - 1)) ~= 0
      end
      return solve_mec(m, { type = "mec", relation = rel, a = nodes[i], b = nodes[j] }) == "yes"
    end
    local query
    for _, code in ipairs(codes) do
      local k, j, i, r = code % 8, code // 8 % 8, code // 64 % 8, code // 512
      if holds(r, i, j, k) == want then
        query = { type = "mec", relation = RELS[r], a = nodes[i], b = nodes[j], var = k > 0 and nodes[k] or nil }
        break
      end
    end
    if not query then m:close() return nil end
    local function render()
      -- every statement of (conditional) (in)dependence, as a faithful distribution shows them
      local lines = {}
      local core = m.core
      for i = 1, n do
        for j = i + 1, n do
          local a, b = nodes[i], nodes[j]
          local rest = {}
          for k = 1, n do if k ~= i and k ~= j then rest[#rest + 1] = k end end
          local ma, mb = 1 << m:id(a), 1 << m:id(b)
          if core:dsep(ma, mb, 0) then lines[#lines + 1] = a .. " is independent of " .. b .. "."
          else lines[#lines + 1] = a .. " correlates with " .. b .. "." end
          for sub = 1, (1 << #rest) - 1 do
            local mask, names = 0, {}
            for r = 1, #rest do
              if sub & (1 << (r - 1)) ~= 0 then
                mask = mask | (1 << m:id(nodes[rest[r]]))
                names[#names + 1] = nodes[rest[r]]
              end
            end
            if core:dsep(ma, mb, mask) then
              lines[#lines + 1] = a .. " and " .. b .. " are independent given " .. bench.join(names) .. "."
            end
          end
        end
      end
      local hyp = HYPOTHESES[query.relation](query.a, query.b, query.var)
      return ("Suppose there is a closed system of %d variables, %s. All the statistical relations among them are as follows. %s Hypothesis: %s Do the statistical relations imply the hypothesis? Answer yes or no."):format(
        n, bench.join(nodes), table.concat(lines, " "), hyp), {}
    end
    return { model = m, query = query, rung = 2, query_kind = query.relation, render = render }
  end,
}
