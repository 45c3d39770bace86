-- SPDX-License-Identifier: MIT
-- "Had X not happened, would Y have happened?" Deterministic worlds given as
-- rules (the answer follows by substitution), effects of treatment on the
-- treated, and the probability of necessity in a world whose mechanisms are
-- stated to be monotone.
local bench = require "causal_eval.bench"

local function rule(ctx, parents)
  if #parents == 1 then return { op = ctx:chance(0.3) and "not" or "id", parents = parents } end
  return { op = ctx:pick({ "and", "or" }), parents = parents, neg = ctx:chance(0.3) and ctx:int(1, #parents) or nil }
end

local function rule_table(g)
  local k, t = #g.parents, {}
  for i = 0, (1 << k) - 1 do
    local v
    for j = 1, k do
      local b = (i >> (k - j)) & 1
      if g.op == "not" or g.neg == j then b = 1 - b end
      if v == nil then v = b
      elseif g.op == "and" then v = v & b
      else v = v | b end
    end
    t[i + 1] = v
  end
  return t
end

local function rule_text(g, words, n)
  local lits = {}
  for j, p in ipairs(g.parents) do
    lits[j] = (g.op == "not" or g.neg == j) and words[p].no or words[p].yes
  end
  local cond
  if #lits == 1 then cond = "it " .. lits[1]
  elseif g.op == "and" then cond = "it " .. bench.join(lits)
  else cond = "it " .. bench.join(lits, "or") end
  return ("A %s %s exactly when %s."):format(words.__unit, words[n].yes, cond)
end

local KINDS = { "deterministic", "deterministic", "ett", "necessity" }

return bench.family{
  name = "counterfactual",
  version = 3,
  rungs = { 3 },
  description = "deterministic and probabilistic 'had X not happened, would Y' questions",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 100000, medium = 1100000, hard = 1200000000,
    method = "easy measured (100,000 made, a lower bound); medium and hard estimated: n^2/2(r+3) from r repeats in n = 100,000 (4181, 1)" },
  generate = function(ctx)
    -- the kind is the pair's: a kind that needs more attempts for one answer
    -- cannot then lean toward the other
    local kind = ctx.pair:pick(KINDS)
    local u, units = ctx.domain.unit, ctx.domain.units
    if kind == "deterministic" then
      local g = ctx:random_dag(ctx:size(), nil, 2)
      local parents, rules, tables = {}, {}, {}
      for _, e in ipairs(g.edges) do parents[e[2]] = parents[e[2]] or {}; table.insert(parents[e[2]], e[1]) end
      for _, n in ipairs(g.nodes) do
        if parents[n] then rules[n] = rule(ctx, parents[n]); tables[n] = rule_table(rules[n])
        else tables[n] = { 0.5 } end
      end
      local m = ctx:random_model(g, { tables = tables })
      local order = m:topo()
      local x, y = order[ctx:int(1, #order - 1)], order[#order]
      local roots, given = m:roots(), {}
      for _, r in ipairs(roots) do given[r] = ctx:int(0, 1) end
      local factual = assert(m:counterfactual{ event = { [x] = 1 }, given = given }) >= 0.5 and 1 or 0
      local d = { [x] = 1 - factual }
      local yv = assert(m:counterfactual{ event = { [y] = 1 }, ["do"] = d, given = given }) >= 0.5 and 1 or 0
      local ask = (yv == 1) == (ctx.want == "yes") and 1 or 0
      local function render()
        local words = ctx:label(order)
        words.__unit = u
        local lines = {}
        for _, n in ipairs(order) do if rules[n] then lines[#lines + 1] = rule_text(rules[n], words, n) end end
        local ev = {}
        for _, r in ipairs(roots) do ev[#ev + 1] = given[r] == 1 and words[r].yes or words[r].no end
        local prompt = ("In this world the following rules hold for every %s, without exception: %s We look at one %s that %s. "):format(
          u, table.concat(lines, " "), u, bench.join(ev)) ..
          ctx:wording({
            ("Had it been one that %s, would it be one that %s?"):format(d[x] == 1 and words[x].yes or words[x].no,
              ask == 1 and words[y].yes or words[y].no),
            ("Suppose we go back and make it one that %s. Would it then be one that %s?"):format(
              d[x] == 1 and words[x].yes or words[x].no, ask == 1 and words[y].yes or words[y].no),
          }) .. " Answer yes or no."
        local variables = {}
        for n, w in pairs(words) do if n ~= "__unit" then variables[n] = w.name end end
        return prompt, variables
      end
      return { model = m, rung = 3, query_kind = kind, render = render, shows_tables = true,
               query = { type = "counterfactual_value", var = y, value = ask, ["do"] = d, given = given } }
    end
    if kind == "ett" then
      local g = ctx:random_dag(math.max(3, ctx:size() - 1))
      local m = ctx:random_model(g)
      local order = m:topo()
      local x, y = order[1], order[#order]
      if not m:directed_path(x, y) then m:close() return nil end
      local v = assert(m:ett(x, y))
      if math.abs(v) < 0.02 then m:close() return nil end
      local more = (v < 0) == (ctx.want == "yes") -- Y more likely had X been 0 <=> effect on the treated < 0
      local function render()
        local words = ctx:label(order)
        local prompt = ("Consider %s in a world where only these causal relationships hold: "):format(units) ..
          ctx:describe_edges(m, words) .. " " .. ctx:describe_tables(m, words) ..
          (" Take the %s that %s. Had they not, would they be %s likely to be ones that %s? Answer yes or no."):format(
            units, words[x].yes, more and "more" or "less", words[y].yes)
        local variables = {}
        for n, w in pairs(words) do variables[n] = w.name end
        return prompt, variables
      end
      return { model = m, rung = 3, query_kind = kind, render = render, shows_tables = true,
               query = { type = "effect_sign", effect = "ett", treatment = x, outcome = y,
                         direction = more and "decrease" or "increase" } }
    end
    -- probability of necessity, X -> Y (with a second cause W -> Y), monotone mechanisms
    local lo = ctx:prob(0.05, 0.45)
    local hi = ctx:prob(lo + 0.1, 0.95)
    local w_lo, w_hi = ctx:prob(0.05, 0.4), ctx:prob(0.5, 0.95)
    local pw = ctx:prob(0.2, 0.8)
    local ty = { lo * w_lo / w_hi, lo, hi * w_lo / w_hi, hi } -- keeps P(Y | X, W) increasing in X and W
    for i = 1, 4 do ty[i] = math.floor(ty[i] * 100 + 0.5) / 100 end
    if not (ty[1] < ty[3] and ty[2] < ty[4] and ty[1] <= ty[2] and ty[3] <= ty[4]) then return nil end
    local m = ctx:random_model({ nodes = { "V1", "V2", "V3" }, edges = { { "V1", "V3" }, { "V2", "V3" } } },
      { tables = { V1 = { ctx:prob(0.2, 0.8) }, V2 = { pw }, V3 = ty } })
    local x, y = "V1", "V3"
    local function render()
      local words = ctx:label(m:topo())
      local prompt = ("Consider %s in a world where only these causal relationships hold: "):format(units) ..
        ctx:describe_edges(m, words) .. " " .. ctx:describe_tables(m, words) ..
        (" Assume that %s never makes it less likely that a %s %s, for any single %s. A %s %s and %s. What is the probability that it would not be one that %s had it not been one that %s? Give a number between 0 and 1."):format(
          words[x].name, u, words[y].yes, u, u, words[x].yes, words[y].yes, words[y].yes, words[x].yes)
      local variables = {}
      for n, wd in pairs(words) do variables[n] = wd.name end
      return prompt, variables
    end
    return { model = m, rung = 3, query_kind = kind, render = render, shows_tables = true,
             query = { type = "counterfactual", event = { [y] = 0 }, ["do"] = { [x] = 0 }, given = { [x] = 1, [y] = 1 } } }
  end,
}
