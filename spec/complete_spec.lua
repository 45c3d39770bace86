-- SPDX-License-Identifier: MIT
local complete = require "causal_eval.complete"

describe("causal_eval.complete", function()
  local env = {
    print = print, pairs = pairs, string = string,
    obj = setmetatable({ own = 1 }, { __index = { method = function() end, field = 2 } }),
    lazy = setmetatable({}, { __complete = function() return { "alpha", "beta" } end,
                              __index = function(_, k) if k == "alpha" then return { deep = 1 } end end }),
    s = "text",
  }

  local function c(line) return (complete.candidates(env, line)) end

  it("completes globals and keywords", function()
    assert.are.same({ "pairs" }, c("pai"))
    assert.are.same({ "print" }, c("x = pri"))
    local words, typed = complete.candidates(env, "whi")
    assert.are.same({ "while" }, words)
    assert.are.equal(3, typed)
  end)

  it("completes fields after '.', following __index tables", function()
    assert.are.same({ "field", "method", "own" }, c("obj."))
    assert.are.same({ "format" }, c("string.fo"))
  end)

  it("offers only functions after ':'", function()
    assert.are.same({ "method" }, c("obj:"))
    assert.are.same({ "upper" }, c("s:up"))
  end)

  it("asks a metatable's __complete and resolves through __index functions", function()
    assert.are.same({ "alpha", "beta" }, c("lazy."))
    assert.are.same({ "deep" }, c("lazy.alpha."))
  end)

  it("gives nothing for unknown paths or odd input", function()
    assert.are.same({}, c("nosuch."))
    assert.are.same({}, c("obj:method."))
    assert.are.same({}, c("1 + "))
    assert.are.same({}, c(""))
  end)

  it("never raises, even when __index raises", function()
    local bad = setmetatable({}, { __index = function() error("boom") end })
    assert.are.same({}, (complete.candidates({ bad = bad }, "bad.x.")))
  end)
end)
