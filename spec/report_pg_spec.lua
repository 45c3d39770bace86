-- SPDX-License-Identifier: MIT
-- `causal-eval report` and `leaderboard` on a results store in a real
-- PostgreSQL 15 (spec/pg_helpers.lua): the same figures as `results show`
-- gives for that store, its threads reading through the same connection
-- pool, and a run in LMDB with the same questions reporting the same.
local H = require "spec.helpers"
local PG = require "spec.pg_helpers"
local json = require "causal_eval.json"

-- the headline rows of a report page: model -> its data-* attributes
local function headline(page)
  local rows = {}
  for attrs in page:gmatch('<tr id="model%-%d+" class="headline%-row"([^>]*)>') do
    local row = {}
    for k, v in attrs:gmatch('data%-([%w-]+)="([^"]*)"') do row[k] = v end
    rows[#rows + 1] = row
  end
  return rows
end

describe("report on a PostgreSQL store", function()
  if not PG.available() then
    pending("PostgreSQL is not installed (tools/install-deps.sh): the report was not checked on it")
    return
  end

  local pg, url, dir
  local env

  setup(function()
    pg = PG.start()
    url = pg:database()
    dir = H.tmpdir()
    env = { CAUSAL_EVAL_MODEL = false, XDG_CACHE_HOME = dir .. "/cache" }
    local r = H.run({ "run", "--n", "10", "--store", url, "--data", dir .. "/pg", "--quiet" }, { env = env })
    assert(r.code == 0, r.stderr)
    r = H.run({ "run", "--n", "10", "--data", dir .. "/lmdb", "--quiet" }, { env = env })
    assert(r.code == 0, r.stderr)
  end)

  teardown(function()
    if pg then pg:stop() end
    if dir then H.rm(dir) end
  end)

  it("shows the figures results show gives for that store, and the same as LMDB's for the same questions", function()
    local r = H.run({ "results", "show", "last", "--store", url, "--data", dir .. "/pg", "--json" })
    assert.are.equal(0, r.code, r.stderr)
    local shown = json.decode(r.stdout)
    r = H.run({ "report", "last", "--store", url, "--data", dir .. "/pg", "-o", dir .. "/pg.html", "--timings" })
    assert.are.equal(0, r.code, r.stderr)
    assert.matches("on threads: questions yes, score lines of 1 of 3 models", r.stderr, 1, true)
    local rows = headline(H.read(dir .. "/pg.html"))
    assert.are.equal(3, #rows)
    for i, m in ipairs(shown.models) do
      assert.are.equal(m.model, rows[i].model)
      assert.are.equal(m.n, tonumber(rows[i].n))
      assert.are.equal(m.accuracy, tonumber(rows[i].accuracy))
      assert.are.equal(m.ci[1], tonumber(rows[i].lo))
      assert.are.equal(m.ci[2], tonumber(rows[i].hi))
    end
    -- the same questions and answers in LMDB: the same accuracies and intervals
    r = H.run({ "report", "last", "--data", dir .. "/lmdb", "-o", dir .. "/lmdb.html" })
    assert.are.equal(0, r.code, r.stderr)
    local lrows = headline(H.read(dir .. "/lmdb.html"))
    for i, row in ipairs(rows) do
      assert.are.same({ row.model, row.n, row.accuracy, row.lo, row.hi },
        { lrows[i].model, lrows[i].n, lrows[i].accuracy, lrows[i].lo, lrows[i].hi })
    end
  end)

  it("ranks the store's models", function()
    local r = H.run({ "leaderboard", "--store", url, "--data", dir .. "/pg", "--json", "--min-shared", "10" })
    assert.are.equal(0, r.code, r.stderr)
    local lb = json.decode(r.stdout)
    assert.are.equal(70, lb.shared_questions)
    assert.are.equal(3, #lb.models)
    local l2 = json.decode(H.run({ "leaderboard", "--data", dir .. "/lmdb", "--json", "--min-shared", "10" }).stdout)
    for i, m in ipairs(lb.models) do
      assert.are.same({ m.model, m.accuracy, m.group, m.rank }, { l2.models[i].model, l2.models[i].accuracy,
                                                                  l2.models[i].group, l2.models[i].rank })
    end
  end)
end)
