-- SPDX-License-Identifier: MIT
-- The shortcuts question generation takes for speed give what the long way
-- gives.
local scm = require "causal_eval.scm"
local scm_core = require "causal_eval.scm_core"
local rng = require "causal_eval.rng"

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
end)
