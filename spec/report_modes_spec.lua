-- SPDX-License-Identifier: MIT
-- `causal-eval report` and `causal-eval leaderboard` on runs made in
-- evaluation modes by `causal-eval run` with local command models: a chain
-- of thought (--cot), repeated samples (--samples 3 --temperature 0.7) and
-- free-text questions graded by a judge (--judge), with and without one.
-- The page names the mode, shows the reasoning apart from the final
-- answer, the samples' figures as `results show --json` gives them, and
-- judged answers in a table of their own and in no accuracy; the
-- leaderboard never ranks runs of two modes together.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local mode_lib = require "causal_eval.mode"

-- reasoning with markup in it, then a final answer by a hash of the prompt;
-- one prompt in four gets reasoning and no final answer
local COT = [[#!/bin/sh
n=$(cksum | cut -d' ' -f1)
echo "Step one: the <b>graph</b> & its paths."
echo "Reasoning marker $((n % 1000))."
case $((n % 4)) in
0|1) echo "Final answer: yes" ;;
2) echo "Final answer: no" ;;
3) echo "I keep going without ever deciding anything at all here." ;;
esac
]]

-- a sample at temperature > 0: yes, no or nothing readable, at random
local SAMPLE = [[#!/bin/sh
cat >/dev/null
n=$(od -An -N1 -tu1 /dev/urandom | tr -d ' ')
case $((n % 3)) in
0) echo "yes" ;;
1) echo "no" ;;
2) echo "hmm, hard to say" ;;
esac
]]

-- free-text answers, and "Yes." to the yes/no questions
local FT = [[#!/bin/sh
p=$(cat)
case "$p" in
*icecream*) echo "Summer heat drives both." ;;
*rooster*) echo "Because roosters are lazy." ;;
*"Answer yes or no"*) echo "Yes." ;;
*) echo "Smoking, I think." ;;
esac
]]

-- the judge: the default rubric's last line GRADE: C|P|I, or no grade
local JUDGE = [[#!/bin/sh
p=$(cat)
case "$p" in
*icecream*) printf 'The response names the common cause.\nGRADE: C\n' ;;
*rooster*) printf 'Half right: <i>lazy</i> is not it.\nGRADE: P\n' ;;
*) printf 'I refuse to grade.\n' ;;
esac
]]

local FREE_TEXT = {
  { id = "ft-1", family = "explain", answer_type = "free_text", prompt = "Why do icecream sales and drownings rise together?",
    reference = "Summer heat drives both." },
  { id = "ft-2", family = "explain", answer_type = "free_text", prompt = "Why does a rooster's crow not cause sunrise?",
    reference = "The crow follows the light." },
  { id = "ft-3", family = "explain", answer_type = "free_text", prompt = "What links yellow fingers and lung cancer?",
    reference = "Smoking causes both." },
}

-- every tag the report's templates write; none may come from a record
local ALLOWED = {}
for t in ("html head meta title style body footer header h1 h2 h3 p b br nav a section div table tr th td span svg " ..
          "line text g rect path circle pre dl dt dd details summary code"):gmatch("%S+") do ALLOWED[t] = true end

-- the page is one file: no script, nothing fetched, unique ids, every link to one of them
local function check_page(page)
  assert.is_nil(page:lower():find("<script", 1, true))
  assert.is_nil(page:find("%ssrc%s*="))
  assert.is_nil(page:find("url(", 1, true))
  assert.matches("default-src 'none'", page, 1, true)
  local ids = {}
  for id in page:gmatch('%sid="([^"]+)"') do
    assert.is_nil(ids[id], "id used twice: " .. id)
    ids[id] = true
  end
  for href in page:gmatch('href="([^"]*)"') do
    assert.matches("^#", href)
    assert.truthy(ids[href:sub(2)], "a link to a missing anchor: " .. href)
  end
  for tag in page:gmatch("<(%a[%w]*)") do assert.truthy(ALLOWED[tag:lower()], "tag " .. tag) end
  return ids
end

