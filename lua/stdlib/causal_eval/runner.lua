-- SPDX-License-Identifier: MIT
-- `causal-eval run` as a library: sets up a run (or resumes one), starts the
-- worker threads (causal_eval.worker), shows progress, turns Ctrl-C into a
-- clean stop, and summarises the results from the store.
--
--   local runner = require "causal_eval.runner"
--   local code, report = runner.run{ models = {"baseline:random"}, benches = {"ladder"}, n = 50 }
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local threads = require "causal_eval.threads"
local models_mod = require "causal_eval.models"
local results = require "causal_eval.results"
local worker = require "causal_eval.worker"

local M = {}

M.DEFAULT_MODELS = { "baseline:random", "baseline:always_yes", "baseline:associational" }

local function log(opts, fmt, ...)
  if not opts.quiet then io.stderr:write(fmt:format(...), "\n") end
end

-- the questions a --questions file gives the run; nil, message when the file
-- must not run (unreadable, a directory, empty, duplicate ids: causal_eval.question_file)
local function count_lines(path, limit)
  local info, err = require("causal_eval.question_file").scan(path, limit)
  if not info then return nil, err end
  return info.count
end

--- The run's models as resolved tables; nil, message on a bad spec.
local function resolve_models(specs)
  local catalog, cerr = models_mod.catalog()
  if not catalog then return nil, cerr end
  local out, seen = {}, {}
  for _, spec in ipairs(specs) do
    local m, err = models_mod.resolve(spec, catalog)
    if not m then return nil, err end
    if seen[m.label] then return nil, ("model '%s' given twice"):format(m.label) end
    seen[m.label] = true
    out[#out + 1] = m
  end
  if #out > 63 then return nil, "at most 63 models in one run" end
  return out
end

--- A new run record from the options; nil, message on bad options.
local function new_run(opts)
  local specs = opts.models
  if not specs or #specs == 0 then specs = M.DEFAULT_MODELS end
  local models, err = resolve_models(specs)
  if not models then return nil, err end
  local run = {
    id = results.new_run_id(), created = os.time(), status = "running",
    host_version = host.version, seed = opts.seed or 0,
    models = {}, model_specs = models, limit = opts.limit,
    config = opts.config_values,
  }
  for i, m in ipairs(models) do run.models[i] = m.label end
  if opts.questions then
    local n, lerr = count_lines(opts.questions, opts.limit)
    if not n then return nil, lerr end
    run.source = { kind = "file", path = opts.questions }
    run.benchmarks = { opts.questions }
    run.total = n
  else
    local bench = require "causal_eval.bench"
    local fams, names = bench.families(
      (opts.benches and #opts.benches > 0) and opts.benches or { "all" })
    if not fams then return nil, names end
    local bopts, oerr = bench.options{ difficulty = opts.difficulty, domain = opts.domain }
    if not bopts then return nil, oerr end
    run.source = { kind = "bench", benches = {}, n = opts.n or 20, seed = opts.seed or 0,
                   options = { difficulty = opts.difficulty, domain = opts.domain } }
    for i, n in ipairs(names) do run.source.benches[i] = n end
    run.benchmarks = {}
    for i, f in ipairs(fams) do run.benchmarks[i] = f.name end
    run.total = #fams * run.source.n
    if opts.limit and opts.limit < run.total then run.total = opts.limit end
  end
  return run
end

-- keys of the (model, question) pairs already stored, and what they spent
local function done_set(st, run)
  local set = shared.set()
  local prices, tokens, cost = {}, 0, 0
  for _, m in ipairs(run.model_specs) do prices[results.model_key(m.label)] = m.price end
  local n = 0
  st:scan("scores", run.id .. results.SEP, function(k, v)
    local _, mk, qid = results.split_key(k)
    set:add(mk .. results.SEP .. qid)
    n = n + 1
    local s = json.decode(v)
    if type(s) == "table" then
      local ti, to = tonumber(s.ti) or 0, tonumber(s.to) or 0
      tokens = tokens + ti + to
      local p = prices[mk]
      if type(p) == "table" then cost = cost + (ti * (p.input or 0) + to * (p.output or 0)) / 1e6 end
    end
  end)
  return set, n, tokens, cost
end

local function fmt_duration(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%dh%02dm"):format(s // 3600, s % 3600 // 60) end
  if s >= 60 then return ("%dm%02ds"):format(s // 60, s % 60) end
  return ("%ds"):format(s)
end

--- Questions stored (committed) and failed so far, all models together.
local function totals(st, nmodels)
  local done, errors = 0, 0
  for slot = 0, nmodels - 1 do
    local t = st:tally(slot)
    done, errors = done + t.done, errors + t.errors
  end
  return done, errors
end

local function progress_line(run, st, nmodels, prior, t0, latency)
  local done, errors = totals(st, nmodels)
  local total = run.total * nmodels
  local el = host.clock() - t0
  local rate = el > 0 and done / el or 0
  local left = total - prior - done
  local p95 = latency:count() > 0 and ("%.0fms"):format(latency:quantile(0.95) * 1000) or "-"
  return ("\r%d/%d  %.1f/s  ETA %s  errors %d  p95 %s \27[K"):format(prior + done, total, rate,
    rate > 0 and fmt_duration(left / rate) or "?", errors, p95)
end

--- Runs (or resumes) an evaluation. opts: models (specs), benches, n, seed,
--- difficulty, domain, questions (file), limit, workers, concurrency, rate,
--- timeout, connect_timeout, max_attempts, retry_base, retry_cap,
--- max_tokens_total, budget_usd, resume (run id or "last"), data (folder),
--- store_cfg, progress (bool), quiet, config_values.
--- Returns an exit status and { run = .., summaries = .., message = .. }.
function M.run(opts)
  local data = opts.data or "./causal-eval-data"
  local st, serr = results.open(data, opts.store_cfg)
  if not st then return nil, ("cannot open the results store %s: %s"):format(data, serr) end
  local run, err
  if opts.resume then
    run, err = results.get_run(st, opts.resume)
    if not run then
      st:close()
      return nil, err
    end
    if run.status == "completed" then
      log(opts, "run %s is already complete", run.id)
    end
  else
    run, err = new_run(opts)
    if not run then
      st:close()
      return nil, err
    end
  end
  -- always, even when quiet: it is what --resume needs after a crash
  io.stderr:write("run ", run.id, "\n")
  if opts.on_run_id then opts.on_run_id(run.id) end

  -- budgets belong to the run: a resume keeps them unless given again
  if opts.max_tokens_total then run.max_tokens_total = opts.max_tokens_total end
  if opts.budget_usd then run.budget_usd = opts.budget_usd end
  local done, prior, prior_tokens, prior_cost = done_set(st, run)
  run.status, run.started = "running", os.time()
  run.resumed = opts.resume and (run.resumed or 0) + 1 or run.resumed
  results.put_run(st, run)

  local tickets = shared.counter(0, run.total)
  local stop = shared.flag()
  local rate = opts.rate or 0
  -- with a tuning policy the bucket exists even unlimited, so the policy can set a rate
  local bucket = (rate > 0 or opts.policy or opts.repl) and shared.bucket(rate, math.max(1, rate / 10)) or nil
  local tokens_sum, cost_sum = shared.sum(), shared.sum()
  if prior_tokens > 0 then tokens_sum:add(prior_tokens) end
  if prior_cost > 0 then cost_sum:add(prior_cost) end
  local latency = shared.histogram()
  local lines
  local source = { kind = run.source.kind }
  if run.source.kind == "file" then
    local lerr
    lines, lerr = shared.lines(run.source.path)
    if not lines then
      st:close()
      return nil, lerr
    end
    source.lines, source.path = lines:id(), run.source.path
  else
    source.benches, source.n, source.seed, source.options = run.source.benches, run.source.n, run.source.seed, run.source.options
  end
  local batch = opts.store_cfg and opts.store_cfg.batch_size or 256
  assert(st:start_writer{ batch = math.max(batch, 64), flush_ms = 5 })

  local nworkers = math.max(1, opts.workers or 2)
  local concurrency = math.max(1, opts.concurrency or 64)
  local per_worker = math.max(1, math.ceil(concurrency / nworkers))
  -- live settings a tuning policy may change: the total concurrency, and
  -- what the policy reads (responses, 429s, latencies of the interval)
  local limit = shared.counter(per_worker * nworkers)
  local paused, recent, policy_box = shared.counter(0), shared.ring(200), shared.ring(16)
  local responses, limited = shared.counter(0), shared.counter(0)
  local window = shared.histogram()
  local max_concurrency = math.max(per_worker * nworkers, opts.max_concurrency or 0)
  local wcfg = {
    run_id = run.id, store = st:id(), tickets = tickets:id(), stop = stop:id(), bucket = bucket and bucket:id() or nil,
    tokens_sum = tokens_sum:id(), cost_sum = cost_sum:id(), done = done:id(), latency = latency:id(),
    source = source, models = run.model_specs, concurrency = per_worker,
    total_concurrency = per_worker * nworkers,
    limit = limit:id(), responses = responses:id(), limited = limited:id(), window = window:id(), nworkers = nworkers,
    paused = paused:id(), recent = opts.repl and recent:id() or nil, -- run:recent() is the only reader
    max_concurrency_per_worker = math.ceil(max_concurrency / nworkers),
    timeout = opts.timeout, connect_timeout = opts.connect_timeout,
    retries = { max_attempts = opts.max_attempts, base = opts.retry_base, cap = opts.retry_cap },
    max_tokens_total = run.max_tokens_total, budget_usd = run.budget_usd,
  }
  if run.max_tokens_total and prior_tokens >= run.max_tokens_total then
    stop:set(worker.STOP_BUDGET, ("token budget reached: %d tokens (--max-tokens-total %d)"):format(
      math.floor(prior_tokens), run.max_tokens_total))
  elseif run.budget_usd and prior_cost >= run.budget_usd then
    stop:set(worker.STOP_BUDGET, ("cost budget reached: $%.4f (--budget-usd %g)"):format(prior_cost, run.budget_usd))
  end
  local cache
  if opts.cache_mode and opts.cache_mode ~= "off" and opts.cache_opts then
    local cerr
    -- a run asks for each (question, model) once: a memory layer would only
    -- hold every answer of the run (hundreds of MB at 200k questions) and
    -- never be read; disk and Redis are what a later run reads
    local copts = {}
    for k, v in pairs(opts.cache_opts) do copts[k] = v end
    copts.memory_mb = 0
    cache, cerr = require("causal_eval.cache").open(copts)
    if cache then
      wcfg.cache = { id = cache:id(), mode = opts.cache_mode }
    else
      log(opts, "warning: cache unavailable (%s): every call goes to the model", tostring(cerr))
    end
  end
  local server, sample
  if opts.metrics_port then
    local merr
    server, merr = require("causal_eval.metrics").serve{ port = opts.metrics_port, bind = opts.metrics_bind }
    if not server then
      if cache then cache:close() end
      st:close()
      return nil, merr
    end
    io.stderr:write(("metrics on http://%s:%d/metrics\n"):format(opts.metrics_bind or "127.0.0.1", server:port()))
    sample = require("causal_eval.run_metrics").sampler(cache)
    sample()
  end
  local t0 = host.clock()
  local cpu0 = host.cpu_time()
  -- with --repl the terminal belongs to the REPL (its own thread and state);
  -- Ctrl-C there interrupts what is typed, run:stop() stops the run
  if not opts.repl then host.trap_signals() end
  local profiler
  if opts.profile then
    profiler = require("causal_eval.profiling").PerformanceProfiler{ memory = false }
    profiler:start()
  end
  local group = threads.start(nworkers, "causal_eval.worker", json.encode(wcfg))
  local show = opts.progress
  local last_draw = 0
  local alerting = opts.alerts and M.alerting(opts, run, st, latency, t0)
  local live = {
    limit = limit, responses = responses, limited = limited, window = window, bucket = bucket, st = st,
    nmodels = #run.model_specs, concurrency = per_worker * nworkers, rate = opts.rate,
  }
  local tuner = opts.policy and M.tuner(opts, live)
  local repl
  if opts.repl then
    repl = threads.start(1, "causal_eval.run_repl", json.encode({
      run_id = run.id, total = run.total, nmodels = #run.model_specs, store = st:id(), limit = limit:id(),
      paused = paused:id(), stop = stop:id(), bucket = bucket:id(), latency = latency:id(),
      recent = recent:id(), policy_box = policy_box:id(),
    }))
  end
  while group:finished() < nworkers do
    host.sleep(0.05)
    if host.interrupts() > 0 then
      if stop:set(worker.STOP_INTERRUPT, "interrupted") then
        log(opts, "\ninterrupted: finishing the writes in progress (Ctrl-C again to quit at once)")
      end
    end
    if sample then sample() end
    local code_box = policy_box:pop()
    if code_box then
      -- a policy from the REPL: bytecode, loaded in this state
      local fn, lerr = load(code_box, "run:policy", "b")
      if fn then
        opts.policy = fn
        tuner = tuner or M.tuner(opts, live)
      else
        io.stderr:write("causal-eval: run:policy: ", tostring(lerr), "\n")
      end
    end
    if tuner then tuner.tick() end
    if alerting then alerting.tick() end
    if show and host.clock() - last_draw >= 0.25 then
      last_draw = host.clock()
      io.stderr:write(progress_line(run, st, #run.model_specs, prior, t0, latency))
    end
  end
  local outcomes = group:join()
  if not opts.repl then host.untrap_signals() end
  if repl then
    io.stderr:write(("\n[run %s has finished; leave the REPL (Ctrl-D) for its summary]\n"):format(run.id))
    repl:join()
  end
  if sample then sample() end
  if alerting and st:sync() then alerting.tick(true) end
  local cache_stats = cache and cache:stats()
  if cache then cache:close() end
  if show then io.stderr:write(progress_line(run, st, #run.model_specs, prior, t0, latency), "\n") end
  local wall = host.clock() - t0
  local cpu = host.cpu_time() - cpu0
  local ok, werr = st:sync()
  -- after the last commit, so the profile's I/O counts every write of the run
  if profiler then profiler:stop() end

  local code, reason = stop:get()
  local failures = {}
  for i, o in ipairs(outcomes) do
    if not o.ok then failures[#failures + 1] = ("worker %d: %s"):format(i, o.error) end
  end
  local sent = 0
  for _, o in ipairs(outcomes) do
    local r = o.ok and json.decode(o.result)
    if type(r) == "table" then sent = sent + (r.sent or 0) end
  end
  local message
  if not ok then
    run.status, message = "failed", "writing results failed: " .. tostring(werr)
  elseif #failures > 0 then
    run.status, message = "failed", table.concat(failures, "\n")
  elseif code == worker.STOP_INTERRUPT then
    run.status, message = "interrupted", ("interrupted; resume with: causal-eval run --resume %s"):format(run.id)
  elseif code == worker.STOP_AUTH then
    run.status, message = "stopped", reason
  elseif code == worker.STOP_BUDGET then
    run.status, message = "stopped", reason .. ("; completed results are kept (causal-eval run --resume %s continues)"):format(run.id)
  else
    run.status = "completed"
  end
  run.finished = os.time()
  run.elapsed = (run.elapsed or 0) + wall
  run.message = message
  results.put_run(st, run)
  local summaries, comparisons = results.summarize(st, run)
  for _, s in ipairs(summaries) do
    s.throughput = run.elapsed > 0 and s.n / run.elapsed or json.null
  end
  st:close()
  if server then
    -- a last scrape can see the finished run
    if opts.metrics_linger and opts.metrics_linger > 0 then host.sleep(opts.metrics_linger) end
    server:stop()
  end
  local exit = 0
  if run.status == "failed" or code == worker.STOP_AUTH then exit = 1
  elseif run.status == "interrupted" then exit = 130 end
  local below = {}
  if opts.fail_under then
    for _, s in ipairs(summaries) do
      if type(s.accuracy) ~= "number" or s.accuracy < opts.fail_under then below[#below + 1] = s.model end
    end
    if #below > 0 and exit == 0 then exit = 1 end
  end
  return exit, {
    run = run, summaries = summaries, message = message, below = below, sent = sent,
    wall = wall, cpu = cpu, prior = prior, cache = cache_stats, tuning = tuner and tuner.trace or nil,
    comparisons = comparisons,
    alerts = alerting and alerting.events or nil, profiler = profiler,
  }
end

local function mem_total()
  local f = io.open("/proc/meminfo", "r")
  if not f then return nil end
  local kb = f:read("a"):match("MemTotal:%s*(%d+)")
  f:close()
  return kb and tonumber(kb) * 1024
end

--- Calls opts.policy every opts.tune_interval seconds (0.1) with the
--- interval's statistics and applies what it returns. The trace keeps one
--- entry per call: t, concurrency, rate, p50, p95, throughput, responses,
--- limited (429s), errors.
function M.tuner(opts, live)
  local interval = opts.tune_interval or 0.1
  local settings = { concurrency = live.concurrency, rate = live.rate or 0, batch_size = opts.batch_size or 10 }
  local t0 = host.clock()
  local last_t, last_cpu = t0, host.cpu_time()
  local last_resp, last_lim, last_done, last_err = 0, 0, 0, 0
  local ncpu = 2
  do
    local p = io.popen("nproc 2>/dev/null")
    if p then
      ncpu = tonumber(p:read("l")) or 2
      p:close()
    end
  end
  local ram = mem_total()
  local self = { trace = {} }
  function self.tick()
    local now = host.clock()
    if now - last_t < interval then return end
    local dt = now - last_t
    local resp, lim = live.responses:get(), live.limited:get()
    local done, errs = totals(live.st, live.nmodels)
    local cpu = host.cpu_time()
    local n_resp = resp - last_resp
    local stats = {
      interval = dt, responses = n_resp, limited = lim - last_lim, errors = errs - last_err,
      throughput = (done - last_done) / dt,
      p50 = live.window:count() > 0 and live.window:quantile(0.5) or nil,
      p95 = live.window:count() > 0 and live.window:quantile(0.95) or nil,
      cpu = (cpu - last_cpu) / dt / ncpu,
      memory = ram and (host.rss() / ram) or nil,
    }
    stats.rate_429 = n_resp > 0 and stats.limited / n_resp or 0
    stats.error_rate = (done - last_done) > 0 and stats.errors / (done - last_done) or 0
    live.window:reset()
    last_t, last_cpu, last_resp, last_lim, last_done, last_err = now, cpu, resp, lim, done, errs
    local ok, new = pcall(opts.policy, stats, { concurrency = settings.concurrency, rate = settings.rate,
                                               batch_size = settings.batch_size })
    if not ok then
      io.stderr:write("causal-eval: tuning policy failed: ", tostring(new), " (settings kept)\n")
      opts.policy = function() return {} end
      return
    end
    if type(new) == "table" then
      if math.type(new.concurrency) or type(new.concurrency) == "number" then
        local c = math.max(1, math.floor(new.concurrency))
        if c ~= settings.concurrency then
          live.limit:add(c - live.limit:get())
          settings.concurrency = c
        end
      end
      if type(new.rate) == "number" and new.rate ~= settings.rate and live.bucket then
        live.bucket:set(new.rate, math.max(1, new.rate / 10))
        settings.rate = new.rate
      end
      if type(new.batch_size) == "number" then settings.batch_size = math.max(1, math.floor(new.batch_size)) end
    end
    self.trace[#self.trace + 1] = {
      t = now - t0, concurrency = settings.concurrency, rate = settings.rate, batch_size = settings.batch_size,
      p50 = stats.p50, p95 = stats.p95, throughput = stats.throughput, responses = stats.responses,
      limited = stats.limited, errors = stats.errors,
    }
  end
  return self
end

--- Evaluates the alert rules (opts.alerts, an alerts engine) every
--- opts.alert_interval seconds (1) over the run's live values; the log
--- channel's events are kept in the store (meta: alert \0 run \0 n).
function M.alerting(opts, run, st, latency, t0)
  local engine = opts.alerts
  local interval = opts.alert_interval or 1
  local ram = mem_total()
  local last_t, last_cpu = host.clock(), host.cpu_time()
  local seq = 0
  local self = { events = {} }
  engine.record = function(ev)
    seq = seq + 1
    st:put("meta", ("alert\0%s\0%06d"):format(run.id, seq), json.encode(ev))
  end
  function self.tick(force)
    local now = host.clock()
    if not force and now - last_t < interval then return end
    local done, errors = totals(st, #run.model_specs)
    local cpu = host.cpu_time()
    local values = {
      questions_done = done, errors = errors, error_rate = done > 0 and errors / done or 0,
      throughput = done / math.max(1e-9, now - t0),
      memory_usage_percent = ram and host.rss() / ram * 100 or nil,
      cpu_usage_percent = (cpu - last_cpu) / math.max(1e-9, now - last_t) * 100,
    }
    if latency:count() > 0 then
      values.p50_latency, values.p95_latency, values.p99_latency =
        latency:quantile(0.5), latency:quantile(0.95), latency:quantile(0.99)
    end
    last_t, last_cpu = now, cpu
    for _, ev in ipairs(engine:evaluate(values)) do self.events[#self.events + 1] = ev end
  end
  return self
end

--- The --json report of a run.
function M.report_json(report)
  local run = report.run
  return json.encode({
    run_id = run.id, status = run.status, message = run.message or json.null,
    benchmarks = json.array(run.benchmarks or {}), seed = run.seed,
    elapsed_s = run.elapsed, models = json.array(report.summaries),
    below_threshold = json.array(report.below or {}),
    tuning = report.tuning and json.array(report.tuning) or nil,
    alerts = report.alerts and json.array(report.alerts) or nil,
    comparisons = report.comparisons and json.array(report.comparisons) or nil,
  })
end

return M
