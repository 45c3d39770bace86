-- SPDX-License-Identifier: MIT
-- The workers of `causal-eval run --bench` share the plan of each family's
-- pairs (causal_eval.bench.share_plan, shared.plan()). Each once made the
-- plan alone: to ask question i it drew every pair before i, the other
-- workers' too, so a run of W workers generated its questions W times over.
-- Shared, a worker draws what it asks and the pairs no one planned yet, and
-- the questions are still the ones `generate` writes. A worker that takes a
-- batch draws its pairs first (bench.prepare) and proposes them, so the
-- worker whose batch comes next waits for them instead of drawing them too.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local bench = require "causal_eval.bench"
local shared = require "causal_eval.shared"

local N, SEED = 600, 4

-- question index -> { id, prompt, ground_truth } as generate makes them
local function reference(opts)
  local fam = assert(bench.load("corr2cause"))
  local out = {}
  for q in bench.generate(fam, assert(bench.options(opts)), SEED, N) do
    out[q.index] = { id = q.id, prompt = q.prompt, ground_truth = q.ground_truth }
  end
  return out
end

describe("the plan of a benchmark's pairs, shared by a run's workers", function()
  local dir
  setup(function()
    dir = H.tmpdir()
    -- a worker: takes tickets 10 at a time, as a run's workers do, and asks
    -- its questions of a family whose plan it shares (drawing the batch
    -- first where cfg.prepare)
    H.write(dir .. "/planner.lua", [[
local M = {}
function M.main(cfg_json)
  local json, bench, shared = require "causal_eval.json", require "causal_eval.bench", require "causal_eval.shared"
  local cfg = json.decode(cfg_json)
  local fam = assert(bench.load("corr2cause"))
  local opts = assert(bench.options(cfg.opts))
  bench.share_plan(fam, opts, cfg.seed, assert(shared.attach("plan", cfg.plan)))
  local tickets = assert(shared.attach("counter", cfg.tickets))
  local out = {}
  while true do
    local first, got = tickets:next(10)
    if not first then break end
    if cfg.prepare then bench.prepare(fam, opts, cfg.seed, first, first + got - 1) end
    for i = first, first + got - 1 do
      local q = bench.question(fam, opts, cfg.seed, i)
      out[#out + 1] = { index = i, id = q.id, prompt = q.prompt, ground_truth = q.ground_truth }
    end
  end
  return json.encode(out)
end
return M]])
  end)
  teardown(function() H.rm(dir) end)

  for _, prepare in ipairs{ false, true } do
    local how = prepare and ", drawing each batch first," or ""
    it("gives threads asking side by side" .. how .. " the questions generate makes", function()
      -- corr2cause's easy space is small: many pairs take a later draw
      local opts = { difficulty = "easy" }
      local want = reference(opts)
      H.write(dir .. "/main.lua", ([[
local json, shared, threads = require "causal_eval.json", require "causal_eval.shared", require "causal_eval.threads"
local plan, tickets = shared.plan(), shared.counter(0, %d)
local results = threads.start(3, "planner", json.encode{ opts = { difficulty = "easy" }, seed = %d,
  plan = plan:id(), tickets = tickets:id(), prepare = %s }):join()
local all = {}
for _, r in ipairs(results) do
  assert(r.ok, r.error)
  for _, q in ipairs(json.decode(r.result)) do all[#all + 1] = q end
end
io.write(json.encode{ questions = all, upto = plan:upto(), redraws = plan:redraws() })]]):format(N, SEED, tostring(prepare)))
      local r = H.run({ dir .. "/main.lua" }, { env = { CAUSAL_EVAL_PATH = dir } })
      assert.are.equal(0, r.code, r.stderr)
      local got = json.decode(r.stdout)
      assert.are.equal(N, #got.questions)
      assert.are.equal(N // 2, got.upto)
      assert.is_true(got.redraws > 0, "no pair took a later draw: the test proves nothing")
      local seen = {}
      for _, q in ipairs(got.questions) do
        assert.is_nil(seen[q.index], "question " .. q.index .. " asked twice")
        seen[q.index] = true
        assert.are.same(want[q.index], { id = q.id, prompt = q.prompt, ground_truth = q.ground_truth })
      end
    end)
  end

  -- fam, with a count of the questions it generates
  local function counting(name)
    local fam = assert(bench.load(name))
    local c = { draws = 0 }
    c.fam = setmetatable({ generate = function(ctx)
      c.draws = c.draws + 1
      return fam.generate(ctx)
    end }, { __index = fam })
    return c
  end

  it("draws only its own pairs where another state drew the batch before it", function()
    for _, name in ipairs{ "ladder", "corr2cause" } do
      local c, plan = counting(name), shared.plan()
      -- one state takes questions 0-39 and draws them, asking none yet
      local first = assert(bench.options{})
      bench.share_plan(c.fam, first, SEED, plan)
      bench.prepare(c.fam, first, SEED, 0, 39)
      assert.is_true(plan:upto() > 0, name .. ": no pair recorded")
      -- another takes 40-79: without the proposals it would draw pairs 0-19 too
      c.draws = 0
      local second = assert(bench.options{})
      bench.share_plan(c.fam, second, SEED, assert(shared.attach("plan", plan:id())))
      bench.prepare(c.fam, second, SEED, 40, 79)
      local got = {}
      for i = 40, 79 do got[i] = bench.question(c.fam, second, SEED, i).prompt end
      assert.is_true(c.draws < 60, name .. ": " .. c.draws .. " draws for 40 questions")
      local ref = {}
      for q in bench.generate(assert(bench.load(name)), assert(bench.options{}), SEED, 80) do ref[q.index] = q.prompt end
      for i = 40, 79 do assert.are.equal(ref[i], got[i], name .. " question " .. i) end
      -- the first state's questions come from what it drew
      c.draws = 0
      for i = 0, 39 do assert.are.equal(ref[i], bench.question(c.fam, first, SEED, i).prompt) end
      assert.is_true(c.draws < 10, name .. ": " .. c.draws .. " draws for 40 questions drawn before")
    end
  end)

  it("plans a pair itself where the state that claimed it has not proposed it", function()
    local c, plan = counting("ladder"), shared.plan()
    for p = 0, 4 do assert.is_true(plan:claim(p)) end -- and nothing more yet
    local opts = assert(bench.options{})
    bench.share_plan(c.fam, opts, SEED, plan)
    local q = bench.question(c.fam, opts, SEED, 11)
    local ref
    for r in bench.generate(assert(bench.load("ladder")), assert(bench.options{}), SEED, 12) do ref = r end
    assert.are.equal(ref.prompt, q.prompt)
    assert.are.equal(6, plan:upto())
    -- the proposal that comes late changes nothing
    plan:propose(0, 1, 2)
    assert.are.equal(6, plan:upto())
    assert.are.equal(ref.prompt, bench.question(c.fam, opts, SEED, 11).prompt)
  end)

  it("draws only its own question where another state planned the pairs before it", function()
    local fam = assert(bench.load("corr2cause"))
    local draws = 0
    local counting = setmetatable({ generate = function(ctx)
      draws = draws + 1
      return fam.generate(ctx)
    end }, { __index = fam })
    local plan = shared.plan()
    -- one state plans the first 300 pairs
    local first = assert(bench.options{ difficulty = "easy" })
    bench.share_plan(counting, first, SEED, plan)
    local a = bench.question(counting, first, SEED, N - 2)
    local planned = draws
    assert.is_true(planned >= N, planned .. " draws to plan " .. N // 2 .. " pairs")
    -- another (options of its own: a state of its own) asks the last question
    draws = 0
    local second = assert(bench.options{ difficulty = "easy" })
    bench.share_plan(counting, second, SEED, assert(shared.attach("plan", plan:id())))
    local b = bench.question(counting, second, SEED, N - 1)
    assert.is_true(draws <= 10, draws .. " draws for one question of a planned pair")
    assert.are.equal(reference({ difficulty = "easy" })[N - 1].prompt, b.prompt)
    assert.are_not.equal(a.prompt, b.prompt)
    -- a state with a plan of its own draws every pair before the question again
    draws = 0
    bench.question(counting, assert(bench.options{ difficulty = "easy" }), SEED, N - 1)
    assert.is_true(draws >= N, draws .. " draws")
  end)

  it("refuses to share a plan once the state has planned pairs alone", function()
    local fam = assert(bench.load("ladder"))
    local opts = assert(bench.options{})
    bench.question(fam, opts, 1, 3)
    assert.has_error(function() bench.share_plan(fam, opts, 1, shared.plan()) end)
  end)
end)
