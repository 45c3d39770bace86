-- SPDX-License-Identifier: MIT
-- The question format and its solver. A question carries the graph, the
-- model's tables (when it has numbers) and a structured query; solve()
-- computes the exact answer from those fields alone with the engine, so a
-- generator and `causal-eval validate` agree by construction and a file can
-- be checked without trusting its ground_truth. Query types:
--
--   prob              number   P(event | given, do)
--   prob_compare      yes/no   left <relation> right, each a prob or a constant
--   effect_sign       yes/no   ate|ett|nde|nie of treatment on outcome increases/decreases
--   effect_value      number   ate|ett|nde|nie
--   counterfactual    number   P(event in do-world | given in the factual world)
--   counterfactual_value yes/no in a deterministic model: does var take value
--   graph             yes/no   causes, direct_cause, mediator, common_cause,
--                              independent (d-separation), backdoor, frontdoor,
--                              instrument, collider
--   adjust_compare    yes/no   set1 is a valid back-door set and set2 is not
--   mec               yes/no   a relation that holds in every DAG of the class
--   choice            label    the one option whose query answers yes
local scm = require "causal_eval.scm"
local json = require "causal_eval.json"

local M = {}

-- a value from a file, in a message: never "nil" or a table's address
local function what(v)
  if v == nil then return "nothing" end
  if v == json.null then return "null" end
  if type(v) == "table" then return "a list or object" end
  if type(v) == "string" then return "'" .. v .. "'" end
  if type(v) == "number" then return tostring(v) end
  return "a " .. type(v)
end

-- "query.relation: missing" or "query.relation: unknown graph relation 'x'"
local function unknown(field, kind, v)
  if v == nil then return field .. ": missing" end
  return ("%s: unknown %s %s"):format(field, kind, what(v))
end

