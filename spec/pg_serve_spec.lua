-- SPDX-License-Identifier: MIT
-- `causal-eval serve` on the PostgreSQL store with a read replica: what it
-- evaluates is written to the primary, and GET /results/recent,
-- /results/summary (the 30-day average per model) and /runs/ID read the
-- replica; a question given inline is found again by its id at once (a
-- read of what the server itself wrote goes to the primary).
local H = require "spec.helpers"
local PG = require "spec.pg_helpers"
local S = require "spec.serve_helpers"

describe("causal-eval serve on PostgreSQL with a replica", function()
  local pg, rep, base, srv, db
  setup(function()
    pg = PG.start()
    local url
    url, db = pg:database()
    rep = pg:replica()
    base = S.setup()
    base.env.CAUSAL_EVAL_STORE_URL = url
    base.env.CAUSAL_EVAL_STORE_READ_URL = rep.url:gsub("/postgres$", "/" .. db)
    srv = S.start{ base = base, set = { "api.worker_count=2" } }
    srv:login()
  end)
  teardown(function()
    if srv then srv:stop() end
    if pg then pg:stop() end
    if base then H.rm(base.dir) end
  end)

  local function score(model, n, answer)
    for i = 1, n do
      local q = { id = ("%s-q%d"):format(model, i), prompt = "Does it rain?", answer_type = "yes_no", ground_truth = "yes" }
      local r = srv:post("/evaluate/single", { model = model, question = q, model_response = answer })
      assert.are.equal(200, r.status, r.body)
    end
  end

  local function summary()
    local r = srv:get("/results/summary?days=30")
    assert.are.equal(200, r.status, r.body)
    local by = {}
    for _, m in ipairs(r.json.models) do by[m.model] = m end
    return by
  end

  -- the score lines of the primary, once the server has written them
  local function wait_primary(n)
    local host = require "causal_eval.host"
    local deadline = host.clock() + 20
    while tonumber(pg:sql("SELECT count(*) FROM causal_eval.scores", { db = db })) < n do
      if host.clock() > deadline then error("the answers did not reach the primary") end
      host.sleep(0.05)
    end
  end

  it("writes to the primary and answers /results/* from the replica", function()
    score("model-a", 3, "Yes")
    score("model-b", 2, "No")
    wait_primary(5)
    pg:wait_replica(rep)
    local by = summary()
    assert.are.equal(3, by["model-a"].count)
    assert.are.equal(1, by["model-a"].average_score)
    assert.are.equal(0, by["model-b"].average_score)
    assert.are.equal(1, by["model-b"].runs)
    local r = srv:get("/results/recent?limit=10")
    assert.are.equal(5, #r.json.results)
    -- the replica stops replaying: new answers reach the primary alone
    rep:sql("SELECT pg_wal_replay_pause()", { db = db })
    score("model-c", 4, "Yes")
    wait_primary(9)
    assert.is_nil(summary()["model-c"])
    assert.are.equal(5, #srv:get("/results/recent?limit=10").json.results)
    r = srv:get("/runs/" .. srv.run_id)
    assert.are.equal(200, r.status, r.body)
    local n = 0
    for _, m in ipairs(r.json.models) do n = n + m.n end
    assert.are.equal(5, n)
    -- a question this server stored is found by its id, from the primary
    r = srv:post("/evaluate/single", { model = "model-c", question_id = "model-c-q4", model_response = "no" })
    assert.are.equal(200, r.status, r.body)
    rep:sql("SELECT pg_wal_replay_resume()", { db = db })
    pg:wait_replica(rep)
    by = summary()
    assert.are.equal(5, by["model-c"].count)
    assert.are.equal(0.8, by["model-c"].average_score)
    assert.are.equal(10, #srv:get("/results/recent?limit=10").json.results)
  end)
end)
