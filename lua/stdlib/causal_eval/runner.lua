-- SPDX-License-Identifier: MIT
-- `causal-eval run` as a library: sets up a run (or resumes one), starts the
-- worker threads (causal_eval.worker), shows progress, turns Ctrl-C or
-- SIGTERM into a clean stop, and summarises the results from the store.
--
--   local runner = require "causal_eval.runner"
--   local code, report = runner.run{ models = {"baseline:random"}, benches = {"ladder"}, n = 50 }
--
-- run() is a sequence of named stages with plain data between them: open
-- the store, begin (a new run or a resumed one, locked), settle its dispatch
-- settings, read what is already stored (prior), prepare the shared objects,
-- write the run as running, supervise the workers, conclude (status, exit)
-- and summarise. Once the run is written as running, any failure, even an
-- internal error, writes it as failed with the message.
local json = require "causal_eval.json"
local host = require "causal_eval.host"
local shared = require "causal_eval.shared"
local threads = require "causal_eval.threads"
local lockfile = require "causal_eval.lockfile"
local models_mod = require "causal_eval.models"
local results = require "causal_eval.results"
local worker = require "causal_eval.worker"
local outcome = require "causal_eval.run.outcome"
local settings = require "causal_eval.run.settings"
local live_mod = require "causal_eval.run.live"

local M = {}

M.DEFAULT_MODELS = { "baseline:random", "baseline:always_yes", "baseline:associational" }

--- How long the results writer lets a batch of a run's answers fill (ms):
--- long enough for store.batch_size values from 7,000 answers a second up.
M.FLUSH_MS = 150

