-- SPDX-License-Identifier: MIT
-- Structural causal models for benchmark authors: build a graph, give each
-- variable a table or an equation, ask exact questions by name.
--
--   local scm = require "causal_eval.scm"
--   local m = scm.model{
--     graph = "Z->X, Z->Y, X->Y",
--     vars = {
--       Z = 0.3,                                          -- P(Z=1)
--       X = { parents = {"Z"}, p = {0.2, 0.7} },          -- P(X=1 | Z=0), P(X=1 | Z=1)
--       Y = { parents = {"Z", "X"}, p = {{0.1, 0.5}, {0.3, 0.9}} },  -- [z][x], first parent outermost
--     },
--   }
--   m:p{ Y = 1 }                          -- P(Y=1)
--   m:p({ Y = 1 }, { X = 1 })             -- P(Y=1 | X=1)
--   m:p({ Y = 1 }, nil, { X = 1 })        -- P(Y=1 | do(X=1))
--   m:ate("X", "Y"), m:ett("X", "Y"), m:nde("X", "Y"), m:nie("X", "Y")
--   m:counterfactual{ event = { Y = 1 }, ["do"] = { X = 0 }, given = { X = 1, Y = 1 } }
--   m:backdoor("X", "Y", { "Z" }), m:dsep("X", "Y", { "Z" }), m:cpdag(), m:mec()
--
-- A table is a number (no parents), a flat list of 2^k numbers (first parent
-- most significant), nested lists indexed [first parent][second]..., or a
-- function of the parents' values (0/1) returning a probability or a boolean.
-- `eq = "A and not B"` gives a deterministic structural equation whose
-- parents are the names it uses. Misuse (an unknown name) raises; a query
-- that cannot be answered (evidence of probability zero) returns nil, message.
local core = require "causal_eval.scm_core"

local M = { MAX_VARS = core.MAX_VARS }

local Model = {}
Model.__index = Model

