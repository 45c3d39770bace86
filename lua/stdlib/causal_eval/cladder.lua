-- SPDX-License-Identifier: MIT
-- CLadder (Jin et al., NeurIPS 2023) files, recomputed exactly: model files
-- (every groundtruth quantity by enumeration, Pearl's NDE/NIE) and question
-- files (each label from the question's own fields by the rules of the
-- CLadder data README, spec/data/cladder/README.md section 3, or from the
-- model's tables). Bad input of any kind is an error naming the field, never
-- a raise out of this module with a source position in it.
-- Fields that give the answer away (answer, meta.groundtruth, meta.flipped,
-- meta.bad_candidate_set, reasoning.step5, reasoning.end) are never read.
local scm = require "causal_eval.scm"

local M = {}

M.GRAPHS = {
  chain = "X->V2,V2->Y",
  fork = "X->Y,V2->Y",
  collision = "X->V3,Y->V3",
  confounding = "V1->X,V1->Y,X->Y",
  mediation = "X->V2,X->Y,V2->Y",
  frontdoor = "V1->X,X->V3,V1->Y,V3->Y",
  IV = "V1->X,V2->X,V1->Y,X->Y",
  arrowhead = "X->V3,V2->V3,X->Y,V2->Y,V3->Y",
  diamond = "X->V3,X->V2,V2->Y,V3->Y",
  diamondcut = "V1->V3,V1->X,X->Y,V3->Y",
}

M.THRESHOLD = 0.005
M.TOLERANCE = 1e-9

local function s(b) return (b == false or b == 0) and -1 or 1 end
local function flag(v) if v == nil then return true end return not (v == false or v == 0) end

--- "p(Y | X, V2)" -> "Y", {"X", "V2"}; accepts p or P and any spacing.
function M.parse_table_key(key)
  if type(key) ~= "string" then return nil end
  local inner = key:match("^%s*[pP]%s*%((.*)%)%s*$")
  if not inner then return nil end
  local var, rest = inner:match("^%s*([%w_]+)%s*|(.*)$")
  if not var then
    var = inner:match("^%s*([%w_]+)%s*$")
    if not var then return nil end
    return var, {}
  end
  local parents = {}
  for p in rest:gmatch("[^,]+") do
    local name = p:match("^%s*([%w_]+)%s*$")
    if not name then return nil end
    parents[#parents + 1] = name
  end
  return var, parents
end

-- nested list [a][b]... (first parent outermost) -> flat, first parent most significant
local function flatten(v, k, where)
  if k == 0 then
    if type(v) == "number" then return { v } end
    if type(v) == "table" and #v == 1 and type(v[1]) == "number" then return { v[1] } end
    return nil, where .. ": expected a number or [p]"
  end
  local out = {}
  local function walk(node, depth)
    if depth == k then
      if type(node) ~= "number" then error(where .. ": expected numbers " .. k .. " lists deep", 0) end
      out[#out + 1] = node
      return
    end
    if type(node) ~= "table" or #node ~= 2 then error(where .. ": expected a list of two entries per parent", 0) end
    walk(node[1], depth + 1)
    walk(node[2], depth + 1)
  end
  local ok, err = pcall(walk, v, 0)
  if not ok then return nil, err end
  return out
end

--- Tables keyed "p(V | A, B)" -> { V = {parents, p} } or nil, message.
function M.tables(params, where)
  if params == nil then return nil, where .. ": missing" end
  if type(params) ~= "table" or next(params) == nil then return nil, where .. ": expected an object of tables" end
  local out = {}
  for key, v in pairs(params) do
    local var, parents = M.parse_table_key(key)
    if not var then return nil, ("%s: bad table key '%s'"):format(where, tostring(key)) end
    local flat, err = flatten(v, #parents, ("%s['%s']"):format(where, key))
    if not flat then return nil, err end
    out[var] = { parents = parents, p = flat }
  end
  return out
end

-- The variables of a model entry's graph: its `structure`, else its graph_id's.
local function graph_vars(entry)
  local edges = type(entry.structure) == "string" and entry.structure or M.GRAPHS[entry.graph_id]
  if not edges then return { "X", "Y" }, nil end
  local seen, out = {}, {}
  for name in edges:gmatch("[%w_]+") do
    if not seen[name] then seen[name] = true; out[#out + 1] = name end
  end
  return out, edges
end

--- The engine model of a CLadder model entry, or nil and a message naming
--- the field ("params: missing table for 'Y' ...").
function M.model(entry)
  local t, err = M.tables(entry.params, "params")
  if not t then return nil, err end
  local names, edges = graph_vars(entry)
  for _, name in ipairs(names) do
    if not t[name] then
      return nil, ("params: missing table for '%s'%s"):format(name, edges and (" (graph " .. edges .. ")") or "")
    end
  end
  local vars = {}
  for name, v in pairs(t) do vars[#vars + 1] = { name = name, parents = v.parents, p = v.p } end
  -- the engine treats a larger model as a programming error and raises
  if #vars > scm.MAX_VARS then
    return nil, ("params: %d tables; the engine takes at most %d variables"):format(#vars, scm.MAX_VARS)
  end
  table.sort(vars, function(a, b) return a.name < b.name end)
  local m, merr = scm.from_list(vars)
  if not m then return nil, "params: " .. merr:gsub("^scm: ", "") end
  return m
end

--- CLadder's own NDE/NIE definition, evaluated exactly (for explaining
--- disagreements): mediators redrawn as independent coins with their
--- interventional marginals under the other treatment value.
function M.cladder_natural(m, which)
  local meds = m:mediators("X", "Y")
  local p0 = assert(m:p({ Y = 1 }, nil, { X = 0 }))
  if #meds == 0 then
    if which == "nie" then return 0 end
    return assert(m:ate("X", "Y"))
  end
  local xm = which == "nde" and 0 or 1
  local xd = which == "nde" and 1 or 0
  local q = {}
  for i, v in ipairs(meds) do q[i] = assert(m:p({ [v] = 1 }, nil, { X = xm })) end
  local total = 0
  for mask = 0, (1 << #meds) - 1 do
    local w, d = 1, { X = xd }
    for i, v in ipairs(meds) do
      local bit = (mask >> (i - 1)) & 1
      d[v] = bit
      w = w * (bit == 1 and q[i] or (1 - q[i]))
    end
    total = total + w * assert(m:p({ Y = 1 }, nil, d))
  end
  return total - p0
end

local function has(m, ...)
  for _, v in ipairs({ ... }) do
    if not m.index[v] then return nil, ("the model has no variable '%s'"):format(v) end
  end
  return true
end

--- Exact value of one groundtruth key, or nil, message.
function M.quantity(m, key)
  local v = key:match("^P%(([%w_]+)=1%)$")
  if v then
    local ok, err = has(m, v)
    if not ok then return nil, err end
    return m:p{ [v] = 1 }
  end
  local ok, err = has(m, "X", "Y")
  if not ok then return nil, err end
  local x = key:match("^P%(Y=1 | X=([01])%)$")
  if x then return m:p({ Y = 1 }, { X = tonumber(x) }) end
  local eff = key:match("^(%u+)%(Y | X%)$")
  if eff and ({ ATE = true, ETT = true, NDE = true, NIE = true })[eff] then
    return m[eff:lower()](m, "X", "Y")
  end
  return nil, ("unknown groundtruth key '%s'"):format(key)
end

--- Why a stored model value differs from the exact one.
function M.model_reason(m, entry, key, stored)
  local eff = key:match("^(N[DI]E)%(Y | X%)$")
  if eff then
    local def = M.cladder_natural(m, eff:lower())
    if math.abs(def - stored) <= 1e-6 then return "definition (CLadder's NDE/NIE)" end
    local pearl = assert(m[eff:lower()](m, "X", "Y"))
    if math.abs(pearl - def) > M.TOLERANCE then return "definition and approximation" end
  end
  local g = entry.graph_id
  if g ~= "chain" and g ~= "fork" and g ~= "collision" then return "approximation (loopy belief propagation)" end
  return "unexplained"
end

-- ---- questions ----

local function need(t, key, where)
  local v = t[key]
  if v == nil then error({ field = where .. "." .. key, msg = "missing" }, 0) end
  return v
end

-- a given_info table as a flat list, or a field error naming its key
local function flat_given(v, k, key)
  local flat, err = flatten(v, k, "")
  if not flat then error({ field = ("meta.given_info['%s']"):format(key), msg = err:gsub("^: ", "") }, 0) end
  return flat
end

local function given_table(gi, key)
  -- given_info keys vary in spacing and in the case of p: look them up parsed
  local want_var, want_pa = M.parse_table_key(key)
  for k, v in pairs(gi) do
    local var, pa = M.parse_table_key(k)
    if var == want_var and #pa == #want_pa then
      local same = true
      for i = 1, #pa do if pa[i] ~= want_pa[i] then same = false end end
      if same then return v, k end
    end
  end
  -- same variables in another parent order
  for k, v in pairs(gi) do
    local var, pa = M.parse_table_key(k)
    if var == want_var and #pa == #want_pa then
      local set = {}
      for _, p in ipairs(pa) do set[p] = true end
      local ok = true
      for _, p in ipairs(want_pa) do if not set[p] then ok = false end end
      if ok then
        -- reorder to the wanted parents
        local flat = flat_given(v, #pa, k)
        local out = {}
        for idx = 0, (1 << #pa) - 1 do
          local src = 0
          for j, p in ipairs(want_pa) do
            local bit = (idx >> (#want_pa - j)) & 1
            for jj, q in ipairs(pa) do if q == p then src = src | (bit << (#pa - jj)) end end
          end
          out[idx + 1] = flat[src + 1]
        end
        return { __flat = out }, k
      end
    end
  end
  error({ field = "meta.given_info['" .. key .. "']", msg = "missing table" }, 0)
end

-- P(V=1 | parents) accessor for a given_info table (flat, first parent most significant)
local function accessor(gi, key)
  local v, k = given_table(gi, key)
  local _, pa = M.parse_table_key(key)
  local flat = (type(v) == "table" and v.__flat) or flat_given(v, #pa, k)
  return function(...)
    local idx = 0
    for _, b in ipairs({ ... }) do idx = (idx << 1) | b end
    return flat[idx + 1]
  end
end

-- given_info event keys ("P(X=1)", "P(Y | X)") looked up with any spacing
-- and either case of the leading p, as the data README asks of table keys
local function norm_key(k) return (k:gsub("%s+", ""):gsub("^p%(", "P(")) end

local function gi_get(gi, key)
  local v = gi[key]
  if v ~= nil then return v end
  local want = norm_key(key)
  for k, val in pairs(gi) do
    if type(k) == "string" and norm_key(k) == want then return val end
  end
  return nil
end

-- a query type without a rule for the question's graph
local function no_rule(qt, graph)
  if graph == nil then return { field = "meta.graph_id", msg = "missing" } end
  return { field = "meta.graph_id", msg = ("no %s rule for graph '%s'"):format(qt, graph) }
end

local function threshold_answer(v, sign)
  if math.abs(v) < M.THRESHOLD then return "no" end
  return (v * sign > 0) and "yes" or "no"
end

local function number(v, field)
  if type(v) ~= "number" then error({ field = field, msg = "expected a number" }, 0) end
  return v
end

local function binary(v, field)
  if v ~= 0 and v ~= 1 then error({ field = field, msg = "expected 0 or 1" }, 0) end
  return v
end

-- Values from a question's own fields, by query type. Each returns answer,
-- detail; or "undecidable" answers return nil and the reason.
local FIELDS = {}

function FIELDS.marginal(q, meta, gi)
  local px = number(gi_get(gi, "P(X)"), "meta.given_info['P(X)']")
  local pyx = gi_get(gi, "P(Y | X)")
  if type(pyx) ~= "table" then error({ field = "meta.given_info['P(Y | X)']", msg = "missing or not a list" }, 0) end
  local p = px * number(pyx[2], "meta.given_info['P(Y | X)'][2]") + (1 - px) * number(pyx[1], "meta.given_info['P(Y | X)'][1]")
  return M.marginal_answer(p, meta), ("P(Y=1)=%.6f"):format(p)
end

function M.marginal_answer(p, meta)
  if p < M.THRESHOLD or p == 0.5 then return "no" end
  return ((2 * p - 1) * s(flag(meta.treated)) * s(flag(meta.polarity)) > 0) and "yes" or "no"
end

function FIELDS.correlation(q, meta, gi)
  local a = number(gi_get(gi, "P(X=1)"), "meta.given_info['P(X=1)']")
  local b = number(gi_get(gi, "P(Y=1, X=0)"), "meta.given_info['P(Y=1, X=0)']")
  local c = number(gi_get(gi, "P(Y=1, X=1)"), "meta.given_info['P(Y=1, X=1)']")
  if a == 0 or a == 1 then
    error({ field = "meta.given_info['P(X=1)']", msg = ("%s leaves P(Y | X) undefined"):format(a) }, 0)
  end
  local v = c / a - b / (1 - a)
  return threshold_answer(v, s(flag(meta.treated)) * s(flag(meta.result)) * s(flag(meta.polarity))), ("v=%.6f"):format(v)
end

local function diff_y_given_x(gi)
  local py = accessor(gi, "p(Y | X)")
  return py(1) - py(0)
end

local function frontdoor_value(gi)
  local pm, py, px = accessor(gi, "p(V3 | X)"), accessor(gi, "p(Y | X, V3)"), accessor(gi, "p(X)")
  local v = 0
  for m = 0, 1 do
    local dm = (m == 1 and pm(1) or 1 - pm(1)) - (m == 1 and pm(0) or 1 - pm(0))
    local inner = 0
    for h = 0, 1 do inner = inner + py(h, m) * (h == 1 and px() or 1 - px()) end
    v = v + dm * inner
  end
  return v
end

function FIELDS.ate(q, meta, gi, graph)
  local v
  if graph == "chain" or graph == "fork" or graph == "mediation" or graph == "arrowhead" or graph == "diamond" then
    v = diff_y_given_x(gi)
  elseif graph == "confounding" or graph == "diamondcut" then
    local py, pu = accessor(gi, "p(Y | V1, X)"), accessor(gi, "p(V1)")
    v = 0
    for u = 0, 1 do v = v + (u == 1 and pu() or 1 - pu()) * (py(u, 1) - py(u, 0)) end
  elseif graph == "IV" then
    local py, px = accessor(gi, "p(Y | V2)"), accessor(gi, "p(X | V2)")
    if px(1) == px(0) then
      error({ field = "meta.given_info['p(X | V2)']", msg = "V2 does not move X: the Wald ratio is undefined" }, 0)
    end
    v = (py(1) - py(0)) / (px(1) - px(0))
  elseif graph == "frontdoor" then
    v = frontdoor_value(gi)
  else
    error(no_rule("ate", graph), 0)
  end
  if not flag(meta.treated) then v = -v end
  return threshold_answer(v, s(flag(meta.result)) * s(flag(meta.polarity))), ("ate=%.6f"):format(v)
end

function FIELDS.ett(q, meta, gi, graph)
  local v
  if graph == "chain" or graph == "fork" or graph == "mediation" or graph == "arrowhead" or graph == "diamond" then
    v = diff_y_given_x(gi)
  elseif graph == "diamondcut" then
    local py, pm = accessor(gi, "p(Y | X, V3)"), accessor(gi, "p(V3 | X)")
    v = 0
    for m = 0, 1 do v = v + (m == 1 and pm(1) or 1 - pm(1)) * (py(1, m) - py(0, m)) end
  elseif graph == "frontdoor" then
    local py, pm = accessor(gi, "p(Y | X, V3)"), accessor(gi, "p(V3 | X)")
    v = 0
    for m = 0, 1 do
      v = v + py(1, m) * ((m == 1 and pm(1) or 1 - pm(1)) - (m == 1 and pm(0) or 1 - pm(0)))
    end
  elseif graph == "confounding" then
    local py = accessor(gi, "p(Y | V1, X)")
    local d0, d1 = py(0, 1) - py(0, 0), py(1, 1) - py(1, 0)
    if d0 >= M.THRESHOLD and d1 >= M.THRESHOLD then v = math.min(d0, d1)
    elseif d0 <= -M.THRESHOLD and d1 <= -M.THRESHOLD then v = math.max(d0, d1)
    else
      return nil, ("ett in the confounding graph: the stratum effects %.4f and %.4f differ in sign or are small, and P(V1 | X) is not given"):format(d0, d1)
    end
  else
    error(no_rule("ett", graph), 0)
  end
  return threshold_answer(v, -s(flag(meta.result)) * s(flag(meta.polarity))), ("ett=%.6f"):format(v)
end

function FIELDS.nde(q, meta, gi, graph)
  if graph == "arrowhead" then
    return nil, "nde in the arrowhead graph needs P(Y | X, V2, V3), which the question does not give"
  end
  if graph ~= "mediation" then
    error(no_rule("nde", graph), 0)
  end
  local py, pm = accessor(gi, "p(Y | X, V2)"), accessor(gi, "p(V2 | X)")
  local v = 0
  for m = 0, 1 do v = v + (m == 1 and pm(0) or 1 - pm(0)) * (py(1, m) - py(0, m)) end
  return threshold_answer(v, s(flag(meta.polarity))), ("nde=%.6f"):format(v)
end

function FIELDS.nie(q, meta, gi, graph)
  if graph == "arrowhead" then
    return nil, "nie in the arrowhead graph needs P(Y | X, V2, V3), which the question does not give"
  end
  local v
  if graph == "mediation" then
    local py, pm = accessor(gi, "p(Y | X, V2)"), accessor(gi, "p(V2 | X)")
    v = 0
    for m = 0, 1 do
      v = v + py(0, m) * ((m == 1 and pm(1) or 1 - pm(1)) - (m == 1 and pm(0) or 1 - pm(0)))
    end
  elseif graph == "chain" or graph == "diamond" then
    v = diff_y_given_x(gi)
  elseif graph == "frontdoor" then
    v = frontdoor_value(gi)
  else
    error(no_rule("nie", graph), 0)
  end
  return threshold_answer(v, s(flag(meta.polarity))), ("nie=%.6f"):format(v)
end

local function graph_model(graph_id, q)
  local edges = M.GRAPHS[graph_id]
  if not edges and type(q.reasoning) == "table" and type(q.reasoning.step1) == "string" then edges = q.reasoning.step1 end
  if not edges then
    error({ field = "meta.graph_id", msg = graph_id == nil and "missing" or ("unknown graph '%s'"):format(graph_id) }, 0)
  end
  return assert(scm.model{ graph = edges })
end

function FIELDS.backadj(q, meta, gi, graph)
  if type(gi) ~= "table" or type(gi[1]) ~= "table" or type(gi[2]) ~= "table" then
    error({ field = "meta.given_info", msg = "expected [set1, set2]" }, 0)
  end
  local m = graph_model(graph, q)
  for i = 1, 2 do
    for j, v in ipairs(gi[i]) do
      if type(v) ~= "string" or not m.index[v] then
        m:close()
        error({ field = ("meta.given_info[%d][%d]"):format(i, j),
                msg = type(v) == "string" and ("no variable '%s' in the graph"):format(v) or "expected a variable name" }, 0)
      end
    end
  end
  local s1, s2 = gi[1], gi[2]
  if not flag(meta.polarity) then s1, s2 = s2, s1 end
  local v1, v2 = m:backdoor("X", "Y", s1), m:backdoor("X", "Y", s2)
  m:close()
  local ans
  if v1 and v2 then
    -- both valid (the fork): the generator's key prefers the smaller set
    local set2 = {}
    for _, v in ipairs(s2) do set2[v] = true end
    local subset = #s1 < #s2
    for _, v in ipairs(s1) do if not set2[v] then subset = false end end
    ans = subset and "yes" or "no"
  else
    ans = (v1 and not v2) and "yes" or "no"
  end
  return ans, ("set1 %s, set2 %s"):format(v1 and "valid" or "invalid", v2 and "valid" or "invalid")
end

function FIELDS.collider_bias(q, meta, gi, graph)
  local m = graph_model(graph, q)
  local path = m:directed_path("X", "Y")
  m:close()
  return (path == flag(meta.polarity)) and "yes" or "no", path and "X causes Y" or "no directed path from X to Y"
end

function FIELDS.exp_away(q, meta, gi)
  local py = gi_get(gi, "P(Y | X, V3)")
  if type(py) ~= "table" then error({ field = "meta.given_info['P(Y | X, V3)']", msg = "missing or not a list" }, 0) end
  local t, b = flag(meta.treated) and 1 or 0, flag(meta.baseline) and 1 or 0
  local row_t, row_o = py[t + 1], py[2 - t]
  if type(row_t) ~= "table" or type(row_o) ~= "table" then
    error({ field = "meta.given_info['P(Y | X, V3)']", msg = "expected [[...], [...]]" }, 0)
  end
  local bracket = number(row_t[b + 1], "meta.given_info['P(Y | X, V3)']") - number(row_o[b + 1], "meta.given_info['P(Y | X, V3)']")
  local sign = bracket > 0 and 1 or (bracket < 0 and -1 or 0)
  return (sign * s(flag(meta.polarity)) * s(flag(meta.result)) > 0) and "yes" or "no", ("bracket=%.6f"):format(bracket)
end

-- det-counterfactual from reasoning.step4, each equation rewritten over the
-- variable's graph parents (the diamondcut trap of README 3.10)
FIELDS["det-counterfactual"] = function(q, meta, gi, graph)
  local step4 = type(q.reasoning) == "table" and q.reasoning.step4
  if type(step4) ~= "string" then error({ field = "reasoning.step4", msg = "missing equations" }, 0) end
  local m = graph_model(graph, q)
  local eqs = {}
  for line in step4:gmatch("[^\n]+") do
    local v, expr = line:match("^%s*([%w_]+)%s*=%s*(.-)%s*$")
    if v and expr and not expr:match("^%d+$") then eqs[v] = expr end
  end
  local function rewrite(v, expr, depth)
    if depth > 10 then error({ field = "reasoning.step4", msg = "equations refer to each other in a cycle" }, 0) end
    local pa = {}
    for _, p in ipairs(m:parents(v)) do pa[p] = true end
    local changed = false
    local out = expr:gsub("[%a_][%w_]*", function(w)
      if w == "and" or w == "or" or w == "not" or pa[w] or not eqs[w] then return w end
      changed = true
      return "(" .. eqs[w] .. ")"
    end)
    if changed then return rewrite(v, out, depth + 1) end
    return out
  end
  local roots = {}
  for _, r in ipairs(m:roots()) do roots[r] = true end
  local values = {}
  local evidence = type(meta.given_info) == "table" and meta.given_info or {}
  local action = need(meta, "action", "meta")
  for _, v in ipairs(m:topo()) do
    if v == "X" then
      values[v] = binary(action, "meta.action") == 1
    elseif roots[v] then
      local e = evidence[v]
      if e == nil then error({ field = "meta.given_info." .. v, msg = "missing evidence for a root" }, 0) end
      values[v] = e == 1
    else
      local expr = eqs[v]
      if not expr then error({ field = "reasoning.step4", msg = "no equation for " .. v }, 0) end
      expr = rewrite(v, expr, 0)
      local fn, names = scm.compile_equation(expr, v)
      local args = {}
      for i, n in ipairs(names) do
        if values[n] == nil then error({ field = "reasoning.step4", msg = ("%s uses %s, which comes later"):format(v, n) }, 0) end
        args[i] = values[n] and 1 or 0
      end
      values[v] = fn(table.unpack(args, 1, #names)) == 1
    end
  end
  m:close()
  local y = values.Y and 1 or 0
  return (y == binary(need(meta, "polarity", "meta"), "meta.polarity")) and "yes" or "no", ("Y=%d"):format(y)
end

local FLAGS = { "polarity", "treated", "result", "baseline" }

-- What every question of a type needs, before any rule reads it: a known
-- type, yes/no flags, and given_info numbers that are probabilities (a
-- difference key such as collider_bias's lies in [-1, 1]) or, for the
-- deterministic questions, 0/1 evidence.
local function check_meta(meta)
  local qt = meta.query_type
  if qt == nil then error({ field = "meta.query_type", msg = "missing" }, 0) end
  if type(qt) ~= "string" or not FIELDS[qt] then
    error({ field = "meta.query_type", msg = ("unknown query type %s"):format(type(qt) == "string" and ("'" .. qt .. "'") or "(not a string)") }, 0)
  end
  if meta.graph_id ~= nil and type(meta.graph_id) ~= "string" then
    error({ field = "meta.graph_id", msg = "expected a graph name" }, 0)
  end
  for _, k in ipairs(FLAGS) do
    local v = meta[k]
    if v ~= nil and v ~= true and v ~= false and v ~= 0 and v ~= 1 then
      error({ field = "meta." .. k, msg = "expected true, false, 1 or 0" }, 0)
    end
  end
  local gi = meta.given_info
  if qt == "det-counterfactual" then
    if gi == nil then return end
    if type(gi) ~= "table" then error({ field = "meta.given_info", msg = "expected an object of 0/1 values" }, 0) end
    for k, v in pairs(gi) do binary(v, "meta.given_info." .. tostring(k)) end
    return
  end
  if gi == nil then error({ field = "meta.given_info", msg = "missing" }, 0) end
  if type(gi) ~= "table" then error({ field = "meta.given_info", msg = "expected an object" }, 0) end
  if qt == "backadj" then return end -- two sets of names, read by the rule
  local function walk(v, field, lo)
    if type(v) == "number" then
      if v ~= v or v < lo or v > 1 then error({ field = field, msg = ("%.17g is outside [%d, 1]"):format(v, lo) }, 0) end
    elseif type(v) == "table" then
      for i, x in ipairs(v) do walk(x, ("%s[%d]"):format(field, i), lo) end
    else
      error({ field = field, msg = "expected a number or a list of numbers" }, 0)
    end
  end
  for k, v in pairs(gi) do
    local key = tostring(k)
    walk(v, ("meta.given_info['%s']"):format(key), key:find("%)%s*%-%s*[pP]%s*%(") and -1 or 0)
  end
end

--- The answer of a CLadder question from its own fields: answer, detail;
--- nil, reason when undecidable; raises {field, msg} on bad input.
function M.answer_from_fields(q)
  local meta = q.meta
  if type(meta) ~= "table" then error({ field = "meta", msg = "missing" }, 0) end
  check_meta(meta)
  return FIELDS[meta.query_type](q, meta, meta.given_info, meta.graph_id)
end

--- The answer of a CLadder question from its model's tables (exact, Pearl).
function M.answer_from_model(q, m, entry)
  local meta = q.meta
  if type(meta) ~= "table" then error({ field = "meta", msg = "missing" }, 0) end
  check_meta(meta)
  local qt = meta.query_type
  if qt == "backadj" or qt == "collider_bias" then return M.answer_from_fields(q) end
  local ok, err = has(m, "X", "Y", qt == "exp_away" and "V3" or nil)
  if not ok then error({ field = "meta.model_id", msg = err }, 0) end
  if qt == "marginal" then
    local p = assert(m:p{ Y = 1 })
    return M.marginal_answer(p, meta), ("P(Y=1)=%.6f"):format(p)
  elseif qt == "correlation" then
    local v = assert(m:p({ Y = 1 }, { X = 1 })) - assert(m:p({ Y = 1 }, { X = 0 }))
    return threshold_answer(v, s(flag(meta.treated)) * s(flag(meta.result)) * s(flag(meta.polarity))), ("v=%.6f"):format(v)
  elseif qt == "ate" then
    local v = assert(m:ate("X", "Y"))
    if not flag(meta.treated) then v = -v end
    return threshold_answer(v, s(flag(meta.result)) * s(flag(meta.polarity))), ("ate=%.6f"):format(v)
  elseif qt == "ett" then
    local v = assert(m:ett("X", "Y"))
    return threshold_answer(v, -s(flag(meta.result)) * s(flag(meta.polarity))), ("ett=%.6f"):format(v)
  elseif qt == "nde" or qt == "nie" then
    local v = assert(m[qt](m, "X", "Y"))
    return threshold_answer(v, s(flag(meta.polarity))), ("%s=%.6f"):format(qt, v)
  elseif qt == "exp_away" then
    local t, b = flag(meta.treated) and 1 or 0, flag(meta.baseline) and 1 or 0
    local e = assert(m:p({ Y = 1 }, { X = t, V3 = b })) - assert(m:p({ Y = 1 }, { V3 = b }))
    local sign = e > 0 and 1 or (e < 0 and -1 or 0)
    return (sign * s(flag(meta.polarity)) * s(flag(meta.result)) > 0) and "yes" or "no", ("e=%.6f"):format(e)
  elseif qt == "det-counterfactual" then
    local given = {}
    local ev = type(meta.given_info) == "table" and meta.given_info or {}
    for k, v in pairs(ev) do
      if not m.index[k] then error({ field = "meta.given_info." .. tostring(k), msg = "the model has no such variable" }, 0) end
      given[k] = v
    end
    local p = assert(m:counterfactual{ event = { Y = 1 }, ["do"] = { X = binary(need(meta, "action", "meta"), "meta.action") }, given = given })
    local y = p >= 0.5 and 1 or 0
    return (y == binary(need(meta, "polarity", "meta"), "meta.polarity")) and "yes" or "no", ("Y=%d"):format(y)
  end
  error({ field = "meta.query_type", msg = ("unknown query type '%s'"):format(qt) }, 0)
end

--- Why a label differs from the exact answer (reason class).
function M.question_reason(q, m, entry)
  local qt = q.meta.query_type
  if qt == "marginal" then return "label from the approximate P(Y=1) (loopy belief propagation)" end
  if (qt == "nde" or qt == "nie") and m then
    local v = M.cladder_natural(m, qt)
    local ans = threshold_answer(v, s(flag(q.meta.polarity)))
    if ans == q.answer then return "label from CLadder's NDE/NIE definition" end
    return "label from the loopy belief propagation approximation"
  end
  if entry and entry.graph_id ~= "chain" and entry.graph_id ~= "fork" and entry.graph_id ~= "collision" then
    return "label from the loopy belief propagation approximation"
  end
  return "unexplained"
end

return M
