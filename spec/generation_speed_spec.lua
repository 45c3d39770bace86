-- SPDX-License-Identifier: MIT
-- The shortcuts question generation takes for speed give what the long way
-- gives.
local scm = require "causal_eval.scm"
local scm_core = require "causal_eval.scm_core"
local rng = require "causal_eval.rng"
local json = require "causal_eval.json"
local bench = require "causal_eval.bench"

-- bench.identity as it was written in Lua, before scm_core.identity: the
-- string it builds must stay the same, or every question id's repeat check
-- (and so which questions a set holds) would change
local function lua_identity(q, tables)
  local nodes, model = q.graph.nodes, q.model
  local pos, names = {}, {}
  for i, n in ipairs(nodes) do pos[n], names[n] = i, '"#' .. i .. '"' end
  local out, o = { #nodes }, 1
  for _, v in ipairs(model) do
    local pa = v.parents
    o = o + 1
    out[o] = "|"
    for k = 1, #pa do
      o = o + 1
      out[o] = pos[pa[k]] .. ","
    end
    local t = tables and v.p
    if t then
      o = o + 1
      out[o] = string.pack(("d"):rep(#t), table.unpack(t))
    end
  end
  out[o + 1] = "|"
  out[o + 2] = (json.encode(q.query):gsub('"([^"\\]*)"', names))
  out[o + 3] = q.shows and ("|" .. q.shows) or ""
  return table.concat(out)
end

-- bench.pct as it was, before it kept what it computed
local function lua_pct(p)
  local v = p * 100
  local r = math.floor(v + 0.5)
  if math.abs(v - r) < 1e-9 and r >= 0 and r <= 100 then return r .. "%" end
  return ("%.1f%%"):format(v)
end

describe("generation shortcuts", function()
  -- every DAG over n nodes whose edges point from lower to higher numbers,
  -- given by the bits of code (one per pair), as parent masks and as a model
  local function graph(n, code)
    local pa, vars, bit = {}, {}, 0
    for v = 1, n do pa[v], vars[v] = 0, { name = "N" .. v, parents = {} } end
    for i = 1, n do
      for j = i + 1, n do
        if code & (1 << bit) ~= 0 then
          pa[j] = pa[j] | (1 << (i - 1))
          table.insert(vars[j].parents, "N" .. i)
        end
        bit = bit + 1
      end
    end
    return pa, vars
  end

  it("scm_core.mec_common of parent masks is the model's mec_common", function()
    local r = rng.new(7, 0)
    for _ = 1, 300 do
      local n = r:int(1, 6)
      local pa, vars = graph(n, r:int(0, (1 << (n * (n - 1) // 2)) - 1))
      -- a permutation of the numbering, so that edges run both ways
      local perm = r:shuffle((function() local t = {} for i = 1, n do t[i] = i end return t end)())
      local ppa, pvars = {}, {}
      for v = 1, n do
        local mask = 0
        for u = 1, n do if pa[v] & (1 << (u - 1)) ~= 0 then mask = mask | (1 << (perm[u] - 1)) end end
        ppa[perm[v]] = mask
        local ps = {}
        for k, p in ipairs(vars[v].parents) do ps[k] = "N" .. perm[tonumber(p:sub(2))] end
        pvars[perm[v]] = { name = "N" .. perm[v], parents = ps }
      end
      local m = assert(scm.from_list(pvars))
      assert.are.same(assert(m.core:mec_common()), assert(scm_core.mec_common(n, ppa)))
      m:close()
    end
  end)

  it("scm_core.mec_common refuses a cycle and masks outside the graph", function()
    local c, err = scm_core.mec_common(2, { 2, 1 })
    assert.is_nil(c)
    assert.are.equal("the graph has a cycle", err)
    assert.has_error(function() scm_core.mec_common(2, { 4, 0 }) end)
    assert.has_error(function() scm_core.mec_common(2, { 1, 0 }) end) -- its own parent
    assert.has_error(function() scm_core.mec_common(0, {}) end)
  end)

  it("bench.identity is the string the Lua version built, for every family's questions", function()
    local opts = assert(bench.options{ render = false })
    local n = 0
    for _, name in ipairs(bench.list()) do
      local fam = assert(bench.load(name))
      for q in bench.generate(fam, opts, 11, 60) do
        for _, tables in ipairs({ false, true }) do
          for _, shows in ipairs({ false, "data:12%/30%" }) do
            q.shows = shows or nil
            assert.are.equal(lua_identity(q, tables), bench.identity(q, tables))
            -- the hash draw takes of it, made without the string
            assert.are.equal(rng.hash(lua_identity(q, tables)),
              scm_core.identity(q.graph.nodes, q.model, tables, json.encode(q.query), q.shows, true))
            n = n + 1
          end
        end
      end
    end
    assert.is_true(n >= 7 * 60 * 4)
  end)

  it("bench.identity replaces names as gsub does: escapes, repeated and long names, empty strings", function()
    local long = ("L"):rep(50)
    local cases = {
      { nodes = { "A", "B" }, model = { { name = "A", parents = {} }, { name = "B", parents = { "A" }, p = { 0.25, 1 } } },
        query = { type = "x", note = 'say \"A\" and "B"', a = "A", [long] = "B", list = { "B", "", "A\\" } } },
      { nodes = { "A", "B", "A" }, model = { { name = "B", parents = { "A", "B" }, p = { 0.1, 0.2, 0.3, 0.4 } } },
        query = { a = "A", b = "B", c = 'A"B', d = "\\" } },
      { nodes = { long, "", "C" }, model = { { name = long, parents = { "", "C" }, p = {} } },
        query = { [long] = 1, [""] = long, c = { "C", 'C\\"C' } } },
      { nodes = {}, model = {}, query = {} },
    }
    for _, q in ipairs(cases) do
      q.graph = { nodes = q.nodes }
      for _, tables in ipairs({ false, true }) do
        assert.are.equal(lua_identity(q, tables), bench.identity(q, tables))
      end
    end
  end)

  it("bench.identity raises on a parent that is not a node", function()
    local q = { graph = { nodes = { "A" } }, model = { { name = "A", parents = { "Q" } } }, query = {} }
    assert.has_error(function() bench.identity(q, false) end)
  end)

  -- random_model's and model_fields' tables as they were built in Lua
  local function lua_graph_vars(graph)
    local parents = {}
    for _, n in ipairs(graph.nodes) do parents[n] = {} end
    for _, e in ipairs(graph.edges) do table.insert(parents[e[2]], e[1]) end
    local vars = {}
    for vi, n in ipairs(graph.nodes) do vars[vi] = { name = n, parents = parents[n] } end
    return vars
  end

  it("scm_core.graph_vars builds random_model's list, and gives up on a graph that is not plain", function()
    local r = rng.new(3, 0)
    for _ = 1, 200 do
      local n = r:int(1, 8)
      local nodes = {}
      for i = 1, n do nodes[i] = "V" .. r:int(1, 40) .. "_" .. i end
      local edges = {}
      for i = 1, n do
        for j = i + 1, n do
          if r:bernoulli(0.4) then edges[#edges + 1] = r:bernoulli(0.5) and { nodes[i], nodes[j] } or { nodes[j], nodes[i] } end
        end
      end
      local g = { nodes = nodes, edges = edges }
      assert.are.same(lua_graph_vars(g), scm_core.graph_vars(nodes, edges))
    end
    assert.is_nil(scm_core.graph_vars({ "A", "A" }, {}))
    assert.is_nil(scm_core.graph_vars({ "A", 2 }, {}))
    assert.is_nil(scm_core.graph_vars({ "A", "B" }, { { "A", "C" } }))
    assert.is_nil(scm_core.graph_vars({ "A", "B" }, { "A->B" }))
    assert.are.same({}, scm_core.graph_vars({}, {}))
  end)

  it("model_fields and the model's names and index are what the Lua code built", function()
    local EMPTY = json.array({})
    local r = rng.new(5, 0)
    for _ = 1, 200 do
      local n = r:int(1, 8)
      local nodes = {}
      for i = 1, n do nodes[i] = "N" .. (n - i) end
      local edges = {}
      for i = 1, n do
        for j = i + 1, n do
          if r:bernoulli(0.4) then edges[#edges + 1] = { nodes[i], nodes[j] } end
        end
      end
      -- the list in a shuffled order, so the topological order differs from it
      local vars = r:shuffle(lua_graph_vars({ nodes = nodes, edges = edges }))
      for _, v in ipairs(vars) do
        if r:bernoulli(0.5) then v.p = r:probs(1 << #v.parents, 5, 95) end
      end
      local m = assert(scm.from_list(vars))
      local names, index = {}, {}
      for i, v in ipairs(vars) do names[i], index[v.name] = v.name, i - 1 end
      assert.are.same(names, m.names)
      assert.are.same(index, m.index)
      local topo = {}
      for i, v in ipairs(m.core:topo()) do topo[i] = names[v + 1] end
      local list, edges_ = {}, {}
      for i, name in ipairs(topo) do
        local v = vars[index[name] + 1]
        for _, p in ipairs(v.parents) do edges_[#edges_ + 1] = { p, name } end
        list[i] = { name = name, parents = #v.parents == 0 and EMPTY or v.parents, p = v.p }
      end
      local graph, got = require("causal_eval.questions").model_fields(m)
      assert.are.same({ nodes = topo, edges = edges_ }, graph)
      assert.are.same(list, got)
      for i, e in ipairs(got) do
        if #e.parents > 0 then assert.are.equal(list[i].parents, e.parents) end -- shared, not copied
        assert.are.equal(list[i].p, e.p)
      end
      assert.are.equal(graph.nodes, m:topo())
      assert.are.equal(graph.edges, m:edges())
      -- the same edge of another model is the same (shared, read-only) pair
      local m2 = assert(scm.from_list(vars))
      local graph2 = require("causal_eval.questions").model_fields(m2)
      for i, e in ipairs(graph.edges) do assert.are.equal(e, graph2.edges[i]) end
      -- a cache counts the pairs it made at [0]; three results, so that
      -- tools/bench/generate.lua's timing wrapper passes them all on
      local cache = {}
      assert.are.equal(3, select("#", m2.core:fields(m2.vars, EMPTY, cache)))
      m2.core:fields(m2.vars, EMPTY, cache)
      assert.are.equal(#edges_ > 0 and #edges_ or nil, cache[0])
      -- without a cache each call makes its own pairs
      local _, own = m2.core:fields(m2.vars, EMPTY)
      assert.are.same(edges_, own)
      if #own > 0 then assert.are_not.equal(graph.edges[1], own[1]) end
      m2:close()
      m:close()
    end
  end)

  it("m.core:dsep_each answers what m.core:dsep answers, set by set", function()
    local r = rng.new(9, 0)
    for _ = 1, 100 do
      local n = r:int(2, 7)
      local pa, vars = graph(n, r:int(0, (1 << (n * (n - 1) // 2)) - 1))
      local m = assert(scm.from_list(vars))
      local xs, ys, zs, want = {}, {}, {}, {}
      for k = 1, 30 do
        local x = 1 << r:int(0, n - 1)
        local y = r:int(0, (1 << n) - 1) & ~x
        local z = r:int(0, (1 << n) - 1) & ~x & ~y
        xs[k], ys[k], zs[k] = x, y, z
        want[k] = m.core:dsep(x, y, z)
      end
      assert.are.same(want, m.core:dsep_each(xs, ys, zs))
      assert.has_error(function() m.core:dsep_each({ 1 }, { 1 << n }, { 0 }) end)
      assert.has_error(function() m.core:dsep_each({ 1 }, { 2, 4 }, { 0 }) end)
      m:close()
    end
  end)

  it("bench.pct gives what it computes, kept or not, for any number", function()
    local r = rng.new(13, 0)
    for round = 1, 3 do -- the second and third time from what was kept
      for k = 0, 100 do assert.are.equal(lua_pct(k / 100), bench.pct(k / 100)) end
      for _ = 1, 3000 do
        local p = r:uniform()
        assert.are.equal(lua_pct(p), bench.pct(p))
      end
      for _, p in ipairs({ 0, 1, -0.0, 0.125, 1.5, -0.25, 2 ^ 60, 1e-12, 0.5 + 1e-10 }) do
        assert.are.equal(lua_pct(p), bench.pct(p), "round " .. round .. ": " .. p)
      end
    end
    assert.are.equal(lua_pct(0 / 0), bench.pct(0 / 0))
    assert.are.equal("50%", bench.pct("0.5"))
  end)

  it("ctx:random_dag draws in C the graph the Lua code drew, leaving the stream where it left it", function()
    -- the Lua version, on a stream of its own
    local function lua_dag(r, n, density, max_parents)
      local names, edges, npa, has = {}, {}, {}, {}
      for i = 1, n do names[i] = "V" .. i; npa[i] = 0 end
      for i = 2, n do
        local j = r:int(1, i - 1)
        edges[#edges + 1] = { names[j], names[i] }
        has[j * 64 + i] = true
        npa[i] = 1
      end
      for i = 1, n do
        for j = i + 1, n do
          if npa[j] < max_parents and not has[i * 64 + j] and r:bernoulli(density) then
            edges[#edges + 1] = { names[i], names[j] }
            npa[j] = npa[j] + 1
          end
        end
      end
      return { nodes = names, edges = edges }
    end
    local ctx
    local fam = bench.family{ name = "probe", version = 1, generate = function(c) ctx = c return nil end }
    pcall(bench.question, fam, assert(bench.options{ difficulty = "hard" }), 1, 0)
    local draws = rng.new(21, 0)
    for k = 1, 300 do
      local n, density, max_parents = draws:int(1, 12), draws:int(0, 100) / 100, draws:int(1, 4)
      if k % 7 == 0 then max_parents = 2.5 end
      ctx.rng = rng.new(k, 3)
      local want_rng = rng.new(k, 3)
      assert.are.same(lua_dag(want_rng, n, density, max_parents), ctx:random_dag(n, density, max_parents))
      assert.are.equal(want_rng:u32(), ctx.rng:u32())
    end
    -- the difficulty's density and parent limit by default
    ctx.rng, ctx.difficulty = rng.new(5, 5), "medium"
    assert.are.same(lua_dag(rng.new(5, 5), 6, 0.3, 3), ctx:random_dag(6))
  end)

  it("ctx:random_model builds in C the model, tables and draws the Lua code made", function()
    local ctx
    local fam = bench.family{ name = "probe", version = 1, generate = function(c) ctx = c return nil end }
    pcall(bench.question, fam, assert(bench.options{ difficulty = "hard" }), 1, 0)
    local draws = rng.new(31, 0)
    for k = 1, 300 do
      local n = draws:int(1, 9)
      local nodes = {}
      for i = 1, n do nodes[i] = "N" .. draws:int(1, 99) .. "_" .. i end
      local edges = {}
      for i = 1, n do
        for j = i + 1, n do
          if draws:bernoulli(0.4) then edges[#edges + 1] = { nodes[i], nodes[j] } end
        end
      end
      draws:shuffle(edges)
      local g = { nodes = draws:shuffle({ table.unpack(nodes) }), edges = edges }
      local opts = ({ nil, { graph_only = true }, { lo = 0.1, hi = 0.9 }, { lo = 0.33 }, { tables = {} },
                      { tables = {}, graph_only = true } })[k % 6 + 1]
      local vars = lua_graph_vars(g)
      if opts and opts.tables then -- some nodes' tables given
        for _, v in ipairs(vars) do
          if draws:bernoulli(0.5) then opts.tables[v.name] = draws:probs(1 << #v.parents, 0, 100) end
        end
      end
      -- what the Lua code built: parent lists in edge order, then each
      -- node's table given, or r:probs node by node
      local want_rng = rng.new(k, 7)
      local lo = math.floor(((opts and opts.lo) or 0.05) * 100 + 0.5)
      local hi = math.floor(((opts and opts.hi) or 0.95) * 100 + 0.5)
      for _, v in ipairs(vars) do
        local fixed = opts and opts.tables and opts.tables[v.name]
        if fixed then v.p = fixed
        elseif not (opts and opts.graph_only) then v.p = want_rng:probs(1 << #v.parents, lo, hi) end
      end
      ctx.rng = rng.new(k, 7)
      local m = ctx:random_model(g, opts)
      assert.are.same(vars, m.vars)
      local names, index = {}, {}
      for i, v in ipairs(vars) do names[i], index[v.name] = v.name, i - 1 end
      assert.are.same(names, m.names)
      assert.are.same(index, m.index)
      assert.are.equal(want_rng:u32(), ctx.rng:u32())
      local want = assert(scm.from_list(vars))
      assert.are.same(want.core:topo(), m.core:topo())
      for i, v in ipairs(vars) do -- a table given is the one the model keeps
        if opts and opts.tables and opts.tables[v.name] then assert.are.equal(opts.tables[v.name], m.vars[i].p) end
      end
      if vars[n].p and not (opts and opts.graph_only and opts.tables) then
        assert.are.equal(want:p({ [names[n]] = 1 }), m:p({ [names[n]] = 1 }))
      end
      want:close()
      m:close()
    end
    -- what is wrong with a graph is reported as before
    ctx.rng = rng.new(1, 1)
    local ok, err = pcall(ctx.random_model, ctx, { nodes = { "A", "B" }, edges = { { "A", "B" }, { "B", "A" } } })
    assert.is_false(ok)
    assert.matches("random_model: the graph has a cycle: ", err, 1, true)
    ok, err = pcall(ctx.random_model, ctx, { nodes = { "A", "B" }, edges = { { "A", "C" } } })
    assert.is_false(ok)
    assert.matches("graph.edges[1] (A -> C) names C, which is not in graph.nodes", err, 1, true)
    ok, err = pcall(ctx.random_model, ctx, { nodes = { "A", "A" }, edges = {} }, { graph_only = true })
    assert.is_false(ok)
    assert.matches("duplicate variable 'A'", err, 1, true)
    ok, err = pcall(ctx.random_model, ctx, { nodes = { "A", "B" }, edges = { { "A", "B" } } }, { tables = { B = { 0.5 } } })
    assert.is_false(ok)
    assert.matches("random_model: variable 'B': table has 1 entries, expected 2", err, 1, true)
    ok, err = pcall(ctx.random_model, ctx, { nodes = { "A" }, edges = {} }, { tables = { A = { "x" } } })
    assert.is_false(ok)
    assert.matches("table entry 1 is not a number", err, 1, true)
  end)

  it("scm_core.any_dag draws corr2cause's connected graphs as its Lua code did", function()
    -- corr2cause's any_dag as it was, with union-find
    local function lua_any_dag(r, n)
      while true do
        local from, to, npa, comp = {}, {}, {}, {}
        for i = 1, n do npa[i], comp[i] = 0, i end
        local function root(v) while comp[v] ~= v do v = comp[v] end return v end
        for i = 1, n do
          for j = i + 1, n do
            if npa[j] < 3 and r:bernoulli(0.5) then
              from[#from + 1], to[#to + 1] = i, j
              npa[j] = npa[j] + 1
              comp[root(i)] = root(j)
            end
          end
        end
        local first, connected = root(1), true
        for v = 2, n do if root(v) ~= first then connected = false end end
        if connected then return from, to end
      end
    end
    for k = 1, 500 do
      local n = k % 6 + 1
      local want_rng, r = rng.new(k, 9), rng.new(k, 9)
      local wfrom, wto = lua_any_dag(want_rng, n)
      local from, to, ne, pa, adj = scm_core.any_dag(r, n)
      assert.are.same(wfrom, from)
      assert.are.same(wto, to)
      assert.are.equal(#wfrom, ne)
      local wpa, wadj = {}, {}
      for v = 1, n do wpa[v], wadj[v] = 0, 0 end
      for e = 1, ne do
        wpa[to[e]] = wpa[to[e]] | (1 << (from[e] - 1))
        wadj[to[e]] = wadj[to[e]] | (1 << (from[e] - 1))
        wadj[from[e]] = wadj[from[e]] | (1 << (to[e] - 1))
      end
      assert.are.same(wpa, pa)
      assert.are.same(wadj, adj)
      assert.are.equal(want_rng:u32(), r:u32())
    end
    assert.is_nil(scm_core.any_dag({}, 3))
    assert.is_nil(scm_core.any_dag(rng.new(1), 0))
  end)

  it("ctx:describe_tables writes in C what the Lua code wrote, and says what is missing as before", function()
    -- the Lua version
    local function lua_tables(m, words, unit)
      local out, o = {}, 0
      for _, n in ipairs(m:topo()) do
        local pa, t = m:parents(n), m:table(n)
        local k, yes = #pa, words[n].yes
        if k == 0 then
          out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6] =
            "The probability that a ", unit, " ", yes, " is ", lua_pct(t[1])
          out[o + 7] = ". "
          o = o + 7
        else
          for i = 1, #t do
            out[o + 1], out[o + 2], out[o + 3] = "For a ", unit, " that "
            o = o + 3
            for j = 1, k do
              local w = words[pa[j]]
              if j > 1 then
                o = o + 1
                out[o] = j == k and " and " or ", "
              end
              o = o + 1
              out[o] = (((i - 1) >> (k - j)) & 1 == 1) and w.yes or w.no
            end
            out[o + 1], out[o + 2], out[o + 3], out[o + 4], out[o + 5], out[o + 6], out[o + 7] =
              ", the probability that the ", unit, " ", yes, " is ", lua_pct(t[i]), ". "
            o = o + 7
          end
        end
      end
      if o > 0 then out[o] = out[o]:sub(1, -2) end
      return table.concat(out)
    end
    local ctx
    local fam = bench.family{ name = "probe", version = 1, generate = function(c) ctx = c return nil end }
    pcall(bench.question, fam, assert(bench.options{ difficulty = "hard" }), 1, 0)
    local draws = rng.new(41, 0)
    for k = 1, 200 do
      ctx.rng = rng.new(k, 1)
      local g = ctx:random_dag(draws:int(1, 8))
      local m = ctx:random_model(g)
      local words = {}
      for _, n in ipairs(g.nodes) do words[n] = { name = "n" .. n, yes = "is " .. n .. k, no = "is not " .. n } end
      if k % 3 == 0 then -- tables off the whole percents too
        for _, v in ipairs(m.vars) do
          for i = 1, #v.p do v.p[i] = draws:uniform() end
        end
        m = assert(scm.from_list(m.vars))
      end
      assert.are.equal(lua_tables(m, words, ctx.domain.unit), ctx:describe_tables(m, words))
    end
    local m = ctx:random_model({ nodes = { "A", "B" }, edges = { { "A", "B" } } })
    local ok, err = pcall(ctx.describe_tables, ctx, m, { B = { yes = "b", no = "not b" } })
    assert.is_false(ok)
    assert.matches("words has no entry for node A", err, 1, true)
    local g = assert(scm.from_list({ { name = "A", parents = {} } }))
    ok, err = pcall(ctx.describe_tables, ctx, g, { A = { yes = "a", no = "not a" } })
    assert.is_false(ok)
    assert.matches("node A has no table", err, 1, true)
  end)

  it("questions.know_mec_common: mec queries read the class given for the same graph", function()
    local questions = require "causal_eval.questions"
    local r = rng.new(17, 0)
    local RELS = { "parent", "child", "ancestor", "descendant", "confounder", "collider" }
    for _ = 1, 100 do
      local n = r:int(3, 6)
      local pa, vars = graph(n, r:int(0, (1 << (n * (n - 1) // 2)) - 1))
      local m1, m2 = assert(scm.from_list(vars)), assert(scm.from_list(vars))
      questions.know_mec_common(m2, assert(scm_core.mec_common(n, pa)))
      for _ = 1, 10 do
        local a, b, c = r:int(1, n), r:int(1, n), r:int(1, n)
        local qu = { type = "mec", relation = r:pick(RELS), a = "N" .. a, b = "N" .. b, var = "N" .. c }
        assert.are.same({ questions.solve({ query = qu }, m1) }, { questions.solve({ query = qu }, m2) })
      end
      m1:close()
      m2:close()
    end
  end)
end)
