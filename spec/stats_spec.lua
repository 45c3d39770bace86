-- SPDX-License-Identifier: MIT
-- causal_eval.stats: coverage, null distributions, corrections, bad input.
local H = require "spec.helpers"
local json = require "causal_eval.json"
local stats = require "causal_eval.stats"
local rng = require "causal_eval.rng"

describe("causal_eval.stats", function()
  it("95% intervals cover the true accuracy in 95% +- 1.5% of 2,000 simulated data sets", function()
    local r = rng.new(rng.hash("coverage"), 0)
    local p, n, covered = 0.7, 200, 0
    for d = 1, 2000 do
      local x = {}
      for i = 1, n do x[i] = r:bernoulli(p) and 1 or 0 end
      local ci = stats.bootstrap(x, { iters = 2000, seed = d })
      assert.is_true(ci.reduced)
      if ci.low <= p and p <= ci.high then covered = covered + 1 end
    end
    local rate = covered / 2000
    assert.is_true(math.abs(rate - 0.95) <= 0.015, ("coverage %.4f"):format(rate))
  end)

  it("gives permutation p-values that are uniform under the null (Kolmogorov-Smirnov)", function()
    local r = rng.new(rng.hash("null"), 0)
    local ps = {}
    for d = 1, 400 do
      local diffs = {}
      for i = 1, 60 do diffs[i] = r:uniform(-1, 1) end -- symmetric about 0: the null holds
      ps[d] = stats.paired(diffs, (function() local z = {} for i = 1, 60 do z[i] = 0 end return z end)(),
                           { iters = 400, seed = d }).p_permutation
    end
    table.sort(ps)
    local dmax = 0
    for i, p in ipairs(ps) do
      dmax = math.max(dmax, math.abs(i / #ps - p), math.abs(p - (i - 1) / #ps))
    end
    -- the 1% critical value of the one-sample KS statistic for n = 400
    assert.is_true(dmax < 1.63 / math.sqrt(400), ("KS D = %.4f"):format(dmax))
  end)

  it("finds a real difference, with BCa and percentile intervals that agree roughly", function()
    local r = rng.new(rng.hash("effect"), 0)
    local a, b = {}, {}
    for i = 1, 300 do
      local base = r:uniform(0, 1)
      a[i] = base + 0.1
      b[i] = base + r:uniform(-0.05, 0.05)
    end
    local res = stats.paired(a, b, { iters = 5000 })
    assert.is_true(res.low > 0.09 and res.high < 0.11, ("[%g, %g]"):format(res.low, res.high))
    assert.is_true(res.p_permutation < 0.001)
    local pc = stats.bootstrap(a, { iters = 5000 })
    local bca = stats.bootstrap(a, { iters = 5000, method = "bca" })
    assert.is_true(math.abs(pc.low - bca.low) < 0.01 and math.abs(pc.high - bca.high) < 0.01)
  end)

  it("gives the same interval for the same seed, whatever the thread count", function()
    local x = {}
    for i = 1, 3000 do x[i] = math.sin(i) ^ 2 end
    local one = stats.bootstrap(x, { iters = 3000, seed = 7, threads = 1 })
    local four = stats.bootstrap(x, { iters = 3000, seed = 7, threads = 4 })
    assert.are.same({ one.low, one.high }, { four.low, four.high })
    assert.are_not.equal(one.low, stats.bootstrap(x, { iters = 3000, seed = 8 }).low)
  end)

  it("bootstraps per group in one call", function()
    local x, g = {}, {}
    for i = 1, 400 do
      x[i] = (i % 4 == 0) and 1 or 0
      g[i] = i <= 200 and "ladder" or "chain"
    end
    local r = stats.bootstrap(x, { iters = 1000, groups = g })
    assert.are.equal(0.25, r.mean)
    assert.are.equal(200, r.groups.ladder.n)
    assert.is_true(r.groups.chain.low < 0.25 and r.groups.chain.high > 0.25)
  end)

  it("McNemar on outcomes, and the Holm and Bonferroni corrections", function()
    local a, b = {}, {}
    for i = 1, 10 do a[i], b[i] = 0, 0 end
    a[1], a[2] = 1, 1                      -- b = 2 (a right, b wrong)
    for i = 3, 10 do b[i] = 1 end          -- c = 8
    local m = stats.mcnemar(a, b)
    assert.are.same({ 2, 8, true }, { m.b, m.c, m.exact })
    assert.is_true(math.abs(m.p - 112 / 1024) < 1e-12)
    assert.are.same({ 0.03, 0.12, 0.06 }, stats.bonferroni({ 0.01, 0.04, 0.02 }))
    local holm = stats.holm({ 0.01, 0.04, 0.02 })
    assert.is_true(math.abs(holm[1] - 0.03) < 1e-12 and math.abs(holm[2] - 0.04) < 1e-12 and math.abs(holm[3] - 0.04) < 1e-12)
    local rows = stats.compare({ m1 = a, m2 = b, m3 = b }, { iters = 500 })
    assert.are.equal(3, #rows)
    assert.is_not_nil(rows[1].mcnemar)
    assert.is_true(rows[1].p_holm >= rows[1].p_permutation)
  end)

  it("scores a batch in one pass, with sums per group", function()
    local scores, groups = stats.score{
      answer_type = { "yes_no", "yes_no", "number", "number", "choice", "yes_no" },
      parsed = { "yes", "no", 0.305, 0.5, "B", nil },
      truth = { "yes", "yes", 0.3, 0.3, "B", "no" },
      tolerance = 0.01,
      group = { "ladder", "ladder", "intervention", "intervention", "chain", "chain" },
    }
    assert.are.same({ 1, 0, 1, 0, 1, 0 }, scores)
    assert.are.same({ n = 2, sum = 1, mean = 0.5 }, groups.ladder)
    assert.are.same({ n = 2, sum = 1, mean = 0.5 }, groups.chain)
    assert.has_error(function() stats.score{ answer_type = { "number" }, parsed = { 1 }, truth = { "x" } } end,
      "question 1: a number answer needs a number truth")
  end)

  it("names bad input", function()
    local function fails(f, text)
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.truthy(tostring(err):find(text, 1, true), tostring(err))
    end
    fails(function() stats.bootstrap({}) end, "no scores")
    fails(function() stats.bootstrap({ 1, 0 / 0 }) end, "score 2 is NaN")
    fails(function() stats.paired({ 1, 2 }, { 1 }) end, "2 scores against 1")
    fails(function() stats.bootstrap({ 1, 2 }, { iters = 0 }) end, "iterations must be")
    fails(function() stats.mcnemar({ 1, 2 }, { 1, 0 }) end, "outcome 2 is 2")
    fails(function() stats.bootstrap({ 1 }, { backend = "gpu" }) end, "backend must be auto, c or opencl")
  end)
end)

describe("the OpenCL backend on PoCL", function()
  local core = require "causal_eval.stats_core"
  local device = core.cl_init("Portable Computing Language")

  it("draws the same resamples as the C backend, bit for bit", function()
    if not device then
      pending("no PoCL device here (tools/install-deps.sh installs pocl-opencl-icd)")
      return
    end
    local x = {}
    for i = 1, 1003 do x[i] = math.sin(i * 0.7) * 3 + i * 1e-3 end
    local c = core.boot_means(x, { iters = 300, seed = 42 })
    local cl = core.boot_means(x, { iters = 300, seed = 42, backend = "opencl" })
    assert.are.same(c, cl)
    local y = {}
    for i = 1, 500 do y[i] = i % 3 == 0 and 1 or 0 end
    local rc, reduced = core.boot_means(y, { iters = 300, seed = 5 })
    local rcl, reduced_cl = core.boot_means(y, { iters = 300, seed = 5, backend = "opencl" })
    assert.is_true(reduced and reduced_cl)
    assert.are.same(rc, rcl)
    -- so the intervals agree exactly too
    local ic = stats.bootstrap(x, { iters = 2000, seed = 3, backend = "c", method = "bca" })
    local io = stats.bootstrap(x, { iters = 2000, seed = 3, backend = "opencl", device = "Portable", method = "bca" })
    assert.are.same({ ic.low, ic.high }, { io.low, io.high })
    assert.are.equal("opencl", io.backend)
    assert.truthy(io.device:find("Portable Computing Language", 1, true))
  end)

  it("is the commands' default only when evaluation.enable_gpu is true", function()
    if not device then
      pending("no PoCL device here (tools/install-deps.sh installs pocl-opencl-icd)")
      return
    end
    local dir = H.tmpdir()
    local a = H.write(dir .. "/a.txt", ("1\n0\n1\n"):rep(20))
    -- naming a device makes "auto" take it even though PoCL is no GPU
    local function backend_with(gpu, extra)
      local r = H.run(H.concat({ "stats", "bootstrap", a, "--json", "--iters", "200" }, extra or {}),
        { env = { CAUSAL_EVAL_EVALUATION_ENABLE_GPU = gpu, CAUSAL_EVAL_CL_DEVICE = "Portable",
                  CAUSAL_EVAL_STATS_BACKEND = false } })
      assert.are.equal(0, r.code, r.stderr)
      return json.decode(r.stdout).backend
    end
    assert.are.equal("c", backend_with("false"))
    assert.are.equal("opencl", backend_with("true"))
    -- a backend asked for by name wins over the setting
    assert.are.equal("opencl", backend_with("false", { "--backend", "opencl" }))
    assert.are.equal("c", backend_with("true", { "--backend", "c" }))
    H.rm(dir)
  end)

  it("names a device that is not there", function()
    local ok, err = pcall(stats.bootstrap, { 1, 2, 3 }, { backend = "opencl", device = "no such device" })
    assert.is_false(ok)
    assert.truthy(tostring(err):find("no OpenCL device with double precision matches 'no such device'", 1, true), err)
  end)
end)

describe("causal-eval stats", function()
  it("reads files of scores and prints text or JSON", function()
    local dir = H.tmpdir()
    local a = H.write(dir .. "/a.txt", ("1\n0\n1\n1\n"):rep(50))
    local b = H.write(dir .. "/b.txt", ("0\n0\n1\n1\n"):rep(50))
    local r = H.run({ "stats", "bootstrap", a, "--json", "--iters", "2000", "--seed", "3" })
    assert.are.equal(0, r.code, r.stderr)
    local j = json.decode(r.stdout)
    assert.are.equal(0.75, j.mean)
    assert.is_true(j.reduced)
    assert.are.same({ "backend", "high", "iters", "low", "mean", "method" },
      (function() local k = {} for _, f in ipairs({ "backend", "high", "iters", "low", "mean", "method" }) do if j[f] ~= nil then k[#k + 1] = f end end return k end)())
    r = H.run({ "stats", "bootstrap", a })
    assert.truthy(r.stdout:find("exact multinomial reduction used", 1, true))
    r = H.run({ "stats", "paired", a, b })
    assert.truthy(r.stdout:find("A - B = 0.25", 1, true), r.stdout)
    r = H.run({ "stats", "mcnemar", a, b, "--json" })
    assert.are.equal(50, json.decode(r.stdout).b)
    local bad = H.write(dir .. "/bad.txt", "1\nnan\n")
    r = H.run({ "stats", "bootstrap", bad })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find(bad .. ":2: not a finite number", 1, true), r.stderr)
    H.rm(dir)
  end)
end)

describe("causal-eval compare", function()
  it("compares the models of one run, and one model across two runs, with corrected p-values", function()
    local dir = H.tmpdir()
    local function run(args)
      local r = H.run(H.concat({ "run", "--json", "--quiet", "--bench", "ladder,confounding", "--n", "60",
                                 "--data", dir }, args))
      assert(r.code == 0, r.stderr)
      return json.decode(r.stdout).run_id
    end
    local one = run({})
    local r = H.run({ "compare", one, "--data", dir, "--json", "--iters", "2000" })
    assert.are.equal(0, r.code, r.stderr)
    local out = json.decode(r.stdout)
    assert.are.equal(3, #out.rows)
    for _, row in ipairs(out.rows) do
      assert.are.equal(120, row.n)
      assert.is_true(row.p_holm >= row.p_permutation and row.p_bonferroni >= row.p_holm - 1e-12)
      assert.is_true(row.ci[1] <= row.diff and row.diff <= row.ci[2])
    end
    -- the same model and questions twice: no difference at all
    local a = run({ "--model", "baseline:associational" })
    local b = run({ "--model", "baseline:associational" })
    r = H.run({ "compare", a, b, "--data", dir, "--json" })
    out = json.decode(r.stdout)
    assert.are.equal(1, #out.rows)
    assert.are.equal(0, out.rows[1].diff)
    assert.are.equal(1, out.rows[1].p_mcnemar)
    r = H.run({ "compare", a, "nope", "--data", dir })
    assert.are.equal(1, r.code)
    assert.truthy(r.stderr:find("no run 'nope'", 1, true))
    H.rm(dir)
  end)
end)
