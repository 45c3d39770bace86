-- SPDX-License-Identifier: MIT
local pretty = require "causal_eval.pretty"

describe("causal_eval.pretty", function()
  local f = pretty.format

  it("renders scalars as Lua would read them back", function()
    assert.are.equal("1", f(1))
    assert.are.equal("1.5", f(1.5))
    assert.are.equal("1.0", f(1.0))
    assert.are.equal("math.huge", f(math.huge))
    assert.are.equal("-math.huge", f(-math.huge))
    assert.are.equal("0/0", f(0 / 0))
    assert.are.equal("true", f(true))
    assert.are.equal("nil", f(nil))
    assert.are.equal('"a\\nb\\t\\"q\\"\\\\"', f('a\nb\t"q"\\'))
    assert.are.equal('"\\0001"', f("\0" .. "1"))
    assert.are.equal('"héllo"', f("héllo"))
    assert.are.equal(load("return " .. f("\1\2x\127\0"))(), "\1\2x\127\0")
  end)

  it("shows functions with where they were defined", function()
    assert.are.equal("<function: builtin>", f(print))
    local fn = function() end
    assert.matches("^<function: .*pretty_spec%.lua:%d+>$", f(fn))
  end)

  it("shows null (a NULL light userdata, as yaml.null and cjson.null) as null", function()
    assert.are.equal("null", f(require("causal_eval.yaml").null))
  end)

  it("puts the array part first and sorts the other keys", function()
    assert.are.equal('{ 1, 2, 3 }', f({ 1, 2, 3 }))
    assert.are.equal('{ 10, 20, x = 1, y = 2 }', f({ y = 2, 10, x = 1, 20 }))
    assert.are.equal('{ [5] = "n", a = 1, ["b c"] = 2, ["end"] = 3, [true] = 4 }',
      f({ a = 1, ["b c"] = 2, ["end"] = 3, [true] = 4, [5] = "n" }))
    assert.are.equal("{}", f({}))
  end)

  it("breaks long tables over lines with indentation", function()
    local t = { alpha = ("a"):rep(30), beta = ("b"):rep(30), gamma = { 1, 2 } }
    assert.are.equal(table.concat({
      "{",
      '  alpha = "' .. ("a"):rep(30) .. '",',
      '  beta = "' .. ("b"):rep(30) .. '",',
      "  gamma = { 1, 2 }",
      "}",
    }, "\n"), f(t))
  end)

  it("limits depth and items", function()
    assert.are.equal("{ { {...} --[[1 item]] } }", f({ { { { 1 } } } }, { depth = 2 }))
    assert.are.equal("{ 1, 2, ... (3 more) }", f({ 1, 2, 3, 4, 5 }, { items = 2 }))
    assert.are.equal('"abc"... (5 bytes)', f("abcde", { string_limit = 3 }))
  end)

  it("marks cycles and still shows shared (acyclic) tables", function()
    local t = {}
    t.me = t
    assert.matches("^{ me = <cycle: table 0x%x+> }$", f(t))
    local shared = { 1 }
    assert.are.equal("{ a = { 1 }, b = { 1 } }", f({ a = shared, b = shared }))
  end)

  it("uses __tostring when a table or userdata has one", function()
    local obj = setmetatable({}, { __tostring = function() return "Obj(1)" end })
    assert.are.equal("<Obj(1)>", f(obj))
    assert.matches("^<file %(0x%x+%)>$", f(io.stdout))
  end)

  it("formats several values separated by tabs", function()
    assert.are.equal('1\t"x"\tnil', pretty.format_values(3, { 1, "x", nil }))
  end)
end)
