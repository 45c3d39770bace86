-- SPDX-License-Identifier: MIT
-- `causal-eval report` on a real run of three models: one behind the mock
-- model server (tokens, a price, failed requests), a local command that
-- answers in markup, refuses to answer and fails, and a baseline. The
-- report's figures against results.summarize and the records themselves,
-- the page's escaping and links, its samples, and the command's options
-- and errors.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local results = require "causal_eval.results"

-- answers by a hash of the prompt: yes, no, markup, a failure, a number in markup
local EVIL = [[#!/bin/sh
n=$(cksum | cut -d' ' -f1)
case $((n % 5)) in
0) echo "Yes." ;;
1) echo "No." ;;
2) printf '<script>alert("x")</script> & <b>maybe</b> '"'"'q'"'"'\n' ;;
3) echo "boom <i>oops</i>" >&2; exit 3 ;;
4) echo 'I would say 42 </pre><h1>x</h1>' ;;
esac
]]

describe("causal-eval report", function()
  local dir, data, run_id, mock, env

  setup(function()
    dir = H.tmpdir()
    data = dir .. "/data"
    local q = dir .. "/q.jsonl"
    local r = H.run({ "generate", "all", "--n", "6", "--seed", "5", "-o", q })
    assert(r.code == 0, r.stderr)
    H.write(dir .. "/evil.sh", EVIL)
    H.sh("chmod +x " .. H.quote(dir .. "/evil.sh"))
    mock = H.mock({ "--questions", q, "--accuracy", "0.7", "--fault-500", "0.15", "--seed", "1" })
    H.write(dir .. "/models.yaml", ([[
models:
  mocked:
    adapter: openai
    model: mock-model
    base_url: %s
    max_attempts: 1
    price: { input: 1.5, output: 6 }
  evil:
    adapter: command
    command: %s
]]):format(mock.url, dir .. "/evil.sh"))
    env = { CAUSAL_EVAL_MODELS = dir .. "/models.yaml", XDG_CACHE_HOME = dir .. "/cache" }
    r = H.run({ "run", "--questions", q, "--model", "mocked", "--model", "evil", "--model", "baseline:random",
                "--data", data, "--cache", "off", "--quiet" }, { env = env })
    mock:stop()
    assert(r.code == 0, r.stderr)
    run_id = r.stderr:match("run (%d+%-%d+%-%x+)")
    assert(run_id, r.stderr)
  end)

  teardown(function()
    if mock then mock:stop() end
    H.rm(dir)
  end)

  local function collect(ids, opts)
    local collect_ = require "causal_eval.report.collect"
    local st = assert(results.open(data))
    local runs = assert(collect_.runs(st, ids))
    local d = collect_.collect(st, runs, opts)
    return d, st, runs
  end

  it("counts as results.summarize does: accuracies, intervals, latencies, tokens, groups and pairs", function()
    local d, st, runs = collect({ run_id })
    local sums, comps = assert(results.summarize(st, runs[1]))
    st:close()
    assert.are.equal(3, #d.models)
    for i, s in ipairs(sums) do
      local m = d.models[i]
      for _, k in ipairs({ "model", "n", "scored", "correct", "accuracy", "unparseable", "unparseable_rate", "errors",
                           "invalid", "cached" }) do
        assert.are.equal(s[k], m[k], s.model .. " " .. k)
      end
      assert.are.same(s.ci, m.ci)
      assert.are.same(s.error_classes, m.error_classes)
      assert.are.same(s.tokens, m.tokens)
      for _, k in ipairs({ "mean", "p50", "p95", "p99" }) do assert.are.equal(s.latency_ms[k], m.latency_ms[k], k) end
      for _, g in ipairs({ "by_family", "by_difficulty", "by_rung" }) do
        for key, v in pairs(s[g]) do
          assert.are.same({ v.n, v.accuracy, v.ci[1], v.ci[2] },
            { m[g][key].n, m[g][key].accuracy, m[g][key].ci[1], m[g][key].ci[2] }, g .. " " .. key)
        end
        local n1, n2 = 0, 0
        for _ in pairs(s[g]) do n1 = n1 + 1 end
        for _ in pairs(m[g]) do n2 = n2 + 1 end
        assert.are.equal(n1, n2, g)
      end
    end
    -- the mix this run was made for
    assert.truthy(d.models[1].errors > 0 and d.models[1].error_classes.server == d.models[1].errors)
    assert.truthy(d.models[2].unparseable > 0 and d.models[2].error_classes.command > 0)
    assert.truthy(d.models[1].tokens.input > 0)
    assert.are.equal(3, #comps)
    for i, c in ipairs(comps) do
      local r = d.comparisons[i]
      assert.are.same({ c.a, c.b, c.n, c.diff, c.ci[1], c.ci[2], c.p_mcnemar, c.p_holm },
                      { r.a, r.b, r.n, r.diff, r.ci[1], r.ci[2], r.p_mcnemar, r.p_holm })
    end
  end)

  it("gives intervals to the largest differences only, past max_intervals pairs, and p-values to all", function()
    local d, st, runs = collect({ run_id }, { max_intervals = 1 })
    local _, comps = assert(results.summarize(st, runs[1]))
    st:close()
    local largest, with_ci = 1, 0
    for i, c in ipairs(comps) do
      if math.abs(c.diff) > math.abs(comps[largest].diff) then largest = i end
    end
    for i, c in ipairs(comps) do
      local r = d.comparisons[i]
      assert.are.same({ c.a, c.b, c.n, c.p_mcnemar, c.p_holm }, { r.a, r.b, r.n, r.p_mcnemar, r.p_holm })
      assert.truthy(math.abs(c.diff - r.diff) < 1e-12)
      if r.ci then
        with_ci = with_ci + 1
        assert.are.equal(largest, i)
        assert.are.same(c.ci, r.ci)
      end
    end
    assert.are.equal(1, with_ci)
  end)

  it("reads the same on threads as without them (a store that cannot be shared)", function()
    local d, st, runs = collect({ run_id })
    -- the store's reads alone: no id, so nothing is attached on a thread
    local bare = setmetatable({}, { __index = function(_, k)
      if k == "scan" or k == "get" then return function(_, ...) return st[k](st, ...) end end
    end })
    local here = require("causal_eval.report.collect").collect(bare, runs)
    st:close()
    assert.are.same({ questions = true, scores = 1 }, d.on_threads)
    assert.are.same({ questions = false, scores = 0 }, here.on_threads)
    local function strip(x)
      x.timings, x.on_threads = nil, nil
      return x
    end
    assert.are.same(strip(d), strip(here))
  end)

  it("reads domains, confusion and cost from the records as they are stored", function()
    local d = collect({ run_id })
    local recs = H.records(data, run_id)
    local by_model = {}
    for i, m in ipairs(d.models) do by_model[m.model] = i end
    local dom, conf, other = {}, {}, {}
    for _, rec in ipairs(recs) do
      local i = by_model[rec.model]
      if not (rec.error and rec.error.class == "bad_question") then
        dom[i] = dom[i] or {}
        local g = dom[i][rec.domain] or { n = 0, correct = 0 }
        dom[i][rec.domain] = g
        g.n = g.n + 1
        if rec.correct then g.correct = g.correct + 1 end
        if rec.answer_type == "yes_no" then
          conf[i] = conf[i] or {}
          local f = conf[i][rec.family] or { yes = { yes = 0, no = 0, other = 0 }, no = { yes = 0, no = 0, other = 0 } }
          conf[i][rec.family] = f
          local ans = (rec.parsed == "yes" or rec.parsed == "no") and rec.parsed or "other"
          f[rec.ground_truth][ans] = f[rec.ground_truth][ans] + 1
        else
          other[i] = (other[i] or 0) + 1
        end
      end
    end
    for i, m in ipairs(d.models) do
      for k, g in pairs(dom[i]) do
        assert.are.equal(g.n, m.by_domain[k].n, m.model .. " " .. k)
        assert.are.equal(g.correct / g.n, m.by_domain[k].accuracy)
        local lo, hi = results.wilson(g.correct, g.n)
        assert.are.same({ lo, hi }, m.by_domain[k].ci)
      end
      assert.are.same(conf[i], m.confusion, m.model)
      local n = 0
      for _, f in pairs(m.other_types) do n = n + f.right + f.wrong + f.other end
      assert.are.equal(other[i], n)
    end
    -- cost at the models file's price; none without one
    local m = d.models[1]
    assert.are.same({ input = 1.5, output = 6 }, m.price)
    assert.are.equal((m.tokens.input * 1.5 + m.tokens.output * 6) / 1e6, m.cost_usd)
    assert.is_nil(d.models[3].cost_usd)
  end)

  it("writes one page with no script, nothing to fetch, every record's text escaped and every link inside it", function()
    local out = dir .. "/r.html"
    local r = H.run({ "report", run_id, "--data", data, "-o", out })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("^wrote " .. out:gsub("%p", "%%%0") .. " %(%d+ KB%): 3 models, 126 answers, run " .. run_id:gsub("%p", "%%%0") .. "\n$", r.stderr)
    local page = assert(H.read(out))
    assert.is_nil(page:lower():find("<script", 1, true))
    assert.is_nil(page:find("<h1>x</h1>", 1, true))
    assert.is_nil(page:find("<i>oops", 1, true))
    assert.matches("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;maybe&lt;/b&gt; &#39;q&#39;", page, 1, true)
    assert.matches("I would say 42 &lt;/pre&gt;&lt;h1&gt;x&lt;/h1&gt;", page, 1, true)
    assert.matches("boom &lt;i&gt;oops&lt;/i&gt;", page, 1, true)
    assert.matches("default-src 'none'", page, 1, true)
    -- nothing is loaded from anywhere; links go to anchors of this page, and each exists
    assert.is_nil(page:find("%ssrc%s*="))
    assert.is_nil(page:find("@import", 1, true))
    assert.is_nil(page:find("url(", 1, true))
    local ids = {}
    for id in page:gmatch('%sid="([^"]+)"') do
      assert.is_nil(ids[id], "id used twice: " .. id)
      ids[id] = true
    end
    local links = 0
    for href in page:gmatch('href="([^"]*)"') do
      assert.matches("^#", href)
      assert.truthy(ids[href:sub(2)], "a link to a missing anchor: " .. href)
      links = links + 1
    end
    assert.truthy(links > 50, links .. " links")
    for _, sec in ipairs({ "summary", "accuracy", "by-family", "by-difficulty", "by-rung", "by-domain", "differences",
                           "latency", "cost", "errors", "confusion", "unparseable", "failures", "hardest", "settings" }) do
      assert.truthy(ids[sec], sec)
    end
    -- every tag of the page is one the templates write: none came from a record
    local allowed = {}
    for t in ("html head meta title style body footer header h1 h2 h3 p b nav a section div table tr th td span svg " ..
              "line text g rect path circle pre dl dt dd"):gmatch("%S+") do allowed[t] = true end
    for tag in page:gmatch("<(%a[%w]*)") do assert.truthy(allowed[tag:lower()], "tag " .. tag) end
  end)

  it("samples the large sections and says how many there are", function()
    local out = dir .. "/s.html"
    local r = H.run({ "report", "last", "--data", data, "-o", out, "--samples", "2", "--hardest", "3" })
    assert.are.equal(0, r.code, r.stderr)
    local page = H.read(out)
    local d = collect({ run_id })
    local n = d.models[2].unparseable
    assert.matches(("evil</b>: %d answers the rules could not read; 2 shown"):format(n), page, 1, true)
    local _, cards = page:gsub('<div class="card" id="q%-', "")
    assert.are.equal(3, cards)
    local _, rows = page:gsub("<table class=\"answers\">", "")
    assert.truthy(rows >= 3)
    assert.matches(("%d questions were answered wrongly by at least one model"):format(d.hardest_total), page, 1, true)
    -- the hardest first: every model wrong
    assert.are.equal(3, d.hardest[1].wrong)
    assert.are.equal(3, d.hardest[1].answered)
    -- with many models the samples per model shrink to stay within the totals
    d = collect({ run_id }, { unparseable_total = 3, failures_total = 4 })
    assert.are.equal(1, #d.models[2].unparseable_shown)
    assert.are.equal(2, #d.models[2].failures_shown)
    assert.are.equal(2, #d.models[1].failures_shown)
  end)

  it("reports several runs on one page, a model in both named with its run", function()
    local r = H.run({ "run", "--bench", "ladder", "--n", "6", "--seed", "5", "--model", "baseline:random", "--data", data,
                      "--quiet" }, { env = env })
    assert.are.equal(0, r.code, r.stderr)
    local second = r.stderr:match("run (%d+%-%d+%-%x+)")
    local d = collect({ run_id, second, "last" })
    assert.are.equal(2, #d.runs)
    assert.are.equal(4, #d.models)
    assert.are.equal("baseline:random @ " .. run_id, d.models[3].label)
    assert.are.equal("baseline:random @ " .. second, d.models[4].label)
    assert.are.equal(6, #d.comparisons)
    r = H.run({ "report", run_id, second, "--data", data, "-o", "-" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("^<!DOCTYPE html>", r.stdout)
    assert.matches("2 runs: <b>" .. run_id, r.stdout, 1, true)
    assert.are.equal("", r.stderr)
  end)

  it("takes templates from a file, and says which file or template is at fault", function()
    H.write(dir .. "/mine.lua", [[
return {
  summary = '<section id="summary"><h2>Mine</h2>{% for i, m in ipairs(d.models) do %}<p class="mine">{{ m.model }}: {{ shout(pct(m.accuracy)) }}</p>{% end %}</section>',
  helpers = { shout = function(s) return s .. "!" end },
}]])
    local out = dir .. "/t.html"
    local r = H.run({ "report", run_id, "--data", data, "-o", out, "--template", dir .. "/mine.lua" })
    assert.are.equal(0, r.code, r.stderr)
    local d = collect({ run_id })
    assert.matches(('<p class="mine">mocked: %.1f%%!</p>'):format(d.models[1].accuracy * 100), H.read(out), 1, true)
    H.write(dir .. "/bad.lua", [[return { latency = "<p>\n{{ d.models[1].nope.x }}</p>" }]])
    r = H.run({ "report", run_id, "--data", data, "-o", dir .. "/bad.html", "--template", dir .. "/bad.lua" })
    assert.are.equal(1, r.code)
    assert.matches("^causal%-eval report: template 'latency':2: attempt to index a nil value", r.stderr)
    assert.is_nil(H.read(dir .. "/bad.html"))
    assert.is_nil(H.read(dir .. "/bad.html.tmp"))
    r = H.run({ "report", run_id, "--data", data, "--template", dir .. "/none.lua" })
    assert.are.equal(1, r.code)
    assert.matches("template file " .. dir .. "/none.lua: cannot open", r.stderr, 1, true)
  end)

  it("opens the page with $BROWSER", function()
    local seen = dir .. "/browser.args"
    -- written aside and renamed: the spec may look while the script writes
    H.write(dir .. "/browser.sh", "#!/bin/sh\nprintf '%s\\n' \"$@\" > " .. H.quote(seen .. ".tmp") .. " && mv " ..
      H.quote(seen .. ".tmp") .. " " .. H.quote(seen) .. "\n")
    H.sh("chmod +x " .. H.quote(dir .. "/browser.sh"))
    local r = H.run({ "report", run_id, "--data", data, "-o", "o.html", "--open" },
      { cwd = dir, env = { BROWSER = dir .. "/browser.sh" } })
    assert.are.equal(0, r.code, r.stderr)
    local deadline = require("causal_eval.host").clock() + 10
    while not H.read(seen) and require("causal_eval.host").clock() < deadline do require("causal_eval.host").sleep(0.02) end
    assert.are.equal(dir .. "/o.html\n", H.read(seen))
    r = H.run({ "report", run_id, "--data", data, "-o", "-", "--open" })
    assert.are.equal(2, r.code)
    assert.matches("--open needs a file", r.stderr, 1, true)
  end)

  it("makes a page of a run that stored no answer", function()
    local empty = dir .. "/no-answers"
    local st = assert(results.open(empty, { map_size_mb = 16, sync = false }))
    results.put_run(st, { id = "20260101-000000-000000", status = "failed", message = "the <model> was unreachable",
                          models = { "a", "b" }, created = 0 })
    st:close()
    local r = H.run({ "report", "last", "--data", empty, "-o", "-" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("No latencies were recorded", r.stdout, 1, true)
    assert.matches("No question was answered wrongly", r.stdout, 1, true)
    assert.matches("the &lt;model&gt; was unreachable", r.stdout, 1, true)
    assert.matches('data-n="0"', r.stdout, 1, true)
  end)

  it("says what is wrong with a run, a store or an option", function()
    local r = H.run({ "report", "nope", "--data", data, "-o", dir .. "/x.html" })
    assert.are.equal(1, r.code)
    assert.are.equal("causal-eval report: no run 'nope' in this store\n", r.stderr)
    -- in the spec's folder: a report that was written by mistake lands there
    r = H.run({ "report", "last", "--data", dir .. "/empty" }, { cwd = dir })
    assert.are.equal(1, r.code)
    assert.matches("no results store in " .. dir .. "/empty", r.stderr, 1, true)
    r = H.run({ "report", "--data", data })
    assert.are.equal(2, r.code)
    r = H.run({ "report", "last", "--data", data, "--hardest", "-1" }, { cwd = dir })
    assert.are.equal(2, r.code)
    assert.matches("--hardest must be >= 0", r.stderr, 1, true)
    r = H.run({ "report", "last", "--data", data, "-o", dir .. "/no/such/dir/r.html" })
    assert.are.equal(1, r.code)
    assert.matches("cannot write " .. dir .. "/no/such/dir/r.html", r.stderr, 1, true)
  end)
end)
