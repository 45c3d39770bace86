-- SPDX-License-Identifier: MIT
-- causal-eval validate: recompute CLadder model values and question labels,
-- and the ground truth of this project's question files, exactly.
local argparse = require "causal_eval.argparse"
local json = require "causal_eval.json"
local cladder = require "causal_eval.cladder"
local questions = require "causal_eval.questions"
local question_file = require "causal_eval.question_file"

local parser = argparse.new{
  prog = "causal-eval validate",
  summary = "recompute every value and label of model and question files exactly",
  description = [[
FILE is a CLadder model file (every groundtruth quantity is recomputed and
compared with the stored value), models-exact.json (needs --models), a CLadder
question file (each label recomputed from the question's own fields, or from
its model's tables with --models), or a JSON-lines file of this project's
questions (each ground truth recomputed from the graph, model and query).
Prints a table per query type, every disagreement with its reason, every
invalid item with its file, item or line and field, and ends with
"N checked, M disagree" (N items read, M of them disagreeing; ", K invalid"
when some are). Exit status: 1 when a file could not be read or an item is
invalid (or, with --strict, when something disagrees), else 0.]],
  options = {
    { "--models", arg = "MODELS.json", help = "CLadder model file: take values and labels from the models' tables" },
    { "--dump", arg = "OUT.jsonl", help = "write one JSON line per item with the exact result" },
    { "--strict", help = "exit with status 1 when any item disagrees" },
    { "--quiet", help = "print only the tables and the summary line, not each disagreement" },
    { "--audit", help = "instead: audit generated question files for repeats, balance and surface cues (docs/questions.md)" },
  },
  positionals = { { "FILE", multiple = true, help = "files to check" } },
}

local M = { summary = "recompute CLadder and generated questions exactly, report disagreements",
            help = function() return parser:help() end }

local message = questions.message

-- ---- reading ----

local BOM = "\239\187\191"

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s, rerr, code = f:read("a")
  f:close()
  -- io.open succeeds on a directory; reading it is what fails
  if not s then return nil, ("%s: %s"):format(path, code == 21 and "is a directory" or tostring(rerr)) end
  if s:sub(1, 3) == BOM then s = s:sub(4) end
  return s
end

-- Items of a file: a JSON array, or JSON lines. Returns items, or nil +
-- message; a line that is not a JSON object comes back as an
-- { __error = "FILE:LINE:COL: ..." } item, and every line's item knows its
-- __line.
local function read_items(path)
  local text, err = read_file(path)
  if not text then return nil, err end
  if text:match("^%s*%[") then
    local v, jerr = json.decode(text, path)
    if v == nil then return nil, jerr end
    return v
  end
  local items, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:match("%S") then
      local v, jerr = question_file.decode(line, n, path)
      if v == nil then items[#items + 1] = { __error = jerr, __line = n }
      elseif type(v) ~= "table" then
        items[#items + 1] = { __error = ("%s:%d: expected a JSON object"):format(path, n), __line = n }
      else
        v.__line = n
        items[#items + 1] = v
      end
    end
  end
  return items
end

local function kind_of(items)
  for _, it in ipairs(items) do
    if type(it) == "table" and not it.__error then
      if it.params ~= nil then return "models" end
      if it.exact ~= nil and it.model_id ~= nil then return "exact" end
      if it.meta ~= nil then return "cladder_questions" end
      if it.query ~= nil or it.family ~= nil then return "questions" end
    end
  end
  return "unknown"
end

local KIND_NAMES = { exact = "exact values (models-exact.json)", cladder_questions = "CLadder questions",
                     questions = "questions", unknown = "neither models nor questions" }

-- An id as a message shows it, or nil when it is not one.
local function name_of(v)
  if type(v) == "string" or math.type(v) == "integer" then return tostring(v) end
  return nil
end

-- Where an item is: "FILE:LINE" in JSON lines, "FILE: item N" in an array.
local function locate(path, idx, it)
  if type(it) == "table" and it.__line then return ("%s:%d"):format(path, it.__line) end
  return ("%s: item %d"):format(path, idx)
end

local function field_error(e)
  if type(e) == "table" and e.field then return ("field %s: %s"):format(e.field, e.msg) end
  return message(e)
end

-- ---- report ----

local Report = {}
Report.__index = Report

local function new_report(path, title, dump)
  return setmetatable({ file = path, title = title, dump_file = dump, rows = {}, order = {}, disagreements = {},
                        undecidable = {}, invalid = {}, items = 0, items_disagree = 0, items_invalid = 0 }, Report)
end

function Report:row(kind)
  local r = self.rows[kind]
  if not r then
    r = { checked = 0, agree = 0, disagree = 0, undecidable = 0, invalid = 0 }
    self.rows[kind] = r
    self.order[#self.order + 1] = kind
  end
  return r
end

function Report:count(kind, outcome)
  local r = self:row(kind)
  r.checked = r.checked + 1
  r[outcome] = r[outcome] + 1
end

-- One invalid check of the current item: the message names file, item or
-- line, and field. An item counts as invalid once, however many of its
-- checks are.
function Report:invalid_check(kind, msg, item_state)
  self.invalid[#self.invalid + 1] = msg
  self:count(kind, "invalid")
  if not item_state.invalid then
    item_state.invalid = true
    self.items_invalid = self.items_invalid + 1
  end
end

-- One JSON line per item in --dump, naming the file (several may be checked).
function Report:dump(idx, it, t)
  if not self.dump_file then return end
  t.file, t.item = self.file, idx
  if type(it) == "table" and it.__line then t.line = it.__line end
  self.dump_file:write(json.encode(t), "\n")
end

function Report:print(out, quiet)
  out:write(self.title, "\n")
  table.sort(self.order)
  local w = #"query type"
  for _, k in ipairs(self.order) do w = math.max(w, #k) end
  local fmt = "  %-" .. w .. "s %8s %8s %9s %12s %8s\n"
  out:write(fmt:format("query type", "checked", "agree", "disagree", "undecidable", "invalid"))
  local tot = { checked = 0, agree = 0, disagree = 0, undecidable = 0, invalid = 0 }
  for _, k in ipairs(self.order) do
    local r = self.rows[k]
    out:write(fmt:format(k, r.checked, r.agree, r.disagree, r.undecidable, r.invalid))
    for f in pairs(tot) do tot[f] = tot[f] + r[f] end
  end
  out:write(fmt:format("total", tot.checked, tot.agree, tot.disagree, tot.undecidable, tot.invalid))
  if not quiet then
    if #self.disagreements > 0 then
      out:write("  disagreements:\n")
      for _, d in ipairs(self.disagreements) do out:write("    ", d, "\n") end
    end
    if #self.undecidable > 0 then
      out:write("  undecidable from the fields:\n")
      for _, d in ipairs(self.undecidable) do out:write("    ", d, "\n") end
    end
  end
  if #self.invalid > 0 then
    out:write("  invalid items:\n")
    for _, d in ipairs(self.invalid) do out:write("    ", d, "\n") end
  end
  -- reason classes, counted
  local classes, keys = {}, {}
  for _, d in ipairs(self.disagreements) do
    local c = d:match(": ([^:]+)$")
    if c then
      if not classes[c] then keys[#keys + 1] = c end
      classes[c] = (classes[c] or 0) + 1
    end
  end
  if #keys > 0 then
    table.sort(keys)
    out:write("  reasons:\n")
    for _, c in ipairs(keys) do out:write(("    %4d  %s\n"):format(classes[c], c)) end
  end
  out:write("\n")
end

-- ---- checks ----

-- Runs check(idx, item, state) on every item. A check that raises all the
-- same (a case no rule foresaw) costs its item, not the remaining ones.
local function each_item(items, report, check)
  for idx, it in ipairs(items) do
    report.items = report.items + 1
    local state = {}
    local ok, err = pcall(check, idx, it, state)
    if not ok then
      report:invalid_check("(unchecked)", ("%s: could not be checked: %s"):format(locate(report.file, idx, it), message(err)), state)
    end
  end
end

local function unreadable(report, idx, it, state)
  local where = locate(report.file, idx, it)
  local msg = type(it) == "table" and it.__error or (where .. ": expected a JSON object")
  report:invalid_check("(unreadable)", msg, state)
  report:dump(idx, it, { answer = json.null, reason = msg })
end

local function effect_kind(key)
  return key:match("^P%(Y=1 |") and "P(Y=1 | X=x)" or key:match("^P%(") and "P(V=1)" or key:match("^(%u+)%(") or key
end

-- lookup: model_id -> entry of --models, for a file of exact values
local function check_models(items, report, lookup, models_path)
  each_item(items, report, function(idx, entry, state)
    if type(entry) ~= "table" or entry.__error then
      unreadable(report, idx, entry, state)
    else
      local id = name_of(entry.model_id)
      local label = locate(report.file, idx, entry) .. (id and (" (model " .. id .. ")") or "")
      local field = entry.exact ~= nil and "exact" or "groundtruth"
      local stored = entry[field]
      local params_entry, problem = entry, nil
      if entry.params == nil and lookup then
        params_entry = lookup[entry.model_id]
        if not params_entry then problem = ("field model_id: no model with this id in %s"):format(models_path) end
      end
      if not problem and type(stored) ~= "table" then
        problem = ("field %s: %s"):format(field, stored == nil and "missing" or "expected an object of values")
      end
      if not problem then
        for k in pairs(stored) do
          if type(k) ~= "string" then problem = ("field %s: expected an object of values, not a list"):format(field) end
        end
      end
      local m
      if not problem then
        m, problem = cladder.model(params_entry)
        if problem and params_entry ~= entry then problem = ("model %s of %s: %s"):format(id, models_path, problem) end
      end
      if problem then
        report:invalid_check("(invalid)", label .. ": " .. problem, state)
        report:dump(idx, entry, { model_id = entry.model_id, exact = json.null, reason = problem })
      else
        local exact, any = {}, false
        local keys = {}
        for k in pairs(stored) do keys[#keys + 1] = k end
        table.sort(keys)
        for _, key in ipairs(keys) do
          local kind = effect_kind(key)
          local ok, v, qerr = pcall(cladder.quantity, m, key)
          if not ok then v, qerr = nil, message(v) end
          local sv = stored[key]
          if v == nil then
            report:invalid_check(kind, ("%s: field %s['%s']: %s"):format(label, field, key, qerr), state)
          elseif type(sv) ~= "number" then
            exact[key] = v
            report:invalid_check(kind, ("%s: field %s['%s']: expected a number"):format(label, field, key), state)
          elseif math.abs(sv - v) <= cladder.TOLERANCE then
            exact[key] = v
            report:count(kind, "agree")
          else
            exact[key] = v
            any = true
            report:count(kind, "disagree")
            report.disagreements[#report.disagreements + 1] = ("model %s (%s) %s: stored %.9g, exact %.9g, diff %.2e: %s"):format(
              id or ("#" .. idx), name_of(params_entry.graph_id) or "?", key, sv, v, sv - v,
              cladder.model_reason(m, params_entry, key, sv))
          end
        end
        if any then report.items_disagree = report.items_disagree + 1 end
        report:dump(idx, entry, { model_id = entry.model_id, exact = exact })
        m:close()
      end
    end
  end)
end

-- "question 52 (ett, diamondcut, model 4)", leaving out what the item lacks
local function describe(q, qt)
  local parts = { qt }
  local meta = type(q.meta) == "table" and q.meta or {}
  parts[#parts + 1] = name_of(meta.graph_id)
  local mid = name_of(meta.model_id)
  if mid then parts[#parts + 1] = "model " .. mid end
  return ("question %s (%s)"):format(name_of(q.question_id) or "?", table.concat(parts, ", "))
end

local function check_cladder_questions(items, report, lookup, models_path)
  local models, model_errors = {}, {}
  each_item(items, report, function(idx, q, state)
    if type(q) ~= "table" or q.__error then
      unreadable(report, idx, q, state)
    else
      local meta = type(q.meta) == "table" and q.meta or {}
      local kind = type(meta.query_type) == "string" and meta.query_type or "(no query type)"
      local qid = name_of(q.question_id)
      local label = ("%s (%s%s)"):format(locate(report.file, idx, q), qid and ("question " .. qid .. ", ") or "", kind)
      local problem
      if q.answer == nil then problem = "field answer: missing"
      elseif q.answer ~= "yes" and q.answer ~= "no" then problem = 'field answer: expected "yes" or "no"' end
      local entry, m
      if not problem and lookup then
        local mid = meta.model_id
        entry = mid ~= nil and lookup[mid]
        if not entry then
          problem = ("field meta.model_id: %s"):format(mid == nil and "missing" or ("no such model in " .. models_path))
        else
          if models[mid] == nil then models[mid], model_errors[mid] = cladder.model(entry) end
          m = models[mid]
          if not m then
            problem = ("field meta.model_id: model %s of %s is invalid: %s"):format(name_of(mid), models_path, model_errors[mid])
            models[mid] = false
          end
        end
      end
      local ok, ans, detail = false, nil, nil
      if not problem then
        if m then ok, ans, detail = pcall(cladder.answer_from_model, q, m, entry)
        else ok, ans, detail = pcall(cladder.answer_from_fields, q) end
        if not ok then problem = field_error(ans) end
      end
      if problem then
        report:invalid_check(kind, label .. ": " .. problem, state)
        report:dump(idx, q, { question_id = q.question_id, answer = json.null, reason = problem })
      elseif ans == nil then
        report:count(kind, "undecidable")
        report.undecidable[#report.undecidable + 1] = ("%s: %s"):format(describe(q, kind), detail)
        report:dump(idx, q, { question_id = q.question_id, answer = json.null, reason = detail })
      else
        if ans == q.answer then report:count(kind, "agree")
        else
          report:count(kind, "disagree")
          report.items_disagree = report.items_disagree + 1
          report.disagreements[#report.disagreements + 1] = ("%s: label %s, exact %s (%s): %s"):format(
            describe(q, kind), q.answer, ans, detail, cladder.question_reason(q, m, entry))
        end
        report:dump(idx, q, { question_id = q.question_id, answer = ans,
          reason = (m and "from the model's tables: " or "from the question's fields: ") .. detail })
      end
    end
  end)
  for _, m in pairs(models) do if m then m:close() end end
end

local function check_questions(items, report)
  each_item(items, report, function(idx, q, state)
    if type(q) ~= "table" or q.__error then
      unreadable(report, idx, q, state)
    else
      local id = name_of(q.id)
      local kind = type(q.query) == "table" and type(q.query.type) == "string" and q.query.type or "(no query)"
      local where = locate(report.file, idx, q)
      local label = where .. (id and (" (question " .. id .. ")") or "")
      local ans, value = questions.solve(q)
      local agree, detail
      if ans ~= nil then
        agree, detail = questions.agrees(q, ans, value)
        if agree == nil then ans, value = nil, detail end
      end
      if ans == nil then
        report:invalid_check(kind, label .. ": " .. value, state)
        report:dump(idx, q, { question_id = q.id, answer = json.null, reason = value })
      else
        if agree then report:count(kind, "agree")
        else
          report:count(kind, "disagree")
          report.items_disagree = report.items_disagree + 1
          report.disagreements[#report.disagreements + 1] = ("%s (%s): %s: stored ground_truth differs from the exact answer"):format(
            label, kind, detail)
        end
        report:dump(idx, q, { question_id = q.id, answer = ans, reason = "from the question's graph, model and query" })
      end
    end
  end)
end

local function fail(msg)
  io.stderr:write("causal-eval validate: ", msg, "\n")
  return 1
end

-- The --models file as a lookup model_id -> entry; it must hold models.
local function load_models(path)
  local items, err = read_items(path)
  if not items then return nil, err end
  local kind = kind_of(items)
  if kind ~= "models" then
    return nil, ("--models %s: holds %s, not CLadder models (the file with params, such as models.json)"):format(
      path, KIND_NAMES[kind])
  end
  local lookup = {}
  for _, e in ipairs(items) do if type(e) == "table" and e.model_id ~= nil then lookup[e.model_id] = e end end
  return lookup
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  if args.audit then return require("causal_eval.audit").main(args.FILE) end
  local lookup
  if args.models then
    local err
    lookup, err = load_models(args.models)
    if not lookup then return fail(err) end
  end
  -- --dump - puts the JSON lines on standard output; the report then goes to stderr
  local dump_out, dump
  local text = io.stdout
  if args.dump then
    local outfile = require "causal_eval.outfile"
    local derr
    dump_out, derr = outfile.open(args.dump)
    if not dump_out then return fail(derr) end
    dump = dump_out.file
    if outfile.is_stdout(args.dump) then text = io.stderr end
  end
  local failed, total, total_disagree, total_invalid = false, 0, 0, 0
  for _, path in ipairs(args.FILE) do
    local items, err = read_items(path)
    local kind = items and kind_of(items)
    local report
    if not items then
      io.stderr:write("causal-eval validate: ", err, "\n")
      failed = true
    elseif #items == 0 then
      io.stderr:write(("causal-eval validate: %s: no items (the file is empty)\n"):format(path))
      failed = true
    elseif kind == "models" then
      report = new_report(path, ("%s: %d CLadder models, values recomputed exactly"):format(path, #items), dump)
      check_models(items, report)
    elseif kind == "exact" then
      if not lookup then
        io.stderr:write(("causal-eval validate: %s holds exact values only; give the models with --models\n"):format(path))
        failed = true
      else
        report = new_report(path, ("%s: %d exact value sets, recomputed from %s"):format(path, #items, args.models), dump)
        check_models(items, report, lookup, args.models)
      end
    elseif kind == "cladder_questions" then
      report = new_report(path, ("%s: %d CLadder questions, labels recomputed from %s"):format(
        path, #items, lookup and ("the model tables of " .. args.models) or "the questions' own fields"), dump)
      check_cladder_questions(items, report, lookup, args.models)
    elseif kind == "questions" then
      report = new_report(path, ("%s: %d questions, ground truth recomputed from graph, model and query"):format(path, #items), dump)
      check_questions(items, report)
    else
      io.stderr:write(("causal-eval validate: %s: not a model or question file\n"):format(path))
      failed = true
    end
    if report then
      report:print(text, args.quiet)
      if report.items_invalid > 0 then failed = true end
      total = total + report.items
      total_disagree = total_disagree + report.items_disagree
      total_invalid = total_invalid + report.items_invalid
    end
  end
  if dump_out then
    local ok, cerr = dump_out:commit()
    if not ok then return fail(cerr) end
  end
  text:write(("%d checked, %d disagree%s\n"):format(total, total_disagree,
    total_invalid > 0 and (", %d invalid"):format(total_invalid) or ""))
  if failed then return 1 end
  if args.strict and total_disagree > 0 then return 1 end
  return 0
end

return M
