-- SPDX-License-Identifier: MIT
-- causal-eval config show | check
local argparse = require "causal_eval.argparse"
local config = require "causal_eval.config"
local pretty = require "causal_eval.pretty"
local yaml = require "causal_eval.yaml"

local show_parser = argparse.new{
  prog = "causal-eval config show",
  summary = "print the resolved configuration and where each value came from",
  options = {
    { "--env", arg = "NAME", help = "environment to resolve (else $CAUSAL_EVAL_ENV, else development)" },
    { "--config", arg = "FILE", help = "configuration file (else $CAUSAL_EVAL_CONFIG, else configs/performance.yaml)" },
    { "--set", arg = "SECTION.KEY=VALUE", multiple = true, help = "override one setting" },
    { "--json", help = "print one JSON object: environment, file, values, sources" },
  },
}

local check_parser = argparse.new{
  prog = "causal-eval config check",
  summary = "load YAML files and report every error as FILE:LINE:COLUMN: message",
  description = [[
Any YAML file is checked for syntax, duplicate keys, aliases, nesting depth and
size. A configuration file (a mapping of environments whose sections are known)
is also checked against the settings schema: unknown keys and wrong types.
Prints "ok" when there is nothing to report; exit status 1 otherwise.]],
  positionals = { { "FILE", multiple = true, help = "YAML files" } },
}

local M = { summary = "show the resolved configuration, or check YAML files" }

function M.help()
  return "usage: causal-eval config show [options]\n" ..
         "       causal-eval config check FILE...\n\n" ..
         show_parser:help() .. "\n" .. check_parser:help() ..
         "\nsettings (section.key  type  default  meaning):\n" .. M.settings_table()
end

function M.settings_table()
  local out = {}
  for _, s in ipairs(config.settings()) do
    out[#out + 1] = ("  %-26s %-8s %-20s %s"):format(s.path, s.spec.type, pretty.format(s.spec.default), s.spec.help or "")
  end
  return table.concat(out, "\n") .. "\n"
end

local function show(argv, cli)
  local args, code = cli.parse(show_parser, argv)
  if not args then return code end
  local cfg, err = config.load{ env = args.env, file = args.config, set = args.set }
  if not cfg then
    io.stderr:write(err, "\n")
    return 1
  end
  if args.json then
    local cjson = require "cjson"
    io.stdout:write(cjson.encode{
      environment = cfg.env, environment_source = cfg.env_source,
      file = cfg.file or cjson.null, values = cfg.values, sources = cfg.sources,
    }, "\n")
    return 0
  end
  print(("environment: %s (%s)"):format(cfg.env, cfg.env_source))
  print(("file: %s"):format(cfg.file or "(none)"))
  print()
  local rows = cfg:rows()
  local w1, w2 = #"setting", #"value"
  for _, r in ipairs(rows) do
    r.text = pretty.format(r.value)
    w1, w2 = math.max(w1, #r.path), math.max(w2, #r.text)
  end
  local fmt = "%-" .. w1 .. "s  %-" .. w2 .. "s  %s"
  print((fmt:format("setting", "value", "source")))
  for _, r in ipairs(rows) do print((fmt:format(r.path, r.text, r.source))) end
  return 0
end

local function check(argv, cli)
  local args, code = cli.parse(check_parser, argv)
  if not args then return code end
  local failed = false
  for _, file in ipairs(args.FILE) do
    local doc, marks = yaml.load_file(file, { marks = true })
    local errors
    if doc == nil then
      errors = { marks }
    elseif config.looks_like_config(doc) then
      errors = {}
      for i, e in ipairs(config.check_document(doc, marks, file)) do errors[i] = config.format_error(e) end
    else
      errors = {}
    end
    if #errors > 0 then
      failed = true
      for _, e in ipairs(errors) do io.stdout:write(e, "\n") end
    elseif #args.FILE > 1 then
      print(file .. ": ok")
    else
      print("ok")
    end
  end
  return failed and 1 or 0
end

function M.run(argv, cli)
  local sub = argv[1]
  local rest = table.move(argv, 2, #argv, 1, {})
  if sub == "show" then return show(rest, cli) end
  if sub == "check" then return check(rest, cli) end
  if sub == nil or sub == "-h" or sub == "--help" then
    io.stdout:write(M.help())
    return sub and 0 or 2
  end
  return cli.usage_error("usage: causal-eval config show|check ...",
    ("unknown config command '%s'"):format(sub))
end

return M
