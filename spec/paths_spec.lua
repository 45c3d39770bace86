-- SPDX-License-Identifier: MIT
-- Module search: the build tree, an installed prefix, CAUSAL_EVAL_PATH,
-- CAUSAL_EVAL_HOME, the system's Lua paths, the embedded stdlib and the
-- development override.
local H = require "spec.helpers"
local host = require "causal_eval.host"

local PROBE = [[
local host = require "causal_eval.host"
print(host.layout())
print(host.root())
print(package.path)
]]

local function probe(exe, env)
  local r = H.run({ "-e", PROBE }, { exe = exe, env = env })
  assert.are.equal(0, r.code, r.stderr)
  local layout, root, path = r.stdout:match("^(.-)\n(.-)\n(.-)\n$")
  return layout, root, path
end

describe("module search", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("finds the source tree from a build folder inside it", function()
    local layout, root, path = probe(H.bin)
    assert.are.equal("source", layout)
    assert.are.equal(H.root, root)
    assert.matches(root .. "/?.lua;", path, 1, true)
    assert.matches(root .. "/lua/stdlib/?.lua;", path, 1, true)
  end)

  it("keeps the system's Lua paths, so busted and lua-cjson load", function()
    local _, _, path = probe(H.bin)
    assert.matches("/usr/share/lua/5.4/?.lua", path, 1, true)
    local r = H.run({ "-e", "print(require('cjson').encode({1}), require('busted.core') ~= nil)" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("[1]\ttrue\n", r.stdout)
  end)

  it("loads benchmarks and adapters as modules relative to the root", function()
    local r = H.run({ "-e", "print(package.searchpath('adapters.x', package.path))" })
    -- not found, but the path tried names <root>/adapters/x.lua first
    assert.matches(H.root .. "/adapters/x.lua", r.stdout .. r.stderr, 1, true)
  end)

  it("prepends CAUSAL_EVAL_PATH, as folders or as templates", function()
    H.write(dir .. "/shadow.lua", "return 'from CAUSAL_EVAL_PATH'")
    local r = H.run({ "-e", "print((require 'shadow'))" }, { env = { CAUSAL_EVAL_PATH = dir } })
    assert.are.equal("from CAUSAL_EVAL_PATH\n", r.stdout)
    r = H.run({ "-e", "print((require 'shadow'))" },
      { env = { CAUSAL_EVAL_PATH = "/nonexistent;" .. dir .. "/?.lua" } })
    assert.are.equal("from CAUSAL_EVAL_PATH\n", r.stdout)
    local _, _, path = probe(H.bin, { CAUSAL_EVAL_PATH = dir })
    assert.are.equal(1, path:find(dir .. "/?.lua;", 1, true))
  end)

  it("registers native modules in package.preload", function()
    local r = H.run({ "-e", [[
      local names = {}
      for k in pairs(package.preload) do names[#names + 1] = k end
      table.sort(names)
      print(table.concat(names, " "))
    ]] })
    for _, m in ipairs({ "causal_eval.host", "causal_eval.yaml", "causal_eval.lineedit", "causal_eval.pty" }) do
      assert.matches(m, r.stdout, 1, true)
    end
  end)

  it("serves the stdlib from the binary, not the source tree", function()
    local r = H.run({ "-e", "print(select(2, require 'causal_eval.pretty'))" })
    assert.are.equal(":embedded:lua/stdlib/causal_eval/pretty.lua\n", r.stdout)
  end)

  describe("installed under a prefix", function()
    local prefix
    setup(function()
      prefix = dir .. "/prefix"
      local out, code = H.sh(("cmake --install %s --prefix %s"):format(H.quote(H.build_dir), H.quote(prefix)))
      assert.are.equal(0, code, out)
    end)

    it("finds share/causal-eval from bin/causal-eval", function()
      local exe = prefix .. "/bin/causal-eval"
      local layout, root = probe(exe)
      assert.are.equal("install", layout)
      assert.are.equal(H.sh("readlink -f " .. H.quote(prefix .. "/share/causal-eval")):gsub("%s+$", ""), root)
    end)

    it("loads adapters from the installed tree and reads its configs", function()
      local exe = prefix .. "/bin/causal-eval"
      H.write(prefix .. "/share/causal-eval/adapters/probe_adapter.lua", "return { name = 'installed probe' }")
      local r = H.run({ "-e", "print(require('adapters.probe_adapter').name)" }, { exe = exe })
      assert.are.equal("installed probe\n", r.stdout)
      r = H.run({ "config", "show" }, { exe = exe })
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("share/causal-eval/configs/performance.yaml", r.stdout, 1, true)
    end)

    it("runs subcommands from the installed binary", function()
      local r = H.run({ "help" }, { exe = prefix .. "/bin/causal-eval" })
      assert.are.equal(0, r.code)
      assert.matches("commands:", r.stdout, 1, true)
    end)
  end)

  it("uses CAUSAL_EVAL_HOME when it holds a valid tree", function()
    local home = dir .. "/home"
    H.sh(("mkdir -p %s/lua/stdlib/causal_eval && cp %s/lua/stdlib/causal_eval/init.lua %s/lua/stdlib/causal_eval/"):format(
      H.quote(home), H.quote(H.root), H.quote(home)))
    local layout, root = probe(H.bin, { CAUSAL_EVAL_HOME = home })
    assert.are.equal("env", layout)
    assert.are.equal(home, root)
    -- a folder without the stdlib is ignored, not trusted
    layout = probe(H.bin, { CAUSAL_EVAL_HOME = dir .. "/nothing-here" })
    assert.are.equal("source", layout)
  end)

  it("loads the stdlib from the root with CAUSAL_EVAL_DEV=1 (no rebuild needed)", function()
    local home = dir .. "/devhome"
    H.sh(("mkdir -p %s/lua && cp -r %s/lua/stdlib %s/lua/"):format(H.quote(home), H.quote(H.root), H.quote(home)))
    H.write(home .. "/lua/stdlib/causal_eval/pretty.lua", "return { edited = true }")
    local code = "print(require('causal_eval.pretty').edited)"
    local env = { CAUSAL_EVAL_HOME = home }
    assert.are.equal("nil\n", H.run({ "-e", code }, { env = env }).stdout)
    env.CAUSAL_EVAL_DEV = "1"
    assert.are.equal("true\n", H.run({ "-e", code }, { env = env }).stdout)
    -- a syntax error in a dev file is reported, not replaced by the embedded copy
    H.write(home .. "/lua/stdlib/causal_eval/pretty.lua", "return {")
    local r = H.run({ "-e", code }, { env = env })
    assert.are.equal(1, r.code)
    assert.matches("dev mode", r.stderr, 1, true)
  end)

  it("reports where it is from Lua", function()
    assert.are.equal("source", host.layout())
    assert.truthy(host.exe():match("/causal%-eval$"))
    local mods = host.stdlib_modules()
    local set = {}
    for _, m in ipairs(mods) do set[m] = true end
    assert.truthy(set["causal_eval"])
    assert.truthy(set["causal_eval.cli.help"])
    assert.truthy(set["causal_eval.config"])
  end)
end)
