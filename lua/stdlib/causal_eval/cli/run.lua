-- SPDX-License-Identifier: MIT
-- causal-eval run: evaluate models on benchmark questions.
local argparse = require "causal_eval.argparse"
local config = require "causal_eval.config"
local host = require "causal_eval.host"
local bench = require "causal_eval.bench"

local parser = argparse.new{
  prog = "causal-eval run",
  summary = "evaluate models on benchmark questions and store every answer",
  description = [[
MODEL is adapter:model[@base_url] (openai:gpt-4o-mini,
openai:qwen2.5@http://127.0.0.1:8000/v1, anthropic:claude-3-5-haiku-latest,
command:./my-model.sh, baseline:random|always_yes|associational) or a name from
configs/models.yaml. Without --model: $CAUSAL_EVAL_MODEL, else the three
baselines. Questions are those `causal-eval generate BENCH --n N --seed S`
writes (default: run.suite and run.n from the configuration), or the lines of
--questions FILE. The run id is printed first on stderr; the table per model
goes to stdout. Exit status: 0 done, 1 failed or a model below --fail-under,
2 usage, 130 interrupted (resume with --resume RUN_ID).]],
  options = {
    { "-m", "--model", arg = "MODEL", multiple = true, help = "model to evaluate (repeat for several)" },
    { "-b", "--bench", arg = "BENCH", multiple = true, help = "benchmark families (comma-separated or repeated; all)" },
    { "-n", "--n", arg = "N", type = "integer", help = "questions per family" },
    { "--seed", arg = "S", type = "integer", help = "seed of the questions (default 0)" },
    { "--difficulty", arg = "D", choices = bench.DIFFICULTIES, help = "easy, medium or hard (default: mixed)" },
    { "--domain", arg = "D", help = "one story domain (default: mixed)" },
    { "-q", "--questions", arg = "FILE.jsonl", help = "evaluate the questions of a file instead (-: the standard input)" },
    { "--limit", arg = "N", type = "integer", help = "evaluate only the first N questions" },
    { "-w", "--workers", arg = "N", type = "integer", help = "worker threads (default: evaluation.max_workers)" },
    { "-c", "--concurrency", arg = "N", type = "integer", help = "requests in flight in total (default: run.concurrency)" },
    { "--rate", arg = "RPS", type = "number", help = "requests per second cap (default: run.rate, 0 = none)" },
    { "--timeout", arg = "SECONDS", type = "number", help = "total timeout of one request (default: run.timeout)" },
    { "--connect-timeout", arg = "SECONDS", type = "number", help = "connect timeout (default: run.connect_timeout)" },
    { "--max-attempts", arg = "N", type = "integer", help = "tries per question (default: run.max_attempts)" },
    { "--max-tokens-total", arg = "N", type = "integer", help = "stop dispatching after this many tokens" },
    { "--budget-usd", arg = "USD", type = "number", help = "stop dispatching after this cost (prices in configs/models.yaml)" },
    { "--template", arg = "FILE.lua", help = "prompt template: the system and user messages built from the question's fields (docs/modes.md)" },
    { "--shots", arg = "K", type = "integer", help = "K solved questions of the same family before each question (few-shot)" },
    { "--cot", help = "chain of thought: ask for reasoning, then a final answer; only the final answer is scored" },
    { "--cot-budget", arg = "TOKENS", type = "integer", help = "with --cot: the tokens of one answer, reasoning included (default 1024)" },
    { "--samples", arg = "K", type = "integer", help = "ask each question K times (with --temperature T > 0): majority vote, agreement, pass@k" },
    { "--temperature", arg = "T", type = "number", help = "sampling temperature of every model (default: the model's, 0)" },
    { "--judge", arg = "MODEL", help = "grade free-text answers with this model (answer_type free_text)" },
    { "--rubric", arg = "FILE.lua", help = "with --judge: the rubric (default: causal_eval.rubrics.default)" },
    { "--resume", arg = "RUN_ID", help = "continue a run (or 'last'): only unfinished questions are sent" },
    { "--retry-errors", help = "with --resume: send again the questions that failed for a transient reason" },
    { "--data", arg = "DIR", help = "results store folder (default: store.path, ./causal-eval-data)" },
    { "--store", arg = "URL", help = "results in PostgreSQL: postgresql://... (default: store.url; else LMDB in --data)" },
    { "--fail-under", arg = "ACC", type = "number", help = "exit 1 when a model's accuracy is below ACC (0..1)" },
    { "--cache", arg = "MODE", choices = { "readwrite", "read", "write", "off" },
      help = "model-call cache: readwrite (default: cache.mode), read, write or off" },
    { "--metrics-port", arg = "PORT", type = "integer", help = "serve Prometheus metrics on this port during the run (0: any free port)" },
    { "--metrics-bind", arg = "ADDR", help = "address the metrics listener binds to (default 127.0.0.1)" },
    { "--metrics-linger", arg = "SECONDS", type = "number", help = "keep serving metrics this long after the run ends" },
    { "--optimize-for", arg = "GOAL", choices = { "throughput", "latency", "memory" },
      help = "let a tuning policy steer concurrency during the run (AIMD on 429s, latency or memory)" },
    { "--tune-interval", arg = "SECONDS", type = "number", help = "how often the tuning policy runs (default 0.1)" },
    { "--alerts", arg = "FILE", help = "alert rules and channels (Lua or YAML) evaluated during the run" },
    { "--alert-interval", arg = "SECONDS", type = "number", help = "how often alert conditions are evaluated (default 1)" },
    { "--profile", help = "profile the run (CPU in every worker, I/O): report on stderr" },
    { "--profile-out", arg = "PREFIX", help = "with --profile: also write PREFIX.svg (flame graph), PREFIX.folded, PREFIX.json" },
    { "--repl", help = "a REPL on the live run while it works (run:stats(), run:pause(), run:set{...}, ...)" },
    { "--queue", arg = "URL", help = "put the questions on a Redis stream (redis://host[:port][/db]) for `causal-eval worker`s to answer" },
    { "--detach", help = "with --queue: return once the questions are queued (`results show RUN_ID` later)" },
    { "--json", help = "print the summary as one JSON object on stdout" },
    { "--junit", arg = "FILE", help = "also write JUnit XML: a testsuite per model, a testcase per question" },
    { "--quiet", help = "no progress line and no notes on stderr (why a run failed is still said)" },
    { "--env", arg = "NAME", help = "configuration environment" },
    { "--config", arg = "FILE", help = "configuration file" },
    { "--set", arg = "SECTION.KEY=VALUE", multiple = true, help = "override one setting" },
  },
}

