-- SPDX-License-Identifier: MIT
-- The benchmark kit: what a family file under benchmarks/ is written with.
--
--   local bench = require "causal_eval.bench"
--   return bench.family{
--     name = "my_family", version = 1, rungs = { 2 },
--     description = "one line",
--     generate = function(ctx)            -- one question; ctx.want is "yes" or "no"
--       local m = ctx:random_model(ctx:random_dag(ctx:size()))
--       ...
--       return { model = m, query = { type = "effect_sign", ... }, rung = 2,
--                render = function() return "the prompt", { V1 = "smoking" } end }
--     end,
--   }
--
-- render (or a plain `prompt` string) writes the prompt and the variables' words;
-- it runs after the content is fixed, drawing from ctx.text, and is skipped
-- for content-only generation.
-- The kit turns what generate returns into a complete question: exact ground
-- truth from causal_eval.questions.solve, a stable id, the graph and tables,
-- metadata. Question i depends only on (family, version, options, seed, i):
-- it has its own Philox stream, so output is byte-identical for the same
-- arguments on any machine, and `--n 10` is a prefix of `--n 1000`.
-- Yes/no answers are balanced: of each pair of questions one is asked to come
-- out "yes" and the other "no", in an order the stream decides.
local rng = require "causal_eval.rng"
local json = require "causal_eval.json"
local questions = require "causal_eval.questions"
local scm = require "causal_eval.scm"
local scm_core = require "causal_eval.scm_core"

local M = {}

M.DIFFICULTIES = { "easy", "medium", "hard" }
M.SIZES = { easy = { 3, 4 }, medium = { 5, 6 }, hard = { 7, 8 } }
M.MAX_ATTEMPTS = 200
-- the one list of perturbations: options, ids, the command-line flags and
-- their help all read it
M.PERTURBATIONS = { "anti_commonsense", "nonsense", "renamed", "paraphrase" }
M.PERTURBATION_HELP = {
  anti_commonsense = "stories whose causal order contradicts common sense",
  nonsense = "invented words for the variables",
  renamed = "variables named by letters",
  paraphrase = "vary the wording of templates",
}

local Family = {}
Family.__index = Family

function M.family(def)
  assert(type(def) == "table", "bench.family expects a table")
  assert(type(def.name) == "string" and def.name:match("^[%w_]+$"), "family: name must be an identifier")
  assert(math.type(def.version) == "integer", "family " .. def.name .. ": version must be an integer")
  assert(type(def.generate) == "function", "family " .. def.name .. ": generate must be a function")
  return setmetatable(def, Family)
end

-- A family file is used by its file name (`generate NAME`, ids, the results'
-- family column); a `name` field that says otherwise would file its questions
-- under a name nobody asked for.
local function checked(fam, file, want)
  if getmetatable(fam) ~= Family then return nil, file .. ": does not return bench.family{...}" end
  if want and fam.name ~= want then
    return nil, ("%s: field name: '%s' differs from the file's name '%s' (a family is used by its file name)"):format(
      file, fam.name, want)
  end
  fam.file = file
  return fam
end

