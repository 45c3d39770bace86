-- SPDX-License-Identifier: MIT
-- causal-eval serve: the HTTP API (docs/service.md); serve adduser NAME.
local argparse = require "causal_eval.argparse"
local config = require "causal_eval.config"

local common = {
  { "--env", arg = "NAME", help = "configuration environment" },
  { "--config", arg = "FILE", help = "configuration file" },
  { "--set", arg = "SECTION.KEY=VALUE", multiple = true, help = "override one setting (api.worker_count=4)" },
}

local parser = argparse.new{
  prog = "causal-eval serve",
  summary = "serve the evaluation API over HTTP until SIGTERM or Ctrl-C",
  description = [[
Endpoints: POST /auth/login, POST /evaluate/single, POST /evaluate/batch,
GET /results/recent, GET /results/summary, GET /runs/ID, GET /metrics,
GET /healthz, GET /. Every one but /healthz (and /) needs a token from
/auth/login (users: `causal-eval serve adduser NAME`). Settings are the api
section of the configuration (`causal-eval config show`). SIGTERM or Ctrl-C
finishes the requests in progress and exits 0. docs/service.md has the details.]],
  options = require("causal_eval.cli").options({
    { "-p", "--port", arg = "PORT", type = "integer", help = "port to listen on (default: api.port, 8000; 0: any free port)" },
    { "--bind", arg = "ADDR", help = "IPv4 address to listen on (default: api.bind, 127.0.0.1)" },
    { "-w", "--workers", arg = "N", type = "integer", help = "worker threads (default: api.worker_count)" },
    { "--data", arg = "DIR", help = "results store folder (default: store.path)" },
    { "--store", arg = "URL", help = "results in PostgreSQL: postgresql://... (default: store.url; /results/* read store.read_url)" },
  }, common),
}

local M = { summary = "serve the evaluation API over HTTP (and add its users)" }

function M.help()
  local secmod = require("causal_eval.serve.routes").security_module()
  return parser:help() .. (secmod and ("\n" .. secmod.adduser_help()) or "")
end

local function load_config(args)
  local cfg, err = config.load{ env = args.env, file = args.config, set = args.set }
  if not cfg then
    io.stderr:write(err, "\n")
    return nil
  end
  return cfg.values
end

-- `serve adduser NAME`: the security module reads the password and writes the users file
local function adduser(argv, cli)
  local secmod, err = require("causal_eval.serve.routes").security_module()
  if not secmod then
    io.stderr:write("causal-eval serve adduser: ", err, "\n")
    return 1
  end
  return secmod.adduser_command(argv, cli)
end

function M.run(argv, cli)
  if argv[1] == "adduser" then return adduser(table.move(argv, 2, #argv, 1, {}), cli) end
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  if args.port and (args.port < 0 or args.port > 65535) then
    return cli.usage_error(parser, "--port must be from 0 to 65535")
  end
  if args.workers and (args.workers < 1 or args.workers > 256) then
    return cli.usage_error(parser, "--workers must be from 1 to 256")
  end
  if args.store then
    local bad = require("causal_eval.results").check_url(args.store)
    if bad then return cli.usage_error(parser, "--store: " .. bad) end
  end
  local v = load_config(args)
  if not v then return 2 end
  if args.workers then v.api.worker_count = args.workers end
  local exit, err = require("causal_eval.serve.supervisor").run{
    values = v, port = args.port, bind = args.bind, data = args.data, store = args.store,
  }
  if not exit then
    io.stderr:write("causal-eval serve: ", err, "\n")
    return 1
  end
  return exit
end

return M
