-- SPDX-License-Identifier: MIT
-- causal-eval validate: recompute CLadder model values and question labels,
-- and the ground truth of this project's question files, exactly.
local argparse = require "causal_eval.argparse"
local json = require "causal_eval.json"
local cladder = require "causal_eval.cladder"
local questions = require "causal_eval.questions"

local parser = argparse.new{
  prog = "causal-eval validate",
  summary = "recompute every value and label of model and question files exactly",
  description = [[
FILE is a CLadder model file (every groundtruth quantity is recomputed and
compared with the stored value), models-exact.json (needs --models), a CLadder
question file (each label recomputed from the question's own fields, or from
its model's tables with --models), or a JSON-lines file of this project's
questions (each ground truth recomputed from the graph, model and query).
Prints a table per query type, every disagreement with its reason, and ends
with "N checked, M disagree". Exit status: 1 when some input could not be read
(or, with --strict, when something disagrees), else 0.]],
  options = {
    { "--models", arg = "MODELS.json", help = "CLadder model file: take values and labels from the models' tables" },
    { "--dump", arg = "OUT.jsonl", help = "write one JSON line per item with the exact result" },
    { "--strict", help = "exit with status 1 when any item disagrees" },
    { "--quiet", help = "print only the tables and the summary line, not each disagreement" },
  },
  positionals = { { "FILE", multiple = true, help = "files to check" } },
}

local M = { summary = "recompute CLadder and generated questions exactly, report disagreements",
            help = function() return parser:help() end }

-- ---- reading ----

local function read_file(path)
  local f, err = io.open(path, "rb")
  if not f then return nil, err end
  local s = f:read("a")
  f:close()
  return s
end

-- Items of a file: a JSON array, or JSON lines. Returns items, or nil + message;
-- bad lines of a JSON-lines file come back as { __error = msg } items.
local function read_items(path)
  local text, err = read_file(path)
  if not text then return nil, err end
  local first = text:match("^%s*(.)")
  if first == "[" then
    local v, jerr = json.decode(text, path)
    if v == nil then return nil, jerr end
    return v
  end
  local items, n = {}, 0
  for line in (text .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    if line:match("%S") then
      local v, jerr = json.decode(line, path .. ":" .. n)
      if v == nil then items[#items + 1] = { __error = jerr, __line = n }
      else
        if type(v) == "table" then v.__line = n end
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

-- ---- report ----

local Report = {}
Report.__index = Report

local function new_report(title)
  return setmetatable({ title = title, rows = {}, order = {}, disagreements = {}, undecidable = {},
                        invalid = {}, items = 0, items_disagree = 0 }, Report)
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

local function check_models(items, report, dump, lookup)
  for idx, entry in ipairs(items) do
    local id = type(entry) == "table" and entry.model_id or idx - 1
    if type(entry) ~= "table" or entry.__error then
      report.invalid[#report.invalid + 1] = ("item %d: %s"):format(idx, entry and entry.__error or "not an object")
      report:count("(unreadable)", "invalid")
    else
      local params_entry = entry
      if entry.params == nil and lookup then params_entry = lookup[id] end
      local stored = entry.groundtruth or entry.exact
      if not params_entry or type(stored) ~= "table" then
        local field = not params_entry and "params (no model with this id in --models)" or "groundtruth"
        report.invalid[#report.invalid + 1] = ("model %s: missing field %s"):format(tostring(id), field)
        report:count("(invalid)", "invalid")
      else
        local m, err = cladder.model(params_entry)
        if not m then
          report.invalid[#report.invalid + 1] = ("model %s: %s"):format(tostring(id), err)
          report:count("(invalid)", "invalid")
        else
          report.items = report.items + 1
          local exact, any = {}, false
          local keys = {}
          for k in pairs(stored) do keys[#keys + 1] = k end
          table.sort(keys)
          for _, key in ipairs(keys) do
            local kind = key:match("^P%(Y=1 |") and "P(Y=1 | X=x)" or key:match("^P%(") and "P(V=1)" or key:match("^(%u+)%(") or key
            local v, qerr = cladder.quantity(m, key)
            if v == nil then
              report.invalid[#report.invalid + 1] = ("model %s: %s"):format(tostring(id), qerr)
              report:count(kind, "invalid")
            else
              exact[key] = v
              local sv = stored[key]
              if type(sv) ~= "number" then
                report.invalid[#report.invalid + 1] = ("model %s: %s is not a number"):format(tostring(id), key)
                report:count(kind, "invalid")
              elseif math.abs(sv - v) <= cladder.TOLERANCE then
                report:count(kind, "agree")
              else
                any = true
                report:count(kind, "disagree")
                report.disagreements[#report.disagreements + 1] = ("model %s (%s) %s: stored %.9g, exact %.9g, diff %.2e: %s"):format(
                  tostring(id), tostring(params_entry.graph_id), key, sv, v, sv - v, cladder.model_reason(m, params_entry, key, sv))
              end
            end
          end
          if any then report.items_disagree = report.items_disagree + 1 end
          if dump then dump:write(json.encode({ model_id = id, exact = exact }), "\n") end
          m:close()
        end
      end
    end
  end
end

local function field_error(e)
  if type(e) == "table" and e.field then return ("field %s: %s"):format(e.field, e.msg) end
  return tostring(e)
end

local function check_cladder_questions(items, report, dump, lookup)
  local models = {}
  for idx, q in ipairs(items) do
    local id = type(q) == "table" and q.question_id or ("#" .. idx)
    if type(q) ~= "table" or q.__error then
      report.invalid[#report.invalid + 1] = ("item %d: %s"):format(idx, q and q.__error or "not an object")
      report:count("(unreadable)", "invalid")
    else
      local qt = type(q.meta) == "table" and q.meta.query_type or "(no query type)"
      local kind = tostring(qt)
      local entry, m
      if lookup then
        local mid = type(q.meta) == "table" and q.meta.model_id
        entry = mid ~= nil and lookup[mid]
        if entry then
          m = models[mid]
          if not m then m = cladder.model(entry); models[mid] = m end
        end
      end
      local ok, ans, detail
      if lookup and not m then
        ok, ans = false, { field = "meta.model_id", msg = "no such model in --models" }
      elseif m then
        ok, ans, detail = pcall(cladder.answer_from_model, q, m, entry)
      else
        ok, ans, detail = pcall(cladder.answer_from_fields, q)
      end
      if not ok then
        report.invalid[#report.invalid + 1] = ("question %s (%s): %s"):format(tostring(id), kind, field_error(ans))
        report:count(kind, "invalid")
        if dump then dump:write(json.encode({ question_id = id, answer = json.null, reason = field_error(ans) }), "\n") end
      else
        report.items = report.items + 1
        local graph = type(q.meta) == "table" and q.meta.graph_id or "?"
        if ans == nil then
          report:count(kind, "undecidable")
          report.undecidable[#report.undecidable + 1] = ("question %s (%s, %s, model %s): %s"):format(
            tostring(id), kind, tostring(graph), tostring(q.meta.model_id), detail)
          if dump then dump:write(json.encode({ question_id = id, answer = json.null, reason = detail }), "\n") end
        else
          local agree = ans == q.answer
          if agree then report:count(kind, "agree")
          else
            report:count(kind, "disagree")
            report.items_disagree = report.items_disagree + 1
            local mm = m
            if not mm and lookup == nil and M.reason_models and type(q.meta) == "table" then
              mm = M.reason_models[q.meta.model_id]
            end
            report.disagreements[#report.disagreements + 1] = ("question %s (%s, %s, model %s): label %s, exact %s (%s): %s"):format(
              tostring(id), kind, tostring(graph), tostring(q.meta.model_id), tostring(q.answer), ans, detail,
              cladder.question_reason(q, mm, entry))
          end
          if dump then
            dump:write(json.encode({ question_id = id, answer = ans,
              reason = (m and "from the model's tables: " or "from the question's fields: ") .. detail }), "\n")
          end
        end
      end
    end
  end
  for _, m in pairs(models) do m:close() end
end

local function check_questions(items, report, dump)
  for idx, q in ipairs(items) do
    local id = type(q) == "table" and q.id or ("#" .. idx)
    if type(q) ~= "table" or q.__error then
      report.invalid[#report.invalid + 1] = ("line %s: %s"):format(tostring(q and q.__line or idx), q and q.__error or "not an object")
      report:count("(unreadable)", "invalid")
    else
      local kind = type(q.query) == "table" and tostring(q.query.type) or "(no query)"
      local ans, value = questions.solve(q)
      if ans == nil then
        report.invalid[#report.invalid + 1] = ("question %s (line %s): %s"):format(tostring(id), tostring(q.__line or idx), value)
        report:count(kind, "invalid")
        if dump then dump:write(json.encode({ question_id = id, answer = json.null, reason = value }), "\n") end
      else
        report.items = report.items + 1
        local ok, detail = questions.agrees(q, ans, value)
        if ok then report:count(kind, "agree")
        else
          report:count(kind, "disagree")
          report.items_disagree = report.items_disagree + 1
          report.disagreements[#report.disagreements + 1] = ("question %s (%s, line %s): %s: stored ground_truth differs from the exact answer"):format(
            tostring(id), kind, tostring(q.__line or idx), detail)
        end
        if dump then dump:write(json.encode({ question_id = id, answer = ans, reason = "from the question's graph, model and query" }), "\n") end
      end
    end
  end
end

function M.run(argv, cli)
  local args, code = cli.parse(parser, argv)
  if not args then return code end
  local lookup
  if args.models then
    local items, err = read_items(args.models)
    if not items then
      io.stderr:write("causal-eval validate: ", tostring(err), "\n")
      return 1
    end
    lookup = {}
    for _, e in ipairs(items) do if type(e) == "table" and e.model_id ~= nil then lookup[e.model_id] = e end end
  end
  local dump
  if args.dump then
    local derr
    dump, derr = io.open(args.dump, "wb")
    if not dump then
      io.stderr:write("causal-eval validate: ", tostring(derr), "\n")
      return 1
    end
  end
  local unreadable, total, total_disagree = false, 0, 0
  for _, path in ipairs(args.FILE) do
    local items, err = read_items(path)
    if not items then
      io.stderr:write("causal-eval validate: ", tostring(err), "\n")
      unreadable = true
    else
      local kind = kind_of(items)
      local report
      if kind == "models" then
        report = new_report(("%s: %d CLadder models, values recomputed exactly"):format(path, #items))
        check_models(items, report, dump, nil)
      elseif kind == "exact" then
        if not lookup then
          io.stderr:write(("causal-eval validate: %s holds exact values only; give the models with --models\n"):format(path))
          unreadable = true
        else
          report = new_report(("%s: %d exact value sets, recomputed from %s"):format(path, #items, args.models))
          check_models(items, report, dump, lookup)
        end
      elseif kind == "cladder_questions" then
        report = new_report(("%s: %d CLadder questions, labels recomputed from %s"):format(
          path, #items, lookup and ("the model tables of " .. args.models) or "the questions' own fields"))
        check_cladder_questions(items, report, dump, lookup)
      elseif kind == "questions" then
        report = new_report(("%s: %d questions, ground truth recomputed from graph, model and query"):format(path, #items))
        check_questions(items, report, dump)
      else
        io.stderr:write(("causal-eval validate: %s: not a model or question file\n"):format(path))
        unreadable = true
      end
      if report then
        report:print(io.stdout, args.quiet)
        if #report.invalid > 0 then unreadable = true end
        total = total + report.items
        total_disagree = total_disagree + report.items_disagree
      end
    end
  end
  if dump then dump:close() end
  io.stdout:write(("%d checked, %d disagree\n"):format(total, total_disagree))
  if unreadable then return 1 end
  if args.strict and total_disagree > 0 then return 1 end
  return 0
end

return M
