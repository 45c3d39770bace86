-- SPDX-License-Identifier: MIT
-- causal-eval worker: answer the questions that `run --queue` puts on Redis.
local argparse = require "causal_eval.argparse"
local config = require "causal_eval.config"

local parser = argparse.new{
  prog = "causal-eval worker",
  summary = "answer the questions queued on Redis by `causal-eval run --queue`",
  description = [[
Takes the questions of every run queued on the Redis at --queue (oldest run
first; --run: only that one) as a member of the consumer group "workers",
asks them exactly as a local run would (its models, settings, cache and
scoring), writes the records to the run's results store (PostgreSQL with
--store or store.url, shared by workers on many machines; else LMDB in
--data, shared by the workers of one machine) and acknowledges each
question once it is stored. Start as many as you like, on any machines. A
question a worker took and did not finish (the worker died) is taken over
by another after queue.claim_after seconds. With nothing to do it waits;
SIGTERM or Ctrl-C: it finishes the questions in flight and exits 0. Exit
status: 0 done, 1 could not start or a thread failed, 2 usage.]],
  options = {
    { "--queue", arg = "URL", help = "redis://[:password@]host[:port][/db] (default: queue.url)" },
    { "-w", "--workers", arg = "N", type = "integer", help = "threads (default: evaluation.max_workers; at most 64)" },
    { "-c", "--concurrency", arg = "N", type = "integer", help = "requests in flight, all threads together (default: run.concurrency)" },
    { "--run", arg = "RUN_ID", help = "work only this run, and exit when it has ended" },
    { "--data", arg = "DIR", help = "results store folder (default: store.path, ./causal-eval-data)" },
    { "--store", arg = "URL", help = "results in PostgreSQL: postgresql://... (default: store.url; else LMDB in --data)" },
    { "--cache", arg = "MODE", choices = { "readwrite", "read", "write", "off" },
      help = "model-call cache (default: each run's own mode; the layers are this machine's cache settings)" },
    { "--quiet", help = "no notes on stderr (warnings and failures are still said)" },
    { "--env", arg = "NAME", help = "configuration environment" },
    { "--config", arg = "FILE", help = "configuration file" },
    { "--set", arg = "SECTION.KEY=VALUE", multiple = true, help = "override one setting" },
  },
}

local M = { summary = "answer questions queued on Redis by `run --queue` (any number, on any machines)",
            help = function() return parser:help() end }

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local cfg, cerr = config.load{ env = args.env, file = args.config, set = args.set }
  if not cfg then
    io.stderr:write(cerr, "\n")
    return 2
  end
  local v = cfg.values
  local pool = require "causal_eval.queue_pool"
  local url = args.queue or (v.queue.url ~= "" and v.queue.url) or nil
  if not url then return cli.usage_error(parser, "--queue redis://HOST[:PORT][/DB] is needed (or queue.url)") end
  local bad = require("causal_eval.queue").check_url(url)
  if bad then return cli.usage_error(parser, "--queue: " .. bad) end
  local results = require "causal_eval.results"
  if args.store then
    local sbad = results.check_url(args.store)
    if sbad then return cli.usage_error(parser, "--store: " .. sbad) end
  end
  local workers = args.workers or v.evaluation.max_workers
  local concurrency = args.concurrency or v.run.concurrency
  if workers < 1 or workers > pool.MAX_WORKERS then
    return cli.usage_error(parser, ("--workers must be between 1 and %d (start more workers for more)"):format(pool.MAX_WORKERS))
  end
  if concurrency < 1 or concurrency > require("causal_eval.run.settings").MAX_CONCURRENCY then
    return cli.usage_error(parser, "--concurrency must be between 1 and 65536")
  end
  local exit, err = pool.serve{
    url = url, workers = workers, concurrency = concurrency, run = args.run,
    data = args.data or v.store.path, store_cfg = results.config(v, args.store),
    cache_mode = args.cache, cache_opts = require("causal_eval.cache").options(v),
    claim_after = v.queue.claim_after, quiet = args.quiet,
  }
  if not exit then
    io.stderr:write("causal-eval worker: ", err, "\n")
    return 1
  end
  return exit
end

return M
