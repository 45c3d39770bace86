-- SPDX-License-Identifier: MIT
-- The audit of a question set (`causal-eval validate --audit FILE...`): does
-- a prompt repeat within its set, are answers balanced, and can a single
-- surface feature of a question (prompt length, number of variables or
-- edges, difficulty, domain) predict its yes/no answer on questions it was
-- not fitted on? A benchmark whose answers follow its surface measures the
-- surface.
--
-- The predictor, per family and feature: a rule fitted on the questions of
-- one seed and scored on those of another (then the other way round; the
-- worse figure counts). A categorical feature's rule answers each value's
-- majority answer (the overall majority for ties and values not seen); a
-- numeric one (length) is the better, on the fitting set, of one threshold
-- ("yes above t", or below) and the majority of each tenth of the fitting
-- set's range of values. "balance" is the rule with no feature: the fitting
-- set's majority answer. With one seed in a family, even pairs of questions
-- fit and odd pairs score. Only yes/no questions count.
local json = require "causal_eval.json"

local M = {}

M.LIMIT = 0.55 -- the most any single feature may predict
M.MIN_N = 1000 -- scored questions below which a figure is too noisy to fail on

M.FEATURES = {
  { name = "balance", get = function() return "" end },
  { name = "length", numeric = true, get = function(q) return type(q.prompt) == "string" and #q.prompt or nil end },
  { name = "variables", get = function(q) return type(q.graph) == "table" and type(q.graph.nodes) == "table" and #q.graph.nodes or nil end },
  { name = "edges", get = function(q) return type(q.graph) == "table" and type(q.graph.edges) == "table" and #q.graph.edges or nil end },
  { name = "difficulty", get = function(q) return q.difficulty end },
  { name = "domain", get = function(q) return q.domain end },
}

local function majority(yes, no, default)
  if yes > no then return true elseif no > yes then return false end
  return default
end

-- a rule from a value to yes (true) or no (false), fitted on (values, answers)
local function fit_categorical(xs, ys)
  local c, yes, n = {}, 0, #xs
  for i = 1, n do
    local k = xs[i]
    local e = c[k] or { 0, 0 }
    c[k] = e
    if ys[i] then e[1] = e[1] + 1; yes = yes + 1 else e[2] = e[2] + 1 end
  end
  local overall = majority(yes, n - yes, true)
  local rule = {}
  for k, e in pairs(c) do rule[k] = majority(e[1], e[2], overall) end
  return function(x)
    local r = rule[x]
    if r == nil then return overall end
    return r
  end
end

local function accuracy(rule, xs, ys)
  local ok = 0
  for i = 1, #xs do if rule(xs[i]) == ys[i] then ok = ok + 1 end end
  return #xs > 0 and ok / #xs or 0
end

local function fit_threshold(xs, ys)
  local idx = {}
  for i = 1, #xs do idx[i] = i end
  table.sort(idx, function(a, b) return xs[a] < xs[b] end)
  local total_yes = 0
  for i = 1, #ys do if ys[i] then total_yes = total_yes + 1 end end
  -- "yes above t": right for the no answers at or below t and the yes above
  local n, best, cut, above = #xs, -1, -math.huge, true
  local no_below, yes_below = 0, 0
  local function consider(t)
    local acc = (no_below + (total_yes - yes_below)) / n
    if acc > best then best, cut, above = acc, t, true end
    if 1 - acc > best then best, cut, above = 1 - acc, t, false end
  end
  consider(-math.huge)
  for k = 1, n do
    local i = idx[k]
    if ys[i] then yes_below = yes_below + 1 else no_below = no_below + 1 end
    if k == n or xs[idx[k + 1]] ~= xs[i] then consider(xs[i]) end
  end
  return function(x) return (x > cut) == above end
end

local function fit_bins(xs, ys)
  local sorted = { table.unpack(xs) }
  table.sort(sorted)
  local cuts = {}
  for b = 1, 9 do cuts[b] = sorted[math.max(1, (#sorted * b) // 10)] end
  local function bin(x)
    local b = 1
    while b <= 9 and x > cuts[b] do b = b + 1 end
    return b
  end
  local bx = {}
  for i = 1, #xs do bx[i] = bin(xs[i]) end
  local rule = fit_categorical(bx, ys)
  return function(x) return rule(bin(x)) end
end

local function fit(feature, xs, ys)
  if not feature.numeric then return fit_categorical(xs, ys) end
  local a, b = fit_threshold(xs, ys), fit_bins(xs, ys)
  if accuracy(b, xs, ys) > accuracy(a, xs, ys) then return b end
  return a
end

-- the feature's values and answers over a list of questions (those that have the feature)
local function columns(feature, qs)
  local xs, ys = {}, {}
  for _, q in ipairs(qs) do
    local x = feature.get(q)
    if x ~= nil then
      xs[#xs + 1] = x
      ys[#ys + 1] = q.ground_truth == "yes"
    end
  end
  return xs, ys
end

local function held_out(feature, a, b)
  local xa, ya = columns(feature, a)
  local xb, yb = columns(feature, b)
  if #xa == 0 or #xb == 0 then return nil end
  return accuracy(fit(feature, xa, ya), xb, yb), #xb
end

--- Audits a list of questions (tables as in a question file). Returns
--- { families = { {name, n, yes, repeats, repeats_across, split, scored,
--- features = {name = accuracy}, best, best_feature} }, questions, repeats,
--- worst, worst_family, worst_feature }.
function M.audit(items)
  local fams, order = {}, {}
  for _, q in ipairs(items) do
    local name = tostring(q.family or "?")
    local f = fams[name]
    if not f then
      f = { name = name, by_seed = {}, seeds = {}, n = 0, yes = 0, yes_no = 0, repeats = 0, repeats_across = 0 }
      fams[name] = f
      order[#order + 1] = name
    end
    local seed = q.seed == nil and "?" or q.seed
    local set = f.by_seed[seed]
    if not set then
      set = { questions = {}, prompts = {} }
      f.by_seed[seed] = set
      f.seeds[#f.seeds + 1] = seed
    end
    f.n = f.n + 1
    if type(q.prompt) == "string" then
      if set.prompts[q.prompt] then f.repeats = f.repeats + 1 end
      set.prompts[q.prompt] = true
    end
    if q.ground_truth == "yes" or q.ground_truth == "no" then
      set.questions[#set.questions + 1] = q
      f.yes_no = f.yes_no + 1
      if q.ground_truth == "yes" then f.yes = f.yes + 1 end
    end
  end
  table.sort(order)
  local report = { families = {}, questions = #items, repeats = 0, worst = 0 }
  for _, name in ipairs(order) do
    local f = fams[name]
    table.sort(f.seeds, function(x, y) return tostring(x) < tostring(y) end)
    -- the same prompt in two sets is no fault, but worth knowing
    for k = 2, #f.seeds do
      for p in pairs(f.by_seed[f.seeds[k]].prompts) do
        for j = 1, k - 1 do
          if f.by_seed[f.seeds[j]].prompts[p] then f.repeats_across = f.repeats_across + 1 break end
        end
      end
    end
    local a, b
    if #f.seeds >= 2 then
      a, b = f.by_seed[f.seeds[1]].questions, f.by_seed[f.seeds[2]].questions
      f.split = ("seeds %s and %s"):format(tostring(f.seeds[1]), tostring(f.seeds[2]))
    else
      a, b = {}, {}
      for _, q in ipairs(f.by_seed[f.seeds[1]].questions) do
        local p = math.type(q.index) == "integer" and q.index // 2 or #a + #b
        if p % 2 == 0 then a[#a + 1] = q else b[#b + 1] = q end
      end
      f.split = "even and odd pairs of one seed"
    end
    f.features, f.best, f.scored = {}, 0, math.min(#a, #b)
    for _, feature in ipairs(M.FEATURES) do
      local ab = held_out(feature, a, b)
      local ba = held_out(feature, b, a)
      local acc = ab and ba and math.max(ab, ba) or ab or ba
      f.features[feature.name] = acc
      if acc and acc > f.best then f.best, f.best_feature = acc, feature.name end
    end
    f.by_seed = nil
    report.families[#report.families + 1] = f
    report.repeats = report.repeats + f.repeats
    if f.best > report.worst and f.scored >= M.MIN_N then
      report.worst, report.worst_family, report.worst_feature = f.best, f.name, f.best_feature
    end
  end
  return report
end

--- true when the set passes: no repeat, and no feature above the limit
--- where enough questions were scored to tell.
function M.passes(report)
  if report.repeats > 0 then return false end
  for _, f in ipairs(report.families) do
    if f.scored >= M.MIN_N and f.best > M.LIMIT then return false end
  end
  return true
end

local function pct(x) return x and ("%.1f%%"):format(100 * x) or "-" end

function M.format(report, label)
  local out = {}
  local function line(s) out[#out + 1] = s end
  line(("audit of %s: %d questions, %d families"):format(label, report.questions, #report.families))
  local head = { ("%-20s %7s %6s %7s"):format("family", "yes/no", "yes", "repeats") }
  for _, feature in ipairs(M.FEATURES) do head[#head + 1] = ("%10s"):format(feature.name) end
  line(table.concat(head, " "))
  for _, f in ipairs(report.families) do
    local row = { ("%-20s %7d %6s %7d"):format(f.name, f.yes_no, f.yes_no > 0 and pct(f.yes / f.yes_no) or "-", f.repeats) }
    for _, feature in ipairs(M.FEATURES) do
      local acc = f.features[feature.name]
      local mark = (acc and acc > M.LIMIT) and "!" or " "
      row[#row + 1] = ("%9s%s"):format(pct(acc), mark)
    end
    line(table.concat(row, " "))
  end
  line("")
  line(("Each figure is the held-out accuracy of the best rule on one feature (fitted on one set, scored on the other), limit %s."):format(pct(M.LIMIT)))
  for _, f in ipairs(report.families) do
    local sd = f.scored > 0 and 0.5 / math.sqrt(f.scored) or 0
    local note = f.scored < M.MIN_N and (", too few to judge (under %d)"):format(M.MIN_N) or ""
    line(("%s: fitted and scored on %s, %d questions scored (binomial sd %.1f points)%s; %d prompts also in another seed's set"):format(
      f.name, f.split, f.scored, 100 * sd, note, f.repeats_across))
  end
  local verdict = M.passes(report) and "pass" or "FAIL"
  line(("audit: %d questions, %d repeats, best single-feature predictor %s%s: %s"):format(
    report.questions, report.repeats, pct(report.worst),
    report.worst_family and (" (" .. report.worst_family .. ", " .. report.worst_feature .. ")") or "", verdict))
  return table.concat(out, "\n") .. "\n"
end

-- Questions of JSON-lines files; nil and a message naming the file and line.
local function read(paths)
  local items = {}
  for _, path in ipairs(paths) do
    local f, err = io.open(path, "rb")
    if not f then return nil, err end
    local text = f:read("a")
    f:close()
    if text == nil then return nil, path .. ": cannot be read (a directory?)" end
    local n = 0
    for line in (text .. "\n"):gmatch("([^\n]*)\n") do
      n = n + 1
      if line:match("%S") then
        local q, jerr = json.decode(line, path .. ":" .. n)
        if q == nil then return nil, jerr end
        if type(q) ~= "table" or q.family == nil or q.ground_truth == nil then
          return nil, ("%s:%d: not a generated question (needs family and ground_truth)"):format(path, n)
        end
        items[#items + 1] = q
      end
    end
  end
  return items
end

--- A measured capacity: how many distinct questions a family makes at one
--- difficulty, for a space too large to enumerate (the figures the families
--- state came from this, with n = 100,000). It generates n questions
--- (content only) and counts the draws the kit threw away as repeats, r. n
--- draws from N equally likely questions repeat about n^2 / 2N times, so N is
--- about n^2 / 2r; n^2 / 2(r + 3) errs low for small counts too. Questions
--- that are not equally likely repeat more, so the figure errs low again.
--- Where r is over n/10 the formula no longer holds (parts of the space are
--- used up) and the figure is n itself: made without running out, a lower
--- bound. Returns the figure, r and the method.
function M.capacity(name, difficulty, n, seed)
  local bench = require "causal_eval.bench"
  local fam = assert(bench.load(name))
  local opts = assert(bench.options{ difficulty = difficulty, render = false })
  seed = seed or 1
  for _ in bench.generate(fam, opts, seed, n) do end
  local r = 0
  for _, c in pairs(opts._runs[fam][seed].plan.redraw) do r = r + c end
  if r * 10 > n then return n, r, ("measured: %d made (%d draws repeated), a lower bound"):format(n, r) end
  return n * n // (2 * (r + 3)), r, ("estimated: n^2/2(r+3) from %d repeats in n = %d"):format(r, n)
end

--- `validate --audit FILE...`: prints the report; exit status 0 when the set
--- passes, 1 when it fails or cannot be read.
function M.main(paths, out, err)
  out, err = out or io.stdout, err or io.stderr
  local items, rerr = read(paths)
  if not items then
    err:write("causal-eval validate: ", tostring(rerr), "\n")
    return 1
  end
  if #items == 0 then
    err:write("causal-eval validate: ", table.concat(paths, ", "), ": no questions to audit\n")
    return 1
  end
  local report = M.audit(items)
  out:write(M.format(report, table.concat(paths, ", ")))
  return M.passes(report) and 0 or 1
end

return M