--- Loads a family: a file path, or the module benchmarks.<name> found on the
--- search path (CAUSAL_EVAL_PATH, then the program's root).
function M.load(name)
  if type(name) ~= "string" then return nil, "benchmark name must be a string" end
  if name:find("/", 1, true) or name:match("%.lua$") then
    local chunk, err = loadfile(name)
    if not chunk then return nil, err end
    local ok, fam = pcall(chunk)
    if not ok then return nil, ("%s: %s"):format(name, fam) end
    return checked(fam, name, name:match("([^/]+)%.lua$"))
  end
  if not name:match("^[%w_]+$") then return nil, ("bad benchmark name '%s'"):format(name) end
  local ok, fam = pcall(require, "benchmarks." .. name)
  if not ok then
    if tostring(fam):find("module 'benchmarks." .. name .. "' not found", 1, true) then
      local known = M.list()
      return nil, ("unknown benchmark '%s' (known: %s)"):format(name, table.concat(known, ", "))
    end
    return nil, tostring(fam)
  end
  local file = package.searchpath("benchmarks." .. name, package.path) or ("benchmarks." .. name)
  return checked(fam, file, name)
end

--- Names of the families on the search path: every benchmarks/ folder that
--- `require "benchmarks.<name>"` looks in (CAUSAL_EVAL_PATH, the program's
--- root, ...), sorted; a name found twice is the one require loads.
function M.list()
  local host = require "causal_eval.host"
  local out, seen = {}, {}
  for template in package.path:gmatch("[^;]+") do
    local dir = template:match("^(.*)%?%.lua$")
    if dir then
      for _, f in ipairs(host.listdir(dir .. "benchmarks") or {}) do
        local n = f:match("^([%w_]+)%.lua$")
        if n and n ~= "stories" and not seen[n] then
          seen[n] = true
          out[#out + 1] = n
        end
      end
    end
  end
  table.sort(out)
  return out
end

--- The most questions of a family a set may ask for: more than any family
--- can make (generate --capacity), and past it the pairs' block arithmetic
--- left the 32 bits of its random streams (an internal error, not a refusal).
M.MAX_N = 1000000000

--- Families named on the command line ("all" expands, commas separate, each
--- once), and the names they were loaded by; nil, message on a bad name.
function M.families(names)
  -- each family once, where it first comes ("all,ladder" is all): twice, a
  -- run's workers planned its pairs twice and failed, and generate wrote
  -- every question twice, a file no run takes (duplicate ids)
  local out, seen = {}, {}
  local function add(n)
    if not seen[n] then
      seen[n] = true
      out[#out + 1] = n
    end
  end
  for _, item in ipairs(names) do
    for n in item:gmatch("[^,%s]+") do
      if n == "all" then
        for _, f in ipairs(M.list()) do add(f) end
      else
        add(n)
      end
    end
  end
  local fams = {}
  for i, n in ipairs(out) do
    local fam, err = M.load(n)
    if not fam then return nil, err end
    fams[i] = fam
  end
  return fams, out
end

-- The family generating now: a kit function a family misuses names it.
local current

-- Misuse of the kit by a family's code: the message names the family and the
-- line of its file that made the call (level 1 is the kit function's caller;
-- when that call was a tail call its line is gone, and the family's file is
-- named alone), and is raised as the family's error, which `generate` prints
-- as it is.
local function misuse(level, msg)
  local where = ""
  local callee = debug.getinfo(level + 1, "t")
  local info = not (callee and callee.istailcall) and debug.getinfo(level + 2, "Sl")
  if info and info.currentline > 0 then
    where = info.short_src .. ":" .. info.currentline .. ": "
  elseif current and current.file then
    where = current.file .. ": "
  end
  error((current and ("family " .. current.name .. ": ") or "") .. where .. msg, 0)
end

-- ---- text helpers ----

--- "{a} affects {b}" with fields of t; unknown fields are an error (a typo in
--- a template must not reach a model).
function M.fill(template, t)
  return (template:gsub("{([%w_]+)}", function(k)
    local v = t[k]
    if v == nil then error(("template field {%s} is not set in: %s"):format(k, template), 2) end
    return tostring(v)
  end))
end

function M.capitalize(s) return (s:gsub("^%l", string.upper)) end

local PCT = {}
for i = 0, 100 do PCT[i] = i .. "%" end

local function pct(p)
  local v = p * 100
  local r = math.floor(v + 0.5)
  if math.abs(v - r) < 1e-9 and PCT[r] then return PCT[r] end
  return ("%.1f%%"):format(v)
end

-- pct of the probabilities prompts show, kept (generators draw most of
-- them from a hundred values); at most PCT_KEEP of them, as computed ones
-- vary without end; NaN, which cannot be a key, is not kept
local PCT_KEEP = 4096
local pct_of, pct_kept = {}, 0

function M.pct(p)
  local s = pct_of[p]
  if s then return s end
  s = pct(p)
  if type(p) == "number" and p == p then
    if pct_kept == PCT_KEEP then pct_of, pct_kept = {}, 0 end
    pct_of[p], pct_kept = s, pct_kept + 1
  end
  return s
end

function M.join(list, last)
  last = last or "and"
  if #list == 0 then return "" end
  if #list == 1 then return list[1] end
  return table.concat(list, ", ", 1, #list - 1) .. " " .. last .. " " .. list[#list]
end

-- ---- the per-question context ----

local Ctx = {}
Ctx.__index = Ctx

local GOLDEN = -7046029254386353131 -- 0x9E3779B97F4A7C15: mixes a counter into a Philox key

-- Content draws (graph, tables, query) come from ctx.rng; the words of the
-- prompt from ctx.text, a separate stream. So a question's content is the same
-- whether or not its prompt is rendered (generate --no-prompt), and a change of
-- wording never changes the ground truth.
function Ctx:int(a, b) return self.rng:int(a, b) end
function Ctx:chance(p) return self.rng:bernoulli(p) end
function Ctx:pick(list) return self.rng:pick(list) end
function Ctx:shuffle(list) return self.rng:shuffle(list) end
function Ctx:flag(name) return self.perturb[name] == true end
function Ctx:text_chance(p) return self.text:bernoulli(p) end
function Ctx:text_pick(list) return self.text:pick(list) end

--- Runs fn(...) with every content draw taken from a stream of the pair,
--- which both questions of a pair share, and returns what fn returns: what
--- fn builds (a graph, the variables a question may ask about) is the same
--- for the yes question and the no question, so it cannot tell them apart.
--- fn must draw only through ctx, and nothing it draws may depend on
--- ctx.want, since it must suit both answers. Each call of an attempt has a
--- stream of its own that restarts at every attempt, and its result is kept
--- for the sibling question: treat it as read-only, and return plain data,
--- not models.
function Ctx:shared(fn, ...)
  local slot = self.shared_n + 1
  self.shared_n = slot
  local memo = self.memo
  local r = memo[slot]
  if not r then
    local own = self.rng
    self.rng = rng.new(self.pair_key ~ (slot * GOLDEN), self.pair_index)
    r = table.pack(fn(...))
    self.rng = own
    memo[slot] = r
  end
  return table.unpack(r, 1, r.n)
end

--- A probability in [lo, hi] with two decimals: prompts show exactly the
--- numbers the model uses.
function Ctx:prob(lo, hi)
  lo, hi = lo or 0.05, hi or 0.95
  return self.rng:int(math.floor(lo * 100 + 0.5), math.floor(hi * 100 + 0.5)) / 100
end

--- Number of variables for this difficulty.
function Ctx:size()
  local r = M.SIZES[self.difficulty]
  return self.rng:int(r[1], r[2])
end

--- A random connected DAG over V1..Vn (in topological order). density is the
--- chance of each forward edge beyond a spanning tree; no node gets more than
--- max_parents parents (tables, and prompts, grow as 2^parents).
M.MAX_PARENTS = { easy = 2, medium = 3, hard = 3 }

local NAMES = {}
for i = 1, 32 do NAMES[i] = "V" .. i end
local DENSITY = { easy = 0.2, medium = 0.3, hard = 0.35 }

function Ctx:random_dag(n, density, max_parents)
  density = density or DENSITY[self.difficulty] or 0.3
  max_parents = max_parents or M.MAX_PARENTS[self.difficulty] or 3
  local r = self.rng
  -- drawn in C (scm_core.random_dag); here when it does not take the arguments
  local nodes, edges_ = scm_core.random_dag(r, n, density, max_parents, NAMES)
  if nodes then return { nodes = nodes, edges = edges_ } end
  -- tree[j]: the parent the spanning tree gave j
  local names = { table.unpack(NAMES, 1, n) }
  local npa, tree = {}, {}
  for i = 1, n do npa[i], tree[i] = 0, 0 end
  local edges, ne = {}, 0
  for i = 2, n do -- a spanning tree keeps the graph connected
    local j = r:int(1, i - 1)
    ne = ne + 1
    edges[ne] = { names[j], names[i] }
    tree[i] = j
    npa[i] = 1
  end
  for i = 1, n do
    for j = i + 1, n do
      if npa[j] < max_parents and tree[j] ~= i and r:bernoulli(density) then
        ne = ne + 1
        edges[ne] = { names[i], names[j] }
        npa[j] = npa[j] + 1
      end
    end
  end
  return { nodes = names, edges = edges }
end

--- The nodes of a graph ({nodes, edges}) in the order a model of it gives
--- (m:topo()): the engine's order, parents first, ties by position in
--- graph.nodes. For a generator that needs the order before it builds the
--- model.
function M.topo(graph)
  local nodes, idx, pa = graph.nodes, {}, {}
  for i, n in ipairs(nodes) do idx[n], pa[i] = i, 0 end
  for k, e in ipairs(graph.edges) do
    local from, to = idx[e[1]], idx[e[2]]
    if not from or not to then
      misuse(1, ("bench.topo: graph.edges[%d] (%s -> %s) names %s, which is not in graph.nodes"):format(
        k, tostring(e[1]), tostring(e[2]), tostring(from and e[2] or e[1])))
    end
    pa[to] = pa[to] | (1 << (from - 1))
  end
  local order, err = scm_core.topo(#nodes, pa)
  if not order then misuse(1, "bench.topo: " .. err) end
  for k, v in ipairs(order) do order[k] = nodes[v + 1] end
  return order
end

--- Random tables for a graph ({nodes, edges}); returns the scm model.
--- opts.deterministic: 0/1 tables; opts.lo/hi bound the probabilities;
--- opts.strong: parents move the probability by at least this much.
local NO_OPTS = {}

function Ctx:random_model(graph, opts)
  opts = opts or NO_OPTS
  local nodes = graph.nodes
  local tables, graph_only = opts.tables, opts.graph_only
  local lo, hi = 5, 95
  if opts.lo then lo = math.floor(opts.lo * 100 + 0.5) end
  if opts.hi then hi = math.floor(opts.hi * 100 + 0.5) end
  if graph_only or not opts.deterministic then
    -- the common models in one call (scm_core.random_model); nothing when
    -- it does not take the graph, which is then built here
    local core, vars, names, index = scm_core.random_model(not graph_only and self.rng or nil, nodes, graph.edges, lo, hi,
      tables)
    if core then return scm.wrap(core, vars, names, index) end
    if vars then misuse(1, "random_model: " .. vars:gsub("^scm: ", "")) end
  end
  -- { name, parents } for each node, built in C; a graph it does not take
  -- is built here, and what is wrong with it reported
  local vars = scm_core.graph_vars(nodes, graph.edges)
  if not vars then
    local parents = {}
    for _, n in ipairs(nodes) do parents[n] = {} end
    for k, e in ipairs(graph.edges) do
      local ps = parents[e[2]]
      if not ps or not parents[e[1]] then
        misuse(1, ("random_model: graph.edges[%d] (%s -> %s) names %s, which is not in graph.nodes"):format(
          k, tostring(e[1]), tostring(e[2]), tostring(ps and e[1] or e[2])))
      end
      ps[#ps + 1] = e[1]
    end
    vars = {}
    for vi, n in ipairs(nodes) do vars[vi] = { name = n, parents = parents[n] } end
  end
  local r = self.rng
  if graph_only and not tables then
    -- no numbers: nothing is drawn
    local m, err = scm.from_list(vars)
    if not m then misuse(1, "random_model: " .. err:gsub("^scm: ", "")) end
    return m
  end
  for vi = 1, #vars do
    local v = vars[vi]
    local n = v.name
    local k = #v.parents
    local fixed = tables and tables[n]
    local p
    if fixed then
      p = fixed
    elseif graph_only then
      p = nil
    elseif not opts.deterministic then
      p = r:probs(1 << k, lo, hi)
    else
      p = {}
      for i = 1, 1 << k do p[i] = r:int(0, 1) end
      if k > 0 then
        -- a constant function would make the parents irrelevant: reroll
        for _ = 1, 8 do
          local same = true
          for i = 2, #p do if p[i] ~= p[1] then same = false end end
          if not same then break end
          for i = 1, #p do p[i] = r:int(0, 1) end
        end
      end
    end
    v.p = p
  end
  local m, err = scm.from_list(vars)
  if not m then misuse(1, "random_model: " .. err:gsub("^scm: ", "")) end
  return m
end

local SYLLABLES = { "bl", "gr", "zo", "qu", "fi", "mo", "tr", "ve", "ka", "lu", "pr", "sn", "do", "wi", "ri", "xa" }
local VOWELS = { "a", "e", "i", "o", "u", "ee", "oo" }

function Ctx:nonsense_word()
  local t = self.text
  local w = {}
  for _ = 1, t:int(2, 3) do w[#w + 1] = t:pick(SYLLABLES) .. t:pick(VOWELS) end
  return table.concat(w) .. t:pick({ "p", "k", "x", "n", "m", "z" })
end

local function by_rank(a, b)
  if a.rank ~= b.rank then return a.rank < b.rank end
  return a.name < b.name
end

-- A domain's variables sorted by rank, then name, with each one's place:
-- worked out once per list (ctx:label sorts the few it chooses into this
-- order); nil when two variables tie, where a sort's order is not defined.
local RANK_ORDER = setmetatable({}, { __mode = "k" })

local function rank_order(vars)
  local order = RANK_ORDER[vars]
  if order == nil or order and order.n ~= #vars then
    order = { table.unpack(vars) }
    table.sort(order, by_rank)
    order.n, order.place = #vars, {}
    for i, v in ipairs(order) do
      if order.place[v] or i > 1 and not by_rank(order[i - 1], v) then
        order = false -- a tie, or a variable listed twice
        break
      end
      order.place[v] = i
    end
    RANK_ORDER[vars] = order
  end
  return order or nil
end

--- Words for nodes (a list in topological order): { [node] = {name, yes, no} }.
--- Story variables in commonsense rank order by default; reversed ranks with
--- the anti_commonsense flag; invented words with nonsense; letters with renamed.
function Ctx:label(nodes)
  local out = {}
  if self:flag("renamed") then
    for i, n in ipairs(nodes) do
      local l = string.char(64 + i)
      out[n] = { name = "factor " .. l, yes = "has factor " .. l, no = "does not have factor " .. l, short = l }
    end
    return out
  end
  if self:flag("nonsense") then
    local used = {}
    for _, n in ipairs(nodes) do
      local w
      repeat w = self:nonsense_word() until not used[w]
      used[w] = true
      out[n] = { name = "being " .. w, yes = "is " .. w, no = "is not " .. w, short = w }
    end
    return out
  end
  local vars = self.domain.vars
  local pool = { table.unpack(vars) }
  self.text:shuffle(pool)
  local chosen = {}
  local order = #nodes <= #pool and rank_order(vars)
  if order then
    -- the chosen variables in the domain's rank order: what sorting them gives
    local place = order.place
    local at = {}
    for i = 1, #nodes do
      local v = pool[i]
      at[place[v]] = v
    end
    local c = 0
    for j = 1, #order do
      local v = at[j]
      if v then
        c = c + 1
        chosen[c] = v
      end
    end
  else
    for i = 1, #nodes do chosen[i] = pool[i] end
    table.sort(chosen, by_rank)
  end
  if self:flag("anti_commonsense") then
    local r = {}
    for i = #chosen, 1, -1 do r[#r + 1] = chosen[i] end
    chosen = r
  end
  for i, n in ipairs(nodes) do out[n] = chosen[i] end
  return out
end

--- One of several wordings: the first, unless the paraphrase flag asks for
--- any of them.
function Ctx:wording(variants)
  if self:flag("paraphrase") then return self.text:pick(variants) end
  return variants[1]
end

-- edge sentences that need no verb agreement with the variable names
local EDGE_FORMS = {
  function(a, b) return "There is a direct causal effect of " .. a .. " on " .. b .. "." end,
  function(a, b) return "One direct cause of " .. b .. " is " .. a .. "." end,
  function(a, b) return "A direct causal link runs from " .. a .. " to " .. b .. "." end,
}

--- One sentence per edge, in order.
function Ctx:describe_edges(m, words)
  local out = {}
  local paraphrase = self:flag("paraphrase")
  for i, e in ipairs(m:edges()) do
    local form = paraphrase and self.text:pick(EDGE_FORMS) or EDGE_FORMS[1]
    local a, b = words[e[1]], words[e[2]]
    if not a or not b then
      misuse(1, ("describe_edges: words has no entry for node %s (ctx:label must be given every node)"):format(a and e[2] or e[1]))
    end
    out[i] = form(a.name, b.name)
  end
  return table.concat(out, " ")
end

--- "a patient who smokes and does not exercise regularly"
function Ctx:condition(words, assignment, order)
  local parts = {}
  for _, n in ipairs(order) do
    local v = assignment[n]
    if v ~= nil then parts[#parts + 1] = (v == 1) and words[n].yes or words[n].no end
  end
  return M.join(parts)
end

--- Sentences giving every table of the model in words. Pieces go straight
--- into one buffer: this is the hottest text a generator writes.
function Ctx:describe_tables(m, words)
  -- written in C (scm_core.describe_tables); here when something is
  -- missing, to say what
  local unit = self.domain.unit
  local text = scm_core.describe_tables(m:topo(), m.vars, m.index, words, unit)
  if text then return text end
  local out, o = {}, 0
  local pct = M.pct
  -- the words that repeat from row to row are joined once: "For a <unit>
  -- that ", each parent's clause with the separator before it, and a
  -- node's ", the probability that the <unit> <yes> is "
  local head = "For a " .. unit .. " that "
  local yes_, no_ = {}, {}
  for _, n in ipairs(m:topo()) do
    local pa = m:parents(n)
    local t = m:table(n)
    local k = #pa
    if not words[n] then
      misuse(1, ("describe_tables: words has no entry for node %s (ctx:label must be given every node)"):format(n))
    end
    if not t then misuse(1, ("describe_tables: node %s has no table (a graph-only model)"):format(n)) end
    local yes = words[n].yes
    if k == 0 then
      out[o + 1] = "The probability that a " .. unit .. " " .. yes .. " is "
      out[o + 2] = pct(t[1])
      out[o + 3] = ". "
      o = o + 3
    else
      for j = 1, k do
        local w = words[pa[j]]
        local sep = j == 1 and "" or j == k and " and " or ", "
        yes_[j], no_[j] = sep .. w.yes, sep .. w.no
      end
      local mid = ", the probability that the " .. unit .. " " .. yes .. " is "
      for i = 1, #t do
        o = o + 1
        out[o] = head
        for j = 1, k do
          o = o + 1
          out[o] = (((i - 1) >> (k - j)) & 1 == 1) and yes_[j] or no_[j]
        end
        out[o + 1], out[o + 2], out[o + 3] = mid, pct(t[i]), ". "
        o = o + 3
      end
    end
  end
  if o > 0 then out[o] = out[o]:sub(1, -2) end -- no trailing space
  return table.concat(out)
end

-- ---- question identity ----

-- A question's identity is what the prompt states, words aside: the graph
-- and the query with every node named by its place in the graph's order
-- (the place ctx:label gives words by), the tables when the prompt states
-- them (`shows_tables`), and whatever else the family says the prompt shows
-- (`shows`); or the family's own `key` instead. Two prompts that read the
-- same then have the same identity; two questions that differ only in their
-- story words count as one, so a set cannot pass a reworded copy off as a
-- new question.

--- The default identity of a question, as a string, from q.graph (nodes
--- in order), q.model (a list in the same order, as questions carry it),
--- q.query and q.shows; tables: whether the prompt states the tables.
--- Nodes are named by their place, "#1", "#2", ...; tables are packed as
--- doubles (scm_core.identity builds the string: every question needs one).
function M.identity(q, tables)
  return scm_core.identity(q.graph.nodes, q.model, tables, json.encode(q.query), q.shows)
end

-- ---- generation ----

-- the perturbations asked for, in the one order ids and files use
local function perturb_list(opts)
  local out = {}
  for _, p in ipairs(M.PERTURBATIONS) do if opts.perturb and opts.perturb[p] then out[#out + 1] = p end end
  return out
end

local function canonical_options(opts)
  return ("difficulty=%s;domain=%s;perturb=%s;adversarial=%s"):format(
    opts.difficulty or "*", opts.domain or "*", table.concat(perturb_list(opts), ","), opts.adversarial and "1" or "0")
end

--- Validates generation options; returns normalised options or nil, message.
function M.options(opts)
  local stories = require "benchmarks.stories"
  local o = { difficulty = opts.difficulty, domain = opts.domain, perturb = {}, adversarial = opts.adversarial and true or false,
              render = opts.render }
  if o.difficulty and not M.SIZES[o.difficulty] then
    return nil, ("unknown difficulty '%s' (easy, medium, hard)"):format(o.difficulty)
  end
  if o.domain and not stories[o.domain] then
    return nil, ("unknown domain '%s' (%s)"):format(o.domain, table.concat(stories.ORDER, ", "))
  end
  for _, p in ipairs(opts.perturb or {}) do
    if not M.PERTURBATION_HELP[p] then
      return nil, ("unknown perturbation '%s' (%s)"):format(p, table.concat(M.PERTURBATIONS, ", "))
    end
    o.perturb[p] = true
  end
  return o
end

-- Philox keys of a question's streams: the key of draw c of a pair is the
-- run's key mixed with c, and each purpose has its own salt, so no two
-- streams of a run overlap.
local SALT_PAIR, SALT_TEXT, SALT_DIFFICULTY, SALT_DOMAIN, SALT_YES =
  0x2545F4914F6CDD1D, 0x5bd1e995, 0x27d4eb2f165667c5, 0x165667b19e3779f9, 0x61c8864680b583eb

-- The plan: which draw each pair takes (plan_pair), made in pair order, in
-- this state alone or shared by a run's workers (M.share_plan: a
-- shared.plan(), with the same methods). The local plan keeps seen
-- (identity hash -> true) and redraw (pair -> draw, when not the first) as
-- tables.
local LocalPlan = {}
LocalPlan.__index = LocalPlan
local function local_plan() return setmetatable({ next = 0, seen = {}, redraw = {} }, LocalPlan) end
function LocalPlan:upto() return self.next end
function LocalPlan:seen_before(h) return self.seen[h] ~= nil end
function LocalPlan:draw(p) return self.redraw[p] or 0 end
function LocalPlan:accept(p, c, ka, kb)
  self.seen[ka], self.seen[kb] = true, true
  if c > 0 then self.redraw[p] = c end
  self.next = p + 1
end
-- the states of the pair after the recorded ones (core/util/pair_plan.h);
-- a state's own plan has no claims or proposals
local OPEN, REJECTED = 0, 2
function LocalPlan:advance() return self.next, OPEN end

-- What stays the same for every question of one (family, options, seed):
-- worked out once per run, with the plan of which draws its pairs use.
local function run_state(fam, opts, seed)
  local cache = opts._runs
  if not cache then
    cache = setmetatable({}, { __mode = "k" })
    opts._runs = cache
  end
  local per_fam = cache[fam]
  if not per_fam then
    per_fam = {}
    cache[fam] = per_fam
  end
  local st = per_fam[seed]
  if st then return st end
  local key = fam.name .. "|" .. fam.version .. "|" .. canonical_options(opts) .. "|" .. seed
  st = { key = key .. "|", base = rng.hash(key), perturbations = json.array(perturb_list(opts)), seed = seed,
         stories = require "benchmarks.stories", perturb = opts.perturb or {},
         plan = local_plan(), held = {} }
  per_fam[seed] = st
  return st
end

--- Makes the run's workers share one plan of a family's pairs (a
--- shared.plan(), causal_eval.shared): each worker asks its own questions,
--- and a pair one worker planned the others do not draw again to plan. Call
--- before the state generates anything.
function M.share_plan(fam, opts, seed, shared_plan)
  local st = run_state(fam, opts, seed)
  assert(st.plan.next == 0 and next(st.held) == nil, "share_plan: the state has planned pairs already")
  st.plan = shared_plan
end

-- The id formula, in one place: a stable function of (family, version,
-- options, seed, index), whatever draw the question ends up using. The
-- last one is kept: a run asks a question's id, then makes the question.
local function id_of(fam, st, index)
  if st.id_index == index then return st.id end
  local id = fam.name .. "-" .. rng.hex(st.key .. index)
  st.id_index, st.id = index, id
  return id
end

--- The id question index of a run will have, without generating it (a
--- resumed run skips done questions this way).
function M.question_id(fam, opts, seed, index)
  return id_of(fam, run_state(fam, opts, seed), index)
end

-- A pair's difficulty and domain: both questions of a pair share them, and
-- they go round in shuffled blocks (3 pairs, one per difficulty; 7 pairs,
-- one per domain), so a set holds each in equal shares and half of each
-- share answers yes.
local function block_pick(st, salt, list, p, slot)
  local n = #list
  local b = p // n
  local memo = st[slot]
  if not memo or memo.b ~= b then
    memo = { b = b, order = rng.new(st.base ~ salt, b):shuffle({ table.unpack(list) }) }
    st[slot] = memo
  end
  return memo.order[p % n + 1]
end

local function difficulty_of(st, opts, p)
  return opts.difficulty or block_pick(st, SALT_DIFFICULTY, M.DIFFICULTIES, p, "dblock")
end

-- One question's content (draw c of its pair), not rendered; with its
-- identity hash.
local function draw(fam, st, opts, p, side, c)
  local index = 2 * p + side
  local stories = st.stories
  local key = st.base ~ (c * GOLDEN)
  -- what ctx:shared built for one question of the pair, the other reuses
  local memo = st.memo
  if not memo or memo.p ~= p or memo.c ~= c then
    memo = { p = p, c = c, first_yes = rng.new(key ~ SALT_YES, p):bernoulli(0.5) }
    st.memo = memo
  end
  local domain_name = opts.domain or block_pick(st, SALT_DOMAIN, stories.ORDER, p, "oblock")
  local ctx = setmetatable({
    rng = rng.new(key, index), index = index, seed = st.seed, family = fam.name,
    want = ((side == 0) == memo.first_yes) and "yes" or "no",
    perturb = st.perturb, adversarial = opts.adversarial,
    difficulty = difficulty_of(st, opts, p), domain_name = domain_name, domain = stories[domain_name],
    pair_key = key ~ SALT_PAIR, pair_index = p, memo = memo, pair = false, attempt = 0, shared_n = 0,
  }, Ctx)
  local pair_key = ctx.pair_key
  local q, answer, value
  current = fam
  for attempt = 1, M.MAX_ATTEMPTS do
    ctx.attempt, ctx.shared_n = attempt, 0
    -- the pair's stream starts afresh at every attempt: what a family draws
    -- from it is the same for both questions of the pair
    ctx.pair = rng.new(pair_key, p)
    q = fam.generate(ctx)
    if q then
      if type(q.model) ~= "table" or not q.model.core then
        error(("family %s: generate must return the engine model as q.model"):format(fam.name), 0)
      end
      local graph, model = questions.model_fields(q.model)
      q.graph, q.model_obj, q.model = graph, q.model, model
      answer, value = questions.solve(q, q.model_obj)
      if answer == nil then error(("family %s: question %d: %s"):format(fam.name, index, tostring(value)), 0) end
      q.answer_type = q.answer_type or questions.answer_type(q.query)
      if q.answer_type ~= "yes_no" or answer == ctx.want then break end
      q.model_obj:close()
      q.wrong = true
    end
  end
  current = nil
  if not q then
    return nil, ("family %s: question %d: generate returned nothing in %d attempts (difficulty %s, domain %s)"):format(
      fam.name, index, M.MAX_ATTEMPTS, ctx.difficulty, ctx.domain_name)
  end
  if q.wrong then
    -- a question of the other answer would unbalance the set (version 2 let
    -- it through, and a kind that was always no went unnoticed)
    return nil, ("family %s: question %d: no question answering %s in %d attempts (difficulty %s, domain %s)"):format(
      fam.name, index, ctx.want, M.MAX_ATTEMPTS, ctx.difficulty, ctx.domain_name)
  end
  local id, h = q.key, nil
  if id == nil then
    if q.shows ~= nil and type(q.shows) ~= "string" then
      error(("family %s: question %d: field shows must be a string"):format(fam.name, index), 0)
    end
    -- rng.hash(M.identity(q, q.shows_tables)), without making the string
    h = scm_core.identity(q.graph.nodes, q.model, q.shows_tables, json.encode(q.query), q.shows, true)
  elseif type(id) ~= "string" then
    error(("family %s: question %d: field key must be a string"):format(fam.name, index), 0)
  else
    h = rng.hash(id)
  end
  q.key, q.shows, q.shows_tables = nil, nil, nil
  q.ground_truth, q.ctx, q.text_key = answer, ctx, key ~ SALT_TEXT
  return q, h
end

-- Draws a pair may take before generation gives up: at least MAX_REDRAWS,
-- and where a family states its capacity, 100 times it (the last distinct
-- pairs of a small space are rare draws: corr2cause's last easy pair took up
-- to 15,045 draws in 8 seeds), up to 200,000 (some 10 s).
M.MAX_REDRAWS = 10000
M.MAX_EMPTY = 10 -- draws in a row that give no question before generation gives up

local function redraw_limit(fam, d)
  local cap = fam.capacity and fam.capacity[d]
  if not cap then return M.MAX_REDRAWS end
  return math.min(200000, math.max(M.MAX_REDRAWS, 100 * cap))
end

local function capacity_note(fam, d)
  local cap = fam.capacity and fam.capacity[d]
  if cap then return ("; it makes at most %d distinct %s questions"):format(cap, d) end
  return ""
end

-- The first draw of pair p whose two questions differ from each other and
-- from every question of the pairs before it (recorded in the plan), from
-- draw `from` (1 where draw 0 gave two questions the plan cannot take).
-- Returns its questions and the draw.
local function plan_pair(fam, st, opts, p, from)
  local plan = st.plan
  local d = difficulty_of(st, opts, p)
  local limit = redraw_limit(fam, d)
  local empty = 0 -- draws in a row of which a question came to nothing
  for c = from, limit - 1 do
    local a, ka = draw(fam, st, opts, p, 0, c)
    local b, kb
    if a and not plan:seen_before(ka, p) then b, kb = draw(fam, st, opts, p, 1, c) end
    if a and b and kb ~= ka and not plan:seen_before(kb, p) then
      plan:accept(p, c, ka, kb)
      return a, b, c
    end
    if a then a.model_obj:close() end
    if b then b.model_obj:close() end
    -- a graph the pair shares may admit no question at all, and another
    -- draw may; a family that never gives one is told so
    local nothing = (not a and ka) or (a and not b and kb) or nil
    if nothing then
      empty = empty + 1
      if empty == M.MAX_EMPTY then error(nothing, 0) end
    else
      empty = 0
    end
  end
  error(("family %s: question %d: %d draws in a row repeated earlier questions: no new %s question is left%s"):format(
    fam.name, 2 * p, limit, d, capacity_note(fam, d)), 0)
end

local function close_pair(pair)
  if pair[0] then pair[0].model_obj:close() end
  if pair[1] then pair[1].model_obj:close() end
end

-- Records the pairs up to p, in order: the proposals other workers drew
-- (M.prepare) where the plan can take them, and the other pairs planned
-- here (also one another worker claimed and is still drawing: the same
-- draw). Pair p's questions, when planned here, are held.
local function settle(fam, st, opts, p)
  local plan = st.plan
  local upto, state = plan:advance()
  while upto <= p do
    local a, b, c = plan_pair(fam, st, opts, upto, state == REJECTED and 1 or 0)
    if upto == p then
      -- what is held for this pair or before it will not be asked here
      for k, pair in pairs(st.held) do
        if k <= p then
          close_pair(pair)
          st.held[k] = nil
        end
      end
      st.held[p] = { [0] = a, [1] = b, c = c }
    else
      close_pair({ [0] = a, [1] = b })
    end
    upto, state = plan:advance()
  end
end

-- Question index's content. No question of a set repeats an earlier one: a
-- pair whose draw would repeat takes the next draw, so question i depends on
-- the pairs before it, which the plan walks through once, in order, and
-- remembers as the few pairs that needed another draw. Generating in order
-- draws each pair once; a worker that jumps ahead plans the pairs between
-- that no other worker claimed (M.prepare).
local function content(fam, st, opts, index)
  local p, side = index // 2, index % 2
  local plan = st.plan
  if plan:upto() <= p then settle(fam, st, opts, p) end
  local c = plan:draw(p)
  local pair = st.held[p]
  if pair then
    local q = pair.c == c and pair[side]
    if q then
      pair[side] = nil
      if not pair[1 - side] then st.held[p] = nil end
      return q
    end
    if pair.c ~= c then
      close_pair(pair)
      st.held[p] = nil
    end
  end
  return (draw(fam, st, opts, p, side, c))
end

--- A run's worker that took tickets first .. last (question indices of one
--- family) draws their pairs before it asks any: it claims the pairs not
--- yet recorded or claimed, draws each (draw 0) and proposes it to the plan
--- it shares, so a worker whose batch comes next finds them, and holds
--- their questions. With a state's own plan, a no-op: it plans in order.
function M.prepare(fam, opts, seed, first, last)
  local st = run_state(fam, opts, seed)
  local plan, held = st.plan, st.held
  if not plan.claim then return end
  local p0, p1 = first // 2, last // 2
  -- drawn for questions never asked (a resumed run's done ones, a stop)
  for p, pair in pairs(held) do
    if p < p0 then
      close_pair(pair)
      held[p] = nil
    end
  end
  local mine = {}
  for p = p0, p1 do
    if not held[p] and plan:claim(p) then mine[#mine + 1] = p end
  end
  for _, p in ipairs(mine) do
    -- a family's error is raised again where the question is made: a draw
    -- that gives no pair is proposed as none, and planned where asked
    local ok, a, ka = pcall(draw, fam, st, opts, p, 0, 0)
    if not (ok and a) then
      plan:propose(p)
    elseif plan:seen_before(ka, p) then
      -- a recorded pair has it: the pair takes draw 1 or later, and the
      -- other question is not drawn (two equal hashes: rejected)
      a.model_obj:close()
      plan:propose(p, ka, ka)
    else
      local okb, b, kb = pcall(draw, fam, st, opts, p, 1, 0)
      if okb and b then
        held[p] = { [0] = a, [1] = b, c = 0 }
        plan:propose(p, ka, kb)
      else
        a.model_obj:close()
        plan:propose(p)
      end
    end
  end
end

--- Generates question index (0-based) of a family. Returns the question table.
function M.question(fam, opts, seed, index)
  local st = run_state(fam, opts, seed)
  local q = content(fam, st, opts, index)
  local ctx = q.ctx
  if q.render then
    -- the prompt is written last, from its own text stream, unless the caller
    -- asked for content only
    if opts.render ~= false then
      ctx.text = rng.new(q.text_key, index)
      current = fam
      local prompt, variables = q.render()
      current = nil
      q.prompt = prompt
      q.variables = variables or q.variables
    end
    q.render = nil
  end
  if opts.render == false then q.prompt, q.variables = nil, nil end
  q.model_obj:close()
  q.model_obj, q.ctx, q.text_key = nil, nil, nil
  if q.answer_type == "number" then q.tolerance = q.tolerance or questions.TOLERANCE end
  q.perturbations = st.perturbations
  q.adversarial = ctx.adversarial or nil
  q.family = fam.name
  q.version = fam.version
  q.index = index
  q.seed = seed
  q.domain = q.domain or ctx.domain_name
  q.difficulty = q.difficulty or ctx.difficulty
  q.id = id_of(fam, st, index)
  if not q.rung then error(("family %s: question %d has no rung"):format(fam.name, index), 0) end
  return q
end

--- Iterator over n questions of a family: for q in bench.generate(fam, opts, seed, n) do ... end
function M.generate(fam, opts, seed, n)
  local i = -1
  return function()
    i = i + 1
    if i >= n then return nil end
    return M.question(fam, opts, seed, i)
  end
end

--- How many of the first n questions of a run are of each difficulty.
function M.demand(fam, opts, seed, n)
  if opts.difficulty then return { [opts.difficulty] = n } end
  local st = run_state(fam, opts, seed)
  local out = {}
  for _, d in ipairs(M.DIFFICULTIES) do out[d] = 0 end
  local pairs_, k = (n + 1) // 2, #M.DIFFICULTIES
  local full = pairs_ // k
  for _, d in ipairs(M.DIFFICULTIES) do out[d] = 2 * full end
  for p = full * k, pairs_ - 1 do
    local d = difficulty_of(st, opts, p)
    out[d] = out[d] + 2
  end
  if n % 2 == 1 then
    local d = difficulty_of(st, opts, pairs_ - 1)
    out[d] = out[d] - 1
  end
  return out
end

--- true, or nil and a message when the first n questions of a run would ask
--- a family for more distinct questions of some difficulty than it can make
--- (its `capacity`).
function M.check_capacity(fam, opts, seed, n)
  if not fam.capacity then return true end
  local need = M.demand(fam, opts, seed, n)
  for _, d in ipairs(M.DIFFICULTIES) do
    local cap = fam.capacity[d]
    if cap and (need[d] or 0) > cap then
      return nil, ("family %s: %d questions would need %d distinct %s ones, and it can make only %d (see generate --capacity)"):format(
        fam.name, n, need[d], d, cap)
    end
  end
  return true
end

return M
