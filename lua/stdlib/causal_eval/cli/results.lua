-- SPDX-License-Identifier: MIT
-- causal-eval results list | show | recent | export | trend | check
local argparse = require "causal_eval.argparse"
local config = require "causal_eval.config"
local json = require "causal_eval.json"
local outfile = require "causal_eval.outfile"
local results = require "causal_eval.results"

local common = {
  { "--data", arg = "DIR", help = "results store folder (default: store.path, ./causal-eval-data)" },
  { "--store", arg = "URL", help = "results in PostgreSQL: postgresql://... (default: store.url; reads go to store.read_url)" },
  { "--json", help = "print JSON instead of a table" },
}

local cli_options = require("causal_eval.cli").options
local function with_common(opts) return cli_options(opts, common) end

local parsers = {
  list = argparse.new{ prog = "causal-eval results list", summary = "every run in the store, newest first",
    options = with_common{} },
  show = argparse.new{ prog = "causal-eval results show", summary = "a run's table per model",
    options = with_common{}, positionals = { { "RUN_ID", help = "run id, or last" } } },
  recent = argparse.new{ prog = "causal-eval results recent", summary = "the latest runs with each model's accuracy",
    options = with_common{ { "--limit", arg = "N", type = "integer", default = 10, help = "how many runs" } } },
  export = argparse.new{ prog = "causal-eval results export", summary = "a run's records as JSON lines",
    options = with_common{ { "-o", "--output", arg = "FILE.jsonl", help = "write to FILE (atomically) instead of stdout" } },
    positionals = { { "RUN_ID", help = "run id, or last" } } },
  trend = argparse.new{ prog = "causal-eval results trend", summary = "average score per model per day",
    options = with_common{
      { "--model", arg = "M", multiple = true, help = "only these models (default: all)" },
      { "--days", arg = "N", type = "integer", default = 30, help = "how many days back" },
    } },
  check = argparse.new{ prog = "causal-eval results check",
    summary = "read every page and record of the store; report what is damaged (exit 1), and save what is not",
    options = with_common{
      { "--salvage", arg = "OUT.jsonl", help = "write every readable record as a JSON line (db, key, value)" },
    } },
}
local ORDER = { "list", "show", "recent", "export", "trend", "check" }
local USAGE = "usage: causal-eval results list|show|recent|export|trend|check [options]"

local M = { summary = "list, show and export stored runs; accuracy trends per model; check a damaged store" }