M.THRESHOLD = 0.005 -- effects smaller than this are "no effect" (CLadder's rule)
M.TOLERANCE = 0.01  -- default tolerance of numeric answers

--- The text of a caught error for a person: a field error as it is, a
--- string without the source position error() puts in front of it.
function M.message(e)
  if type(e) ~= "string" then return tostring(e) end
  local prev
  repeat
    prev = e
    e = e:gsub("^[^\n]-%.lua:%d+: ", "", 1)
  until e == prev
  return e
end

local function list_of(v, field)
  if type(v) ~= "table" then error(("%s: expected a list, got %s"):format(field, what(v)), 0) end
  return v
end

local function build_model(q)
  local vars = {}
  if type(q.model) == "table" and #q.model > 0 then
    for i, v in ipairs(q.model) do
      if type(v) ~= "table" or type(v.name) ~= "string" then
        return nil, ("model[%d]: expected {name, parents, p}"):format(i)
      end
      vars[#vars + 1] = { v.name, name = v.name, parents = v.parents and list_of(v.parents, ("model[%d].parents"):format(i)) or {}, p = v.p }
    end
  elseif type(q.graph) == "table" then
    local parents, order = {}, {}
    for i, n in ipairs(q.graph.nodes and list_of(q.graph.nodes, "graph.nodes") or {}) do
      if type(n) ~= "string" then return nil, ("graph.nodes[%d]: expected a variable name"):format(i) end
      if not parents[n] then parents[n] = {}; order[#order + 1] = n end
    end
    for i, e in ipairs(q.graph.edges and list_of(q.graph.edges, "graph.edges") or {}) do
      if type(e) ~= "table" or type(e[1]) ~= "string" or type(e[2]) ~= "string" then
        return nil, ("graph.edges[%d]: expected [from, to]"):format(i)
      end
      for _, n in ipairs(e) do
        if not parents[n] then parents[n] = {}; order[#order + 1] = n end
      end
      table.insert(parents[e[2]], e[1])
    end
    for _, n in ipairs(order) do vars[#vars + 1] = { n, name = n, parents = parents[n] } end
  elseif q.graph == nil then
    return nil, "graph: missing"
  else
    return nil, "graph: expected an object with nodes and edges"
  end
  if #vars == 0 then return nil, "graph: no variables" end
  -- the engine treats a larger model as a programming error and raises
  if #vars > scm.MAX_VARS then
    return nil, ("%s: %d variables; the engine takes at most %d"):format(q.model and "model" or "graph", #vars, scm.MAX_VARS)
  end
  local m, err = scm.model{ vars = vars }
  if not m then return nil, "model: " .. err:gsub("^scm: ", "") end
  return m
end

--- Builds the engine model of a question: graph.nodes/edges and model = list
--- of {name, parents, p}. Returns model or nil, message naming the field;
--- never raises, whatever the file holds.
function M.model_of(q)
  local ok, m, err = pcall(build_model, q)
  if not ok then
    local msg = M.message(m)
    return nil, msg:find("^model") and msg or "model: " .. msg
  end
  return m, err
end

local function need(t, field, kind)
  local v = t[field]
  if kind == "string" and type(v) ~= "string" then return nil, ("query.%s: expected a variable name"):format(field) end
  if kind == "table" and type(v) ~= "table" then return nil, ("query.%s: expected a table"):format(field) end
  return v
end

-- A probability term: {event=, given=, ["do"]=} or {value = c}.
-- An assignment {X = 1, Z = 0} from a file, checked before the engine sees
-- it (the engine raises on misuse); nil stays nil.
-- field .. sub names it (joined only for a message: every question's
-- ground truth goes through here)
local function assignment(v, field, sub)
  if v == nil then return nil end
  if type(v) ~= "table" then
    error(("%s%s: expected an object of 0/1 values, got %s"):format(field, sub or "", what(v)), 0)
  end
  for k, x in pairs(v) do
    if type(k) ~= "string" then error(("%s%s: expected an object of 0/1 values, got a list"):format(field, sub or ""), 0) end
    if x ~= 0 and x ~= 1 then error(("%s%s.%s: expected 0 or 1, got %s"):format(field, sub or "", k, what(x)), 0) end
  end
  return v
end

local function term(m, t, field)
  if type(t) ~= "table" then return nil, field .. ": expected a table" end
  if t.value ~= nil then
    if type(t.value) ~= "number" then return nil, field .. ".value: expected a number" end
    return t.value
  end
  if type(t.event) ~= "table" then return nil, field .. ".event: expected a table" end
  return m:p(assignment(t.event, field, ".event"), assignment(t.given, field, ".given"), assignment(t["do"], field, ".do"))
end

local EFFECTS = { ate = true, ett = true, nde = true, nie = true }

local function effect(m, qu)
  local kind = qu.effect or "ate"
  if not EFFECTS[kind] then return nil, ("query.effect: unknown effect %s"):format(what(kind)) end
  local x, err = need(qu, "treatment", "string")
  if not x then return nil, err end
  local y, err2 = need(qu, "outcome", "string")
  if not y then return nil, err2 end
  return m[kind](m, x, y)
end

-- a variable or a list of them; anything else names its field
local function as_list(v, field)
  if v == nil then return {} end
  if type(v) == "string" then return { v } end
  if type(v) == "table" then
    for i, n in ipairs(v) do
      if type(n) ~= "string" then error(("%s[%d]: expected a variable name"):format(field, i), 0) end
    end
    return v
  end
  error(("%s: expected a variable name or a list of them"):format(field), 0)
end

-- Graph relations, on the DAG of the model.
local RELATIONS = {}
function RELATIONS.causes(m, a) return m:directed_path(a.from, a.to) end
function RELATIONS.direct_cause(m, a)
  for _, p in ipairs(m:parents(a.to)) do if p == a.from then return true end end
  return false
end
function RELATIONS.mediator(m, a)
  for _, v in ipairs(m:mediators(a.from, a.to)) do if v == a.var then return true end end
  return false
end
-- a common cause: some variable with directed paths to both that avoid each other
function RELATIONS.common_cause(m, a)
  for _, z in ipairs(m.names) do
    if z ~= a.a and z ~= a.b and (a.via == nil or a.via == z) then
      local ok1 = m:directed_path(z, a.a) and RELATIONS.path_avoiding(m, z, a.a, a.b)
      local ok2 = m:directed_path(z, a.b) and RELATIONS.path_avoiding(m, z, a.b, a.a)
      if ok1 and ok2 then return true end
    end
  end
  return false
end
-- is there a directed path from s to t that does not pass through avoid?
-- (over masks: the variables reached a step at a time)
function RELATIONS.path_avoiding(m, s, t, avoid)
  local core = m.core
  local sb, tb, ab = 1 << m:id(s), 1 << m:id(t), 1 << m:id(avoid)
  local seen, frontier = sb, sb
  while frontier ~= 0 do
    local reached, i = 0, 0
    while frontier ~= 0 do
      if frontier & 1 ~= 0 then reached = reached | core:children(i) end
      frontier, i = frontier >> 1, i + 1
    end
    if reached & tb ~= 0 then return true end
    frontier = reached & ~seen & ~ab
    seen = seen | frontier
  end
  return false
end
function RELATIONS.independent(m, a)
  return m:dsep(as_list(a.a, "query.a"), as_list(a.b, "query.b"), as_list(a.given, "query.given"))
end
function RELATIONS.backdoor(m, a)
  return m:backdoor(as_list(a.treatment, "query.treatment"), as_list(a.outcome, "query.outcome"), as_list(a.set, "query.set"))
end
function RELATIONS.frontdoor(m, a)
  return m:frontdoor(as_list(a.treatment, "query.treatment"), as_list(a.outcome, "query.outcome"), as_list(a.set, "query.set"))
end
function RELATIONS.instrument(m, a)
  return m:instrument(as_list(a.var, "query.var"), as_list(a.treatment, "query.treatment"),
                      as_list(a.outcome, "query.outcome"), as_list(a.given, "query.given"))
end
-- b is a collider between a and c: a -> b <- c
function RELATIONS.collider(m, a)
  local pa = {}
  for _, p in ipairs(m:parents(a.var)) do pa[p] = true end
  return pa[a.a] == true and pa[a.b] == true
end

-- Relations over the Markov equivalence class (corr2cause): true when they
-- hold in every DAG of the class. The engine enumerates the class and
-- intersects each DAG's relations (ce_pdag_common): parents, descendants and
-- shared causes as masks, once per model (a class can hold 120 DAGs and a
-- generator asks dozens of hypotheses of it).
local MEC_RELATIONS = { parent = true, child = true, ancestor = true, descendant = true, confounder = true, collider = true }

local function mec_common(m)
  local c = m._mec_common -- the class is a property of the graph: once per model
  if c then return c end
  local err
  c, err = m.core:mec_common(100000)
  if not c then return nil, err end
  m._mec_common = c
  return c
end

--- What every DAG of m's Markov equivalence class agrees on, as masks per
--- variable (1-based, bit i-1 for variable i): { pa, de, cf, dags } with
--- parents, strict descendants, variables sharing a cause, and the class's
--- size; or nil and a message. A generator that asks many hypotheses of one
--- model reads them directly.
M.mec_common = mec_common

--- Gives m the relations every DAG of its class agrees on, when the caller
--- has them already for the same graph (scm_core.mec_common of its parent
--- masks, by m's variable index): mec queries on m then read them instead
--- of enumerating the class again. Read-only; it may be shared.
function M.know_mec_common(m, common)
  m._mec_common = common
end

local function yes(b) return b and "yes" or "no" end

local SOLVERS = {}

function SOLVERS.prob(m, qu)
  local v, err = term(m, qu, "query")
  if v == nil then return nil, err end
  return v, v
end

function SOLVERS.prob_compare(m, qu)
  local l, err = term(m, qu.left, "query.left")
  if l == nil then return nil, err end
  local r, err2 = term(m, qu.right, "query.right")
  if r == nil then return nil, err2 end
  local d = l - r
  local threshold = qu.threshold or 0
  if math.abs(d) < threshold then return "no", d end
  if qu.relation == ">" then return yes(d > 0), d end
  if qu.relation == "<" then return yes(d < 0), d end
  return nil, ("query.relation: expected '>' or '<', got %s"):format(what(qu.relation))
end

function SOLVERS.effect_sign(m, qu)
  local v, err = effect(m, qu)
  if v == nil then return nil, err end
  local threshold = qu.threshold or M.THRESHOLD
  if math.abs(v) < threshold then return "no", v end
  if qu.direction == "increase" then return yes(v > 0), v end
  if qu.direction == "decrease" then return yes(v < 0), v end
  return nil, ("query.direction: expected 'increase' or 'decrease', got %s"):format(what(qu.direction))
end

function SOLVERS.effect_value(m, qu)
  local v, err = effect(m, qu)
  if v == nil then return nil, err end
  return v, v
end

function SOLVERS.counterfactual(m, qu)
  if type(qu.event) ~= "table" then return nil, "query.event: expected a table" end
  local v, err = m:counterfactual{ event = assignment(qu.event, "query.event"), ["do"] = assignment(qu["do"], "query.do"),
                                   given = assignment(qu.given, "query.given") }
  if v == nil then return nil, err end
  return v, v
end

function SOLVERS.counterfactual_value(m, qu)
  local var, err = need(qu, "var", "string")
  if not var then return nil, err end
  local p, err2 = m:counterfactual{ event = { [var] = 1 }, ["do"] = assignment(qu["do"], "query.do"),
                                    given = assignment(qu.given, "query.given") }
  if p == nil then return nil, err2 end
  if p > 1e-9 and p < 1 - 1e-9 then
    return nil, ("query: '%s' is not determined by the evidence (P=%g); counterfactual_value needs a deterministic model"):format(var, p)
  end
  local value = p >= 0.5 and 1 or 0
  return yes(value == (qu.value or 1)), value
end

-- the single-variable arguments of each relation (lists go through as_list)
local NAMES = { causes = { "from", "to" }, direct_cause = { "from", "to" }, mediator = { "from", "to", "var" },
                common_cause = { "a", "b" }, collider = { "var", "a", "b" } }
local NO_NAMES, COMMON_VIA = {}, { "a", "b", "via" }

function SOLVERS.graph(m, qu)
  local f = RELATIONS[qu.relation]
  if not f or qu.relation == "path_avoiding" then
    return nil, unknown("query.relation", "graph relation", qu.relation)
  end
  local names = NAMES[qu.relation] or NO_NAMES
  if qu.relation == "common_cause" and qu.via ~= nil then names = COMMON_VIA end
  for _, field in ipairs(names) do
    local v = qu[field]
    if v == nil then return nil, ("query.%s: missing"):format(field) end
    if type(v) ~= "string" then return nil, ("query.%s: expected a variable name, got %s"):format(field, what(v)) end
    if not m.index[v] then return nil, ("query.%s: unknown variable '%s'"):format(field, v) end
  end
  local ok, v = pcall(f, m, qu)
  if not ok then return nil, M.message(v) end
  if qu.negate then v = not v end -- "does X have no effect on Y?"
  return yes(v), v
end

function SOLVERS.adjust_compare(m, qu)
  local x, y = as_list(qu.treatment, "query.treatment"), as_list(qu.outcome, "query.outcome")
  local s1 = m:backdoor(x, y, as_list(qu.set1, "query.set1"))
  local s2 = m:backdoor(x, y, as_list(qu.set2, "query.set2"))
  return yes(s1 and not s2), { s1, s2 }
end

function SOLVERS.mec(m, qu)
  local rel = qu.relation
  if not MEC_RELATIONS[rel] then return nil, unknown("query.relation", "mec relation", rel) end
  local function index(name, field)
    local i = type(name) == "string" and m.index[name]
    if name == nil then error(("query.%s: missing"):format(field), 0) end
    if type(name) ~= "string" then error(("query.%s: expected a variable name, got %s"):format(field, what(name)), 0) end
    if not i then error(("query.%s: unknown variable '%s'"):format(field, name), 0) end
    return i + 1
  end
  local ia, ib = index(qu.a, "a"), index(qu.b, "b")
  local ic = rel == "collider" and index(qu.var, "var") or nil
  local c, err = mec_common(m)
  if not c then return nil, err end
  local v
  if rel == "parent" then v = c.pa[ib] & (1 << (ia - 1)) ~= 0
  elseif rel == "child" then v = c.pa[ia] & (1 << (ib - 1)) ~= 0
  elseif rel == "ancestor" then v = c.de[ia] & (1 << (ib - 1)) ~= 0
  elseif rel == "descendant" then v = c.de[ib] & (1 << (ia - 1)) ~= 0
  elseif rel == "confounder" then v = ia ~= ib and c.cf[ia] & (1 << (ib - 1)) ~= 0
  else v = c.pa[ic] & (1 << (ia - 1)) ~= 0 and c.pa[ic] & (1 << (ib - 1)) ~= 0 end
  return yes(v), c.dags
end

function SOLVERS.choice(m, qu)
  if type(qu.choices) ~= "table" or #qu.choices < 2 then return nil, "query.choices: expected at least two options" end
  local found
  for i, c in ipairs(qu.choices) do
    if type(c) ~= "table" or type(c.query) ~= "table" then return nil, ("query.choices[%d]: expected {label, query}"):format(i) end
    local s = SOLVERS[c.query.type]
    if not s then return nil, unknown(("query.choices[%d].query.type"):format(i), "query type", c.query.type) end
    local a, err = s(m, c.query)
    if a == nil then
      -- "query.choices[2].query.a: ..." names the field inside the option
      if err:find("^query") then return nil, ("query.choices[%d].%s"):format(i, err) end
      return nil, ("query.choices[%d]: %s"):format(i, err)
    end
    if a == "yes" then
      if found then return nil, "query.choices: more than one option is correct" end
      found = c.label
    end
  end
  if not found then return nil, "query.choices: no option is correct" end
  return found, found
end

M.SOLVERS = SOLVERS

--- The exact answer of a question from its own fields: answer ("yes"/"no",
--- a number or a choice label) and the value behind it; or nil and a message.
--- model: an already built engine model of the question (the generator has one).
function M.solve(q, model)
  if type(q) ~= "table" then return nil, "expected a question object" end
  local qu = q.query
  if qu == nil then return nil, "query: missing" end
  if type(qu) ~= "table" then return nil, "query: expected an object" end
  if qu.type == nil then return nil, "query.type: missing" end
  local solver = SOLVERS[qu.type]
  if not solver then return nil, unknown("query.type", "query type", qu.type) end
  local m, err = model, nil
  if not m then
    m, err = M.model_of(q)
    if not m then return nil, err end
  end
  local ok, a, v = pcall(solver, m, qu)
  if not model then m:close() end
  -- the engine raises on a name the model does not have: "query: unknown variable 'Q'"
  if not ok then
    local msg = M.message(a)
    return nil, msg:find("^query") and msg or "query: " .. msg
  end
  -- an engine failure ("scm: variable 'X' has no table") is the model's
  if a == nil and type(v) == "string" then return nil, (v:gsub("^scm: ", "model: ")) end
  return a, v
end

--- The answer type a query produces.
function M.answer_type(qu)
  local t = qu.type
  if t == "prob" or t == "effect_value" or t == "counterfactual" then return "number" end
  if t == "choice" then return "choice" end
  return "yes_no"
end

--- Serialises a model for a question: variables in topological order.
local EMPTY = json.array({})

-- the edge pairs {from, to} questions share, as edge_pairs[from][to]
-- (edge_pairs[0]: how many); at most EDGE_PAIRS_KEPT of them (a family may
-- name its nodes without end)
local EDGE_PAIRS_KEPT = 50000
local edge_pairs = {}

--- The question fields of a model: graph {nodes, edges} and the list of
--- variables {name, parents, p} in topological order (p nil: graph only).
--- They share the model's read-only tables rather than copying them, and
--- each edge pair {from, to} is shared with other questions: read-only.
function M.model_fields(m)
  -- built in C (every generated question needs them); they are the model's
  -- m:topo() and m:edges() as well
  if (edge_pairs[0] or 0) > EDGE_PAIRS_KEPT then edge_pairs = {} end
  local nodes, edges, list = m.core:fields(m.vars, EMPTY, edge_pairs)
  nodes = m._topo or nodes
  edges = m._edges or edges
  m._topo, m._edges = nodes, edges
  return { nodes = nodes, edges = json.array(edges) }, list
end

--- Checks a stored answer against the recomputed one: true or false and
--- the two values; nil and a message when the stored one is missing or of
--- the wrong kind (an invalid question, not a disagreement).
function M.agrees(q, answer, value)
  local gt = q.ground_truth
  if gt == nil then return nil, "ground_truth: missing" end
  if q.answer_type == "number" or type(answer) == "number" then
    if type(gt) ~= "number" then return nil, "ground_truth: expected a number, got " .. what(gt) end
    return math.abs(gt - answer) <= 1e-9, ("stored %.12g, exact %.12g"):format(gt, answer)
  end
  if type(gt) ~= "string" then return nil, "ground_truth: expected a string, got " .. what(gt) end
  if (answer == "yes" or answer == "no") and gt ~= "yes" and gt ~= "no" then
    return nil, 'ground_truth: expected "yes" or "no", got ' .. what(gt)
  end
  return gt == answer, ("stored %s, exact %s"):format(gt, tostring(answer))
end

return M
