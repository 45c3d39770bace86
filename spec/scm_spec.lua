-- SPDX-License-Identifier: MIT
-- The engine through its Lua API, against values computed by hand.
local scm = require "causal_eval.scm"

local function close(a, b, tol) return math.abs(a - b) <= (tol or 1e-12) end

describe("causal_eval.scm", function()
  -- Z ~ 0.5; P(X=1|Z) = .2/.8; P(Y=1|Z,X) = [[.1,.5],[.3,.9]]
  local function confounded()
    return assert(scm.model{
      graph = "Z->X, Z->Y, X->Y",
      vars = { Z = 0.5, X = { 0.2, 0.8 }, Y = { { 0.1, 0.5 }, { 0.3, 0.9 } } },
    })
  end

  it("builds from a graph string and tables in every accepted form", function()
    local m = confounded()
    assert.are.same({ "Z", "X", "Y" }, m:topo())
    assert.are.same({ "Z", "X" }, m:parents("Y"))
    assert.are.same({ 0.1, 0.5, 0.3, 0.9 }, m:table("Y"))
    local m2 = assert(scm.model{ vars = {
      { "Z", p = { 0.5 } },
      { "X", parents = { "Z" }, p = function(z) return z == 1 and 0.8 or 0.2 end },
      { "Y", parents = { "Z", "X" }, p = { 0.1, 0.5, 0.3, 0.9 } },
    } })
    assert.is_true(close(assert(m:ate("X", "Y")), assert(m2:ate("X", "Y"))))
  end)

  it("answers rung 1: marginals and conditionals", function()
    local m = confounded()
    assert.is_true(close(m:p{ X = 1 }, 0.5))
    assert.is_true(close(m:p{ Y = 1 }, 0.5 * (0.8 * 0.1 + 0.2 * 0.5) + 0.5 * (0.2 * 0.3 + 0.8 * 0.9)))
    assert.is_true(close(m:p({ Y = 1 }, { X = 1 }), 0.82))
    assert.is_true(close(m:p({ Y = 1 }, { X = 0 }), 0.14))
    assert.is_true(close(m:p({ Z = 1 }, { X = 1 }), 0.8))
    assert.is_true(close(m:p({ Y = 1, X = 1 }), 0.41))
  end)

  it("answers rung 2: interventions and the ATE", function()
    local m = confounded()
    assert.is_true(close(m:p({ Y = 1 }, nil, { X = 1 }), 0.7))
    assert.is_true(close(m:p({ Y = 1 }, nil, { X = 0 }), 0.2))
    assert.is_true(close(assert(m:ate("X", "Y")), 0.5))
    assert.is_true(close(m:p({ Z = 1 }, nil, { X = 1 }), 0.5)) -- intervening cuts X's causes
    assert.is_true(close(m:p({ Y = 1 }, { Z = 1 }, { X = 1 }), 0.9))
  end)

  it("answers rung 3: ETT, natural effects and counterfactuals", function()
    local m = confounded()
    assert.is_true(close(assert(m:ett("X", "Y")), 0.8 * 0.6 + 0.2 * 0.4))
    -- mediation X -> M -> Y, X -> Y: NDE = sum_m P(m|X=0) [P(y|1,m) - P(y|0,m)]
    local med = assert(scm.model{
      graph = "X->M, X->Y, M->Y",
      vars = { X = 0.5, M = { 0.3, 0.7 }, Y = { { 0.1, 0.4 }, { 0.5, 0.8 } } },
    })
    local nde = 0.7 * (0.5 - 0.1) + 0.3 * (0.8 - 0.4)
    local nie = (0.4 - 0.1) * (0.7 - 0.3)
    assert.is_true(close(assert(med:nde("X", "Y")), nde))
    assert.is_true(close(assert(med:nie("X", "Y")), nie))
    assert.is_true(close(assert(med:ate("X", "Y")), nde + nie)) -- Y is additive in X and M here
    -- probability of necessity in the monotone threshold model: (P(y) - P(y_x')) / P(x, y)
    local pn = assert(scm.model{ graph = "X->Y", vars = { X = 0.5, Y = { 0.2, 0.6 } } })
    local v = assert(pn:counterfactual{ event = { Y = 0 }, ["do"] = { X = 0 }, given = { X = 1, Y = 1 } })
    assert.is_true(close(v, 2 / 3))
  end)

  it("solves deterministic equations and their counterfactuals", function()
    local m = assert(scm.model{ vars = {
      { "A", p = 0.5 }, { "B", p = 0.5 },
      { "X", eq = "A or B" },
      { "Y", eq = "X and not B" },
    } })
    assert.are.same({ "A", "B" }, m:parents("X"))
    local world = assert(m:solve({ A = 1, B = 0 }))
    assert.are.same({ A = 1, B = 0, X = 1, Y = 1 }, world)
    local cf = assert(m:solve({ A = 1, B = 0 }, { X = 0 }))
    assert.are.equal(0, cf.Y)
    assert.are.equal(0, assert(m:counterfactual{ event = { Y = 1 }, ["do"] = { X = 0 }, given = { A = 1, B = 0 } }))
  end)

  it("answers graph questions", function()
    local m = confounded()
    assert.is_true(m:backdoor("X", "Y", { "Z" }))
    assert.is_false(m:backdoor("X", "Y", {}))
    assert.is_false(m:dsep("X", "Y", { "Z" }))
    assert.are.same({ "X", "Z" }, (function() local a = m:ancestors("Y") table.sort(a) return a end)())
    assert.are.same({ "Y" }, m:descendants("X"))
    local fd = assert(scm.model{ graph = "U->X, U->Y, X->M, M->Y" })
    assert.is_true(fd:frontdoor("X", "Y", { "M" }))
    assert.are.same({ "M" }, fd:mediators("X", "Y"))
    local iv = assert(scm.model{ graph = "Z->X, X->Y, U->X, U->Y" })
    assert.is_true(iv:instrument("Z", "X", "Y"))
    assert.is_false(iv:instrument("U", "X", "Y"))
    local coll = assert(scm.model{ graph = "A->C, B->C" })
    assert.are.same({ { "A", "C", "B" } }, coll:colliders())
    assert.is_true(coll:dsep("A", "B", {}))
    assert.is_false(coll:dsep("A", "B", { "C" }))
  end)

  it("finds the Markov equivalence class", function()
    local chain = assert(scm.model{ graph = "A->B, B->C" })
    local cp = chain:cpdag()
    assert.are.equal(0, #cp.directed)
    assert.are.equal(2, #cp.undirected)
    assert.are.equal(3, #assert(chain:mec()))
    local v = assert(scm.model{ graph = "A->C, B->C, C->D" })
    local cpv = v:cpdag()
    assert.are.equal(3, #cpv.directed)
    assert.are.equal(1, #assert(v:mec()))
  end)

  it("intersects the relations of every DAG in the class (mec_common)", function()
    -- reference: each relation walked on each DAG of core:mec() separately
    local function reaches(pa, n, s, t, avoid) -- directed path s -> ... -> t not through avoid
      local seen, stack = {}, { s }
      while #stack > 0 do
        local u = table.remove(stack)
        for v = 1, n do
          if pa[v] & (1 << (u - 1)) ~= 0 and v ~= avoid and not seen[v] then
            if v == t then return true end
            seen[v] = true
            stack[#stack + 1] = v
          end
        end
      end
      return false
    end
    local rng = require("causal_eval.rng").new(11)
    local names = { "A", "B", "C", "D", "E", "F" }
    local checked = 0
    for _ = 1, 60 do
      local n = rng:int(3, 6)
      local edges = {}
      for i = 1, n do for j = i + 1, n do
        if rng:bernoulli(0.45) then edges[#edges + 1] = names[i] .. "->" .. names[j] end
      end end
      if #edges == 0 then edges[1] = "A->B" end
      local m = assert(scm.model{ graph = table.concat(edges, ", ") })
      local c = assert(m.core:mec_common())
      local dags = assert(m.core:mec())
      assert.are.equal(#dags, c.dags)
      local k = #m.names
      for a = 1, k do for b = 1, k do if a ~= b then
        local pa, de, cf = true, true, true
        for _, d in ipairs(dags) do
          pa = pa and d[b] & (1 << (a - 1)) ~= 0
          de = de and reaches(d, k, a, b)
          local any = false
          for z = 1, k do
            if z ~= a and z ~= b and reaches(d, k, z, a, b) and reaches(d, k, z, b, a) then any = true end
          end
          cf = cf and any
        end
        assert.are.equal(pa, c.pa[b] & (1 << (a - 1)) ~= 0)
        assert.are.equal(de, c.de[a] & (1 << (b - 1)) ~= 0)
        assert.are.equal(cf, c.cf[a] & (1 << (b - 1)) ~= 0, ("confounder %d %d in %s"):format(a, b, table.concat(edges, ", ")))
        checked = checked + 1
      end end end
    end
    assert.is_true(checked > 500)
  end)

  it("reports bad models with the variable at fault", function()
    local m, err = scm.model{ graph = "X->Y, Y->X" }
    assert.is_nil(m)
    assert.matches("cycle: ", err, 1, true)
    m, err = scm.model{ vars = { X = 0.5, Y = { parents = { "Q" }, p = { 0.1, 0.2 } } } }
    assert.is_nil(m)
    assert.are.equal("scm: variable 'Y': unknown parent 'Q'", err)
    m, err = scm.model{ graph = "X->Y", vars = { X = 0.5, Y = { 0.1, 0.2, 0.3 } } }
    assert.matches("variable 'Y': table has 3 entries, expected 2", err, 1, true)
    m, err = scm.model{ graph = "X->Y", vars = { X = 1.5, Y = { 0.1, 0.2 } } }
    assert.matches("variable 'X': P(X=1) = 1.5 is outside [0, 1]", err, 1, true)
    assert.has_error(function() scm.model{ graph = "X -> -> Y" } end)
  end)

  it("raises on an edge of a graph list that is not two names, naming the edge", function()
    -- {"A"} once failed inside the library with "table index is nil"
    for _, g in ipairs({ { { "A", "B" }, { "A" } }, { { "A", "B" }, "B->C" }, { { "A", "B" }, { 1, 2 } } }) do
      local ok, err = pcall(scm.model, { graph = g, vars = { A = 0.5 } })
      assert.is_false(ok)
      assert.matches("graph: edge 2 must be {from, to}, two variable names", err, 1, true)
      assert.is_nil(err:find("scm.lua", 1, true), err)
    end
  end)

  it("raises on unknown names in queries and returns nil on impossible evidence", function()
    local m = confounded()
    assert.has_error(function() m:p{ W = 1 } end, "unknown variable 'W'")
    local z = assert(scm.model{ graph = "X->Y", vars = { X = 0, Y = { 0.1, 0.2 } } })
    local v, err = z:p({ Y = 1 }, { X = 1 })
    assert.is_nil(v)
    assert.matches("probability zero", err, 1, true)
  end)

  it("handles 24 variables by streaming the enumeration", function()
    local vars = {}
    for i = 1, 24 do
      vars[i] = { name = "v" .. i, parents = i > 1 and { "v" .. (i - 1) } or {}, p = i > 1 and { 0.1, 0.9 } or { 0.5 } }
    end
    local m = assert(scm.from_list(vars))
    local v = assert(m:p({ v24 = 1 }, { v1 = 1 }))
    assert.is_true(close(v, (1 + 0.8 ^ 23) / 2, 1e-13))
    vars[25] = { name = "v25", parents = {}, p = { 0.5 } }
    assert.has_error(function() scm.from_list(vars) end, "bad argument #1 to 'new' (a model has 1 to 24 variables)")
  end)
end)
