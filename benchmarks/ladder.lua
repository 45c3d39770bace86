-- SPDX-License-Identifier: MIT
-- CLadder's ten query types over its ten graph shapes, rungs 1 to 3
-- (Jin et al., NeurIPS 2023), with new numbers and stories, and answers from
-- the exact engine with Pearl's definitions.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"
local scm = require "causal_eval.scm"

-- graph shape -> edges, and the query types CLadder asks on it, less two
-- whose answer is always no (a fork's back-door sets are both valid; the two
-- causes of a collision are uncorrelated), which a model could learn by shape
local GRAPHS = {
  chain = { edges = "X->V2,V2->Y", queries = { "marginal", "correlation", "ate", "ett", "nie", "backadj", "det" } },
  fork = { edges = "X->Y,V2->Y", queries = { "marginal", "correlation", "ate", "ett", "det" } },
  collision = { edges = "X->V3,Y->V3", queries = { "marginal", "backadj", "collider_bias", "exp_away" } },
  confounding = { edges = "V1->X,V1->Y,X->Y", queries = { "marginal", "correlation", "ate", "ett", "backadj", "det" } },
  mediation = { edges = "X->V2,X->Y,V2->Y", queries = { "marginal", "correlation", "ate", "ett", "nde", "nie", "backadj", "det" } },
  frontdoor = { edges = "V1->X,X->V3,V1->Y,V3->Y", queries = { "marginal", "correlation", "ate", "ett", "nie", "backadj", "det" } },
  IV = { edges = "V1->X,V2->X,V1->Y,X->Y", queries = { "marginal", "correlation", "ate", "backadj", "det" } },
  arrowhead = { edges = "X->V3,V2->V3,X->Y,V2->Y,V3->Y", queries = { "marginal", "correlation", "ate", "ett", "nde", "nie", "backadj", "det" } },
  diamond = { edges = "X->V3,X->V2,V2->Y,V3->Y", queries = { "marginal", "correlation", "ate", "ett", "nie", "backadj", "det" } },
  diamondcut = { edges = "V1->V3,V1->X,X->Y,V3->Y", queries = { "marginal", "correlation", "ate", "ett", "backadj", "det" } },
}
local SHAPES = { "chain", "fork", "collision", "confounding", "mediation", "frontdoor", "IV", "arrowhead", "diamond", "diamondcut" }
local RUNG = { marginal = 1, correlation = 1, exp_away = 1, ate = 2, backadj = 2, collider_bias = 2,
               ett = 3, nde = 3, nie = 3, det = 3 }

-- the correct adjustment set of each shape (CLadder 3.7), and the wrong one
local BACKADJ = {
  chain = { {}, { "V2" } }, fork = { {}, { "V2" } }, collision = { {}, { "V3" } },
  confounding = { { "V1" }, {} }, mediation = { {}, { "V2" } }, frontdoor = { { "V1" }, {} },
  IV = { { "V1" }, {} }, arrowhead = { {}, { "V3" } }, diamond = { {}, { "V3" } }, diamondcut = { { "V3" }, {} },
}

-- each shape's edges and topological order, worked out once
for _, spec in pairs(GRAPHS) do
  spec.parsed = scm.parse_graph(spec.edges)
  local m = assert(scm.model{ graph = spec.parsed })
  spec.order = { table.unpack(m:topo()) }
  m:close()
end

