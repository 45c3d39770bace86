-- SPDX-License-Identifier: MIT
-- HTML reports: the evaluation report of runs and the leaderboard, each one
-- self-contained file made by templates (report/templates/) and SVG chart
-- builders (report/charts.lua) from plain data (report/collect.lua,
-- report/leaderboard.lua).
--
--   local report = require "causal_eval.report"
--   local html = report.render_report(data, { template = "mine.lua" })
--
-- A --template file is Lua returning a table: strings replace the
-- templates of the same name (page, style, summary, accuracy, ...), and a
-- table `helpers` adds or replaces helpers (charts among them).
local host = require "causal_eval.host"
local json = require "causal_eval.json"
local html = require "causal_eval.report.html"
local charts = require "causal_eval.report.charts"
local template = require "causal_eval.report.template"

local M = {}

--- The default templates by name.
function M.templates()
  local out = {}
  for _, mod in ipairs({ "page", "report", "leaderboard" }) do
    for k, v in pairs(require("causal_eval.report.templates." .. mod)) do out[k] = v end
  end
  return out
end

--- A --template file's table, checked; nil, message naming the file.
function M.load_overrides(path)
  local chunk, err = loadfile(path, "t")
  if not chunk then return nil, ("template file %s: %s"):format(path, err) end
  local ok, t = pcall(chunk)
  if not ok then return nil, ("template file %s: %s"):format(path, tostring(t)) end
  if type(t) ~= "table" then return nil, ("template file %s must return a table, not %s"):format(path, type(t)) end
  for k, v in pairs(t) do
    if k == "helpers" then
      if type(v) ~= "table" then return nil, ("template file %s: 'helpers' must be a table"):format(path) end
    elseif type(k) ~= "string" or type(v) ~= "string" then
      return nil, ("template file %s: '%s' must be a template (a string), not %s"):format(path, tostring(k), type(v))
    end
  end
  for k, v in pairs(t) do
    if type(v) == "string" then
      local _, cerr = template.compile(v, k)
      if cerr then return nil, ("template file %s: %s"):format(path, cerr) end
    end
  end
  -- a name the pages do not have, and that no template includes, is never
  -- rendered: a misspelled one did nothing, without a word
  local builtin = M.templates()
  local function included(name)
    for _, set in ipairs({ builtin, t }) do
      for _, src in pairs(set) do
        if type(src) == "string" then
          for q in src:gmatch("include%s*%(?%s*(%b\"\")") do if q:sub(2, -2) == name then return true end end
          for q in src:gmatch("include%s*%(?%s*(%b'')") do if q:sub(2, -2) == name then return true end end
        end
      end
    end
    return false
  end
  for k, v in pairs(t) do
    if type(v) == "string" and not builtin[k] and not included(k) then
      local names = {}
      for n in pairs(builtin) do names[#names + 1] = n end
      table.sort(names)
      return nil, ("template file %s: '%s' is no template of the pages, and no template includes it (the pages' templates: %s)")
        :format(path, k, table.concat(names, ", "))
    end
  end
  return t
end

-- ---- helpers every template sees ----

local function number(x, digits)
  if type(x) ~= "number" or x ~= x then return "–" end
  return ("%." .. (digits or 1) .. "f"):format(x)
end

-- a number in full, for data-* attributes that tests and scripts read
local function num(x)
  if type(x) ~= "number" then return "" end
  if math.type(x) == "integer" then return tostring(x) end
  return ("%.17g"):format(x)
end

-- a setting that holds a secret: its value is left out of the report
local SECRET = { password = true, passwd = true, secret = true, token = true, api_key = true, key = true }

-- a setting's value as text, with any password in a URL left out
local function setting_text(v)
  if type(v) == "table" then return json.encode(v) end
  if v == json.null then return "null" end
  local s = tostring(v)
  return (s:gsub("^(%a[%w+.-]*://)[^/@]*@", "%1…@"))
end

local function is_secret(key)
  local last = key:match("([^.]+)$"):lower()
  if SECRET[last] then return true end
  for _, suffix in ipairs({ "_password", "_passwd", "_secret", "_token", "_key" }) do
    if last:sub(-#suffix) == suffix then return true end
  end
  return false
end

local function flatten(t, prefix, out)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = tostring(k) end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if v == nil then v = t[tonumber(k)] end
    local key = prefix and (prefix .. "." .. k) or k
    if type(v) == "table" and next(v) ~= nil and #v == 0 then
      flatten(v, key, out)
    elseif is_secret(key) then
      if v ~= "" and v ~= json.null then out[#out + 1] = { key, "(set, not shown)" } end
    else
      out[#out + 1] = { key, setting_text(v) }
    end
  end
  return out
end

--- What a run was asked to do, for the settings section: facts (pairs of
--- name and text), models (label, adapter, model, rest), config (pairs).
function M.settings(run)
  local facts = {}
  local function fact(k, v) if v ~= nil and v ~= json.null and v ~= "" then facts[#facts + 1] = { k, setting_text(v) } end end
  local function when(t) return type(t) == "number" and os.date("!%Y-%m-%d %H:%M:%S UTC", math.floor(t)) or nil end
  fact("status", run.status)
  fact("note", run.message)
  fact("created", when(run.created))
  fact("started", when(run.started))
  fact("finished", when(run.finished))
  fact("elapsed", type(run.elapsed) == "number" and ("%.1f s"):format(run.elapsed) or nil)
  fact("causal-eval version", run.host_version)
  -- how the questions were asked and read (every run has a mode; the default one too)
  local mode_lib = require "causal_eval.mode"
  local mode = type(run.mode) == "table" and run.mode or nil
  fact("mode", mode_lib.describe(mode))
  if mode and not mode_lib.is_default(mode) then
    local function source_of(t) return type(t) == "table" and (t.path or "(inline)") or nil end
    fact("mode.template", source_of(mode.template))
    if type(mode.templates) == "table" then
      local labels = {}
      for label in pairs(mode.templates) do labels[#labels + 1] = label end
      table.sort(labels)
      for _, label in ipairs(labels) do fact("mode.template of " .. label, source_of(mode.templates[label])) end
    end
    fact("mode.shots", mode.shots)
    if mode.cot then fact("mode.cot_budget", mode.cot_budget) end
    fact("mode.samples", mode.samples)
    fact("mode.temperature", mode.temperature)
    if type(mode.judge) == "table" then
      fact("mode.judge", type(mode.judge.model) == "table" and mode.judge.model.label or nil)
      fact("mode.rubric", type(mode.judge.rubric) == "table" and (mode.judge.rubric.path or "default") or nil)
    end
  end
  fact("benchmarks", type(run.benchmarks) == "table" and table.concat(run.benchmarks, ", ") or nil)
  fact("questions asked", run.total)
  fact("seed", run.seed)
  if type(run.source) == "table" then
    for _, kv in ipairs(flatten(run.source, "source", {})) do
      if kv[1] ~= "source.benches" then facts[#facts + 1] = kv end
    end
  end
  if type(run.dispatch) == "table" then
    for _, kv in ipairs(flatten(run.dispatch, "dispatch", {})) do facts[#facts + 1] = kv end
  end
  for _, k in ipairs({ "max_tokens_total", "budget_usd", "optimize_for" }) do fact(k, run[k]) end
  local models = {}
  for _, sp in ipairs(run.model_specs or {}) do
    if type(sp) == "table" then
      local rest = {}
      for _, kv in ipairs(flatten(sp, nil, {})) do
        if kv[1] ~= "label" and kv[1] ~= "adapter" and kv[1] ~= "model" then rest[#rest + 1] = kv[1] .. "=" .. kv[2] end
      end
      models[#models + 1] = { label = sp.label, adapter = sp.adapter, model = setting_text(sp.model or ""),
                              rest = table.concat(rest, ", ") }
    end
  end
  return { facts = facts, models = models, config = type(run.config) == "table" and flatten(run.config, nil, {}) or {} }
end

local function common_helpers(data, opts)
  return {
    esc = html.esc, pct = html.pct, signed_pct = html.signed_pct, int = html.int, ms = html.ms, usd = html.usd,
    p = html.p, slug = html.slug, number = number, num = num, charts = charts, color = charts.color,
    date = function(t) return os.date("!%Y-%m-%d %H:%M UTC", math.floor(t)) end,
    version = host.version, generated = opts.now or os.time(), title = opts.title, d = data,
  }
end

local function with_overrides(helpers, overrides)
  local sources = M.templates()
  if overrides then
    for k, v in pairs(overrides) do
      if type(v) == "string" then sources[k] = v end
    end
    for k, v in pairs(overrides.helpers or {}) do
      if k == "charts" and type(v) == "table" then
        local c = {}
        for ck, cv in pairs(charts) do c[ck] = cv end
        for ck, cv in pairs(v) do c[ck] = cv end
        helpers.charts = c
        if v.color then helpers.color = v.color end
      else
        helpers[k] = v
      end
    end
  end
  return template.set(sources, helpers)
end

-- ---- the evaluation report ----

-- sections with a `when` are there only for runs that store what they show
local SECTIONS = {
  { "summary", "Models" }, { "samples", "Repeated samples", when = "samples" },
  { "judged", "Model-graded answers", when = "judged" }, { "accuracy", "Accuracy by group" },
  { "differences", "Paired differences" }, { "latency", "Latency" }, { "cost", "Tokens and cost" },
  { "errors", "Error analysis" }, { "settings", "Settings and versions" },
}

local GROUPINGS = {
  { kind = "family", title = "By family", field = "by_family" },
  { kind = "difficulty", title = "By difficulty", field = "by_difficulty" },
  { kind = "rung", title = "By rung of the causal ladder", field = "by_rung" },
  { kind = "domain", title = "By domain", field = "by_domain" },
}

--- The modes of a report's runs: { list = { { run_id, name, default } }
--- in run order, names = distinct names in that order, differ = true when
--- the runs were asked in more than one mode, default = true when every run
--- was asked in the default mode }.
function M.modes(runs)
  local mode_lib = require "causal_eval.mode"
  local out = { list = {}, names = {}, default = true }
  local seen = {}
  for _, r in ipairs(runs) do
    local m = type(r.mode) == "table" and r.mode or nil
    local name, default = mode_lib.describe(m), mode_lib.is_default(m)
    out.list[#out.list + 1] = { run_id = r.id, name = name, default = default }
    if not default then out.default = false end
    if not seen[name] then
      seen[name] = true
      out.names[#out.names + 1] = name
    end
  end
  out.differ = #out.names > 1
  return out
end

local function report_helpers(data, opts)
  local h = common_helpers(data, opts)
  local has = {}
  for _, m in ipairs(data.models) do
    if m.samples or m.samples_error then has.samples = true end
    if m.judged then has.judged = true end
  end
  h.has = has
  h.sections = {}
  for _, s in ipairs(SECTIONS) do
    if not s.when or has[s.when] then h.sections[#h.sections + 1] = s end
  end
  h.groupings = GROUPINGS
  h.modes = M.modes(data.runs)
  local shown = {}
  for _, q in ipairs(data.hardest) do shown[q.qid] = true end
  local yn, other, seen_yn, seen_other = {}, {}, {}, {}
  for _, m in ipairs(data.models) do
    for fam in pairs(m.confusion or {}) do
      if not seen_yn[fam] then seen_yn[fam], yn[#yn + 1] = true, fam end
    end
    for fam in pairs(m.other_types or {}) do
      if not seen_other[fam] then seen_other[fam], other[#other + 1] = true, fam end
    end
  end
  table.sort(yn)
  table.sort(other)
  h.yn_families, h.other_families = yn, other
  -- a family's row in the yes/no table, else in the table of other answers
  local anchored = {}
  for _, f in ipairs(other) do anchored[f] = html.slug("confusion-other", f) end
  for _, f in ipairs(yn) do anchored[f] = html.slug("confusion", f) end

  function h.question_link(qid)
    if shown[qid] then return ('<a href="#%s">%s</a>'):format(html.esc(html.slug("q", qid)), html.esc(qid)) end
    return html.esc(qid)
  end
  function h.family_link(fam)
    if fam == nil then return "" end
    local anchor = anchored[tostring(fam)]
    if anchor then return ('<a href="#%s">%s</a>'):format(html.esc(anchor), html.esc(fam)) end
    return html.esc(fam)
  end
  function h.text_block(clip, class)
    if not clip then return "" end
    local more = clip.cut > 0 and ('<span class="cut"> … %s more characters not shown</span>'):format(html.int(clip.cut)) or ""
    return ("<pre%s>%s%s</pre>"):format(class and (' class="%s"'):format(html.esc(class)) or "", html.esc(clip.text), more)
  end
  -- a chain of thought's reasoning, folded: it is long and the final answer is what was scored
  -- (open when nothing follows it: then it is all the reply there is)
  function h.reasoning_block(clip, open)
    if not clip then return "" end
    local size = utf8.len(clip.text) or #clip.text
    return ('<details class="reasoning"%s><summary>reasoning (%s characters)</summary>%s</details>'):format(
      open and " open" or "", html.int(size + clip.cut), h.text_block(clip, "reasoning"))
  end
  -- An answer as collect gives it: the reply, or its reasoning and final
  -- part apart, or a question's repeated samples (each answer and outcome,
  -- the first few with their text).
  function h.answer_block(a)
    if a.samples then
      local parts = {}
      for i, sm in ipairs(a.samples) do
        local v = sm.parsed ~= nil and h.value_text(sm.parsed) or "no answer"
        local cls = sm.parsed == nil and "unparseable" or (sm.correct and "right" or "wrong")
        parts[i] = ('<span class="sample %s" title="sample %d">%s</span>'):format(cls, i, html.esc(v))
      end
      local out = { ('<p class="samples-line">%d samples: %s'):format(a.n_samples or #a.samples, table.concat(parts, " ")) }
      if type(a.agreement) == "number" then
        out[#out + 1] = (" · agreement %s"):format(html.pct(a.agreement, 0))
      end
      if a.vote_tie then out[#out + 1] = " · a tie, broken by the first answer seen" end
      out[#out + 1] = "</p>"
      local texts = 0
      for i, sm in ipairs(a.samples) do
        if sm.response or sm.reasoning or sm.final then
          texts = texts + 1
          out[#out + 1] = ('<div class="sample-text"><span class="label">sample %d</span>%s</div>'):format(i,
            h.answer_block(sm))
        end
      end
      if texts > 0 and texts < #a.samples then
        out[#out + 1] = ('<p class="note">the text of %d more samples is not shown</p>'):format(#a.samples - texts)
      end
      return table.concat(out)
    end
    if a.reasoning then
      if a.final then
        return h.reasoning_block(a.reasoning) .. '<span class="label">final answer</span>' .. h.text_block(a.final, "final")
      elseif a.response then
        return h.reasoning_block(a.reasoning) .. '<span class="label">reply</span>' .. h.text_block(a.response)
      end
      return h.reasoning_block(a.reasoning, true) .. '<p class="note">no final answer after the reasoning</p>'
    end
    return h.text_block(a.response)
  end
  function h.value_text(v)
    if v == nil or v == json.null then return "–" end
    if type(v) == "table" then return json.encode(v) end
    return tostring(v)
  end
  function h.outcome_badge(a)
    local cls, text = "wrong", "wrong"
    if a.code == 1 then cls, text = "right", "right"
    elseif a.code == 2 then cls, text = "unparseable", "unparseable"
    elseif a.code == 3 then cls, text = "failed", "failed" .. (a.error and (": " .. a.error) or "") end
    return ('<span class="badge %s">%s</span>'):format(cls, html.esc(text))
  end
  function h.error_classes(m)
    local parts = {}
    for k, v in pairs(m.error_classes or {}) do parts[#parts + 1] = ("%s %d"):format(k, v) end
    table.sort(parts)
    return table.concat(parts, ", ")
  end
  function h.shade(row, ans, diag)
    if not row then return "" end
    local total = row.yes + row.no + row.other
    if total == 0 then return "" end
    local share = row[ans] / total
    local rgb = diag and "22,112,60" or (ans == "other" and "138,90,0" or "180,35,24")
    return (' style="background:rgba(%s,%.2f)"'):format(rgb, 0.08 + 0.5 * share)
  end
  h.settings = M.settings
  -- the pass@k of the most samples (pass@K), nil when there is none
  function h.pass_at(s)
    local best
    for _, pk in ipairs(s.pass_at or {}) do
      if not best or pk.k > best.k then best = pk end
    end
    return best
  end
  -- every sampled model's pass@1 with its clustered interval over the naive one
  function h.samples_chart()
    local rows = {}
    for i, m in ipairs(data.models) do
      local s = m.samples
      if s and type(s.accuracy) == "number" then
        rows[#rows + 1] = { label = m.label .. " · clustered", accuracy = s.accuracy, lo = s.ci[1], hi = s.ci[2], group = i,
                            color = h.color(i), data = { class = "samples-ci", ["data-model"] = m.model, ["data-kind"] = "clustered" } }
        if type(s.naive.accuracy) == "number" then
          rows[#rows + 1] = { label = m.label .. " · naive", accuracy = s.naive.accuracy, lo = s.naive.ci[1], hi = s.naive.ci[2],
                              group = i, color = "#9aa4ae",
                              data = { class = "samples-ci", ["data-model"] = m.model, ["data-kind"] = "naive" } }
        end
      end
    end
    if #rows == 0 then return "" end
    return h.charts.dots{ title = "accuracy over samples: clustered and naive 95% intervals", rows = rows }
  end
  function h.judge_grade(j)
    if j.judged then
      local cls = j.score == 1 and "right" or (j.score == 0 and "wrong" or "partial")
      return ('<span class="badge %s">%s</span> %s'):format(cls, html.esc(j.grade or "graded"), html.esc(number(j.score, 2)))
    elseif j.error then
      return ('<span class="badge failed">%s</span>'):format(html.esc(j.error_class == "judge" and "judge failed" or "failed"))
    end
    return '<span class="badge unparseable">not graded</span>'
  end

  function h.accuracy_chart(kind)
    local field = "by_" .. kind
    local groups = {}
    for _, key in ipairs(data.keys[kind]) do
      local n = 0
      for _, m in ipairs(data.models) do
        local g = m[field][key]
        if g and g.n > n then n = g.n end
      end
      local label = kind == "rung" and ("rung " .. key) or key
      groups[#groups + 1] = { key = key, label = label, note = "n = " .. html.int(n),
                              href = kind == "family" and anchored[key] and ("#" .. anchored[key]) or nil }
    end
    local series = {}
    for i, m in ipairs(data.models) do series[i] = { label = m.label, color = h.color(i) } end
    return h.charts.bars{
      title = "accuracy by " .. kind, groups = groups, series = series,
      cell = function(gi, si)
        local g = data.models[si][field][groups[gi].key]
        if not g then return nil end
        return { accuracy = g.accuracy, lo = g.ci[1], hi = g.ci[2], n = g.n }
      end,
      data = function(gi, si, c)
        return { class = "bar", ["data-kind"] = kind, ["data-key"] = groups[gi].key, ["data-model"] = data.models[si].model,
                 ["data-run"] = data.models[si].run_id, ["data-n"] = c.n, ["data-accuracy"] = c.accuracy,
                 ["data-lo"] = c.lo, ["data-hi"] = c.hi }
      end,
    }
  end
  -- the pairs the forest plot draws: those with an interval (all, or
  -- past collect's max_intervals those with the largest differences)
  local forest = {}
  for _, c in ipairs(data.comparisons) do if c.ci then forest[#forest + 1] = c end end
  h.forest_left_out = #data.comparisons - #forest
  function h.forest_chart()
    local rows = {}
    for _, c in ipairs(forest) do
      rows[#rows + 1] = { label = c.b .. " − " .. c.a, diff = c.diff, lo = c.ci[1], hi = c.ci[2], p = c.p_holm,
                          data = { class = "forest-row", ["data-a"] = c.a, ["data-b"] = c.b } }
    end
    return h.charts.forest{ title = "paired differences", rows = rows }
  end
  function h.latency_chart()
    local series = {}
    for i, m in ipairs(data.models) do
      series[i] = { label = m.label, color = h.color(i), counts = m.latency_bins or {},
                    marks = { { name = "p50", value = m.latency_ms.p50 }, { name = "p95", value = m.latency_ms.p95 },
                              { name = "p99", value = m.latency_ms.p99 } },
                    data = { class = "latency-row", ["data-model"] = m.model } }
    end
    return h.charts.histogram{ title = "latency per model", edges = data.latency_edges, series = series }
  end
  return h
end

--- The evaluation report of collect.collect's data as one HTML page.
--- opts: title, now, overrides (a --template file's table).
function M.render_report(data, opts)
  opts = opts or {}
  if not opts.title then
    opts.title = #data.runs == 1 and ("causal-eval report: run " .. data.runs[1].id)
      or ("causal-eval report: " .. #data.runs .. " runs")
  end
  local set = with_overrides(report_helpers(data, opts), opts.overrides)
  local body = set:render("report")
  return set:render("page", { body = body })
end

-- ---- the leaderboard ----

local function leaderboard_helpers(data, opts)
  local h = common_helpers(data, opts)
  function h.dots_chart()
    local rows = {}
    for _, r in ipairs(data.ranked) do
      rows[#rows + 1] = { label = r.model, accuracy = r.accuracy, lo = r.ci[1], hi = r.ci[2], group = r.group,
                          color = h.color(r.group), data = { class = "dot", ["data-model"] = r.model } }
    end
    return h.charts.dots{ title = "accuracy on shared questions", rows = rows }
  end
  return h
end

--- The leaderboard (report/leaderboard.lua's data) as one HTML page.
function M.render_leaderboard(data, opts)
  opts = opts or {}
  opts.title = opts.title or "causal-eval leaderboard"
  local set = with_overrides(leaderboard_helpers(data, opts), opts.overrides)
  local body = set:render("leaderboard")
  return set:render("page", { body = body })
end

return M
