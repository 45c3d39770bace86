-- SPDX-License-Identifier: MIT
-- `causal-eval leaderboard` on stores written through causal_eval.results:
-- ranks and groups against McNemar and Holm computed here, the newest
-- answer winning, models left out for too few shared questions, --days,
-- --bench, --json and the HTML page.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local results = require "causal_eval.results"
local stats = require "causal_eval.stats"

local NOW = os.time()

-- A run stored as `causal-eval run` stores it: its table and a score line
-- per answer. answers: model -> list of { qid, family, correct [, class] }.
local function put_run(st, id, created, answers)
  local models = {}
  for m in pairs(answers) do models[#models + 1] = m end
  table.sort(models)
  results.put_run(st, { id = id, created = created, status = "completed", models = models, benchmarks = { "x" } })
  for m, list in pairs(answers) do
    for _, a in ipairs(list) do
      local rec = { family = a[2], correct = a[3], day = os.date("!%Y-%m-%d", created) }
      if a[4] then rec.error, rec.correct = { class = a[4] }, nil end
      assert(st:put(results.DB.scores, results.key(id, m, a[1]), results.score_line(rec)))
    end
  end
end

-- n questions q001.. of a family, right where right(i) says
local function answers(n, right, family, prefix)
  local out = {}
  for i = 1, n do out[i] = { ("%s%03d"):format(prefix or "q", i), family or "ladder", right(i) } end
  return out
end

local function lb(data, args)
  local r = H.run(H.concat({ "leaderboard", "--data", data }, args or {}))
  return r, r.code == 0 and (args and args[#args] == "--json") and json.decode(r.stdout) or nil
end

describe("causal-eval leaderboard", function()
  local dir

  setup(function()
    dir = H.tmpdir()
    local st = assert(results.open(dir .. "/a", { map_size_mb = 64, sync = false }))
    -- accuracies 80%, 78%, 60%, 58% on the same 300 questions, errors
    -- spread so that the close pairs are tied and the far pairs are not
    put_run(st, "20260101-000000-aaaaaa", NOW - 3 * 86400, {
      alpha = answers(300, function(i) return i % 5 ~= 0 end),
      beta = answers(300, function(i) return i % 5 ~= 1 and i % 50 ~= 2 end),
      gamma = answers(300, function(i) return i % 5 < 3 end),
      delta = answers(300, function(i) return i % 5 >= 2 and i % 50 ~= 3 end),
    })
    -- a model asked only 10 of them
    put_run(st, "20260102-000000-bbbbbb", NOW - 2 * 86400, { tiny = answers(10, function() return true end) })
    st:close()
  end)
  teardown(function() H.rm(dir) end)

  it("ranks on the shared questions, groups by McNemar and Holm over all pairs, leaves out who shares too few", function()
    local r, out = lb(dir .. "/a", { "--json" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(300, out.shared_questions)
    assert.are.equal(4, #out.models)
    assert.are.same({ "alpha", "beta", "gamma", "delta" }, { out.models[1].model, out.models[2].model, out.models[3].model,
                                                           out.models[4].model })
    assert.are.equal(1, #out.unranked)
    assert.are.equal("tiny", out.unranked[1].model)
    assert.are.equal(10, out.unranked[1].answered)
    -- the same figures computed here
    local vec = {}
    for _, m in ipairs(out.models) do vec[m.model] = {} end
    local rights = {
      alpha = function(i) return i % 5 ~= 0 end,
      beta = function(i) return i % 5 ~= 1 and i % 50 ~= 2 end,
      gamma = function(i) return i % 5 < 3 end,
      delta = function(i) return i % 5 >= 2 and i % 50 ~= 3 end,
    }
    for name, f in pairs(rights) do for i = 1, 300 do vec[name][i] = f(i) and 1 or 0 end end
    local order = { "alpha", "beta", "gamma", "delta" }
    local ps, idx = {}, {}
    for i = 1, 4 do
      for j = i + 1, 4 do
        ps[#ps + 1] = stats.mcnemar(vec[order[j]], vec[order[i]]).p
        idx[order[i] .. "/" .. order[j]] = #ps
      end
    end
    local holm = stats.holm(ps)
    local function p(a, b) return holm[idx[a .. "/" .. b]] end
    -- the data were made for two groups of two
    assert.truthy(p("alpha", "beta") >= 0.05, p("alpha", "beta"))
    assert.truthy(p("alpha", "gamma") < 0.05 and p("alpha", "delta") < 0.05)
    assert.truthy(p("gamma", "delta") >= 0.05, p("gamma", "delta"))
    local want_group = { alpha = 1, beta = 1, gamma = 2, delta = 2 }
    for k, m in ipairs(out.models) do
      local c = 0
      for i = 1, 300 do c = c + vec[m.model][i] end
      assert.are.equal(c, m.correct)
      assert.are.equal(c / 300, m.accuracy)
      assert.are.same({ results.wilson(c, 300) }, m.ci)
      assert.are.equal(k, m.rank)
      assert.are.equal(want_group[m.model], m.group, m.model)
      assert.are.equal(m.group == 1 and "alpha" or "gamma", m.leader)
    end
    assert.are.equal(p("alpha", "beta"), out.models[2].p_holm_leader)
    assert.are.equal(p("gamma", "delta"), out.models[4].p_holm_leader)
    assert.truthy(math.abs((out.models[2].correct - out.models[1].correct) / 300 - out.models[2].diff_leader) < 1e-12)
    assert.are.equal(6, out.pairs)
    -- best rank: gamma and delta are each significantly below alpha and beta
    assert.are.same({ 1, 1, 3, 3 }, { out.models[1].rank_best, out.models[2].rank_best, out.models[3].rank_best,
                                      out.models[4].rank_best })
  end)

  it("ranks a model that shares enough once the threshold allows, on the questions all share", function()
    local _, out = lb(dir .. "/a", { "--min-shared", "10", "--json" })
    assert.are.equal(10, out.shared_questions)
    assert.are.equal(5, #out.models)
    assert.are.equal(0, #out.unranked)
    assert.are.equal("tiny", out.models[1].model)
    assert.are.equal(1, out.models[1].accuracy)
    -- accuracy on all of a model's questions stays beside it
    assert.are.equal(240 / 300, out.models[2].accuracy_all)
  end)

  it("prints a table, and writes a page with the report's templates", function()
    local r = lb(dir .. "/a", { "-o", dir .. "/lb.html" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("^leaderboard: 4 models ranked on 300 shared questions %(all runs; 2 runs%)\n", r.stdout)
    assert.matches("\n%s+1%s+1%s+alpha%s+80%.0%%%s+%[", r.stdout)
    assert.matches("\n%s+3%s+2%s+gamma%s+60%.0%%%s+%[%d+%.%d%%, %d+%.%d%%%]%s+leader", r.stdout)
    assert.matches("not ranked %(left out so that at least 50 questions are shared%):\n  tiny: 10 questions answered, 100%.0%% on them",
      r.stdout)
    assert.are.equal("wrote " .. dir .. "/lb.html: 4 models ranked\n", r.stderr)
    local page = H.read(dir .. "/lb.html")
    assert.matches("default-src 'none'", page, 1, true)
    assert.is_nil(page:lower():find("<script", 1, true))
    local rows = {}
    for model, rank, group in page:gmatch('data%-model="([^"]+)" data%-rank="(%d+)" data%-group="(%d+)"') do
      rows[#rows + 1] = model .. rank .. group
    end
    assert.are.same({ "alpha11", "beta21", "gamma32", "delta42" }, rows)
    assert.matches("tiny", page:match('<section id="unranked">.*</section>'), 1, true)
  end)

  it("takes each model's newest answer, only runs of the last --days, only the family of --bench", function()
    local st = assert(results.open(dir .. "/b", { map_size_mb = 64, sync = false }))
    local wrong = answers(60, function() return false end)
    local right = answers(60, function() return true end)
    -- an old run: m1 all wrong; a newer one: m1 all right, m2 half right; one 40 days ago
    put_run(st, "20260101-000000-cccccc", NOW - 10 * 86400, { m1 = wrong, m2 = wrong })
    put_run(st, "20260102-000000-dddddd", NOW - 86400, { m1 = right, m2 = answers(60, function(i) return i % 2 == 0 end) })
    put_run(st, "20250101-000000-eeeeee", NOW - 40 * 86400, { old = right })
    -- another family, and a question the benchmark could not pose (not counted)
    put_run(st, "20260103-000000-ffffff", NOW - 3600, {
      m1 = H.concat(answers(60, function() return false end, "chain", "c"), { { "bad1", "chain", false, "bad_question" } }),
      m2 = answers(60, function() return true end, "chain", "c"),
    })
    st:close()
    local r, out = lb(dir .. "/b", { "--bench", "ladder", "--json" })
    assert.are.equal(0, r.code, r.stderr)
    assert.are.equal(60, out.shared_questions)
    local by = {}
    for _, m in ipairs(out.models) do by[m.model] = m end
    assert.are.equal(1, by.m1.accuracy)
    assert.are.equal(0.5, by.m2.accuracy)
    assert.are.equal(1, by.old.accuracy)
    assert.are.equal(2, by.m1.runs)
    _, out = lb(dir .. "/b", { "--bench", "ladder", "--days", "30", "--json" })
    assert.is_nil(({ [out.models[1].model] = 1, [out.models[2].model] = 1 }).old)
    assert.are.equal(2, #out.models)
    _, out = lb(dir .. "/b", { "--bench", "chain", "--json" })
    assert.are.equal(60, out.shared_questions)
    assert.are.equal("m2", out.models[1].model)
    assert.are.equal(0, out.models[2].accuracy)
    assert.are.equal(60, out.models[2].answered) -- bad1 is not an answer
    r = lb(dir .. "/b", { "--bench", "nope" })
    assert.are.equal(0, r.code)
    assert.matches("no model has answered any question of family nope\n$", r.stdout)
  end)

  it("says what is wrong with an option or a store", function()
    local r = lb(dir .. "/a", { "--days", "0" })
    assert.are.equal(2, r.code)
    assert.matches("--days must be >= 1", r.stderr, 1, true)
    r = lb(dir .. "/a", { "--alpha", "1.5" })
    assert.are.equal(2, r.code)
    r = lb(dir .. "/none")
    assert.are.equal(1, r.code)
    assert.matches("no results store in " .. dir .. "/none", r.stderr, 1, true)
    r = lb(dir .. "/a", { "-o", dir .. "/no/dir/lb.html" })
    assert.are.equal(1, r.code)
    assert.matches("cannot write " .. dir .. "/no/dir/lb.html", r.stderr, 1, true)
  end)
end)
