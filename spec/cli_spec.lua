-- SPDX-License-Identifier: MIT
-- The lua-compatible command line and subcommand dispatch.
local H = require "spec.helpers"

describe("lua-compatible command line", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("runs a script with arg and ... set like lua", function()
    local script = H.write(dir .. "/args.lua", [[
      print(arg[0], arg[1], arg[2], #arg, select("#", ...), ...)
      print(arg[-1] ~= nil)
    ]])
    local r = H.run({ script, "a", "b c" })
    assert.are.equal(0, r.code)
    assert.are.equal(script .. "\ta\tb c\t2\t2\ta\tb c\ntrue\n", r.stdout)
  end)

  it("puts options before the script at negative arg indices", function()
    local script = H.write(dir .. "/neg.lua", "print(arg[-2], arg[-1], arg[0])")
    local r = H.run({ "-W", script })
    assert.are.equal(0, r.code)
    assert.are.equal(H.bin .. "\t-W\t" .. script .. "\n", r.stdout)
  end)

  it("executes -e statements in order", function()
    local r = H.run({ "-e", "x = 40", "-e", "print(x + 2)" })
    assert.are.equal(0, r.code)
    assert.are.equal("42\n", r.stdout)
  end)

  it("accepts -e with the statement attached", function()
    local r = H.run({ "-eprint(7)" })
    assert.are.equal("7\n", r.stdout)
  end)

  it("requires libraries with -l mod and -l g=mod", function()
    H.write(dir .. "/mymod.lua", "return { x = 'from mymod' }")
    local env = { LUA_PATH = dir .. "/?.lua;;" }
    local r = H.run({ "-l", "mymod", "-e", "print(mymod.x)" }, { env = env })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("from mymod\n", r.stdout)
    r = H.run({ "-l", "m=mymod", "-e", "print(m.x, mymod)" }, { env = env })
    assert.are.equal("from mymod\tnil\n", r.stdout)
  end)

  it("fails with the module's error when -l cannot load it", function()
    local r = H.run({ "-l", "no_such_module_xyz", "-e", "print('not reached')" })
    assert.are.equal(1, r.code)
    assert.matches("module 'no_such_module_xyz' not found", r.stderr, 1, true)
    assert.are.equal("", r.stdout)
  end)

  it("prints the version with -v", function()
    local r = H.run({ "-v" })
    assert.are.equal(0, r.code)
    assert.matches("^causal%-eval %d+%.%d+%.%d+ %-%- Lua 5%.4", r.stdout)
    r = H.run({ "--version" })
    assert.matches("^causal%-eval %d+%.%d+%.%d+", r.stdout)
  end)

  it("runs stdin for '-' and passes the remaining arguments", function()
    local r = H.run({ "-", "x", "y" }, { stdin = "print('stdin', ...)" })
    assert.are.equal(0, r.code)
    assert.are.equal("stdin\tx\ty\n", r.stdout)
  end)

  it("runs stdin when there are no arguments and stdin is not a terminal", function()
    local r = H.run({}, { stdin = "print(6 * 7)" })
    assert.are.equal("42\n", r.stdout)
  end)

  it("stops handling options at --", function()
    local script = H.write(dir .. "/-dash.lua", "print('dash', ...)")
    local r = H.run({ "--", script, "-e" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal("dash\t-e\n", r.stdout)
  end)

  it("enters interactive mode after the script with -i", function()
    local script = H.write(dir .. "/i.lua", "answer = 41")
    local r = H.run({ "-i", script }, { stdin = "answer + 1\n", env = { XDG_STATE_HOME = dir .. "/state" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("42", r.stdout, 1, true)
  end)

  it("exits with the script's os.exit status", function()
    assert.are.equal(3, H.run({ "-e", "os.exit(3)" }).code)
    assert.are.equal(1, H.run({ "-e", "os.exit(false)" }).code)
    assert.are.equal(0, H.run({ "-e", "os.exit(true)" }).code)
  end)

  it("reports a runtime error with its location and a traceback, status 1", function()
    local script = H.write(dir .. "/err.lua", "local x = 1\nerror('boom')\n")
    local r = H.run({ script })
    assert.are.equal(1, r.code)
    assert.matches(script .. ":2: boom", r.stderr, 1, true)
    assert.matches("stack traceback:", r.stderr, 1, true)
  end)

  it("reports a syntax error with its location, status 1", function()
    local script = H.write(dir .. "/syntax.lua", "local = 1\n")
    local r = H.run({ script })
    assert.are.equal(1, r.code)
    assert.matches(script .. ":1:", r.stderr, 1, true)
  end)

  it("reports a missing script, status 1", function()
    local r = H.run({ dir .. "/missing.lua" })
    assert.are.equal(1, r.code)
    assert.matches("cannot open " .. dir .. "/missing.lua", r.stderr, 1, true)
  end)

  it("rejects unknown options and missing option arguments with usage, status 1", function()
    local r = H.run({ "-x" })
    assert.are.equal(1, r.code)
    assert.matches("unrecognized option '-x'", r.stderr, 1, true)
    assert.matches("usage:", r.stderr, 1, true)
    r = H.run({ "-e" })
    assert.are.equal(1, r.code)
    assert.matches("'-e' needs argument", r.stderr, 1, true)
  end)

  it("runs LUA_INIT unless -E is given", function()
    local env = { LUA_INIT = "print('init ran')" }
    assert.are.equal("init ran\nmain\n", H.run({ "-e", "print('main')" }, { env = env }).stdout)
    assert.are.equal("main\n", H.run({ "-E", "-e", "print('main')" }, { env = env }).stdout)
    H.write(dir .. "/init.lua", "print('init file')")
    env = { LUA_INIT = "@" .. dir .. "/init.lua" }
    assert.are.equal("init file\n", H.run({ "-e", "" }, { env = env }).stdout)
  end)

  it("ignores LUA_PATH and CAUSAL_EVAL_PATH with -E", function()
    H.write(dir .. "/onlyhere.lua", "return 'found'")
    local env = { CAUSAL_EVAL_PATH = dir }
    assert.are.equal("found\n", H.run({ "-e", "print((require 'onlyhere'))" }, { env = env }).stdout)
    local r = H.run({ "-E", "-e", "print(require 'onlyhere')" }, { env = env })
    assert.are.equal(1, r.code)
    assert.matches("module 'onlyhere' not found", r.stderr, 1, true)
  end)

  it("turns warnings on with -W", function()
    assert.are.equal("", H.run({ "-e", "warn('quiet')" }).stderr)
    assert.matches("Lua warning: loud", H.run({ "-W", "-e", "warn('loud')" }).stderr, 1, true)
  end)

  it("runs a script with a #! line", function()
    local script = H.write(dir .. "/shebang.lua", "#!/usr/bin/env causal-eval\nprint('ran')\n")
    assert.are.equal("ran\n", H.run({ script }).stdout)
  end)

  it("treats an existing file named like a command as a script", function()
    H.write(dir .. "/help", "print('script named help')")
    local r = H.run({ "help" }, { cwd = dir })
    assert.are.equal("script named help\n", r.stdout)
  end)

  it("runs the command beside a folder named like it (a project's results/, /run)", function()
    local cwd = dir .. "/folders"
    H.sh("mkdir -p " .. H.quote(cwd .. "/version") .. " " .. H.quote(cwd .. "/results"))
    local r = H.run({ "version" }, { cwd = cwd })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("^causal%-eval ", r.stdout)
    r = H.run({ "results", "list", "--data", cwd .. "/none" }, { cwd = cwd })
    assert.is_nil(r.stderr:find("Is a directory", 1, true), r.stderr)
  end)
end)

describe("options out of range, taken and unused, or a folder for a file", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  -- each was an internal error with a traceback, a value shown wrapped, or an option taken and ignored
  it("refuses them with a usage error naming the option, or the file", function()
    local f = H.write(dir .. "/q.jsonl", '{"id":"a","prompt":"p","answer_type":"yes_no","ground_truth":"yes"}\n')
    local scores = H.write(dir .. "/s", "1\n0\n1\n")
    local cases = {
      { { "run", "--resume", "last", "--limit", "3" }, 2, "--resume continues a run as it was started: no --limit" },
      { { "run", "--resume", "last", "--seed", "3" }, 2, "--resume continues a run as it was started: no --seed" },
      { { "run", "--questions", f, "--domain", "medical" }, 2, "--questions asks the file's questions as they are: no --domain" },
      { { "run", "--questions", f, "--seed", "7" }, 2, "--questions asks the file's questions as they are: no --seed" },
      { { "run", "--metrics-port", "99999" }, 2, "--metrics-port must be between 0 and 65535" },
      { { "run", "--alert-interval", "-1" }, 2, "--alert-interval must be a number of seconds > 0" },
      { { "run", "--alert-interval", "2" }, 2, "--alert-interval sets how often --alerts FILE's rules run" },
      { { "run", "-n", "100000000000" }, 2, "--n must be between 1 and 1000000000" },
      { { "generate", "ladder", "-n", "100000000000" }, 2, "--n must be between 0 and 1000000000" },
      { { "compare", "last", "--iters", "200000000" }, 2, "--iters must be between 1 and 100000000" },
      { { "stats", "bootstrap", scores, "--iters", "4294967297" }, 2, "--iters must be between 1 and 100000000" },
      { { "stats", "bootstrap", dir }, 1, dir .. ": is a directory" },
      { { "stats", "bootstrap", H.write(dir .. "/huge", "1e308\n1e308\n") }, 1, "too large to add up in a double" },
      { { "results", "recent", "--limit", "0" }, 2, "--limit must be >= 1" },
      { { "results", "trend", "--days", "-3" }, 2, "--days must be >= 1" },
    }
    for _, c in ipairs(cases) do
      local takes_data = c[1][1] == "run" or c[1][1] == "compare" or c[1][1] == "results"
      local r = H.run(takes_data and H.concat(c[1], { "--data", dir .. "/none" }) or c[1])
      assert.are.equal(c[2], r.code, table.concat(c[1], " ") .. "\n" .. r.stderr)
      assert.matches(c[3], r.stderr, 1, true)
      assert.is_nil(r.stderr:find("internal error", 1, true), r.stderr)
    end
    assert.is_nil(io.open(dir .. "/none"), "a store was made for a refused command")
    -- a profile or a JUnit report asked for and not written fails the run
    H.sh("ln -s /dev/full " .. H.quote(dir .. "/full.xml"))
    for _, extra in ipairs({ { "--profile-out", dir .. "/missing/p" }, { "--junit", dir .. "/full.xml" } }) do
      local r = H.run(H.concat({ "run", "--quiet", "--model", "baseline:always_yes", "--bench", "ladder", "-n", "2",
                                 "--data", dir .. "/prof" }, extra))
      assert.are.equal(1, r.code, extra[1] .. "\n" .. r.stderr)
      assert.matches("causal-eval run: " .. extra[1] .. " " .. extra[2], r.stderr, 1, true)
    end
    -- a budget in dollars over models with no price can stop nothing: said, not taken in silence
    local b = H.run({ "run", "--quiet", "--model", "baseline:always_yes", "--bench", "ladder", "-n", "2", "--budget-usd", "0.01",
                      "--data", dir .. "/budget" })
    assert.are.equal(0, b.code, b.stderr)
    assert.matches("warning: --budget-usd 0.01 cannot stop this run: none of its models has a price", b.stderr, 1, true)
    -- readers of a store make none at a mistyped --data
    for _, cmd in ipairs({ { "compare", "last" }, { "cache", "explain", "q1" }, { "run", "--resume", "last" } }) do
      local r = H.run(H.concat(cmd, { "--data", dir .. "/typo" }))
      assert.are.equal(1, r.code, r.stderr)
      assert.matches("no results store in " .. dir .. "/typo", r.stderr, 1, true)
      assert.is_nil(io.open(dir .. "/typo"), table.concat(cmd, " ") .. " made a store")
    end
    -- the resampling count goes to C as an int: 2^32 + 5000 was 5000
    local core = require "causal_eval.stats_core"
    local ok, err = pcall(core.signflip, { 1, 2 }, { iters = (1 << 32) + 5000 })
    assert.is_false(ok)
    assert.matches("got 4294972296", err, 1, true)
  end)
end)

describe("subcommands", function()
  it("lists the commands with help", function()
    local r = H.run({ "help" })
    assert.are.equal(0, r.code)
    for _, cmd in ipairs({ "config", "help", "repl", "version" }) do
      assert.matches("\n  " .. cmd .. " ", r.stdout, 1, true)
    end
  end)

  it("prints one command's help with help CMD and CMD --help", function()
    local r = H.run({ "help", "config" })
    assert.are.equal(0, r.code)
    assert.matches("causal-eval config show", r.stdout, 1, true)
    assert.matches("evaluation.batch_size", r.stdout, 1, true)
    r = H.run({ "version", "--help" })
    assert.are.equal(0, r.code)
    assert.matches("usage: causal-eval version", r.stdout, 1, true)
  end)

  it("rejects an unknown command with usage, status 2", function()
    local r = H.run({ "frobnicate" })
    assert.are.equal(2, r.code)
    assert.matches("unknown command 'frobnicate'", r.stderr, 1, true)
    assert.matches("commands:", r.stderr, 1, true)
    assert.are.equal("", r.stdout)
  end)

  it("suggests a close command name", function()
    local r = H.run({ "confg" })
    assert.are.equal(2, r.code)
    assert.matches("did you mean 'config'", r.stderr, 1, true)
  end)

  it("rejects help for an unknown command, status 2", function()
    local r = H.run({ "help", "nope" })
    assert.are.equal(2, r.code)
    assert.matches("unknown command 'nope'", r.stderr, 1, true)
  end)

  it("rejects an unknown option of a command, status 2", function()
    local r = H.run({ "version", "--bogus" })
    assert.are.equal(2, r.code)
    assert.matches("unknown option '--bogus'", r.stderr, 1, true)
  end)

  it("prints the version, and JSON with --json", function()
    local r = H.run({ "version" })
    assert.are.equal(0, r.code)
    assert.matches("^causal%-eval %d+%.%d+%.%d+ %(Lua 5%.4", r.stdout)
    r = H.run({ "version", "--json" })
    local info = require("cjson").decode(r.stdout)
    assert.are.equal(require("causal_eval.host").version, info.version)
    assert.are.equal("source", info.layout)
  end)

  it("runs the specs under the host itself (busted --lua)", function()
    local host = require "causal_eval.host"
    local real = H.sh("readlink -f " .. H.quote(H.bin)):gsub("%s+$", "")
    assert.are.equal(real, host.exe())
  end)
end)
