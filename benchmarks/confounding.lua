-- SPDX-License-Identifier: MIT
-- Confounding: which variable is a confounder, whether an adjustment set is
-- valid (in random graphs), and Simpson's paradox with numbers, where the
-- association in the pooled data points the other way from the causal effect.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"
local scm = require "causal_eval.scm"

local KINDS = { "which", "valid_set", "simpson", "simpson" }
local LETTERS = { "A", "B", "C", "D" }

-- sets of up to two of the variables in list
local function small_sets(list)
  local out = { {} }
  for i = 1, #list do
    out[#out + 1] = { list[i] }
    for j = i + 1, #list do out[#out + 1] = { list[i], list[j] } end
  end
  return out
end

-- Is target (a mask) reachable from the nodes of frontier by directed
-- paths that do not pass through the nodes of avoid? ch: children masks by
-- node number (0-based).
local function reaches(frontier, target, avoid, ch, n)
  local seen = 0
  frontier = frontier & ~avoid
  while frontier ~= 0 do
    if frontier & target ~= 0 then return true end
    seen = seen | frontier
    local next_ = 0
    for k = 0, n - 1 do
      if frontier & (1 << k) ~= 0 then next_ = next_ | ch[k] end
    end
    frontier = next_ & ~seen & ~avoid
  end
  return false
end

-- A random graph with a treatment X and an outcome Y it affects, the
-- variables that confound the effect (a directed path to each that avoids
-- the other, as the common_cause query has it) and those that do not, and
-- the small adjustment sets that are valid and those that are not. Drawn
-- until both kinds of variable and of set exist, so the yes and the no
-- question of a pair are asked about one graph.
local function role_graph(ctx)
  for _ = 1, 50 do
    local g = ctx:random_dag(ctx:size() + 1)
    local m = ctx:random_model(g, { graph_only = true })
    local core, order = m.core, m:topo()
    -- nodes by number (their place in g.nodes, the model's index), edges
    -- as children masks, and each node's strict descendants
    local nn, id, bit, ch = #g.nodes, {}, {}, {}
    for k, n in ipairs(g.nodes) do id[n], bit[n], ch[k - 1] = k - 1, 1 << (k - 1), 0 end
    for _, e in ipairs(g.edges) do
      local f = id[e[1]]
      ch[f] = ch[f] | bit[e[2]]
    end
    local de = {}
    for i = #order, 1, -1 do
      local v = id[order[i]]
      local d, c = 0, ch[v]
      for k = 0, nn - 1 do
        if c & (1 << k) ~= 0 then d = d | (1 << k) | de[k] end
      end
      de[v] = d
    end
    -- every treatment and outcome it affects (places i, j in order, as
    -- i * 32 + j), in random order, before another graph (a graph costs
    -- more than a pair)
    local cands = {}
    for i = 1, #order - 1 do
      local di = de[id[order[i]]]
      for j = i + 1, #order do
        if di & bit[order[j]] ~= 0 then cands[#cands + 1] = i * 32 + j end
      end
    end
    ctx:shuffle(cands)
    for _, c in ipairs(cands) do
      local x, y = order[c // 32], order[c % 32]
      local bx, by = bit[x], bit[y]
      local others, conf, plain = {}, {}, {}
      for _, v in ipairs(order) do
        if v ~= x and v ~= y then
          others[#others + 1] = v
          local cv = ch[id[v]]
          local is = reaches(cv, bx, by, ch, nn) and reaches(cv, by, bx, ch, nn)
          if is then conf[#conf + 1] = v else plain[#plain + 1] = v end
        end
      end
      if #conf > 0 and #plain > 0 then
        local valid, invalid = {}, {}
        for _, set in ipairs(small_sets(others)) do
          local mask = 0
          for _, v in ipairs(set) do mask = mask | bit[v] end
          if core:backdoor(bit[x], bit[y], mask) then valid[#valid + 1] = set else invalid[#invalid + 1] = set end
        end
        if #valid > 0 and #invalid > 0 then
          m:close()
          return { graph = g, x = x, y = y, conf = conf, plain = plain, valid = valid, invalid = invalid }
        end
      end
    end
    m:close()
  end
end

return bench.family{
  name = "confounding",
  version = 3,
  rungs = { 2 },
  description = "confounders, valid adjustment sets, Simpson's paradox with numbers",
  -- distinct questions at each difficulty (generate --capacity, docs/questions.md)
  capacity = { easy = 100000, medium = 7300000, hard = 98000000,
    method = "easy measured (100,000 made, a lower bound); medium and hard estimated: n^2/2(r+3) from r repeats in n = 100,000 (675, 48)" },
  generate = function(ctx)
    local kind = ctx.pair:pick(KINDS)
    local u, units = ctx.domain.unit, ctx.domain.units
    local want = ctx.want == "yes"
    if kind == "which" or kind == "valid_set" then
      local r = ctx:shared(role_graph, ctx)
      if not r then return nil end
      local m, x, y = ctx:random_model(r.graph, { graph_only = true }), r.x, r.y
      local intro = function(words)
        return ("Consider %s in a world where only these causal relationships hold: "):format(units) ..
          ctx:describe_edges(m, words) .. " "
      end
      local function vars_of(words)
        local variables = {}
        for n, w in pairs(words) do variables[n] = w.name end
        return variables
      end
      if kind == "which" then
        -- one confounder among up to three variables that are not
        local opts = { ctx:pick(r.conf) }
        local plain = { table.unpack(r.plain) }
        ctx:shuffle(plain)
        for k = 1, math.min(3, #plain) do opts[#opts + 1] = plain[k] end
        ctx:shuffle(opts)
        local choices, labels = {}, {}
        for i, v in ipairs(opts) do
          choices[i] = { label = LETTERS[i], query = { type = "graph", relation = "common_cause", a = x, b = y, via = v } }
          labels[i] = LETTERS[i]
        end
        local function render()
          local words = ctx:label(m:topo())
          local lines = {}
          for i, v in ipairs(opts) do
            choices[i].text = words[v].name
            lines[i] = LETTERS[i] .. ") " .. words[v].name
          end
          return intro(words) .. ("Which of these confounds the effect of %s on %s? %s. Answer with the letter of one option."):format(
            words[x].name, words[y].name, table.concat(lines, "; ")), vars_of(words)
        end
        return { model = m, query = { type = "choice", choices = choices }, rung = 2, query_kind = kind,
                 choices = json.array(labels), render = render }
      end
      local chosen = ctx:pick(want and r.valid or r.invalid)
      local function render()
        local words = ctx:label(m:topo())
        local names = {}
        for i, v in ipairs(chosen) do names[i] = words[v].name end
        return intro(words) .. ("To estimate the causal effect of %s on %s from observational data, is it valid to %s? Answer yes or no."):format(
          words[x].name, words[y].name,
          #chosen == 0 and "compare the groups without adjusting for anything" or ("adjust for " .. bench.join(names))), vars_of(words)
      end
      return { model = m, rung = 2, query_kind = kind, render = render,
               query = { type = "graph", relation = "backdoor", treatment = x, outcome = y, set = json.array(chosen) } }
    end
    -- Simpson's paradox: Z -> X, Z -> Y, X -> Y with the pooled association reversed
    local m, ate, naive
    for _ = 1, 40 do
      local pz = ctx:prob(0.2, 0.8)
      local px = { ctx:prob(0.05, 0.3), ctx:prob(0.7, 0.95) } -- Z strongly drives X
      local base0, base1 = ctx:prob(0.05, 0.4), ctx:prob(0.55, 0.9) -- and Y
      local eff = ctx:prob(0.03, 0.15) * (ctx:chance(0.5) and 1 or -1)
      local py = { base0, math.min(0.99, math.max(0.01, base0 + eff)), base1, math.min(0.99, math.max(0.01, base1 + eff)) }
      for i = 1, 4 do py[i] = math.floor(py[i] * 100 + 0.5) / 100 end
      -- the model ctx:random_model makes of this graph and these tables, and
      -- m:ate("X", "Y"), m:p({ Y = 1 }, { X = x }) straight from the engine
      -- (Z, X, Y are variables 0, 1, 2): a pair tries a dozen tables
      m = assert(scm.from_list({ { name = "Z", parents = {}, p = { pz } }, { name = "X", parents = { "Z" }, p = px },
                                 { name = "Y", parents = { "Z", "X" }, p = py } }))
      local core = m.core
      ate = assert(core:ate(1, 2))
      naive = assert(core:prob(4, 4, 2, 2, 0, 0)) - assert(core:prob(4, 4, 2, 0, 0, 0))
      if ate * naive < 0 and math.abs(ate) >= 0.02 and math.abs(naive) >= 0.02 then break end
      m:close()
      m = nil
    end
    if not m then return nil end
    local up = (ate > 0) == want
    local function render()
      local words = ctx:label(m:topo())
      local Z, X, Y = words.Z, words.X, words.Y
      local function rate(given) return bench.pct(assert(m:p({ Y = 1 }, given))) end
      local prompt = ("In a study of %s, %s affects both whether a %s %s and whether it %s, and %s also affects %s directly. No other causal links exist. "):format(
        units, Z.name, u, X.yes, Y.yes, X.name, Y.name) ..
        ("A %s %s with probability %s. "):format(u, Z.yes, bench.pct(m:table("Z")[1])) ..
        ("If a %s %s, it %s with probability %s, and if it %s, with probability %s. "):format(
          u, Z.yes, X.yes, bench.pct(m:table("X")[2]), Z.no, bench.pct(m:table("X")[1])) ..
        ("When a %s %s: if it %s, the probability that it %s is %s; if it %s, %s. "):format(
          u, Z.yes, X.yes, Y.yes, rate({ Z = 1, X = 1 }), X.no, rate({ Z = 1, X = 0 })) ..
        ("When a %s %s: if it %s, the probability that it %s is %s; if it %s, %s. "):format(
          u, Z.no, X.yes, Y.yes, rate({ Z = 0, X = 1 }), X.no, rate({ Z = 0, X = 0 }))
      if ctx.adversarial or ctx:text_chance(0.5) then
        prompt = prompt .. ("Pooling all %s, the probability that a %s %s is %s among those that %s and %s among those that %s. "):format(
          units, u, Y.yes, rate({ X = 1 }), X.yes, rate({ X = 0 }), X.no)
      end
      prompt = prompt .. ("If we intervened so that a %s %s, would that %s the probability that it %s? Answer yes or no."):format(
        u, X.yes, up and "increase" or "decrease", Y.yes)
      local variables = {}
      for n, w in pairs(words) do variables[n] = w.name end
      return prompt, variables
    end
    return { model = m, rung = 2, query_kind = kind, render = render, shows_tables = true,
             query = { type = "effect_sign", effect = "ate", treatment = "X", outcome = "Y", direction = up and "increase" or "decrease" } }
  end,
}
