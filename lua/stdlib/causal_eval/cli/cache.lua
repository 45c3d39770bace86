-- SPDX-License-Identifier: MIT
-- causal-eval cache stats | prune | clear | explain
local argparse = require "causal_eval.argparse"
local cache = require "causal_eval.cache"
local config = require "causal_eval.config"
local json = require "causal_eval.json"

local common = {
  { "--env", arg = "NAME", help = "configuration environment" },
  { "--config", arg = "FILE", help = "configuration file" },
  { "--set", arg = "SECTION.KEY=VALUE", multiple = true, help = "override one setting (cache.redis.url=...)" },
  { "--json", help = "print JSON" },
}

local cli_options = require("causal_eval.cli").options
local function with_common(opts) return cli_options(opts, common) end

local parsers = {
  stats = argparse.new{ prog = "causal-eval cache stats", summary = "entries, bytes and counters of each layer",
    options = with_common{} },
  prune = argparse.new{ prog = "causal-eval cache prune", summary = "delete expired entries and entries older than a time",
    options = with_common{ { "--older-than", arg = "AGE", default = "0s", help = "e.g. 7d, 12h, 30m (0s: only expired entries)" } } },
  clear = argparse.new{ prog = "causal-eval cache clear", summary = "delete every entry of every layer",
    options = with_common{} },
  explain = argparse.new{ prog = "causal-eval cache explain",
    summary = "why a question's model call missed the cache: which part of its key differs from the nearest entry",
    options = with_common{
      { "--run", arg = "RUN_ID", default = "last", help = "the run the question was evaluated in" },
      { "--model", arg = "M", help = "the model (default: every model of the run)" },
      { "--data", arg = "DIR", help = "results store folder (default: store.path)" },
      { "--store", arg = "URL", help = "results in PostgreSQL: postgresql://... (default: store.url)" },
    },
    positionals = { { "QUESTION_ID", help = "question id" } } },
}
local ORDER = { "stats", "prune", "clear", "explain" }

local M = { summary = "inspect and maintain the layered model-call cache" }

