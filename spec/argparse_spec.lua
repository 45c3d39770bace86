-- SPDX-License-Identifier: MIT
local argparse = require "causal_eval.argparse"

describe("causal_eval.argparse", function()
  local p = argparse.new{
    prog = "causal-eval demo",
    summary = "a demo",
    options = {
      { "--env", arg = "NAME", help = "environment" },
      { "-n", "--limit", arg = "N", type = "integer", default = 10, help = "how many" },
      { "--rate", arg = "R", type = "number" },
      { "--set", arg = "K=V", multiple = true },
      { "--mode", arg = "M", choices = { "a", "b" } },
      { "--json", help = "json output" },
    },
    positionals = { { "FILE", multiple = true, optional = true, help = "inputs" } },
  }

  it("parses options in every spelling", function()
    local a = assert(p:parse({ "--env", "prod", "-n", "5", "--rate=2.5", "--set", "a=1", "--set=b=2", "--json", "x", "y" }))
    assert.are.equal("prod", a.env)
    assert.are.equal(5, a.limit)
    assert.are.equal(2.5, a.rate)
    assert.are.same({ "a=1", "b=2" }, a.set)
    assert.are.equal(true, a.json)
    assert.are.same({ "x", "y" }, a.FILE)
    assert.are.equal(7, assert(p:parse({ "-n7" })).limit)
  end)

  it("fills defaults and empty lists", function()
    local a = assert(p:parse({}))
    assert.are.equal(10, a.limit)
    assert.are.equal(false, a.json)
    assert.are.same({}, a.set)
    assert.are.same({}, a.FILE)
  end)

  it("treats everything after -- as positional", function()
    assert.are.same({ "--json", "-n" }, assert(p:parse({ "--", "--json", "-n" })).FILE)
  end)

  it("explains usage errors", function()
    local function err(argv) return select(2, p:parse(argv)) end
    assert.are.equal("unknown option '--lmit' (did you mean '--limit'?)", err({ "--lmit", "3" }))
    assert.are.equal("option '--env' needs a value (NAME)", err({ "--env" }))
    assert.are.equal("option '--limit' expects an integer, got 'x'", err({ "--limit", "x" }))
    assert.are.equal("option '--rate' expects a number, got 'fast'", err({ "--rate", "fast" }))
    assert.are.equal("option '--json' takes no value", err({ "--json=1" }))
    assert.are.equal("option '--mode' must be one of a, b, got 'c'", err({ "--mode", "c" }))
    assert.are.equal("help", err({ "--help" }))
  end)

  it("requires non-optional positionals and rejects extras", function()
    local q = argparse.new{ positionals = { { "A" }, { "B", optional = true } } }
    assert.are.equal("missing A", select(2, q:parse({})))
    assert.are.equal("unexpected argument 'z'", select(2, q:parse({ "x", "y", "z" })))
    local a = assert(q:parse({ "x" }))
    assert.are.equal("x", a.A)
  end)

  it("writes help from the declarations", function()
    local h = p:help()
    assert.matches("usage: causal-eval demo [options] [FILE...]", h, 1, true)
    assert.matches("-n, --limit N", h, 1, true)
    assert.matches("how many (default: 10)", h, 1, true)
    assert.matches("(repeatable)", h, 1, true)
    assert.matches("-h, --help", h, 1, true)
  end)

  it("suggests only close names", function()
    assert.are.equal("config", argparse.suggest("confg", { "config", "help" }))
    assert.is_nil(argparse.suggest("zzzzzz", { "config", "help" }))
  end)
end)