-- deterministic equations as gates, so they can be said in words
local function gate(ctx, parents)
  if #parents == 1 then
    local neg = ctx:chance(0.3)
    return { op = neg and "not" or "id", parents = parents }
  end
  return { op = ctx:pick({ "and", "or" }), parents = parents, neg = ctx:chance(0.25) and ctx:int(1, #parents) or nil }
end

local function gate_table(g)
  local k = #g.parents
  local t = {}
  for i = 0, (1 << k) - 1 do
    local vals = {}
    for j = 1, k do vals[j] = (i >> (k - j)) & 1 end
    if g.neg then vals[g.neg] = 1 - vals[g.neg] end
    local v
    if g.op == "id" then v = vals[1]
    elseif g.op == "not" then v = 1 - vals[1]
    elseif g.op == "and" then v = 1 for j = 1, k do v = v & vals[j] end
    else v = 0 for j = 1, k do v = v | vals[j] end end
    t[i + 1] = v
  end
  return t
end

local function gate_text(g, words, n)
  local function lit(j)
    local p = g.parents[j]
    if (g.op == "not") or (g.neg == j) then return "the " .. "condition that it " .. words[p].no end
    return "the condition that it " .. words[p].yes
  end
  local parts = {}
  for j = 1, #g.parents do parts[j] = lit(j) end
  local rule
  if g.op == "id" or g.op == "not" then rule = parts[1]
  elseif g.op == "and" then rule = "all of: " .. bench.join(parts)
  else rule = "at least one of: " .. bench.join(parts, "or") end
  return ("It %s exactly when %s holds."):format(words[n].yes, rule)
end

local function q_text(ctx, words, kind, info)
  local u = ctx.domain.unit
  local x, y = words.X, words.Y
  if kind == "marginal" then
    return ctx:wording({
      ("Is a %s overall more likely to be one that %s than one that %s?"):format(u, info.pos and y.yes or y.no, info.pos and y.no or y.yes),
      ("Overall, is it more likely that a %s %s than that it %s?"):format(u, info.pos and y.yes or y.no, info.pos and y.no or y.yes),
    })
  elseif kind == "correlation" then
    return ctx:wording({
      ("Is the chance that a %s %s %s when we observe that it %s?"):format(u, y.yes, info.pos and "larger" or "smaller", x.yes),
      ("When a %s is seen to be one that %s, is it %s likely that it %s?"):format(u, x.yes, info.pos and "more" or "less", y.yes),
    })
  elseif kind == "ate" then
    return ctx:wording({
      ("If we made a %s one that %s, would that %s the chance that it %s?"):format(u, x.yes, info.pos and "increase" or "decrease", y.yes),
      ("Would intervening so that a %s %s %s the probability that it %s?"):format(u, x.yes, info.pos and "raise" or "lower", y.yes),
    })
  elseif kind == "ett" then
    return ctx:wording({
      ("For a %s that %s, would it have been %s likely to be one that %s had it not been one that %s?"):format(u, x.yes, info.pos and "more" or "less", y.yes, x.yes),
      ("Take the %s that %s. Had they not, would they be %s likely to be ones that %s?"):format(ctx.domain.units, x.yes, info.pos and "more" or "less", y.yes),
    })
  elseif kind == "nde" then
    return ("Leaving aside the effect that passes through %s, does %s %s affect %s?"):format(
      bench.join(info.mediators), x.name, info.pos and "positively" or "negatively", y.name)
  elseif kind == "nie" then
    return ("Does %s %s affect %s through %s?"):format(x.name, info.pos and "positively" or "negatively", y.name, bench.join(info.mediators, "or"))
  elseif kind == "backadj" then
    local function method(set)
      if #set == 0 then return "looking at the association between the two directly" end
      local names = {}
      for i, v in ipairs(set) do names[i] = words[v].name end
      return "looking at the association between the two within each group of " .. bench.join(names)
    end
    return ("To learn how %s affects %s, is method 1 (%s) more correct than method 2 (%s)?"):format(
      x.name, y.name, method(info.set1), method(info.set2))
  elseif kind == "collider_bias" then
    return ("Among the %s that %s, does %s %s?"):format(ctx.domain.units, words.V3.yes, x.name,
      info.pos and ("have an effect on " .. y.name) or ("have no effect on " .. y.name))
  elseif kind == "exp_away" then
    return ("Among the %s that %s, is a %s that %s %s likely to be one that %s?"):format(ctx.domain.units,
      words.V3.yes, u, x.yes, info.pos and "more" or "less", y.yes)
  end
end

return bench.family{
  name = "ladder",
  version = 3,
  rungs = { 1, 2, 3 },
  description = "CLadder's ten query types over its ten graph shapes, rungs 1-3",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 210000, medium = 210000, hard = 210000,
    method = "estimated: n^2/2(r+3) from 7600 repeats in n = 100,000, about 650,000 in all, shared by the three difficulties (the shapes have no size)" },
  generate = function(ctx)
    -- shape and query type are the pair's, so the yes and the no question
    -- are asked alike
    local shape = ctx.pair:pick(SHAPES)
    local spec = GRAPHS[shape]
    local kind = ctx.pair:pick(spec.queries)
    local edges, order = spec.parsed, spec.order
    local m, eqs
    if kind == "det" then
      eqs = {}
      local tables = {}
      local parents = {}
      for _, e in ipairs(edges) do parents[e[2]] = parents[e[2]] or {}; table.insert(parents[e[2]], e[1]) end
      for _, n in ipairs(order) do
        if parents[n] then
          eqs[n] = gate(ctx, parents[n])
          tables[n] = gate_table(eqs[n])
        else
          tables[n] = { 0.5 }
        end
      end
      m = ctx:random_model({ nodes = order, edges = edges }, { tables = tables })
    else
      m = ctx:random_model({ nodes = order, edges = edges })
    end
    -- pick the polarity that gives the wanted answer, from the exact value
    -- (values under the threshold answer "no" either way)
    local want_yes = ctx.want == "yes"
    local function polarity(v, threshold)
      if math.abs(v) < (threshold or 0) or v == 0 then return ctx:chance(0.5) end
      return (v > 0) == want_yes
    end
    local info = {}
    local query, pos, roots, d
    if kind == "marginal" then
      pos = polarity(assert(m:p{ Y = 1 }) - 0.5)
      query = { type = "prob_compare", relation = pos and ">" or "<", left = { event = { Y = 1 } }, right = { value = 0.5 } }
    elseif kind == "correlation" then
      pos = polarity(assert(m:p({ Y = 1 }, { X = 1 })) - assert(m:p({ Y = 1 }, { X = 0 })), 0.005)
      query = { type = "prob_compare", relation = pos and ">" or "<", threshold = 0.005,
                left = { event = { Y = 1 }, given = { X = 1 } }, right = { event = { Y = 1 }, given = { X = 0 } } }
    elseif kind == "ate" or kind == "ett" or kind == "nde" or kind == "nie" then
      pos = polarity(assert(m[kind](m, "X", "Y")), 0.005)
      query = { type = "effect_sign", effect = kind, treatment = "X", outcome = "Y", direction = pos and "increase" or "decrease" }
    elseif kind == "backadj" then
      local good, bad = BACKADJ[shape][1], BACKADJ[shape][2]
      info.set1, info.set2 = good, bad
      if not want_yes then info.set1, info.set2 = bad, good end
      query = { type = "adjust_compare", treatment = "X", outcome = "Y",
                set1 = json.array(info.set1), set2 = json.array(info.set2) }
    elseif kind == "collider_bias" then
      pos = m:directed_path("X", "Y") == want_yes
      -- "has no effect" is the negation: yes exactly when there is no directed path
      query = { type = "graph", relation = "causes", from = "X", to = "Y", negate = not pos or nil }
    elseif kind == "exp_away" then
      pos = polarity(assert(m:p({ Y = 1 }, { X = 1, V3 = 1 })) - assert(m:p({ Y = 1 }, { V3 = 1 })))
      query = { type = "prob_compare", relation = pos and ">" or "<",
                left = { event = { Y = 1 }, given = { X = 1, V3 = 1 } }, right = { event = { Y = 1 }, given = { V3 = 1 } } }
    elseif kind == "det" then
      roots = {}
      for _, r in ipairs(m:roots()) do if r ~= "X" then roots[r] = ctx:int(0, 1) end end
      d = { X = ctx:int(0, 1) }
      local yv = assert(m:counterfactual{ event = { Y = 1 }, ["do"] = d, given = roots }) >= 0.5 and 1 or 0
      pos = (yv == 1) == want_yes
      query = { type = "counterfactual_value", var = "Y", value = pos and 1 or 0, ["do"] = d, given = roots }
    end
    info.pos = pos
    local function render()
      local words = ctx:label(order)
      info.mediators = {}
      for _, v in ipairs(m:mediators("X", "Y")) do info.mediators[#info.mediators + 1] = words[v].name end
      local facts
      if kind == "det" then
        local lines = {}
        for _, n in ipairs(order) do if eqs[n] then lines[#lines + 1] = gate_text(eqs[n], words, n) end end
        local ev = {}
        for r, v in pairs(roots) do ev[#ev + 1] = v == 1 and words[r].yes or words[r].no end
        table.sort(ev)
        facts = table.concat(lines, " ") .. (#ev > 0 and (" We know that the " .. ctx.domain.unit .. " " .. bench.join(ev) .. ".") or "")
        info.question = ("Suppose the %s %s instead. Would it then be one that %s?"):format(
          ctx.domain.unit, d.X == 1 and words.X.yes or words.X.no, pos and words.Y.yes or words.Y.no)
      end
      local intro = ("Consider %s in a closed world where only the following causal relations hold: "):format(ctx.domain.units)
      local prompt = intro .. ctx:describe_edges(m, words) .. " " .. (facts or ctx:describe_tables(m, words)) ..
        " " .. (info.question or q_text(ctx, words, kind, info)) .. " Answer yes or no."
      local variables = {}
      for n, w in pairs(words) do variables[n] = w.name end
      return prompt, variables
    end
    return { model = m, query = query, rung = RUNG[kind], graph_shape = shape, query_kind = kind, render = render,
             shows_tables = true }
  end,
}
