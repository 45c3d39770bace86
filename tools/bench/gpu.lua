-- SPDX-License-Identifier: MIT
-- OpenCL against the C backend on the same machine (run by tools/bench/gpu.sh):
--   1. the bootstrap of N = 10,000 continuous scores, 100,000 resamples
--   2. a 10-model pairwise comparison (45 paired bootstraps of 10,000 questions)
-- For each: the device call (kernel and transfers) and end to end, as
-- seconds and as ratios C / OpenCL. Both backends must give the same intervals.
local host = require "causal_eval.host"
local core = require "causal_eval.stats_core"
local stats = require "causal_eval.stats"

local want = os.getenv("CAUSAL_EVAL_CL_DEVICE")
local device, why = core.cl_init(want, false)
if not device then
  io.stderr:write("gpu.lua: no OpenCL device: ", tostring(why), "\n")
  os.exit(1)
end
print("device: " .. device)
print(("machine: %s"):format(io.popen("nproc"):read("l") .. " cores"))

local N, B = 10000, 100000
local x = {}
for i = 1, N do x[i] = math.abs(math.sin(i * 0.37)) * 3 + (i % 7) * 0.01 end

local function time(f)
  local t0 = host.clock()
  local r = f()
  return host.clock() - t0, r
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- warm up: kernels are built once per process; the first call pays for it
core.boot_means({ 1, 2, 3 }, { iters = 8, backend = "opencl" })

local rounds = tonumber(arg[1]) or 3
local tc_call, to_call, tc_all, to_all = {}, {}, {}, {}
local rc, ro
for r = 1, rounds do
  tc_call[r] = time(function() return core.boot_means(x, { iters = B, seed = r, backend = "c", full = true }) end)
  to_call[r] = time(function() return core.boot_means(x, { iters = B, seed = r, backend = "opencl", full = true }) end)
  tc_all[r], rc = time(function() return stats.bootstrap(x, { iters = B, seed = 7, backend = "c", full = true }) end)
  to_all[r], ro = time(function() return stats.bootstrap(x, { iters = B, seed = 7, backend = "opencl", full = true }) end)
end
assert(rc.low == ro.low and rc.high == ro.high, "the backends disagree")
print(("bootstrap N=%d, %d resamples (median of %d):"):format(N, B, rounds))
print(("  device call  C %.3f s  OpenCL %.3f s  ratio C/OpenCL %.2f"):format(median(tc_call), median(to_call),
  median(tc_call) / median(to_call)))
print(("  end to end   C %.3f s  OpenCL %.3f s  ratio C/OpenCL %.2f   (identical interval [%.6f, %.6f])"):format(
  median(tc_all), median(to_all), median(tc_all) / median(to_all), rc.low, rc.high))

-- ten models, every pair: paired bootstraps of 10,000 questions
local models = {}
for m = 1, 10 do
  local s = {}
  for i = 1, N do s[i] = (math.sin(i * (0.1 + m * 0.013)) + m * 0.02 > 0) and 1 or 0 end
  models["model" .. m] = s
end
local function all_pairs(backend)
  local n = 0
  local names = {}
  for k in pairs(models) do names[#names + 1] = k end
  table.sort(names)
  for i = 1, #names do
    for j = i + 1, #names do
      stats.bootstrap((function()
        local d = {}
        for q = 1, N do d[q] = models[names[i]][q] - models[names[j]][q] end
        return d
      end)(), { iters = 10000, seed = 1, backend = backend, full = true })
      n = n + 1
    end
  end
  return n
end
local tc, n = time(function() return all_pairs("c") end)
local to = time(function() return all_pairs("opencl") end)
print(("10-model pairwise comparison (%d pairs, 10,000 resamples each, full resampling):"):format(n))
print(("  end to end   C %.3f s  OpenCL %.3f s  ratio C/OpenCL %.2f"):format(tc, to, tc / to))
