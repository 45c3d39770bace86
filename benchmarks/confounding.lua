-- SPDX-License-Identifier: MIT
-- Confounding: which variable is a confounder, whether an adjustment set is
-- valid, and Simpson's paradox with numbers, where the association in the
-- pooled data points the other way from the causal effect.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"

local KINDS = { "which", "valid_set", "simpson", "simpson" }
local LETTERS = { "A", "B", "C", "D" }

-- X = V2, Y = V4; V1 confounds, V3 mediates, V5 is a common effect, V6 an instrument
local ROLE_GRAPH = {
  nodes = { "V6", "V1", "V2", "V3", "V4", "V5" },
  edges = { { "V6", "V2" }, { "V1", "V2" }, { "V1", "V4" }, { "V2", "V3" }, { "V3", "V4" }, { "V2", "V5" }, { "V4", "V5" } },
}

return bench.family{
  name = "confounding",
  version = 2,
  rungs = { 2 },
  description = "confounders, valid adjustment sets, Simpson's paradox with numbers",
  generate = function(ctx)
    local kind = ctx:pick(KINDS)
    local u, units = ctx.domain.unit, ctx.domain.units
    local want = ctx.want == "yes"
    if kind == "which" or kind == "valid_set" then
      local m = ctx:random_model(ROLE_GRAPH, { graph_only = true })
      local x, y = "V2", "V4"
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
        local opts = { "V1", "V3", "V5", "V6" }
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
      local sets = { {}, { "V1" }, { "V3" }, { "V5" }, { "V1", "V3" }, { "V1", "V5" }, { "V1", "V6" }, { "V6" } }
      ctx:shuffle(sets)
      local chosen
      for _, s in ipairs(sets) do if m:backdoor(x, y, s) == want then chosen = s break end end
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
      m = ctx:random_model({ nodes = { "Z", "X", "Y" }, edges = { { "Z", "X" }, { "Z", "Y" }, { "X", "Y" } } },
        { tables = { Z = { pz }, X = px, Y = py } })
      ate = assert(m:ate("X", "Y"))
      naive = assert(m:p({ Y = 1 }, { X = 1 })) - assert(m:p({ Y = 1 }, { X = 0 }))
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
    return { model = m, rung = 2, query_kind = kind, render = render,
             query = { type = "effect_sign", effect = "ate", treatment = "X", outcome = "Y", direction = up and "increase" or "decrease" } }
  end,
}