function M.help()
  local out = { USAGE .. "\n" }
  for _, name in ipairs(ORDER) do out[#out + 1] = parsers[name]:help() end
  return table.concat(out, "\n")
end

local function data_dir(args)
  return args.data or args.config_values.store.path
end

local function has_store(dir)
  local f = io.open(dir .. "/data.mdb", "rb")
  if not f then return false end
  f:close()
  return true
end

local function open_store(args)
  local dir = data_dir(args)
  local cfg = results.config(args.config_values, args.store)
  if cfg.url then
    -- analysis: the replica when there is one; nothing created on the server
    cfg.writes, cfg.reads = false, "replica"
    local st, err = results.open(dir, cfg)
    if not st then return nil, err end
    return st
  end
  if not has_store(dir) then
    return nil, ("no results store in %s (run `causal-eval run` first, or pass --data DIR)"):format(dir)
  end
  local st, err, kind = results.open(dir)
  if not st then
    if kind == "damaged" then return nil, err end
    return nil, ("cannot open the results store %s: %s"):format(dir, err)
  end
  return st
end

local function pct(x) return type(x) == "number" and ("%.1f%%"):format(x * 100) or "-" end

local function run_row(run)
  return {
    id = run.id, created = run.created, status = run.status, models = json.array(run.models or {}),
    benchmarks = json.array(run.benchmarks or {}), total = run.total, seed = run.seed,
    elapsed_s = run.elapsed, message = run.message,
    mode = run.mode and require("causal_eval.mode").describe(run.mode) or nil,
  }
end

-- A store read that failed for a reason other than damage (which the store
-- raises itself): stop the command with its message, not a traceback.
local function need(v, ...)
  if v == nil then error({ store_error = (...) }, 0) end
  return v, ...
end

local handlers = {}

function handlers.list(st, args)
  local runs = need(results.list_runs(st))
  for _, r in ipairs(runs) do results.settle_status(st, r) end
  if args.json then
    local rows = {}
    for i, r in ipairs(runs) do rows[i] = run_row(r) end
    io.stdout:write(json.encode(json.array(rows)), "\n")
    return 0
  end
  if #runs == 0 then
    io.stdout:write("no runs\n")
    return 0
  end
  io.stdout:write(("%-24s %-19s %-11s %7s  %s\n"):format("RUN", "CREATED (UTC)", "STATUS", "QUESTIONS", "MODELS"))
  for _, r in ipairs(runs) do
    io.stdout:write(("%-24s %-19s %-11s %7s  %s\n"):format(r.id, os.date("!%Y-%m-%d %H:%M:%S", r.created or 0),
      r.status or "?", tostring(r.total or "?"), table.concat(r.models or {}, ", ")))
  end
  return 0
end

function handlers.show(st, args)
  local run, err = results.get_run(st, args.RUN_ID)
  if not run then
    io.stderr:write("causal-eval results: ", err, "\n")
    return 1
  end
  results.settle_status(st, run)
  local summaries, comparisons = need(results.summarize(st, run))
  for _, s in ipairs(summaries) do
    s.throughput = (run.elapsed or 0) > 0 and s.n / run.elapsed or json.null
  end
  if args.json then
    io.stdout:write(require("causal_eval.runner").report_json{ run = run, summaries = summaries, comparisons = comparisons }, "\n")
  else
    io.stdout:write(results.format_summary(run, summaries, comparisons))
  end
  return 0
end

function handlers.recent(st, args)
  local runs = need(results.list_runs(st, math.max(1, args.limit)))
  -- PostgreSQL: the runs' totals in one query, not every score line of each
  local totals = results.has_totals(st) and need(results.run_totals(st, runs)) or nil
  local rows = {}
  for i, run in ipairs(runs) do
    local row = run_row(results.settle_status(st, run))
    row.accuracy = {}
    local accs = totals and results.accuracies(run, totals[run.id]) or need(results.summarize(st, run))
    for _, s in ipairs(accs) do
      row.accuracy[#row.accuracy + 1] = { model = s.model, n = s.n, accuracy = s.accuracy, ci = s.ci }
    end
    row.accuracy = json.array(row.accuracy)
    rows[i] = row
  end
  if args.json then
    io.stdout:write(json.encode(json.array(rows)), "\n")
    return 0
  end
  for _, r in ipairs(rows) do
    io.stdout:write(("%s  %s  %s  %s\n"):format(r.id, os.date("!%Y-%m-%d %H:%M", r.created or 0), r.status or "?",
      table.concat(r.benchmarks, ",")))
    for _, a in ipairs(r.accuracy) do
      io.stdout:write(("    %-40s n=%-6d %7s  [%s, %s]\n"):format(a.model, a.n, pct(a.accuracy), pct(a.ci[1]), pct(a.ci[2])))
    end
  end
  return 0
end

function handlers.export(st, args)
  local run, err = results.get_run(st, args.RUN_ID)
  if not run then
    io.stderr:write("causal-eval results: ", err, "\n")
    return 1
  end
  local sink, oerr = outfile.open(args.output)
  if not sink then
    io.stderr:write("causal-eval results: ", oerr, "\n")
    return 1
  end
  local out = sink.file
  local n = 0
  -- a read that fails part way (damage) leaves no half-written file behind
  local sok, serr = pcall(st.scan, st, results.DB.records, run.id .. results.SEP, function(_, v)
    -- records stored before the encoder repaired replies may hold invalid
    -- UTF-8: encoded again, each bad sequence becomes U+FFFD
    if not utf8.len(v) then
      local doc = json.decode(v)
      if doc ~= nil then v = json.encode(doc) end
    end
    out:write(v, "\n")
    n = n + 1
  end)
  if not sok then
    sink:abort()
    error(serr, 0)
  end
  local ok, cerr = sink:commit()
  if not ok then
    io.stderr:write("causal-eval results: ", cerr, "\n")
    return 1
  end
  if not outfile.is_stdout(args.output) then
    io.stderr:write(("wrote %d records of run %s to %s\n"):format(n, run.id, args.output))
  end
  return 0
end

function handlers.trend(st, args)
  local since = os.time() - args.days * 86400
  local since_day = os.date("!%Y-%m-%d", since)
  local wanted
  if args.model and #args.model > 0 then
    wanted = {}
    for _, m in ipairs(args.model) do wanted[results.model_key(m)] = m end
  end
  local cells, labels = {}, {}
  if results.has_totals(st) then
    -- PostgreSQL keeps the answers per model and day
    for _, t in ipairs(need(st:totals{ by = "model_day", since = since_day })) do
      if t.counted > 0 and (not wanted or wanted[t.model]) then
        cells[#cells + 1] = { model = wanted and wanted[t.model] or t.model, day = t.day, n = t.counted,
                              correct = t.correct, nruns = t.runs }
      end
    end
  end
  for _, run in ipairs(results.has_totals(st) and {} or need(results.list_runs(st))) do
    -- runs are newest first; one created before the window can still have
    -- finished inside it, so stop only a day earlier
    if (run.created or 0) < since - 86400 then break end
    for _, label in ipairs(run.models or {}) do labels[results.model_key(label)] = label end
    need(st:scan(results.DB.scores, run.id .. results.SEP, function(k, v)
      local _, mk = results.split_key(k)
      if wanted and not wanted[mk] then return end
      local s = json.decode(v)
      if type(s) ~= "table" or type(s.day) ~= "string" or s.day < since_day or not results.counts(s) then return end
      local key = mk .. results.SEP .. s.day
      local c = cells[key]
      if not c then
        c = { model = labels[mk] or mk, day = s.day, n = 0, correct = 0, runs = {} }
        cells[key] = c
      end
      c.n = c.n + 1
      if s.c == 1 then c.correct = c.correct + 1 end
      c.runs[run.id] = true
    end))
  end
  local rows = {}
  for _, c in pairs(cells) do
    local nruns = c.nruns or 0
    for _ in pairs(c.runs or {}) do nruns = nruns + 1 end
    local lo, hi = results.wilson(c.correct, c.n)
    rows[#rows + 1] = { model = c.model, day = c.day, n = c.n, runs = nruns, accuracy = c.correct / c.n, ci = { lo, hi } }
  end
  table.sort(rows, function(a, b)
    if a.model ~= b.model then return a.model < b.model end
    return a.day < b.day
  end)
  if args.json then
    io.stdout:write(json.encode(json.array(rows)), "\n")
    return 0
  end
  if #rows == 0 then
    io.stdout:write(("no results in the last %d days\n"):format(args.days))
    return 0
  end
  local current
  for _, r in ipairs(rows) do
    if r.model ~= current then
      current = r.model
      io.stdout:write(r.model, "\n")
    end
    io.stdout:write(("  %s  %7s  [%s, %s]  n=%d  runs=%d\n"):format(r.day, pct(r.accuracy), pct(r.ci[1]), pct(r.ci[2]),
      r.n, r.runs))
  end
  return 0
end

-- A key as stored: run \0 model \0 question, shown with \0 between.
local function show_key(k) return (k:gsub("%z", "\\0"):gsub("[%c\127-\255]", function(ch)
  return ("\\x%02x"):format(ch:byte())
end)) end

local function check_line(f)
  local where = f.page and (" page %d"):format(f.page) or ""
  local text = ("%s (database %s%s): %s"):format(f.finding == "missing" and "lost" or "damaged", f.db, where, f.what)
  if f.key then text = text .. (" - key \"%s\""):format(show_key(f.key)) end
  if f.from or f.to then
    text = text .. (" - the records from %s to %s"):format(f.from and ('"' .. show_key(f.from) .. '"') or "the first",
      f.to and ('"' .. show_key(f.to) .. '"') or "the last")
  end
  return text
end

-- `results check` walks the store in a child process (store_core.check):
-- nothing a damaged file does can take this one down with it.
local function check(args)
  local dir = data_dir(args)
  if results.config(args.config_values, args.store).url then
    io.stderr:write("causal-eval results: check reads an LMDB store (--data DIR); PostgreSQL checks its own pages",
      " (initdb --data-checksums, pg_amcheck)\n")
    return 1
  end
  if not has_store(dir) then
    io.stderr:write(("causal-eval results: no results store in %s (nothing to check)\n"):format(dir))
    return 1
  end
  local report, intact, how = require("causal_eval.store_core").check(dir, { salvage = args.salvage })
  if not report then
    io.stderr:write("causal-eval results: ", intact, "\n")
    return 1
  end
  local findings, sum = {}, nil
  for line in report:gmatch("[^\n]+") do
    local o = json.decode(line)
    if type(o) == "table" then
      if o.summary then sum = o.summary else findings[#findings + 1] = o end
    end
  end
  if args.json then
    io.stdout:write(json.encode({ store = dir, intact = intact, findings = json.array(findings), summary = sum,
                                  salvage = args.salvage, stopped = how }), "\n")
    return intact and 0 or 1
  end
  local out = io.stdout
  if sum then
    out:write(("%s/data.mdb: %d pages of %d bytes%s\n"):format(dir, sum.pages, sum.page_size,
      type(sum.transaction) == "number" and (", transaction %d"):format(sum.transaction) or ""))
  end
  for _, f in ipairs(findings) do out:write(check_line(f), "\n") end
  if sum then
    local parts = {}
    for _, name in ipairs(require("causal_eval.store_core").DATABASES) do
      local d = sum.databases[name]
      local p = ("%s %d"):format(name, d.read)
      if d.recovered > 0 then p = p .. (" (+%d recovered from damaged pages)"):format(d.recovered) end
      if type(d.expected) == "number" and d.expected > d.read + d.recovered then
        p = p .. (" of %d"):format(d.expected)
      end
      parts[#parts + 1] = p
    end
    out:write("records read: ", table.concat(parts, ", "), "\n")
    if sum.legacy > 0 then
      out:write(("%d records were written before records carried checksums: their pages are checked, not their bytes\n")
        :format(sum.legacy))
    end
  end
  if how then out:write("the check did not finish: ", how, "\n") end
  if args.salvage and not how then
    out:write(("saved %d readable records to %s\n"):format(sum and sum.salvaged or 0, args.salvage))
  end
  out:write(intact and "the store is intact\n" or "the store is damaged\n")
  return intact and 0 or 1
end

function M.run(argv, cli)
  local sub, args = cli.subcommand(argv, parsers, M.help, USAGE, "results")
  if not sub then return args end
  local cfg, cerr = config.load{}
  if not cfg then
    io.stderr:write(cerr, "\n")
    return 2
  end
  args.config_values = cfg.values
  -- taken as 1, and as the future: numbers no one meant
  if sub == "recent" and args.limit < 1 then return cli.usage_error(parsers[sub], "--limit must be >= 1") end
  if sub == "trend" and args.days < 1 then return cli.usage_error(parsers[sub], "--days must be >= 1") end
  if args.store then
    local bad = results.check_url(args.store)
    if bad then return cli.usage_error(parsers[sub], "--store: " .. bad) end
  end
  require("causal_eval.stats").configure(cfg.values.evaluation) -- the tables' paired intervals
  if sub == "check" then return check(args) end
  local st, err = open_store(args)
  if not st then
    io.stderr:write("causal-eval results: ", err, "\n")
    return 1
  end
  local ok, rc = pcall(handlers[sub], st, args)
  st:close()
  if ok then return rc end
  -- damage met while reading (raised by the store: see results.open), or a
  -- failed read: nothing partial is reported as done
  if type(rc) == "table" and rc.damaged then
    io.stderr:write("causal-eval results: ", rc.message, "\n", results.damage_hint(data_dir(args)), "\n")
    return 1
  end
  if type(rc) == "table" and rc.store_error then
    io.stderr:write("causal-eval results: ", tostring(rc.store_error), "\n")
    return 1
  end
  error(rc, 0)
end

return M
