-- SPDX-License-Identifier: MIT
-- Configuration layering (defaults < file < CAUSAL_EVAL_* < --set), sources,
-- and error messages that name the key and where it came from.
local H = require "spec.helpers"
local config = require "causal_eval.config"

local GOOD = [[
development:
  evaluation:
    batch_size: 7
    enable_gpu: false
production:
  evaluation:
    batch_size: 70
    max_workers: 16
  store:
    path: /var/lib/ce
]]

describe("causal_eval.config", function()
  local dir, file
  setup(function()
    dir = H.tmpdir()
    file = H.write(dir .. "/perf.yaml", GOOD)
  end)
  teardown(function() H.rm(dir) end)

  local function load(opts)
    opts.file = opts.file or file
    opts.environ = opts.environ or {}
    return config.load(opts)
  end

  it("starts from the schema's defaults", function()
    local cfg = assert(config.load{ file = false, environ = {} })
    for _, s in ipairs(config.settings()) do
      assert.are.equal(s.spec.default, cfg:get(s.path))
      assert.are.equal("default", cfg:source(s.path))
    end
  end)

  it("requires a file that was named explicitly", function()
    local cfg, err = load{ file = dir .. "/absent.yaml" }
    assert.is_nil(cfg)
    assert.matches("absent.yaml: cannot open: No such file or directory", err, 1, true)
    cfg, err = config.load{ environ = { CAUSAL_EVAL_CONFIG = dir .. "/absent2.yaml" } }
    assert.is_nil(cfg)
    assert.matches("absent2.yaml: cannot open", err, 1, true)
  end)

  it("picks the environment from opts, then CAUSAL_EVAL_ENV, then development", function()
    local cfg = assert(load{})
    assert.are.equal("development", cfg.env)
    assert.are.equal("default", cfg.env_source)
    assert.are.equal(7, cfg:get("evaluation.batch_size"))
    cfg = assert(load{ environ = { CAUSAL_EVAL_ENV = "production" } })
    assert.are.equal("production", cfg.env)
    assert.are.equal("CAUSAL_EVAL_ENV", cfg.env_source)
    assert.are.equal(70, cfg:get("evaluation.batch_size"))
    cfg = assert(load{ env = "development", environ = { CAUSAL_EVAL_ENV = "production" } })
    assert.are.equal("development", cfg.env)
    assert.are.equal("--env", cfg.env_source)
  end)

  it("layers file over defaults, variables over the file, --set over variables", function()
    local cfg = assert(load{
      env = "production",
      environ = { CAUSAL_EVAL_EVALUATION_MAX_WORKERS = "32", CAUSAL_EVAL_API_PORT = "9000" },
      set = { "api.port=9100" },
    })
    assert.are.equal(70, cfg:get("evaluation.batch_size"))
    assert.matches("perf.yaml:7:17 (production)", cfg:source("evaluation.batch_size"), 1, true)
    assert.are.equal(32, cfg:get("evaluation.max_workers"))
    assert.are.equal("env CAUSAL_EVAL_EVALUATION_MAX_WORKERS", cfg:source("evaluation.max_workers"))
    assert.are.equal(9100, cfg:get("api.port"))
    assert.are.equal("--set", cfg:source("api.port"))
    assert.are.equal("/var/lib/ce", cfg.values.store.path)
    assert.are.equal(config.schema.evaluation.cache_ttl.default, cfg:get("evaluation.cache_ttl"))
    assert.are.equal("default", cfg:source("evaluation.cache_ttl"))
  end)

  it("parses variables and --set values by the setting's type", function()
    local cfg = assert(load{
      environ = { CAUSAL_EVAL_EVALUATION_ENABLE_GPU = "yes", CAUSAL_EVAL_STORE_PATH = "123" },
      set = { "store.sync=off", "evaluation.cache_ttl=0x10" },
    })
    assert.are.equal(true, cfg:get("evaluation.enable_gpu"))
    assert.are.equal("123", cfg:get("store.path")) -- strings stay strings
    assert.are.equal(false, cfg:get("store.sync"))
    assert.are.equal(16, cfg:get("evaluation.cache_ttl"))
  end)

  it("reports unknown keys in the file with file:line:column and a suggestion", function()
    local bad = H.write(dir .. "/bad.yaml", "development:\n  evaluation:\n    batch_sise: 3\n")
    local cfg, err, errors = load{ file = bad }
    assert.is_nil(cfg)
    assert.matches("bad.yaml:3:5: development.evaluation.batch_sise: unknown key (did you mean 'batch_size'?)", err, 1, true)
    assert.are.equal(1, #errors)
  end)

  it("reports wrong types at the value's position, all errors at once", function()
    local bad = H.write(dir .. "/types.yaml", table.concat({
      "development:",
      "  evaluation:",
      "    batch_size: ten",
      "    enable_gpu: 1",
      "  api:",
      "    port: 70000",
      "  store: [a, b]",
      "  nosuch: {}",
    }, "\n") .. "\n")
    local cfg, err, errors = load{ file = bad }
    assert.is_nil(cfg)
    assert.are.equal(5, #errors)
    assert.matches('types.yaml:3:17: development.evaluation.batch_size: expected integer, got string "ten"', err, 1, true)
    assert.matches("types.yaml:4:17: development.evaluation.enable_gpu: expected boolean, got integer 1", err, 1, true)
    assert.matches("types.yaml:6:11: development.api.port: must be <= 65535, got 70000", err, 1, true)
    assert.matches("types.yaml:7:10: development.store: expected a mapping of settings", err, 1, true)
    assert.matches("types.yaml:8:3: development.nosuch: unknown key", err, 1, true)
  end)

  it("treats a null value as 'not set here'", function()
    local f = H.write(dir .. "/null.yaml", "development:\n  evaluation:\n    batch_size: ~\n")
    local cfg = assert(load{ file = f })
    assert.are.equal(config.schema.evaluation.batch_size.default, cfg:get("evaluation.batch_size"))
  end)

  it("reports YAML syntax errors in the file with their location", function()
    local f = H.write(dir .. "/syntax.yaml", "development:\n  evaluation: [1, 2\n")
    local cfg, err = load{ file = f }
    assert.is_nil(cfg)
    assert.matches("syntax.yaml:3:1: ", err, 1, true)
  end)

  it("names the known environments when asked for a missing one", function()
    local cfg, err = load{ env = "staging" }
    assert.is_nil(cfg)
    assert.matches("no environment 'staging' (from --env); known: development, production", err, 1, true)
  end)

  it("reports bad variables by name", function()
    local cfg, err = load{ environ = {
      CAUSAL_EVAL_EVALUATION_BATCH_SIZE = "many",
      CAUSAL_EVAL_EVALUATION_BATCHSIZE = "3",
      CAUSAL_EVAL_UNRELATED = "ignored",
    } }
    assert.is_nil(cfg)
    assert.matches('CAUSAL_EVAL_EVALUATION_BATCH_SIZE: evaluation.batch_size: expected integer, got string "many"', err, 1, true)
    assert.matches("CAUSAL_EVAL_EVALUATION_BATCHSIZE: unknown setting (did you mean CAUSAL_EVAL_EVALUATION_BATCH_SIZE?)", err, 1, true)
    assert.not_matches("UNRELATED", err, 1, true)
  end)

  it("reports bad --set items", function()
    local cfg, err = load{ set = { "evaluation.batch_size", "evaluation.batch_sise=3", "evaluation=3", "api.port=-1" } }
    assert.is_nil(cfg)
    assert.matches("--set evaluation.batch_size: expected section.key=value", err, 1, true)
    assert.matches("--set evaluation.batch_sise=3: unknown setting 'evaluation.batch_sise' (did you mean 'evaluation.batch_size'?)", err, 1, true)
    assert.matches("--set evaluation=3: unknown setting 'evaluation' (a section, not a setting)", err, 1, true)
    assert.matches("--set api.port=-1: api.port: must be >= 0, got -1", err, 1, true)
  end)

  it("raises on get() of an unknown path (misuse)", function()
    local cfg = assert(load{})
    assert.has_error(function() cfg:get("evaluation.nope") end, "unknown setting 'evaluation.nope'")
  end)

  it("ships configs/performance.yaml with both environments, valid", function()
    local yaml = require "causal_eval.yaml"
    local path = H.root .. "/configs/performance.yaml"
    local doc, marks = assert(yaml.load_file(path, { marks = true }))
    assert.truthy(doc.development and doc.production)
    assert.are.same({}, config.check_document(doc, marks, path))
    for _, env in ipairs({ "development", "production" }) do
      local cfg = assert(config.load{ env = env, file = path, environ = {} })
      for _, key in ipairs({ "evaluation.batch_size", "evaluation.max_workers", "evaluation.cache_ttl",
                             "evaluation.enable_gpu", "api.worker_count", "api.max_requests" }) do
        assert.matches("performance.yaml:%d+:%d+ %(" .. env .. "%)", cfg:source(key))
      end
    end
  end)
end)

describe("causal-eval config", function()
  local dir
  setup(function() dir = H.tmpdir() end)
  teardown(function() H.rm(dir) end)

  it("show prints every setting with its source", function()
    local r = H.run({ "config", "show", "--env", "production", "--set", "api.port=1234" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("environment: production (--env)", r.stdout, 1, true)
    assert.matches("\napi.port%s+1234%s+%-%-set\n", r.stdout)
    assert.matches("\nevaluation.batch_size%s+100%s+configs/performance.yaml:%d+:%d+ %(production%)\n", r.stdout)
    assert.matches('\napi.bind%s+"127.0.0.1"%s+default\n', r.stdout)
  end)

  it("show takes CAUSAL_EVAL_ENV and variables", function()
    local r = H.run({ "config", "show" }, { env = { CAUSAL_EVAL_ENV = "production", CAUSAL_EVAL_API_WORKER_COUNT = "9" } })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("environment: production (CAUSAL_EVAL_ENV)", r.stdout, 1, true)
    assert.matches("\napi.worker_count%s+9%s+env CAUSAL_EVAL_API_WORKER_COUNT\n", r.stdout)
  end)

  it("show --json prints values and sources", function()
    local r = H.run({ "config", "show", "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local doc = require("cjson").decode(r.stdout)
    assert.are.equal("development", doc.environment)
    assert.are.equal(10, doc.values.evaluation.batch_size)
    assert.are.equal("default", doc.sources["api.bind"])
  end)

  it("show fails with every error and status 1", function()
    local r = H.run({ "config", "show", "--set", "api.port=x", "--set", "nope.x=1" })
    assert.are.equal(1, r.code)
    assert.matches("--set api.port=x: api.port: expected integer", r.stderr, 1, true)
    assert.matches("--set nope.x=1: unknown setting 'nope.x'", r.stderr, 1, true)
  end)

  it("check prints ok for a good file", function()
    local r = H.run({ "config", "check", "configs/performance.yaml" }, { cwd = H.root })
    assert.are.equal(0, r.code)
    assert.are.equal("ok\n", r.stdout)
    local plain = H.write(dir .. "/plain.yaml", "any: [yaml, 1, 2.5]\n")
    r = H.run({ "config", "check", plain })
    assert.are.equal("ok\n", r.stdout)
  end)

  it("check prints each error as FILE:LINE:COLUMN: message, status 1", function()
    local f = H.write(dir .. "/c.yaml", "production:\n  evaluation:\n    batch_size: 1.5\n    gpu: true\n")
    local r = H.run({ "config", "check", f })
    assert.are.equal(1, r.code)
    assert.are.equal(
      f .. ":3:17: production.evaluation.batch_size: expected integer, got float 1.5\n" ..
      f .. ":4:5: production.evaluation.gpu: unknown key\n", r.stdout)
  end)

  it("check reports YAML errors of any file", function()
    local cases = {
      { "a: 1\na: 2\n", ":2:1: duplicate key 'a' (first at line 1)" },
      { "a: [1, 2\n", ":2:1: did not find expected ',' or ']'" },
      { "a: *nope\n", ":1:4: alias *nope names no anchor" },
      { "a: !!int x\n", ":1:4: 'x' is not a valid !!int" },
    }
    for i, c in ipairs(cases) do
      local f = H.write(("%s/y%d.yaml"):format(dir, i), c[1])
      local r = H.run({ "config", "check", f })
      assert.are.equal(1, r.code)
      assert.matches(f .. c[2], r.stdout, 1, true)
    end
    local deep = H.write(dir .. "/deep.yaml", ("["):rep(65) .. ("]"):rep(65) .. "\n")
    local r = H.run({ "config", "check", deep })
    assert.matches(deep .. ":1:65: document nested deeper than 64 levels", r.stdout, 1, true)
    local bomb = { "a: &a [x, x, x, x, x, x, x, x, x, x]" }
    for i = 2, 9 do
      bomb[i] = ("%s: &%s [%s]"):format(string.char(96 + i), string.char(96 + i),
        (("*" .. string.char(95 + i) .. ", "):rep(10)):sub(1, -3))
    end
    local bf = H.write(dir .. "/bomb.yaml", table.concat(bomb, "\n") .. "\n")
    r = H.run({ "config", "check", bf })
    assert.are.equal(1, r.code)
    assert.matches("alias expansion bound", r.stdout, 1, true)
    assert.matches("^" .. bf:gsub("%p", "%%%0") .. ":%d+:%d+: ", r.stdout)
  end)

  it("check names a missing file", function()
    local r = H.run({ "config", "check", dir .. "/missing.yaml" })
    assert.are.equal(1, r.code)
    assert.matches(dir .. "/missing.yaml: cannot open: No such file or directory", r.stdout, 1, true)
  end)

  it("check with several files names each", function()
    local a = H.write(dir .. "/a.yaml", "x: 1\n")
    local b = H.write(dir .. "/b.yaml", "x: 1\n")
    local r = H.run({ "config", "check", a, b })
    assert.are.equal(a .. ": ok\n" .. b .. ": ok\n", r.stdout)
  end)

  it("rejects an unknown config subcommand, status 2", function()
    local r = H.run({ "config", "frob" })
    assert.are.equal(2, r.code)
    assert.matches("unknown config command 'frob'", r.stderr, 1, true)
  end)
end)
