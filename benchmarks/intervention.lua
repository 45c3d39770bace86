-- SPDX-License-Identifier: MIT
-- Effects of interventions, do(X): the sign and the size of the average
-- treatment effect, interventional probabilities, and whether a set of
-- variables is a valid back-door adjustment or a front-door route.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"

local function pick_pair(ctx, m)
  -- treatment and outcome with a directed path from one to the other
  local order = m:topo()
  for _ = 1, 20 do
    local i = ctx:int(1, #order - 1)
    local j = ctx:int(i + 1, #order)
    if m:directed_path(order[i], order[j]) then return order[i], order[j] end
  end
  return nil
end

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

return bench.family{
  name = "intervention",
  version = 2,
  rungs = { 2 },
  description = "effects of do(X): sign and size of the ATE, back-door and front-door adjustment",
  generate = function(ctx)
    local kind = ctx:pick(KINDS)
    local m, x, y
    if kind == "frontdoor" then
      -- U (unobserved) -> X, U -> Y, X -> M -> Y; sometimes broken by X -> Y or U -> M
      local edges = { { "V1", "V2" }, { "V1", "V4" }, { "V2", "V3" }, { "V3", "V4" } }
      local broken = ctx.want == "no"
      if broken then edges[#edges + 1] = ctx:chance(0.5) and { "V2", "V4" } or { "V1", "V3" } end
      m = ctx:random_model({ nodes = { "V1", "V2", "V3", "V4" }, edges = edges })
      x, y = "V2", "V4"
    else
      m = ctx:random_model(ctx:random_dag(ctx:size()))
      x, y = pick_pair(ctx, m)
      if not x then m:close() return nil end
    end
    -- content: the query (and what the text needs to say it)
    local query, rung = nil, 2
    local up, xv, chosen
    if kind == "sign" then
      local v = assert(m:ate(x, y))
      if math.abs(v) < 0.02 then m:close() return nil end -- keep signs clear of the threshold
      up = (v > 0) == (ctx.want == "yes")
      query = { type = "effect_sign", effect = "ate", treatment = x, outcome = y, direction = up and "increase" or "decrease" }
    elseif kind == "value" then
      query = { type = "effect_value", effect = "ate", treatment = x, outcome = y }
    elseif kind == "do_prob" then
      xv = ctx:int(0, 1)
      query = { type = "prob", event = { [y] = 1 }, ["do"] = { [x] = xv } }
    elseif kind == "backdoor" then
      local others = {}
      for _, v in ipairs(m:topo()) do if v ~= x and v ~= y then others[#others + 1] = v end end
      local cands = subsets(others, 2)
      ctx:shuffle(cands)
      for _, s in ipairs(cands) do
        if m:backdoor(x, y, s) == (ctx.want == "yes") then chosen = s break end
      end
      if not chosen then m:close() return nil end
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
    return { model = m, query = query, rung = rung, query_kind = kind, render = render }
  end,
}
