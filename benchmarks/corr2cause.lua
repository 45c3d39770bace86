-- SPDX-License-Identifier: MIT
-- From stated (in)dependencies to causal relations, in the manner of
-- Corr2Cause (Jin et al., ICLR 2024): the prompt lists every association and
-- conditional independence that holds among a few variables (a faithful
-- distribution of a hidden DAG); a hypothesis holds when it is true in every
-- DAG of the Markov equivalence class those statements determine.
local bench = require "causal_eval.bench"

local LETTERS = { "A", "B", "C", "D", "E", "F" }

local function subsets(list)
  local out = { {} }
  for _, v in ipairs(list) do
    local n = #out
    for i = 1, n do
      local s = { table.unpack(out[i]) }
      s[#s + 1] = v
      out[#out + 1] = s
    end
  end
  return out
end

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
    -- every statement of (conditional) (in)dependence, as a faithful distribution shows them
    local lines = {}
    for i = 1, n do
      for j = i + 1, n do
        local a, b = nodes[i], nodes[j]
        local rest = {}
        for _, v in ipairs(nodes) do if v ~= a and v ~= b then rest[#rest + 1] = v end end
        if m:dsep(a, b, {}) then lines[#lines + 1] = ("%s is independent of %s."):format(a, b)
        else lines[#lines + 1] = ("%s correlates with %s."):format(a, b) end
        for _, s in ipairs(subsets(rest)) do
          if #s > 0 and m:dsep(a, b, s) then
            lines[#lines + 1] = ("%s and %s are independent given %s."):format(a, b, bench.join(s))
          end
        end
      end
    end
    -- a hypothesis whose truth over the class is the wanted answer
    local cands = {}
    local want = ctx.want == "yes"
    local questions = require "causal_eval.questions"
    for _, rel in ipairs(RELS) do
      for i = 1, n do for j = 1, n do
        if i ~= j then
          local a, b = nodes[i], nodes[j]
          local tries = { { a = a, b = b } }
          if rel == "collider" then
            tries = {}
            for k = 1, n do if k ~= i and k ~= j and i < j then tries[#tries + 1] = { a = a, b = b, var = nodes[k] } end end
          end
          for _, t in ipairs(tries) do
            local q = { type = "mec", relation = rel, a = t.a, b = t.b, var = t.var }
            if (questions.SOLVERS.mec(m, q) == "yes") == want then cands[#cands + 1] = q end
          end
        end
      end end
    end
    if #cands == 0 then m:close() return nil end
    local query = ctx:pick(cands)
    local hyp = HYPOTHESES[query.relation](query.a, query.b, query.var)
    local prompt = ("Suppose there is a closed system of %d variables, %s. All the statistical relations among them are as follows. %s Hypothesis: %s Do the statistical relations imply the hypothesis? Answer yes or no."):format(
      n, bench.join(nodes), table.concat(lines, " "), hyp)
    return { model = m, prompt = prompt, query = query, rung = 2, variables = {}, query_kind = query.relation }
  end,
}