--- Parses "A->B, B->C" (or a list of {from, to}) into a list of edges.
function M.parse_graph(g)
  if type(g) == "table" then
    for i, e in ipairs(g) do
      if type(e) ~= "table" or type(e[1]) ~= "string" or type(e[2]) ~= "string" then
        error(("graph: edge %d must be {from, to}, two variable names"):format(i), 3)
      end
    end
    return g
  end
  if type(g) ~= "string" then error("graph must be a string like 'A->B, B->C' or a list of edges", 3) end
  local edges = {}
  for item in g:gmatch("[^,;]+") do
    local a, b = item:match("^%s*([%w_%.]+)%s*%->%s*([%w_%.]+)%s*$")
    if not a then
      if item:match("%S") then error(("bad edge '%s' in graph (expected A->B)"):format(item), 3) end
    else
      edges[#edges + 1] = { a, b }
    end
  end
  return edges
end

local EQ_WORDS = { ["and"] = true, ["or"] = true, ["not"] = true, ["true"] = true, ["false"] = true }

--- Compiles a boolean equation over parent names into a function of their values.
function M.compile_equation(expr, name)
  if type(expr) ~= "string" or not expr:match("^[%w_%s%(%)]+$") then
    error(("variable '%s': equation must use names, and, or, not, parentheses: %q"):format(name, tostring(expr)), 3)
  end
  local names, seen = {}, {}
  for w in expr:gmatch("[%a_][%w_]*") do
    if not EQ_WORDS[w] and not seen[w] then
      seen[w] = true
      names[#names + 1] = w
    end
  end
  local env = {}
  local chunk, err = load("return " .. expr, "=equation of " .. name, "t", env)
  if not chunk then error(("variable '%s': bad equation %q: %s"):format(name, expr, err), 3) end
  local fn = function(...)
    local vals = { ... }
    for i, n in ipairs(names) do env[n] = vals[i] == 1 end
    local ok, v = pcall(chunk)
    if not ok then error(("variable '%s': equation %q: %s"):format(name, expr, v), 0) end
    return v and 1 or 0
  end
  return fn, names
end

-- Flattens a table given in any accepted form into 2^k numbers.
local function flatten(name, spec, k)
  local t = type(spec)
  if t == "number" then
    if k ~= 0 then error(("variable '%s' has %d parents but a single number as its table"):format(name, k), 4) end
    return { spec }
  end
  if t == "function" then
    local out = {}
    local vals = {}
    for idx = 0, (1 << k) - 1 do
      for j = 1, k do vals[j] = (idx >> (k - j)) & 1 end
      local v = spec(table.unpack(vals, 1, k))
      if type(v) == "boolean" then v = v and 1 or 0 end
      if type(v) ~= "number" then
        error(("variable '%s': table function returned %s"):format(name, type(v)), 4)
      end
      out[idx + 1] = v
    end
    return out
  end
  if t ~= "table" then error(("variable '%s': table must be a number, a list or a function"):format(name), 4) end
  if k == 0 then
    if #spec ~= 1 or type(spec[1]) ~= "number" then
      error(("variable '%s' has no parents: its table is one number"):format(name), 4)
    end
    return { spec[1] }
  end
  if type(spec[1]) == "table" then
    local out = {}
    local function walk(node, depth)
      if depth == k then
        if type(node) ~= "number" then error(("variable '%s': nested table is not %d deep"):format(name, k), 5) end
        out[#out + 1] = node
        return
      end
      if type(node) ~= "table" or #node ~= 2 then
        error(("variable '%s': nested table needs two entries per parent (level %d)"):format(name, depth + 1), 5)
      end
      walk(node[1], depth + 1)
      walk(node[2], depth + 1)
    end
    walk(spec, 0)
    return out
  end
  return spec -- flat: the engine checks its length and range
end

local function normalise_vars(spec)
  local list = {}
  if spec.vars and #spec.vars > 0 then
    for _, v in ipairs(spec.vars) do
      local name = v.name or v[1]
      list[#list + 1] = { name = name, def = v }
    end
  elseif spec.vars then
    local names = {}
    for name in pairs(spec.vars) do names[#names + 1] = name end
    table.sort(names)
    for _, name in ipairs(names) do list[#list + 1] = { name = name, def = spec.vars[name] } end
  end
  return list
end

--- Builds a model. spec = { graph = edges or "A->B, ...", vars = {...} }.
--- Returns the model, or nil and a message that names the variable at fault.
function M.model(spec)
  if type(spec) ~= "table" then error("scm.model expects a table", 2) end
  local entries = normalise_vars(spec)
  local by_name = {}
  for _, e in ipairs(entries) do by_name[e.name] = e end
  -- parents from the graph, for variables that do not list their own
  local graph_parents = {}
  if spec.graph then
    for _, edge in ipairs(M.parse_graph(spec.graph)) do
      local a, b = edge[1], edge[2]
      for _, n in ipairs({ a, b }) do
        if not by_name[n] then
          by_name[n] = { name = n }
          entries[#entries + 1] = by_name[n]
        end
      end
      graph_parents[b] = graph_parents[b] or {}
      table.insert(graph_parents[b], a)
    end
  end
  local vars = {}
  for i, e in ipairs(entries) do
    local def, name = e.def, e.name
    if type(name) ~= "string" then error(("variable %d has no name"):format(i), 2) end
    local parents, p
    local is_spec = type(def) == "table" and (def.p ~= nil or def.parents ~= nil or def.eq ~= nil
      or def.name ~= nil or type(def[1]) == "string")
    if is_spec and def.eq then
      local fn, used = M.compile_equation(def.eq, name)
      parents = def.parents or graph_parents[name] or used
      -- the equation may name the parents in another order than the table uses
      local pos = {}
      for j, n in ipairs(used) do pos[n] = j end
      for _, n in ipairs(used) do
        local found = false
        for _, q in ipairs(parents) do if q == n then found = true end end
        if not found then return nil, ("variable '%s': equation uses '%s', which is not a parent"):format(name, n) end
      end
      local plist = parents
      p = function(...)
        local vals, args = { ... }, {}
        for j, q in ipairs(plist) do if pos[q] then args[pos[q]] = vals[j] end end
        return fn(table.unpack(args, 1, #used))
      end
    elseif is_spec then
      parents, p = def.parents, def.p
    else
      p = def
    end
    parents = parents or graph_parents[name] or {}
    local flat = p ~= nil and flatten(name, p, #parents) or nil
    vars[i] = { name = name, parents = parents, p = flat }
  end
  return M.from_list(vars)
end

--- The fast path for generators: vars already in the engine's form, a list of
--- { name = , parents = {names}, p = {2^k numbers} or nil }. The model keeps
--- the list (its tables and parent lists are returned as they are: read-only).
function M.from_list(vars)
  local m, err = core.new(vars)
  if not m then return nil, err end
  local names, index = m:names_index()
  return M.wrap(m, vars, names, index)
end

--- The model of an engine model built from vars, with its names (in
--- order) and index (name -> 0-based): what from_list returns, for a model
--- built in C (scm_core.random_model).
function M.wrap(m, vars, names, index)
  return setmetatable({ core = m, names = names, index = index, vars = vars }, Model)
end

-- ---- names <-> indices and masks ----

function Model:id(name)
  local i = self.index[name]
  if not i then error(("unknown variable '%s'"):format(tostring(name)), 3) end
  return i
end

-- mask and assignment look names up in index themselves (they run for
-- every query a generator asks); id raises for one that is not there
function Model:mask(set)
  if set == nil then return 0 end
  local index = self.index
  if type(set) == "string" then return 1 << (index[set] or self:id(set)) end
  local mask = 0
  for _, n in ipairs(set) do mask = mask | (1 << (index[n] or self:id(n))) end
  return mask
end

-- {X=1, Y=0} -> mask, value
function Model:assignment(t)
  local mask, value = 0, 0
  if t == nil then return 0, 0 end
  local index = self.index
  for name, v in pairs(t) do
    local b = 1 << (index[name] or self:id(name))
    mask = mask | b
    if v == 1 or v == true then value = value | b
    elseif not (v == 0 or v == false) then
      error(("value of '%s' must be 0 or 1, got %s"):format(name, tostring(v)), 3)
    end
  end
  return mask, value
end

function Model:set_names(mask)
  local out = {}
  for i, n in ipairs(self.names) do
    if mask & (1 << (i - 1)) ~= 0 then out[#out + 1] = n end
  end
  return out
end

-- ---- probabilities ----

--- P(event | given) under do: m:p({Y=1}, {X=1}, {Z=0}).
function Model:p(event, given, intervene)
  local em, ev = self:assignment(event)
  local gm, gv = self:assignment(given)
  local dm, dv = self:assignment(intervene)
  return self.core:prob(em, ev, gm, gv, dm, dv)
end

--- m:prob{ event = {...}, given = {...}, ["do"] = {...} }
function Model:prob(q)
  return self:p(q.event, q.given, q["do"])
end

function Model:ate(x, y) return self.core:ate(self:id(x), self:id(y)) end
function Model:ett(x, y) return self.core:ett(self:id(x), self:id(y)) end
function Model:nde(x, y) return self.core:nde(self:id(x), self:id(y)) end
function Model:nie(x, y) return self.core:nie(self:id(x), self:id(y)) end
--- E[Y_{X=x, M=M_{X=xm}}]
function Model:nested(x, y, xd, xm) return self.core:nested(self:id(x), self:id(y), xd, xm) end

--- P(event in the world do(...) | given in the factual world)
function Model:counterfactual(q)
  local em, ev = self:assignment(q.event)
  local dm, dv = self:assignment(q["do"])
  local gm, gv = self:assignment(q.given)
  return self.core:counterfactual(em, ev, dm, dv, gm, gv)
end

--- Values of every variable in a deterministic model, given root values and
--- an intervention: { X = 1, Y = 0, ... }, or nil, message.
function Model:solve(roots, intervene)
  local out = {}
  for _, name in ipairs(self.names) do
    local p, err = self:counterfactual{ event = { [name] = 1 }, ["do"] = intervene, given = roots }
    if p == nil then
      p, err = self:p({ [name] = 1 }, roots, intervene)
      if p == nil then return nil, err end
    end
    if p > 1e-12 and p < 1 - 1e-12 then
      return nil, ("variable '%s' is not determined by the given values (P=%g)"):format(name, p)
    end
    out[name] = p >= 0.5 and 1 or 0
  end
  return out
end

-- ---- the graph ----

--- Parent names in table order (read-only).
function Model:parents(v)
  return self.vars[self:id(v) + 1].parents
end

function Model:children(v) return self:set_names(self.core:children(self:id(v))) end
function Model:ancestors(v) local m = self:mask(v) return self:set_names(self.core:ancestors(m) & ~m) end
function Model:descendants(v) local m = self:mask(v) return self:set_names(self.core:descendants(m) & ~m) end
function Model:mediators(x, y) return self:set_names(self.core:mediators(self:mask(x), self:mask(y))) end
function Model:dsep(x, y, z) return self.core:dsep(self:mask(x), self:mask(y), self:mask(z)) end
function Model:directed_path(x, y) return self.core:directed_path(self:mask(x), self:mask(y)) end
function Model:backdoor(x, y, z) return self.core:backdoor(self:mask(x), self:mask(y), self:mask(z)) end
function Model:frontdoor(x, y, z) return self.core:frontdoor(self:mask(x), self:mask(y), self:mask(z)) end
function Model:instrument(z, x, y, w)
  return self.core:instrument(self:mask(z), self:mask(x), self:mask(y), self:mask(w))
end
--- P(v=1 | parents) as a flat list, first parent most significant (read-only);
--- nil for a graph-only variable.
function Model:table(v) return self.vars[self:id(v) + 1].p end
function Model:roots()
  local out = {}
  for i, n in ipairs(self.names) do
    if self.core:pa(i - 1) == 0 then out[#out + 1] = n end
  end
  return out
end

--- Names in topological order (read-only, computed once).
function Model:topo()
  local t = self._topo
  if not t then
    t = self.core:topo()
    local names = self.names
    for i = 1, #t do t[i] = names[t[i] + 1] end
    self._topo = t
  end
  return t
end

--- Edges {from, to}, grouped by child in topological order (read-only).
function Model:edges()
  local out = self._edges
  if not out then
    out = {}
    local vars, index, k = self.vars, self.index, 0
    for _, v in ipairs(self:topo()) do
      local pa = vars[index[v] + 1].parents
      for j = 1, #pa do
        k = k + 1
        out[k] = { pa[j], v }
      end
    end
    self._edges = out
  end
  return out
end

function Model:graph_string()
  local parts = {}
  for _, e in ipairs(self:edges()) do parts[#parts + 1] = e[1] .. "->" .. e[2] end
  return table.concat(parts, ",")
end

--- Unshielded colliders as { {a, c, b}, ... }: a -> c <- b, a and b not adjacent.
function Model:colliders()
  local out = {}
  for _, t in ipairs(self.core:vstructures()) do
    out[#out + 1] = { self.names[t[1] + 1], self.names[t[2] + 1], self.names[t[3] + 1] }
  end
  return out
end

--- The CPDAG of the model's Markov equivalence class.
function Model:cpdag()
  local d, u = self.core:cpdag()
  local out = { directed = {}, undirected = {} }
  for _, e in ipairs(d) do out.directed[#out.directed + 1] = { self.names[e[1] + 1], self.names[e[2] + 1] } end
  for _, e in ipairs(u) do out.undirected[#out.undirected + 1] = { self.names[e[1] + 1], self.names[e[2] + 1] } end
  return out
end

--- Every DAG of the equivalence class, each as a list of edges {from, to}.
function Model:mec(max)
  local dags, err = self.core:mec(max)
  if not dags then return nil, err end
  local out = {}
  for i, pa in ipairs(dags) do
    local edges = {}
    for v, mask in ipairs(pa) do
      for u = 0, #self.names - 1 do
        if mask & (1 << u) ~= 0 then edges[#edges + 1] = { self.names[u + 1], self.names[v] } end
      end
    end
    out[i] = edges
  end
  return out
end

function Model:close() self.core:close() end
Model.__close = Model.close

function Model:__tostring()
  return ("scm model (%d variables: %s)"):format(#self.names, self:graph_string())
end

return M