--- The heap a worker thread is given present before it starts (MB), for k
--- requests in flight a worker: about the least its heap holds at its peak
--- in a run (its Lua objects, the disk cache's pages), so the reserve does
--- not raise a run's peak memory: 2 MB at 1, 4 at 16, 11 at 128, at most 12.
--- Grown into a page at a time, each page cost a page fault (12 us on a
--- VM), and again after glibc trimmed it. (21,000 questions at 16 a worker:
--- peak RssAnon 24.9 MB with no worker reserve, 24.6 with 4 MB, 27.0 with
--- 6; the page faults 5,332, 3,231, 2,805.)
function M.worker_heap_mb(k)
  return math.min(12, math.floor(2 + math.min(k, 16) / 8 + math.max(k - 16, 0) / 16))
end

local function log(opts, fmt, ...)
  if not opts.quiet then io.stderr:write(fmt:format(...), "\n") end
end

-- the first line of an error, without the Lua position in front
local function plain(err)
  local line = tostring(err):match("^[^\n]*")
  return (line:gsub("^[^:\n]*%.lua:%d+: ", ""))
end

-- the questions a --questions file gives the run, and the digest of their
-- ids; nil, message when the file must not run (unreadable, a directory,
-- empty, duplicate ids: causal_eval.question_file)
local function count_lines(path, limit, name)
  local info, err = require("causal_eval.question_file").scan(path, limit, name)
  if not info then return nil, err end
  return info.count, info.digest
end

-- The file a run reads its --questions from. A run reads it more than once
-- (the scan, the workers, a resume), and a stream gives its lines only once:
-- a pipe (`--questions <(cmd)`, /dev/stdin) or "-" (the standard input)
-- ran no question at all and said "completed". Such a stream is copied into
-- the store's folder, beside the run's lock, and the run reads the copy.
local function copy_path(data, run_id) return ("%s/questions-%s.jsonl"):format(data, run_id) end

-- A copy of a stream made for a run that was never stored: nothing reads it.
local function drop_copy(data, run)
  if not (run and run.source and run.source.path) then return end
  local copy = host.realpath(copy_path(data, run.id)) -- the run keeps absolute paths
  if copy and copy == run.source.path then os.remove(copy) end
end

-- Returns the path to read, and whether it is such a copy.
local function questions_path(given, data, run_id)
  if given ~= "-" then
    local kind = host.file_kind(given)
    -- a missing file: the scan says so, as for any file it cannot open
    if not kind or kind == "file" or kind == "directory" then return given, false end
  end
  local src, oerr = io.stdin, nil
  if given ~= "-" then src, oerr = io.open(given, "rb") end
  if not src then return nil, oerr end
  local path = copy_path(data, run_id)
  -- whole or not at all, every write checked
  local out, werr = require("causal_eval.outfile").open(path)
  local rerr
  if out then
    repeat
      local chunk
      chunk, rerr = src:read(1 << 20)
    until not chunk or not out.file:write(chunk)
  end
  if src ~= io.stdin then src:close() end
  if not out then return nil, ("cannot keep the questions of %s: %s"):format(given, werr) end
  if rerr then
    out:abort()
    return nil, ("%s: %s"):format(given, rerr)
  end
  local ok, cerr = out:commit()
  if not ok then return nil, ("cannot keep the questions of %s: %s"):format(given, cerr) end
  return path, true
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

--- The evaluation mode of a new run (causal_eval.mode) from its options:
--- template, shots, cot, cot_budget, samples, temperature, judge (a model
--- spec), rubric. nil, message on a bad one.
function M.mode_of(opts, models)
  local o = {}
  for _, k in ipairs({ "template", "shots", "cot", "cot_budget", "samples", "temperature", "rubric" }) do o[k] = opts[k] end
  if opts.judge then
    local catalog, cerr = models_mod.catalog()
    if not catalog then return nil, cerr end
    local jm, jerr = models_mod.resolve(opts.judge, catalog)
    if not jm then return nil, "--judge: " .. jerr end
    o.judge = jm
  end
  return require("causal_eval.mode").from_options(o, models)
end

--- A new run record from the options; nil, message on bad options.
local function new_run(opts, data)
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
  local mode, merr = M.mode_of(opts, models)
  if not mode then return nil, merr end
  if not require("causal_eval.mode").is_default(mode) then run.mode = mode end
  if opts.questions then
    local name = opts.questions == "-" and "stdin" or opts.questions
    local path, copied = questions_path(opts.questions, data, run.id)
    if not path then return nil, copied end
    local n, digest = count_lines(path, opts.limit, name)
    if not n then
      if copied then os.remove(path) end
      return nil, digest
    end
    -- a resume from another folder reads the same file, and checks it is
    -- still the one the run started with (the digest of its ids in order)
    run.source = { kind = "file", path = host.realpath(path) or path, digest = digest }
    run.benchmarks = { name }
    run.total = n
  else
    local bench = require "causal_eval.bench"
    local fams, names = bench.families(
      (opts.benches and #opts.benches > 0) and opts.benches or { "all" })
    if not fams then return nil, names end
    local bopts, oerr = bench.options{ difficulty = opts.difficulty, domain = opts.domain }
    if not bopts then return nil, oerr end
    -- a family asked for more distinct questions than it can make would
    -- search for ever: refused before anything is stored or sent
    local n, limit = opts.n or 20, opts.limit or math.huge
    for i, f in ipairs(fams) do
      local asked = math.max(0, math.min(n, limit - (i - 1) * n))
      if asked > 0 then
        local ok, cerr = bench.check_capacity(f, bopts, opts.seed or 0, asked)
        if not ok then return nil, cerr end
      end
    end
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

-- ---- the run lock ----

-- One lock per run, not per store: the defect it prevents is two processes
-- sending the same run's questions. Different runs write different keys,
-- and LMDB already orders writers across processes, so a store-wide lock
-- would only forbid evaluating two models side by side in one store.
local lock_path = results.lock_path

local function lock_run(data, run_id)
  local lk, err, pid = lockfile.take(lock_path(data, run_id))
  if lk then return lk end
  if pid then
    return nil, ("run %s is in progress in process %d (lock %s): wait for it to end, or stop it (kill -TERM %d) and resume then")
      :format(run_id, pid, lock_path(data, run_id), pid)
  end
  return nil, ("cannot lock run %s: %s"):format(run_id, err)
end

-- ---- stages ----

-- A resumed run's --questions file must still hold the questions the run
-- started with: a file cut short since made a resume "complete" with the
-- rest never asked, and one regenerated meanwhile mixed another set's
-- answers into the run. (Runs stored before the digest are not checked.)
local function same_questions(run)
  local src = run.source
  if type(src) ~= "table" or src.kind ~= "file" or not src.digest then return true end
  local n, digest = count_lines(src.path, run.limit)
  if not n then return nil, ("run %s: %s"):format(run.id, digest) end
  if n ~= run.total or digest ~= src.digest then
    return nil, ("run %s: %s has changed since the run started (%d questions then, %d now, %s): a resume asks "
      .. "the questions the run started with; put the file back as it was, or start a new run with it")
      :format(run.id, src.path, run.total, n, n == run.total and "other ids or another order" or "a different count")
  end
  return true
end

-- A new run, or the stored one to resume, with its lock held.
local function begin(st, data, opts)
  if not opts.resume then
    local run, err = new_run(opts, data)
    if not run then return nil, err end
    local lk, lerr = lock_run(data, run.id)
    if not lk then
      drop_copy(data, run)
      return nil, lerr
    end
    return run, lk
  end
  local run, err = results.get_run(st, opts.resume)
  if not run then return nil, err end
  local lk, lerr = lock_run(data, run.id)
  if not lk then return nil, lerr end
  -- read again under the lock: a run that just ended has its final state
  local again, gerr = results.get_run(st, run.id)
  if not again then
    lk:release()
    return nil, gerr
  end
  run = again
  -- the models as stored: a store edited by hand, or written by an older
  -- version, must fail here with the field named, not in every worker
  for _, m in ipairs(type(run.model_specs) == "table" and run.model_specs or {}) do
    local ok, merr = models_mod.check_resolved(m, "run " .. run.id)
    if not ok then
      lk:release()
      return nil, merr
    end
  end
  local ok, cerr = same_questions(run)
  if not ok then
    lk:release()
    return nil, cerr
  end
  if run.status == "completed" and not opts.retry_errors then log(opts, "run %s is already complete", run.id) end
  return run, lk
end

-- The dispatch settings: given ones, else the run's stored ones, else the
-- configuration's.
local function settle(run, opts)
  local given = {}
  for _, s in ipairs(settings.LIST) do given[s[1]] = opts[s[1]] end
  local err = settings.check(given)
  if err then return nil, err end
  local stored = run.dispatch
  if not stored and (run.max_tokens_total or run.budget_usd) then
    -- a run stored before its settings were kept its budgets alone
    stored = { max_tokens_total = run.max_tokens_total, budget_usd = run.budget_usd }
  end
  local values = opts.config_values or assert(require("causal_eval.config").load{ file = false, environ = {} }).values
  local s = settings.resolve(stored, given, settings.defaults(values))
  -- a worker needs one request in flight at least
  s.nworkers = math.min(s.workers, s.concurrency)
  if s.nworkers < s.workers then
    log(opts, "note: %d worker%s, as many as --concurrency %d allows", s.nworkers, s.nworkers > 1 and "s" or "",
      s.concurrency)
  end
  s.max_concurrency = settings.ceiling(s.concurrency)
  if s.optimize_for then
    local perr
    s.policy, perr = require("causal_eval.tuning").for_goal(s.optimize_for, s.concurrency)
    if not s.policy then return nil, perr end
  end
  return s
end

-- What the run already holds: the (model, question) pairs stored, what
-- they spent, and with retry_errors the transient failures to send again
-- (left out of the set) and the other failures kept.
local function prior_of(st, run, retry_errors)
  local p = { done = shared.set(), n = 0, tokens = 0, cost = 0, resend = {}, kept = {}, nresend = 0 }
  local prices = {}
  for _, m in ipairs(run.model_specs) do prices[results.model_key(m.label)] = m.price end
  -- a partial set would send again what is stored: a read error ends here
  local ok, err = st:scan(results.DB.scores, run.id .. results.SEP, function(k, v)
    local _, mk, qid = results.split_key(k)
    local s = json.decode(v)
    local e = type(s) == "table" and s.e or nil
    if e and retry_errors then
      local bucket = outcome.TRANSIENT[e] and p.resend or p.kept
      bucket[e] = (bucket[e] or 0) + 1
      if outcome.TRANSIENT[e] then
        p.nresend = p.nresend + 1
        return
      end
    end
    p.done:add(mk .. results.SEP .. qid)
    p.n = p.n + 1
    if type(s) == "table" then
      local ti, to = tonumber(s.ti) or 0, tonumber(s.to) or 0
      p.tokens = p.tokens + ti + to
      p.cost = p.cost + outcome.cost(prices[mk], ti, to)
    end
  end)
  if not ok then return nil, err end
  return p
end

local function class_counts(t)
  local parts = {}
  for k, n in pairs(t) do parts[#parts + 1] = ("%s %d"):format(k, n) end
  table.sort(parts)
  return table.concat(parts, ", ")
end

local function note_retry(opts, p)
  local kept = 0
  for _, n in pairs(p.kept) do kept = kept + n end
  if p.nresend > 0 then
    log(opts, "sending again %d answer%s that failed for a transient reason (%s)", p.nresend,
      p.nresend > 1 and "s" or "", class_counts(p.resend))
  else
    log(opts, "no answer failed for a transient reason: nothing to send again")
  end
  if kept > 0 then
    log(opts, "not sent again: %d that would fail the same way (%s)", kept, class_counts(p.kept))
  end
end

local function fmt_duration(s)
  if s ~= s or s == math.huge then return "?" end
  s = math.floor(s + 0.5)
  if s >= 3600 then return ("%dh%02dm"):format(s // 3600, s % 3600 // 60) end
  if s >= 60 then return ("%dm%02ds"):format(s // 60, s % 60) end
  return ("%ds"):format(s)
end

local function progress_line(run, st, nmodels, prior, t0, latency)
  local done, errors = outcome.totals(st, nmodels)
  local total = run.total * nmodels
  local el = host.clock() - t0
  local rate = el > 0 and done / el or 0
  local left = total - prior - done
  local p95 = latency:count() > 0 and ("%.0fms"):format(latency:quantile(0.95) * 1000) or "-"
  return ("\r%d/%d  %.1f/s  ETA %s  errors %d  p95 %s \27[K"):format(prior + done, total, rate,
    rate > 0 and fmt_duration(left / rate) or "?", errors, p95)
end

--- The cache the workers share, or nil; nil, message when it cannot be set
--- up (opts: cache_mode, cache_opts, quiet).
function M.open_cache(opts)
  if not (opts.cache_mode and opts.cache_mode ~= "off" and opts.cache_opts) then return nil end
  -- a run asks for each (question, model) once: a memory layer would only
  -- hold every answer of the run (hundreds of MB at 200k questions) and
  -- never be read; disk and Redis are what a later run reads
  local copts = {}
  for k, v in pairs(opts.cache_opts) do copts[k] = v end
  copts.memory_mb = 0
  local ok, cache, cerr = pcall(require("causal_eval.cache").open, copts)
  if not ok then return nil, plain(cache) end
  if not cache then log(opts, "warning: cache unavailable (%s): every call goes to the model", tostring(cerr)) end
  return cache or false
end

-- The native objects the workers, the tuner, the alerts and the REPL share,
-- and the workers' configuration. nil, message when a resource is missing.
local function prepare(run, s, prior, opts, st)
  local ctx = { run = run, s = s, prior = prior, st = st, nmodels = #run.model_specs }
  local source = { kind = run.source.kind }
  if run.source.kind == "file" then
    local lines, lerr = shared.lines(run.source.path)
    if not lines then return nil, lerr end
    ctx.lines = lines
    source.lines, source.path = lines:id(), run.source.path
  else
    source.benches, source.n, source.seed, source.options = run.source.benches, run.source.n, run.source.seed, run.source.options
    -- the workers plan each family's pairs together (causal_eval.bench.share_plan)
    ctx.plans, source.plans = {}, {}
    for i in ipairs(source.benches) do
      ctx.plans[i] = shared.plan()
      source.plans[i] = ctx.plans[i]:id()
    end
  end
  local cache, cerr = M.open_cache(opts)
  if cache == nil and cerr then return nil, cerr end
  ctx.cache = cache or nil
  if opts.metrics_port then
    local server, merr = require("causal_eval.metrics").serve{ port = opts.metrics_port, bind = opts.metrics_bind }
    if not server then
      if ctx.cache then ctx.cache:close() end
      return nil, merr
    end
    ctx.server = server
  end
  ctx.stop = shared.flag()
  -- with a tuning policy or a REPL the bucket exists even unlimited, so either can set a rate
  local rate = s.rate or 0
  ctx.bucket = (rate > 0 or s.policy or opts.policy or opts.repl) and shared.bucket(rate, math.max(1, rate / 10)) or nil
  ctx.tokens_sum, ctx.cost_sum = shared.sum(), shared.sum()
  if prior.tokens > 0 then ctx.tokens_sum:add(prior.tokens) end
  if prior.cost > 0 then ctx.cost_sum:add(prior.cost) end
  ctx.latency = shared.histogram()
  local tickets = shared.counter(0, run.total)
  -- live settings a tuning policy or run:set may change, and what a policy reads
  ctx.live = {
    limit = shared.counter(s.concurrency), batch = shared.counter(s.batch_size),
    responses = shared.counter(0), limited = shared.counter(0), window = shared.histogram(),
    bucket = ctx.bucket, latency = ctx.latency, st = st, nmodels = ctx.nmodels, rate = s.rate,
    min_concurrency = s.nworkers, max_concurrency = s.max_concurrency,
  }
  ctx.paused, ctx.recent, ctx.policy_box = shared.counter(0), shared.ring(200), shared.ring(16)
  local watched = opts.policy or s.policy or opts.repl -- a tuning policy reads the live values
  local live = ctx.live
  ctx.wcfg = {
    run_id = run.id, store = st:id(), tickets = tickets:id(), stop = ctx.stop:id(),
    bucket = ctx.bucket and ctx.bucket:id() or nil,
    tokens_sum = ctx.tokens_sum:id(), cost_sum = ctx.cost_sum:id(), done = prior.done:id(),
    -- every latency: the progress line's p95, the alert rules and the REPL read them
    latency = (opts.progress or opts.alerts or opts.repl) and ctx.latency:id() or nil,
    source = source, models = run.model_specs, nworkers = s.nworkers,
    concurrency = s.concurrency, max_concurrency = s.max_concurrency,
    limit = live.limit:id(), batch = live.batch:id(),
    -- what a tuning policy (one from the REPL too) and the alert rules read
    responses = (watched or opts.alerts) and live.responses:id() or nil,
    limited = (watched or opts.alerts) and live.limited:id() or nil,
    window = watched and live.window:id() or nil, paused = ctx.paused:id(),
    recent = opts.repl and ctx.recent:id() or nil, -- run:recent() is the only reader
    -- the Prometheus families' readers: the metrics endpoint, the alert
    -- rules (the in-flight gauge) and the REPL; without them the workers
    -- leave them alone (5% of a worker's Lua time in `run --questions`)
    metrics = (ctx.server or opts.alerts or opts.repl) and true or false,
    timeout = s.timeout, connect_timeout = s.connect_timeout,
    max_response_bytes = s.max_response_mb and math.max(1, math.floor(s.max_response_mb * 1048576)) or nil,
    retries = { max_attempts = s.max_attempts, base = s.retry_base, cap = s.retry_cap },
    max_tokens_total = s.max_tokens_total, budget_usd = s.budget_usd,
    cache = ctx.cache and { id = ctx.cache:id(), mode = opts.cache_mode } or nil,
    mode = run.mode,
  }
  ctx.keep = { tickets = tickets } -- alive until the workers are done
  if s.budget_usd then
    -- a budget in dollars counts only priced calls: with none, it was taken and never stopped anything
    local priced = run.mode and run.mode.judge and type(run.mode.judge.model.price) == "table" or false
    for _, m in ipairs(run.model_specs or {}) do priced = priced or type(m.price) == "table" end
    if not priced then
      io.stderr:write(("warning: --budget-usd %g cannot stop this run: none of its models has a price "
        .. "(price: { input, output } in USD per million tokens, in the models file)\n"):format(s.budget_usd))
    end
  end
  local why = outcome.over_budget(prior.tokens, prior.cost, s.max_tokens_total, s.budget_usd)
  if why then ctx.stop:set(worker.STOP_BUDGET, why) end
  return ctx
end

-- Starts the workers (and the REPL) and watches them until all are done:
-- signals, the progress line, a policy from the REPL, the tuner, alerts.
local function supervise(ctx, opts)
  local run, s, st = ctx.run, ctx.s, ctx.st
  if ctx.server then
    io.stderr:write(("metrics on http://%s:%d/metrics\n"):format(opts.metrics_bind or "127.0.0.1", ctx.server:port()))
    ctx.sample = require("causal_eval.run_metrics").sampler(ctx.cache)
    ctx.sample()
  end
  local t0 = host.clock()
  ctx.t0, ctx.cpu0 = t0, host.cpu_time()
  -- with --repl the terminal belongs to the REPL (its own thread and state);
  -- Ctrl-C there interrupts what is typed, run:stop() stops the run
  if not opts.repl then host.trap_signals() end
  if opts.profile then
    ctx.profiler = require("causal_eval.profiling").PerformanceProfiler{ memory = false }
    ctx.profiler:start()
  end
  local heap_mb = M.worker_heap_mb(math.ceil(s.concurrency / s.nworkers))
  ctx.group = threads.start(s.nworkers, "causal_eval.worker", json.encode(ctx.wcfg), { heap_mb = heap_mb })
  local live = ctx.live
  ctx.alerting = opts.alerts and live_mod.alerting(opts.alerts, opts.alert_interval, run.id, live, t0)
  local policy = opts.policy or s.policy
  ctx.tuner = policy and live_mod.tuner(policy, s.tune_interval, live)
  local repl
  if opts.repl then
    repl = threads.start(1, "causal_eval.run_repl", json.encode({
      run_id = run.id, total = run.total, nmodels = ctx.nmodels, store = st:id(), limit = live.limit:id(),
      batch = live.batch:id(), paused = ctx.paused:id(), stop = ctx.stop:id(), bucket = ctx.bucket:id(),
      latency = ctx.latency:id(), recent = ctx.recent:id(), policy_box = ctx.policy_box:id(),
      min_concurrency = live.min_concurrency, max_concurrency = live.max_concurrency,
    }))
  end
  local show, last_draw, last_sample = opts.progress, 0, 0
  local watch = require("causal_eval.run.store_watch").new(st, ctx.stop, worker.STOP_INTERRUPT,
    function(...) log(opts, "\n" .. select(1, ...), select(2, ...)) end)
  while ctx.group:finished() < s.nworkers do
    -- short naps: the run's elapsed time is measured here, and 50 ms naps
    -- made a 60 ms run take 100 ms (a cached run's speed-up halved under load)
    host.sleep(0.01)
    watch()
    local n, sig = host.interrupts()
    if n > 0 and ctx.stop:set(worker.STOP_INTERRUPT, sig or "interrupted") then
      if sig == "SIGTERM" then
        log(opts, "\nSIGTERM received: finishing the writes in progress (a second signal quits at once)")
      else
        log(opts, "\ninterrupted (Ctrl-C): finishing the writes in progress (Ctrl-C again to quit at once)")
      end
    end
    if ctx.sample and host.clock() - last_sample >= 0.05 then
      last_sample = host.clock()
      ctx.sample()
    end
    local code_box = ctx.policy_box:pop()
    if code_box then
      -- a policy from the REPL: bytecode, loaded in this state
      local fn, lerr = load(code_box, "run:policy", "b")
      if fn then
        if ctx.tuner then ctx.tuner.policy = fn else ctx.tuner = live_mod.tuner(fn, s.tune_interval, live) end
      else
        io.stderr:write("causal-eval: run:policy: ", tostring(lerr), "\n")
      end
    end
    if ctx.tuner then ctx.tuner.tick() end
    if ctx.alerting then ctx.alerting.tick() end
    if show and host.clock() - last_draw >= 0.25 then
      last_draw = host.clock()
      io.stderr:write(progress_line(run, st, ctx.nmodels, ctx.prior.n, t0, ctx.latency))
    end
  end
  local outcomes = ctx.group:join()
  ctx.group = nil
  if not opts.repl then host.untrap_signals() end
  if repl then
    io.stderr:write(("\n[run %s has finished; leave the REPL (Ctrl-D) for its summary]\n"):format(run.id))
    repl:join()
  end
  if ctx.sample then ctx.sample() end
  -- every record committed: the last alert values and progress line count them all
  ctx.synced, ctx.sync_err = st:sync()
  if ctx.alerting and ctx.synced then ctx.alerting.tick(true) end
  if ctx.cache then
    ctx.cache_stats = ctx.cache:stats()
    ctx.cache:close()
    ctx.cache = nil
  end
  if show then io.stderr:write(progress_line(run, st, ctx.nmodels, ctx.prior.n, t0, ctx.latency), "\n") end
  ctx.wall = host.clock() - t0
  ctx.cpu = host.cpu_time() - ctx.cpu0
  return outcomes
end

-- Models none of whose questions got an answer: "label (n: classes)".
local function all_failed(summaries)
  local out = {}
  for _, m in ipairs(summaries) do
    if m.n > 0 and m.errors == m.n then
      out[#out + 1] = ("%s (%d: %s)"):format(m.model, m.n, class_counts(m.error_classes))
    end
  end
  return out
end

--- A finished run's status and message (set on run) and its exit status,
--- from the stop flag's code and reason (nil: not stopped), a failure
--- (message, or nil) and its summaries (nil: they could not be read, and
--- summary_err says why). Local and queued runs (causal_eval.queue) end
--- by the same rules.
function M.finish_status(run, code, reason, failure, summaries, summary_err)
  local message, exit
  -- a queued run resumes through its queue
  local resume = ("causal-eval run --resume %s%s"):format(run.id,
    type(run.queue) == "table" and run.queue.url and (" --queue " .. run.queue.url) or "")
  if failure then
    run.status, message = "failed", failure
  elseif code == worker.STOP_INTERRUPT then
    reason = reason or ""
    local by = (reason == "SIGTERM" or reason == "SIGINT") and (" by " .. reason) or (reason ~= "" and (" (" .. reason .. ")") or "")
    run.status, message = "interrupted", ("interrupted%s; resume with: %s"):format(by, resume)
    exit = reason == "SIGTERM" and 143 or 130
  elseif code == worker.STOP_AUTH then
    run.status, message, exit = "stopped", reason, 1
  elseif code == worker.STOP_BUDGET then
    run.status, message = "stopped", tostring(reason) .. ("; completed results are kept (%s continues)"):format(resume)
  else
    run.status = "completed"
  end
  if not summaries then
    run.status, message, summaries = "failed", summary_err, {}
  end
  local failed = all_failed(summaries)
  if run.status == "completed" and #failed > 0 then
    -- nothing useful from a model is not a success
    if #failed == #summaries then
      run.status = "failed"
      message = "every question failed: " .. table.concat(failed, "; ")
    else
      message = "every question of " .. table.concat(failed, "; ") .. " failed"
    end
    exit = 1
  end
  if run.status == "failed" then exit = 1 end
  run.message = message
  return exit or 0
end

-- The run's status, message and exit status from how it ended.
local function conclude(ctx, outcomes, opts)
  local run = ctx.run
  local ok, werr = ctx.synced, ctx.sync_err
  -- after the last commit, so the profile's I/O counts every write of the run
  if ctx.profiler then ctx.profiler:stop() end
  local code, reason = ctx.stop:get()
  local failures, sent, recorded = {}, 0, 0
  for i, o in ipairs(outcomes) do
    if o.ok then
      local r = json.decode(o.result)
      if type(r) == "table" then sent, recorded = sent + (r.sent or 0), recorded + (r.recorded or 0) end
    else
      failures[#failures + 1] = ("worker %d: %s"):format(i, plain(o.error))
    end
  end
  ctx.sent = sent
  local failure
  if not ok then failure = "writing results failed: " .. tostring(werr)
  elseif #failures > 0 then failure = table.concat(failures, "\n") end
  -- a resume that found nothing left to ask leaves the run's time as it
  -- was: each one added its own start-up, and the run's rate fell by half
  if sent + recorded > 0 or not run.elapsed then
    run.finished = os.time()
    run.elapsed = (run.elapsed or 0) + ctx.wall
  end
  local summaries, comparisons = results.summarize(ctx.st, run)
  local exit = M.finish_status(run, code or nil, reason, failure, summaries, comparisons)
  if not summaries then summaries, comparisons = {}, nil end
  results.put_run(ctx.st, run)
  return exit, summaries, comparisons
end

local function release(state)
  if state.ctx then
    local ctx = state.ctx
    if ctx.group then
      -- an internal error while workers run: stop them before they are joined
      ctx.stop:set(worker.STOP_INTERRUPT, "internal error")
      ctx.group:join()
      ctx.group = nil
    end
    if ctx.cache then ctx.cache:close() end
    if ctx.server then ctx.server:stop() end
  end
  if state.st then state.st:close() end
  if state.lock then state.lock:release() end
  host.untrap_signals()
end

local function run_stages(opts, state)
  local data = opts.data or "./causal-eval-data"
  -- a resume reads a store: a mistyped --data made an empty one there first
  if opts.resume and not (opts.store_cfg and opts.store_cfg.url) and not host.file_kind(data .. "/data.mdb") then
    return nil, ("no results store in %s: nothing to resume (pass the --data DIR of the run)"):format(data)
  end
  local st, serr, kind = results.open(data, opts.store_cfg)
  if not st then
    if kind == "damaged" then return nil, serr end
    return nil, ("cannot open the results store %s: %s"):format(data, serr)
  end
  state.st = st
  -- answers a killed process had received, put back from its journal
  local nrep, rmsg = st:replayed()
  if rmsg then log(opts, "warning: %s", rmsg)
  elseif nrep > 0 then log(opts, "%d answer%s of a killed run recovered from its journal", nrep, nrep > 1 and "s" or "") end
  local run, lk = begin(st, data, opts)
  if not run then return nil, lk end
  state.lock, state.run = lk, run
  local s, err = settle(run, opts)
  if not s then return nil, err end
  local prior, rerr = prior_of(st, run, opts.retry_errors)
  if not prior then return nil, rerr end
  if opts.retry_errors then note_retry(opts, prior) end
  -- --queue: the questions go on a Redis stream for `causal-eval worker`s
  if opts.queue then return require("causal_eval.queue_run").run(st, run, s, prior, opts, state) end
  local ctx, perr = prepare(run, s, prior, opts, st)
  if not ctx then return nil, perr end
  state.ctx = ctx
  local batch = opts.store_cfg and opts.store_cfg.batch_size or 256
  -- a batch fills for up to 150 ms: nothing in a run waits on a commit
  -- (the journal keeps each answer from a kill at once), and answers land
  -- at random keys, so a commit writes a leaf for nearly every answer and
  -- the tree's upper pages once: at 5 ms a commit of ~80 answers wrote ~2
  -- pages and a share of an fsync for each, and 1,024 answers a commit take
  -- a fifth less of the writer's CPU than 512 (docs/pipeline.md); serve
  -- and queue workers, whose replies and acknowledgements do wait, keep 5 ms
  assert(st:start_writer{ batch = batch, flush_ms = M.FLUSH_MS })

  run.dispatch = {}
  for _, d in ipairs(settings.LIST) do run.dispatch[d[1]] = s[d[1]] end
  run.status, run.started = "running", os.time()
  run.resumed = opts.resume and (run.resumed or 0) + 1 or run.resumed
  results.put_run(st, run)
  -- written: the run's end is this process's to write; stored: the copy
  -- of a --questions stream is the run's from now on (a resume reads it)
  state.written, state.stored = true, true
  -- always, even when quiet: it is what --resume needs after a crash, so
  -- only once the run is stored (printed before, a kill in between left an
  -- id that no resume could find)
  io.stderr:write("run ", run.id, "\n")
  if opts.on_run_id then opts.on_run_id(run.id) end

  local outcomes = supervise(ctx, opts)
  local exit, summaries, comparisons = conclude(ctx, outcomes, opts)
  for _, sm in ipairs(summaries) do
    sm.throughput = run.elapsed > 0 and sm.n / run.elapsed or json.null
  end
  if ctx.server then
    -- a last scrape can see the finished run
    if opts.metrics_linger and opts.metrics_linger > 0 then host.sleep(opts.metrics_linger) end
  end
  local below = {}
  if opts.fail_under then
    for _, sm in ipairs(summaries) do
      if type(sm.accuracy) ~= "number" or sm.accuracy < opts.fail_under then below[#below + 1] = sm.model end
    end
    if #below > 0 and exit == 0 then exit = 1 end
  end
  return exit, {
    run = run, summaries = summaries, message = run.message, below = below, sent = ctx.sent,
    wall = ctx.wall, cpu = ctx.cpu, prior = prior.n, cache = ctx.cache_stats, tuning = ctx.tuner and ctx.tuner.trace or nil,
    comparisons = comparisons, alerts = ctx.alerting and ctx.alerting.events or nil, profiler = ctx.profiler,
    retry = opts.retry_errors and { resent = prior.resend, kept = prior.kept } or nil,
  }
end

--- Runs (or resumes) an evaluation. opts: models (specs), benches, n, seed,
--- difficulty, domain, questions (file), limit, the dispatch settings of
--- causal_eval.run.settings (workers, concurrency, rate, timeout,
--- connect_timeout, max_attempts, retry_base, retry_cap, batch_size,
--- max_tokens_total, budget_usd, optimize_for, tune_interval: given ones
--- win, else a resumed run's, else config_values'), policy (a function),
--- resume (run id or "last"), retry_errors, data (folder), store_cfg,
--- cache_mode, cache_opts, metrics_port, alerts, repl, profile, progress,
--- quiet, fail_under, config_values; queue (a redis:// url: the questions
--- go to `causal-eval worker`s, causal_eval.queue_run), detach, claim_after.
--- Returns an exit status and { run = .., summaries = .., message = .. },
--- or nil and a message when the run could not start.
-- An error raised as { message = ... } is an expected failure met deep down
-- (a damaged store); anything else is an internal error.
local function catch(err)
  if type(err) == "table" and err.message then return err end
  return debug.traceback(err)
end

function M.run(opts)
  local state = {}
  local ok, exit, report = xpcall(run_stages, catch, opts, state)
  if not ok then
    -- the run, if written, is marked failed with the message
    local msg = type(exit) == "table" and tostring(exit.message) or "internal error: " .. plain(exit)
    if type(exit) == "table" and exit.damaged and exit.dir then msg = msg .. "\n" .. results.damage_hint(exit.dir) end
    if state.written then
      state.run.status, state.run.message, state.run.finished = "failed", msg, os.time()
      pcall(results.put_run, state.st, state.run)
    end
    if not state.stored and not opts.resume then pcall(drop_copy, opts.data or "./causal-eval-data", state.run) end
    pcall(release, state)
    return nil, msg
  end
  if not exit and state.written then
    state.run.status, state.run.message, state.run.finished = "failed", report, os.time()
    pcall(results.put_run, state.st, state.run)
  end
  if not state.stored and not opts.resume then drop_copy(opts.data or "./causal-eval-data", state.run) end
  release(state)
  return exit, report
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
    retry_errors = report.retry,
    mode = run.mode and require("causal_eval.mode").summary(run.mode) or nil,
  })
end

return M