function M.help()
  local out = { "usage: causal-eval cache stats|prune|clear|explain [options]\n" }
  for _, name in ipairs(ORDER) do out[#out + 1] = parsers[name]:help() end
  return table.concat(out, "\n")
end

--- "7d" -> seconds; nil, message when unreadable.
function M.parse_age(s)
  local n, unit = tostring(s):match("^(%d+%.?%d*)%s*([smhdw]?)$")
  if not n then return nil, ("bad age '%s' (use e.g. 7d, 12h, 30m, 45s)"):format(tostring(s)) end
  local mult = ({ s = 1, m = 60, h = 3600, d = 86400, w = 604800, [""] = 1 })[unit]
  return tonumber(n) * mult
end

local function fmt_bytes(b)
  if b >= 1 << 30 then return ("%.1f GiB"):format(b / (1 << 30)) end
  if b >= 1 << 20 then return ("%.1f MiB"):format(b / (1 << 20)) end
  if b >= 1 << 10 then return ("%.1f KiB"):format(b / (1 << 10)) end
  return ("%d B"):format(b)
end

local handlers = {}

function handlers.stats(c, args, opts)
  local st = c:stats()
  if args.json then
    io.stdout:write(json.encode(st), "\n")
    return 0
  end
  local where = { memory = ("%d MiB bound, this process only"):format(opts.memory_mb or 0),
                  disk = opts.disk_path or "-", redis = opts.redis_url or (opts.redis_host and (opts.redis_host .. ":" .. opts.redis_port)) or "-" }
  for _, layer in ipairs({ "memory", "disk", "redis" }) do
    local s = st[layer]
    if not s then
      io.stdout:write(("%-7s off\n"):format(layer))
    else
      io.stdout:write(("%-7s %s  %s\n"):format(layer, s.up and "up" or "DOWN", where[layer]))
      if layer ~= "redis" then
        io.stdout:write(("        entries %d  bytes %s  evictions %d\n"):format(s.entries, fmt_bytes(s.bytes), s.evictions))
      else
        -- Redis evicts by its own policy (maxmemory), and says nothing of it here
        io.stdout:write(("        entries %d\n"):format(s.entries))
      end
    end
  end
  return 0
end

function handlers.prune(c, args)
  local age, err = M.parse_age(args.older_than)
  if not age then
    io.stderr:write("causal-eval cache: ", err, "\n")
    return 2
  end
  local before = age > 0 and (os.time() - age) or 0
  local n = c:prune(before)
  if args.json then io.stdout:write(json.encode({ pruned = n }), "\n")
  else io.stdout:write(("pruned %d entries\n"):format(n)) end
  return 0
end

function handlers.clear(c, args)
  local ok = c:clear()
  if args.json then io.stdout:write(json.encode({ cleared = ok }), "\n")
  else io.stdout:write(ok and "cleared\n" or "clearing failed on some layer\n") end
  return ok and 0 or 1
end

-- ---- explain ----

local function load_record(args, values)
  local results = require "causal_eval.results"
  local data = args.data or values.store.path
  if args.store then
    local bad = results.check_url(args.store)
    if bad then return nil, "--store: " .. bad end
  end
  -- as report opens it: read-only, and a mistyped --data makes no store there
  local st, err = require("causal_eval.report.store").open(values, data, args.store)
  if not st then return nil, err end
  local run
  run, err = results.get_run(st, args.run)
  if not run then
    st:close()
    return nil, err
  end
  local found = {}
  for _, m in ipairs(run.model_specs or {}) do
    if not args.model or args.model == m.label then
      local v = st:get(results.DB.records, results.key(run.id, m.label, args.QUESTION_ID))
      if v then found[#found + 1] = { model = m, record = json.decode(v) } end
    end
  end
  st:close()
  if #found == 0 then
    return nil, ("run %s has no record of question %s%s"):format(run.id, args.QUESTION_ID,
      args.model and (" for model " .. args.model) or "")
  end
  return found, run
end

-- the key and labels of the request the run made for this record, asked
-- as the run asked it: in its evaluation mode (a template, few-shot
-- examples, chain of thought, samples: the first), whose conversation and
-- settings are part of the key; without the mode a --cot run's hit was
-- explained as a miss
local function request_of(model, rec, run)
  local adapter = require("causal_eval.models").adapter(model.adapter)
  if not adapter or adapter.kind ~= "http" then return nil end
  local q = { prompt = rec.prompt, id = rec.question_id, family = rec.family, answer_type = rec.answer_type,
              ground_truth = rec.ground_truth, difficulty = rec.difficulty, domain = rec.domain, rung = rec.rung }
  local asked, mode_key = model, ""
  local mode_lib = require "causal_eval.mode"
  if run.mode and not mode_lib.is_default(run.mode) then
    local src = run.source or {}
    local asker = require("causal_eval.mode.prompt").asker(run.mode, model,
      src.kind == "bench" and src.options or nil, src.seed or 0)
    local ok, q2, qerr = pcall(asker.question, q)
    if not ok or not q2 then return nil, ("the run's mode cannot ask it again: %s"):format(tostring(ok and qerr or q2)) end
    q, asked, mode_key = q2, asker.model(1), mode_lib.key(run.mode, model.label)
    if run.mode.samples then mode_key = mode_key .. "s1" end
  end
  local req = adapter.request(asked, q, nil)
  local id = (model.model or model.label) .. "@" .. (model.base_url or "")
  return cache.request_key(model.adapter, id .. mode_key, req.body, rec.family),
    cache.parse_labels(cache.request_labels(model.adapter, id, req.fields or {}, rec.family))
end

local function explain_one(c, item, run)
  local key, want = request_of(item.model, item.record, run)
  local label = item.model.label
  if not key and want then return { model = label, verdict = "unknown: " .. want } end
  if not key then return { model = label, verdict = "not cached: local models are not cached" } end
  local hit = c:get_entry(key)
  if hit then
    return { model = label, verdict = ("hit in the %s layer (stored %s)"):format(hit.layer, os.date("!%Y-%m-%d %H:%M:%S", math.floor(hit.created))) }
  end
  -- the nearest entry: most key components equal, the same adapter first
  local best, best_score, best_layer = nil, -1, nil
  for _, layer in ipairs({ "disk", "redis" }) do
    if c:has_layer(layer) then
      c:each(layer, function(_, e)
        local have = cache.parse_labels(e.labels)
        if have.adapter then
          local score = 0
          for k, v in pairs(want) do if have[k] == v then score = score + 1 end end
          if score > best_score then best, best_score, best_layer = have, score, layer end
        end
        return false
      end)
    end
  end
  if not best then return { model = label, verdict = "miss: the cache holds no model calls at all" } end
  local diffs = {}
  local keys = {}
  for k in pairs(want) do keys[#keys + 1] = k end
  for k in pairs(best) do if want[k] == nil then keys[#keys + 1] = k end end
  table.sort(keys)
  for _, k in ipairs(keys) do
    if k ~= "task" and want[k] ~= best[k] then
      local why = k == "body.messages" and " (the prompt text differs)" or ""
      diffs[#diffs + 1] = { component = k, requested = want[k] or json.null, nearest = best[k] or json.null, note = why }
    end
  end
  if #diffs == 0 then
    return { model = label, verdict = "miss: an entry with the same key components exists but was expired, invalidated or evicted" }
  end
  return { model = label, verdict = ("miss: the nearest entry (%s layer) differs in %d component%s"):format(best_layer,
    #diffs, #diffs == 1 and "" or "s"), differences = json.array(diffs) }
end

function handlers.explain(c, args, _, values)
  local found, run = load_record(args, values)
  if not found then
    io.stderr:write("causal-eval cache: ", run, "\n")
    return 1
  end
  local out = {}
  for i, item in ipairs(found) do out[i] = explain_one(c, item, run) end
  if args.json then
    io.stdout:write(json.encode({ question_id = args.QUESTION_ID, run_id = run.id, models = json.array(out) }), "\n")
    return 0
  end
  for _, o in ipairs(out) do
    io.stdout:write(("%s: %s\n"):format(o.model, o.verdict))
    for _, d in ipairs(o.differences or {}) do
      local function shown(v) return v == json.null and "none" or tostring(v) end
      io.stdout:write(("  %-18s requested %s, cached %s%s\n"):format(d.component, shown(d.requested),
        shown(d.nearest), d.note))
    end
  end
  return 0
end

function M.run(argv, cli)
  local sub, args = cli.subcommand(argv, parsers, M.help, "usage: causal-eval cache stats|prune|clear|explain [options]",
    "cache")
  if not sub then return args end
  local cfg, err = config.load{ env = args.env, file = args.config, set = args.set }
  if not cfg then
    io.stderr:write(err, "\n")
    return 2
  end
  local opts = cache.options(cfg.values)
  local c
  c, err = cache.open(opts)
  if not c then
    io.stderr:write("causal-eval cache: ", tostring(err), "\n")
    return 1
  end
  local rc = handlers[sub](c, args, opts, cfg.values)
  c:close()
  return rc
end

return M