local M = { summary = "evaluate models on benchmark questions (the main job)", help = function() return parser:help() end }

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local cfg, cerr = config.load{ env = args.env, file = args.config, set = args.set }
  if not cfg then
    io.stderr:write(cerr, "\n")
    return 2
  end
  local v = cfg.values
  require("causal_eval.stats").configure(v.evaluation) -- the summary's paired intervals
  -- dispatch settings given on this command line (flags or --set): a
  -- resumed run keeps its own for the others
  local settings = require "causal_eval.run.settings"
  local given = {}
  for _, s in ipairs(settings.LIST) do
    local name, path = s[1], s[3]
    if args[name] ~= nil then given[name] = args[name]
    elseif path and (cfg:source(path) or ""):find("^%-%-set ") then given[name] = cfg:get(path) end
  end
  local bad = settings.check(given)
  if not bad then
    for _, check in ipairs({ { args.n, "--n", 1 }, { args.limit, "--limit", 0 } }) do
      if check[1] and check[1] < check[3] then bad = ("%s must be >= %s"):format(check[2], check[3]) end
    end
    if args.n and args.n > bench.MAX_N then bad = ("--n must be between 1 and %d"):format(bench.MAX_N) end
    if args.metrics_port and (args.metrics_port < 0 or args.metrics_port > 65535) then
      bad = "--metrics-port must be between 0 and 65535"
    end
  end
  if bad then return cli.usage_error(parser, bad) end
  if args.fail_under and (args.fail_under < 0 or args.fail_under > 1) then
    return cli.usage_error(parser, "--fail-under must be between 0 and 1")
  end
  local function listed(list) return list ~= nil and #list > 0 end
  if args.questions and (listed(args.bench) or args.n) then
    return cli.usage_error(parser, "--questions and --bench/--n exclude each other")
  end
  -- taken and then not used, they were a run other than the one asked for
  for _, f in ipairs({ "seed", "difficulty", "domain" }) do
    if args.questions and args[f] ~= nil then
      return cli.usage_error(parser, ("--questions asks the file's questions as they are: no --%s"):format(f))
    end
  end
  if args.resume and (listed(args.model) or listed(args.bench) or args.questions or args.n) then
    return cli.usage_error(parser, "--resume continues a run as it was started: no --model, --bench, --n or --questions")
  end
  for _, f in ipairs({ "limit", "seed", "difficulty", "domain" }) do
    if args.resume and args[f] ~= nil then
      return cli.usage_error(parser, ("--resume continues a run as it was started: no --%s"):format(f))
    end
  end
  for _, f in ipairs({ "template", "shots", "cot", "cot_budget", "samples", "temperature", "judge", "rubric" }) do
    if args.resume and args[f] ~= nil and args[f] ~= false then
      return cli.usage_error(parser, ("--resume asks the way the run was started: no --%s"):format(f:gsub("_", "-")))
    end
  end
  do
    -- the mode's flags and how they combine (files and models are read later)
    local _, merr = require("causal_eval.mode").from_options({ shots = args.shots, cot = args.cot or nil,
      cot_budget = args.cot_budget, samples = args.samples, temperature = args.temperature,
      rubric = not args.judge and args.rubric or nil }, {})
    if merr then return cli.usage_error(parser, merr) end
  end
  if args.alert_interval and not (args.alert_interval > 0) then
    return cli.usage_error(parser, "--alert-interval must be a number of seconds > 0")
  end
  if args.alert_interval and not args.alerts then
    return cli.usage_error(parser, "--alert-interval sets how often --alerts FILE's rules run: give the file")
  end
  if args.repl and args.json then
    return cli.usage_error(parser, "--repl talks on standard output, where --json puts one JSON object: use one of them")
  end
  if args.detach and not args.queue then
    return cli.usage_error(parser, "--detach leaves a run to its workers: give it with --queue URL")
  end
  if args.queue then
    local bad = require("causal_eval.queue").check_url(args.queue)
    if bad then return cli.usage_error(parser, "--queue: " .. bad) end
    -- what lives in this process while the workers ask elsewhere
    for _, f in ipairs({ { args.repl, "--repl" }, { args.optimize_for, "--optimize-for" }, { args.alerts, "--alerts" },
                         { args.metrics_port, "--metrics-port" }, { args.profile or args.profile_out, "--profile" } }) do
      if f[1] then return cli.usage_error(parser, f[2] .. " is not for --queue: the questions are asked by the workers") end
    end
  end
  if args.store then
    local bad = require("causal_eval.results").check_url(args.store)
    if bad then return cli.usage_error(parser, "--store: " .. bad) end
  end
  if args.junit and args.detach then
    return cli.usage_error(parser, "--junit writes the answers, which --detach leaves to the workers")
  end
  if args.retry_errors and not args.resume then
    return cli.usage_error(parser, "--retry-errors sends again the failures of a stored run: give it with --resume RUN_ID")
  end
  local models = args.model
  if not models or #models == 0 then
    local env_model = os.getenv("CAUSAL_EVAL_MODEL")
    models = (env_model and env_model ~= "") and { env_model } or nil
  end
  local benches = args.bench
  if (not benches or #benches == 0) and not args.questions then benches = { v.run.suite } end
  local alerts
  if args.alerts then
    local aerr
    alerts, aerr = require("causal_eval.alerts").load(args.alerts)
    if not alerts then
      io.stderr:write("causal-eval run: ", aerr, "\n")
      return 2
    end
  end
  local tty = host.isatty(2)
  local json_out = args.json
  local runner = require "causal_eval.runner"
  local opts = {
    models = models, benches = benches, n = args.n or v.run.n, seed = args.seed,
    difficulty = args.difficulty, domain = args.domain, questions = args.questions, limit = args.limit,
    alerts = alerts, alert_interval = args.alert_interval, profile = args.profile or args.profile_out ~= nil,
    repl = args.repl, resume = args.resume, retry_errors = args.retry_errors,
    data = args.data or v.store.path, store_cfg = require("causal_eval.results").config(v, args.store),
    cache_mode = args.cache or v.cache.mode, cache_opts = require("causal_eval.cache").options(v),
    metrics_port = args.metrics_port, metrics_bind = args.metrics_bind, metrics_linger = args.metrics_linger,
    fail_under = args.fail_under, progress = tty and not args.quiet and not args.repl, quiet = args.quiet, config_values = v,
    queue = args.queue, detach = args.detach, claim_after = v.queue.claim_after,
    template = args.template, shots = args.shots, cot = args.cot, cot_budget = args.cot_budget,
    samples = args.samples, temperature = args.temperature, judge = args.judge, rubric = args.rubric,
  }
  for name, value in pairs(given) do opts[name] = value end
  local exit, report = runner.run(opts)
  if not exit then
    io.stderr:write("causal-eval run: ", report, "\n")
    return 1
  end
  local results = require "causal_eval.results"
  if report.detached then
    local where = require("causal_eval.queue").redact(args.queue)
    if json_out then
      io.stdout:write(require("causal_eval.json").encode({ run_id = report.run.id, status = "queued", queue = where,
                                                           queued = report.queued }), "\n")
    else
      io.stdout:write(("run %s queued on %s: `causal-eval results show %s` once the workers have answered\n")
        :format(report.run.id, where, report.run.id))
    end
    return exit
  end
  if args.junit then
    local ok, jerr = require("causal_eval.perf.junit").write_run_file(args.junit, report, opts.data, opts.store_cfg)
    if not ok then
      io.stderr:write("causal-eval run: --junit ", tostring(jerr), "\n")
      exit = exit == 0 and 1 or exit
    end
  end
  if json_out then
    io.stdout:write(runner.report_json(report), "\n")
  else
    io.stdout:write(results.format_summary(report.run, report.summaries, report.comparisons))
  end
  -- --quiet drops notes, not the reason for a non-zero exit status
  local why = exit ~= 0
  if report.message and (why or not args.quiet) then io.stderr:write(report.message, "\n") end
  if report.profiler then
    io.stderr:write(report.profiler:report{ top = 25 })
    if args.profile_out then
      local p = report.profiler
      for ext, text in pairs({ svg = p:flamegraph{ title = "causal-eval run " .. report.run.id }, folded = p:folded(),
                               json = require("causal_eval.json").encode(p:analyze()) .. "\n" }) do
        -- a profile asked for and not written fails the command, as --junit does
        local out, ferr = require("causal_eval.outfile").open(args.profile_out .. "." .. ext)
        if out then
          out.file:write(text)
          out, ferr = out:commit()
        end
        if not out then
          io.stderr:write("causal-eval run: --profile-out ", ferr, "\n")
          exit = exit == 0 and 1 or exit
        end
      end
    end
  end
  if #report.below > 0 and (why or not args.quiet) then
    io.stderr:write(("below --fail-under %g: %s\n"):format(args.fail_under, table.concat(report.below, ", ")))
  end
  return exit
end

return M