-- the data-* attributes of each row of this class, in page order
local function rows(page, class)
  local out = {}
  for attrs in page:gmatch("<tr(%s[^>]*)>") do
    if attrs:find(' class="' .. class .. '"', 1, true) then
      local t = {}
      for k, v in attrs:gmatch('data%-([%w-]+)="([^"]*)"') do t[k] = v end
      out[#out + 1] = t
    end
  end
  return out
end

local function section(page, id)
  return page:match('<section id="' .. id .. '">.-</section>')
end

describe("report and leaderboard of runs in evaluation modes", function()
  local dir, data, env, ids = nil, nil, nil, {}

  local function run(args)
    local r = H.run(H.concat({ "run", "--data", data, "--cache", "off", "--quiet" }, args), { env = env, cwd = dir })
    assert(r.code == 0, r.stderr)
    return assert(r.stderr:match("run (%d+%-%d+%-%x+)"), r.stderr)
  end

  local function report(run_ids, out)
    local r = H.run(H.concat({ "report" }, run_ids, { "--data", data, "-o", out }))
    assert.are.equal(0, r.code, r.stderr)
    return assert(H.read(out))
  end

  local function show(id)
    local r = H.run({ "results", "show", id, "--json", "--data", data })
    assert.are.equal(0, r.code, r.stderr)
    return json.decode(r.stdout)
  end

  local function collect(run_ids, opts)
    local c = require "causal_eval.report.collect"
    local st = assert(results.open(data))
    local runs = assert(c.runs(st, run_ids))
    return c.collect(st, runs, opts), st, runs
  end

  setup(function()
    dir = H.tmpdir()
    data = dir .. "/data"
    env = { CAUSAL_EVAL_MODEL = false, XDG_CACHE_HOME = dir .. "/cache" }
    for name, text in pairs({ ["cot.sh"] = COT, ["sample.sh"] = SAMPLE, ["ft.sh"] = FT, ["judge.sh"] = JUDGE }) do
      H.write(dir .. "/" .. name, text)
      H.sh("chmod +x " .. H.quote(dir .. "/" .. name))
    end
    local q = dir .. "/q.jsonl"
    local r = H.run({ "generate", "ladder", "--n", "16", "--seed", "4", "-o", q })
    assert(r.code == 0, r.stderr)
    local mixed = dir .. "/mixed.jsonl"
    r = H.run({ "generate", "ladder", "--n", "5", "--seed", "9", "-o", mixed })
    assert(r.code == 0, r.stderr)
    local text = assert(H.read(mixed))
    for _, ft in ipairs(FREE_TEXT) do text = text .. json.encode(ft) .. "\n" end
    H.write(mixed, text)
    ids.cot = run({ "--questions", q, "--model", "command:./cot.sh", "--model", "baseline:random", "--cot" })
    ids.samples = run({ "--questions", q, "--model", "command:./sample.sh", "--model", "baseline:random",
                        "--model", "baseline:always_yes", "--samples", "3", "--temperature", "0.7" })
    ids.judged = run({ "--questions", mixed, "--model", "command:./ft.sh", "--judge", "command:./judge.sh" })
    -- two models: the second one's score lines are read on a thread
    ids.unjudged = run({ "--questions", mixed, "--model", "command:./ft.sh", "--model", "command:" .. dir .. "/ft.sh" })
  end)

  teardown(function() H.rm(dir) end)

  it("names the mode in the headline and every run's in the settings, and not in a default run's headline", function()
    local page = report({ ids.cot }, dir .. "/cot.html")
    check_page(page)
    local header = page:match("<header>.-</header>")
    assert.matches('Mode: <b class="mode-name">zero-shot, chain of thought (1024 tokens)</b>', header, 1, true)
    local settings = section(page, "settings")
    assert.matches("<dt>mode</dt><dd>zero-shot, chain of thought (1024 tokens)</dd>", settings, 1, true)
    assert.matches("<dt>mode.cot_budget</dt><dd>1024</dd>", settings, 1, true)

    page = report({ ids.unjudged }, dir .. "/default.html")
    local head = page:match("<header>.-</header>")
    assert.is_nil(head:find('id="mode"', 1, true))
    assert.is_nil(head:find("Mode:", 1, true))
    assert.matches("<dt>mode</dt><dd>zero-shot, the benchmark&#39;s prompt, one greedy answer</dd>", section(page, "settings"),
      1, true)

    page = report({ ids.samples }, dir .. "/samples.html")
    assert.matches('Mode: <b class="mode-name">zero-shot, 3 samples at T=0.7, majority vote</b>', page, 1, true)
    assert.matches("<dt>mode.temperature</dt><dd>0.7</dd>", page, 1, true)
    page = report({ ids.judged }, dir .. "/judged.html")
    assert.matches('Mode: <b class="mode-name">zero-shot, judged by command:./judge.sh (rubric default)</b>', page, 1, true)
    assert.matches("<dt>mode.judge</dt><dd>command:./judge.sh</dd>", page, 1, true)
  end)

  it("warns when the runs of one report were asked in different modes, and names each model's", function()
    local page = report({ ids.cot, ids.samples }, dir .. "/both.html")
    check_page(page)
    local header = page:match("<header>.-</header>")
    assert.matches("The runs were asked in different evaluation modes", header, 1, true)
    assert.matches(("run <b>%s</b>: <span class=\"mode-name\">zero-shot, chain of thought (1024 tokens)</span>"):format(ids.cot),
      header, 1, true)
    assert.matches(("run <b>%s</b>: <span class=\"mode-name\">zero-shot, 3 samples at T=0.7, majority vote</span>"):format(
      ids.samples), header, 1, true)
    local _, cells = section(page, "summary"):gsub('<td class="mode%-name">', "")
    assert.are.equal(5, cells)
    -- a run with a judge and one without: their free-text answers were graded differently
    page = report({ ids.judged, ids.unjudged }, dir .. "/two.html")
    assert.matches("The runs were asked in different evaluation modes", page, 1, true)
    page = report({ ids.cot }, dir .. "/one.html")
    assert.is_nil(page:find("different evaluation modes", 1, true))
  end)

  it("shows a chain of thought's reasoning apart from its final answer", function()
    local d, st = collect({ ids.cot })
    st:close()
    local by = {}
    for _, rec in ipairs(H.records(data, ids.cot)) do by[rec.model .. "/" .. rec.question_id] = rec end
    local seen_final, seen_none = 0, 0
    for _, h in ipairs(d.hardest) do
      for _, a in ipairs(h.answers) do
        if d.models[a.index].model == "command:./cot.sh" then
          local rec = by["command:./cot.sh/" .. h.qid]
          assert.truthy(rec.reasoning, h.qid)
          assert.are.equal(rec.reasoning, a.reasoning.text)
          assert.matches("Reasoning marker", a.reasoning.text, 1, true)
          if rec.unparseable then
            assert.is_nil(a.final)
            seen_none = seen_none + 1
          else
            assert.are.equal("Final answer: " .. rec.parsed, a.final.text)
            seen_final = seen_final + 1
          end
          assert.is_nil(a.response) -- the reply is its two parts
        end
      end
    end
    assert.truthy(seen_final > 0 and seen_none > 0, ("finals %d, none %d"):format(seen_final, seen_none))
    local m = d.models[1]
    assert.truthy(m.unparseable > 0)
    for _, u in ipairs(m.unparseable_shown) do
      assert.matches("I keep going without ever deciding", u.reasoning.text, 1, true)
      assert.is_nil(u.final)
    end
    local page = H.read(dir .. "/cot.html") or report({ ids.cot }, dir .. "/cot.html")
    check_page(page)
    -- escaped, folded, and the final answer in a block of its own
    assert.matches('<details class="reasoning"><summary>reasoning (', page, 1, true)
    assert.matches("Step one: the &lt;b&gt;graph&lt;/b&gt; &amp; its paths.", page, 1, true)
    assert.matches('<span class="label">final answer</span><pre class="final">Final answer: ', page, 1, true)
    -- an answer that is all reasoning is shown unfolded
    local unparseable = page:match('<h3 id="unparseable">.-<h3 id="failures">')
    assert.matches('<details class="reasoning" open>', unparseable, 1, true)
    assert.matches("no final answer after the reasoning", unparseable, 1, true)
  end)

  it("shows the repeated samples' figures as `results show --json` gives them, clustered beside naive", function()
    local shown = show(ids.samples)
    local page = report({ ids.samples }, dir .. "/samples.html")
    check_page(page)
    local sec = assert(section(page, "samples"))
    assert.matches("accounts for samples clustered within a question", sec, 1, true)
    assert.matches('<a href="#samples">Repeated samples</a>', page, 1, true)
    local got = rows(sec, "samples-row")
    assert.are.equal(3, #got)
    local mixed = 0
    for i, m in ipairs(shown.models) do
      local s, r = m.samples, got[i]
      assert.truthy(s, m.model)
      assert.are.equal(m.model, r.model)
      assert.are.same({ s.questions, s.samples, 3, s.accuracy, s.ci[1], s.ci[2], s.naive.accuracy, s.naive.ci[1],
                        s.naive.ci[2], s.majority.accuracy, s.majority.ci[1], s.majority.ci[2], s.agreement,
                        s.design_effect, s.spread.sd, s.spread.mixed, s.spread.disagree, 0.7 },
        { tonumber(r.questions), tonumber(r.samples), tonumber(r.k), tonumber(r.accuracy), tonumber(r.lo), tonumber(r.hi),
          tonumber(r["naive-accuracy"]), tonumber(r["naive-lo"]), tonumber(r["naive-hi"]), tonumber(r.majority),
          tonumber(r["majority-lo"]), tonumber(r["majority-hi"]), tonumber(r.agreement), tonumber(r["design-effect"]),
          tonumber(r.sd), tonumber(r.mixed), tonumber(r.disagree), tonumber(r.temperature) })
      local pk = s.pass_at[#s.pass_at]
      assert.are.equal(3, pk.k)
      assert.are.same({ 3, pk.value, pk.ci[1], pk.ci[2] },
        { tonumber(r["pass-k"]), tonumber(r.pass), tonumber(r["pass-lo"]), tonumber(r["pass-hi"]) })
      -- majority vote is the headline's accuracy
      assert.are.equal(m.accuracy, s.majority.accuracy)
      if s.spread.mixed > 0 then mixed = mixed + 1 end
    end
    -- the random samples split some question's samples: the clustered interval is not the naive one
    assert.truthy(mixed > 0)
    assert.are_not.same(shown.models[1].samples.ci, shown.models[1].samples.naive.ci)
    -- the chart draws both intervals of each model
    local _, dots = sec:gsub('class="samples%-ci"', "")
    assert.are.equal(6, dots)
  end)

  it("shows each sample's answer where the report shows answers", function()
    local d, st = collect({ ids.samples })
    st:close()
    local recs = H.records(data, ids.samples)
    local by = {}
    for _, rec in ipairs(recs) do by[rec.model .. "/" .. rec.question_id] = rec end
    local checked = 0
    for _, h in ipairs(d.hardest) do
      for _, a in ipairs(h.answers) do
        local rec = by[d.models[a.index].model .. "/" .. h.qid]
        assert.are.equal(3, a.n_samples)
        assert.are.equal(3, #a.samples)
        for i, sm in ipairs(rec.samples) do
          assert.are.equal(sm.parsed, a.samples[i].parsed)
          assert.are.equal(sm.correct == true, a.samples[i].correct)
        end
        assert.are.equal(rec.samples[1].response, a.samples[1].response.text)
        assert.are.equal(rec.agreement, a.agreement)
        checked = checked + 1
      end
    end
    assert.truthy(checked > 0)
    local page = H.read(dir .. "/samples.html")
    assert.matches('<p class="samples%-line">3 samples: <span class="sample %a+" title="sample 1">', page)
  end)

  it("reads the same on threads as without them", function()
    for _, id in ipairs({ ids.samples, ids.unjudged }) do
      local d, st, runs = collect({ id })
      -- the store's reads alone: no id, so nothing is read on a thread
      local here = require("causal_eval.report.collect").collect(setmetatable({}, { __index = function(_, k)
        if k == "scan" or k == "get" then return function(_, ...) return st[k](st, ...) end end
      end }), runs)
      st:close()
      assert.are.equal(0, here.on_threads.scores)
      assert.are.equal(#d.models // 2, d.on_threads.scores)
      d.timings, d.on_threads, here.timings, here.on_threads = nil, nil, nil, nil
      assert.are.same(d, here)
    end
  end)

  it("puts judged answers in a table of their own and in no accuracy, chart or pair", function()
    local shown = show(ids.judged)
    local m = shown.models[1]
    -- the five yes/no questions only
    assert.are.equal(5, m.n)
    assert.are.same({ n = 3, graded = 2, errors = 1, mean_score = 0.75, model = "command:./judge.sh" }, m.judged)
    local d, st, runs = collect({ ids.judged })
    local sums = assert(results.summarize(st, runs[1]))
    st:close()
    local dm = d.models[1]
    for _, k in ipairs({ "n", "scored", "correct", "accuracy", "unparseable", "errors", "invalid" }) do
      assert.are.equal(sums[1][k], dm[k], k)
    end
    assert.are.same(sums[1].ci, dm.ci)
    assert.are.same(sums[1].tokens, dm.tokens)
    assert.are.same(m.judged, dm.judged)
    assert.is_nil(dm.by_family.explain)
    assert.are.equal(5, d.questions)
    assert.are.equal(8, d.records)
    for _, h in ipairs(d.hardest) do assert.is_nil(h.qid:find("^ft%-")) end
    assert.are.equal(3, #dm.judged_shown)

    local page = report({ ids.judged }, dir .. "/judged.html")
    check_page(page)
    local sec = assert(section(page, "judged"))
    assert.matches("<h2>Model-graded answers</h2>", sec, 1, true)
    local got = rows(sec, "judged-row")
    assert.are.equal(1, #got)
    assert.are.same({ "command:./ft.sh", "command:./judge.sh", 3, 2, 0.75, 1 },
      { got[1].model, got[1].judge, tonumber(got[1].n), tonumber(got[1].graded), tonumber(got[1]["mean-score"]),
        tonumber(got[1].errors) })
    assert.matches("Half right: &lt;i&gt;lazy&lt;/i&gt; is not it.", sec, 1, true)
    assert.matches('<span class="badge partial">P</span> 0.50', sec, 1, true)
    assert.matches("judge command:./judge.sh: no grade found", sec, 1, true)
    -- nowhere else: not in the headline, the charts, the errors or the hardest questions
    local rest = page:gsub('<section id="judged">.-</section>', "")
    assert.is_nil(rest:find("ft-1", 1, true))
    assert.is_nil(rest:find('data-key="explain"', 1, true))
    local head = rows(section(page, "summary"), "headline-row")
    assert.are.same({ 5, m.correct, m.accuracy }, { tonumber(head[1].n), tonumber(head[1].correct), tonumber(head[1].accuracy) })
    assert.are.equal("0", head[1].errors)
  end)

  it("says when free-text answers were not graded", function()
    local shown = show(ids.unjudged)
    local page = report({ ids.unjudged }, dir .. "/unjudged.html")
    local sec = assert(section(page, "judged"))
    assert.matches("none: the run had no --judge", sec, 1, true)
    assert.matches('<span class="badge unparseable">not graded</span>', sec, 1, true)
    local got = rows(sec, "judged-row")
    assert.are.equal(2, #got)
    for i, m in ipairs(shown.models) do
      assert.are.equal(5, m.n)
      assert.are.same({ 3, 0, 0 }, { m.judged.n, m.judged.graded, m.judged.errors })
      assert.are.same({ m.model, 3, 0, 0, "" }, { got[i].model, tonumber(got[i].n), tonumber(got[i].graded),
                                                  tonumber(got[i].errors), got[i]["mean-score"] })
    end
  end)

  it("has no samples or judged section for runs that store none", function()
    local page = report({ ids.cot }, dir .. "/cot.html")
    assert.is_nil(section(page, "samples"))
    assert.is_nil(section(page, "judged"))
    local secs = {}
    for id in page:gmatch('<section id="([^"]+)"') do secs[#secs + 1] = id end
    assert.are.same({ "summary", "accuracy", "differences", "latency", "cost", "errors", "settings" }, secs)
  end)

  describe("leaderboard", function()
    local function lb(args)
      return H.run(H.concat({ "leaderboard", "--data", data, "--min-shared", "3" }, args))
    end
    local SAMPLES = "zero-shot, 3 samples at T=0.7, majority vote"
    local COT_MODE = "zero-shot, chain of thought (1024 tokens)"

    it("ranks one mode's runs, names it, and lists the others apart", function()
      local r = lb({ "--json" })
      assert.are.equal(0, r.code, r.stderr)
      local out = json.decode(r.stdout)
      -- the samples mode has the most models: three (the others two)
      assert.are.equal(SAMPLES, out.mode)
      assert.are.equal(3, #out.models)
      local names = {}
      for _, om in ipairs(out.other_modes) do names[om.mode] = om end
      assert.are.same({ "baseline:random", "command:./cot.sh" }, names[COT_MODE].models)
      local default = names[mode_lib.describe(nil)]
      assert.are.same({ "command:./ft.sh", "command:" .. dir .. "/ft.sh" }, default.models)
      assert.are.equal(2, default.runs)
      assert.matches("warning: runs of 2 other evaluation modes are not ranked with mode '" .. SAMPLES, r.stderr, 1, true)

      r = lb({})
      assert.are.equal(0, r.code, r.stderr)
      assert.matches("^leaderboard: 3 models ranked on 16 shared questions %(all runs; 1 run%)\nmode: " .. SAMPLES:gsub("%p", "%%%0")
        .. "\n", r.stdout)
      assert.matches("warning: runs of 2 other evaluation modes are not ranked with these", r.stdout, 1, true)
      assert.matches("\n  " .. COT_MODE .. ": 1 run, 2 models (baseline:random, command:./cot.sh)\n", r.stdout, 1, true)
    end)

    it("ranks the mode asked for; a judged run is ranked with the default mode, without its free-text answers", function()
      local r = lb({ "--mode", COT_MODE, "--json" })
      assert.are.equal(0, r.code, r.stderr)
      local out = json.decode(r.stdout)
      assert.are.equal(COT_MODE, out.mode)
      assert.are.equal(16, out.shared_questions)
      r = lb({ "--mode", "default", "--json" })
      assert.are.equal(0, r.code, r.stderr)
      out = json.decode(r.stdout)
      assert.are.equal(mode_lib.describe(nil), out.mode)
      assert.are.equal(2, #out.models)
      local by = {}
      for _, m in ipairs(out.models) do by[m.model] = m end
      -- the yes/no questions; ft-1..3 are not answers to rank
      assert.are.equal(5, by["command:./ft.sh"].answered)
      assert.are.equal(5, by["command:" .. dir .. "/ft.sh"].answered)
      assert.are.equal(2, by["command:./ft.sh"].runs)
      r = lb({ "--mode", "5-shot" })
      assert.are.equal(1, r.code)
      assert.matches("no run of mode '5-shot' has answers here; the modes of these runs: '" .. SAMPLES, r.stderr, 1, true)
    end)

    it("names the mode and the others on its page", function()
      local r = lb({ "-o", dir .. "/lb.html" })
      assert.are.equal(0, r.code, r.stderr)
      local page = assert(H.read(dir .. "/lb.html"))
      check_page(page)
      assert.matches('Mode: <b class="mode-name">' .. SAMPLES .. "</b>", page, 1, true)
      local sec = assert(section(page, "other%-modes"))
      assert.matches('data-mode="' .. COT_MODE .. '"', sec, 1, true)
      assert.matches("baseline:random, command:./cot.sh", sec, 1, true)
    end)
  end)
end)
