-- SPDX-License-Identifier: MIT
-- Hit latency of each layer of the model-call cache, measured in C by
-- tools/bench/cache_bench.c (as tools/bench/cache.sh runs it): the median
-- of single gets from the memory LRU and from LMDB on disk, each timed
-- alone, and pipelined gets per second from a real redis-server on loopback.
local perf = require "causal_eval.perf"

local function figure(out, pattern, what)
  local v = tonumber(out:match(pattern))
  if not v then error(("cache_bench printed no %s figure: %s"):format(what, out:sub(1, 400)), 0) end
  return v
end

return perf.benchmark{
  name = "cache",
  description = "cache hit latency per layer: memory, LMDB, Redis (C, tools/bench/cache_bench.c)",
  measures = function(ctx)
    local n = ctx:pick(5000, 200000)
    local batches = ctx:pick(4, 50)
    local full = not ctx.quick
    ctx:note("cache_bench DISK_DIR --n %d: medians of %d single gets of 1 KB values from each local layer", n, n)
    ctx:note("cache_bench DISK_DIR REDIS_URL --n 200000 --batches %d: the median of 9 rounds of %d pipelined " ..
      "batches of 1,000 gets from a redis-server on loopback", batches, batches)
    return {
      {
        name = "local_layers",
        metrics = {
          { name = "memory_hit", label = "memory layer: median hit", unit = "us", better = "lower",
            target = full and { max = 1 } or nil },
          { name = "lmdb_hit", label = "LMDB layer: median hit", unit = "us", better = "lower",
            target = full and { max = 5 } or nil },
        },
        run = function(c)
          local out = c:exec({ c:tool("cache_bench"), c:tmpdir() .. "/disk", "--n", tostring(n) }).stdout
          return { memory_hit = figure(out, "memory hit: median ([%d.]+) us", "memory"),
                   lmdb_hit = figure(out, "lmdb hit: median ([%d.]+) us", "LMDB") }
        end,
      },
      {
        name = "redis_pipelined", label = "Redis layer: pipelined gets per second", unit = "gets/s", better = "higher",
        target = full and { min = 100000 } or nil,
        run = function(c)
          c.redis_server = c.redis_server or c:redis()
          -- the local layers' 200,000 gets first, as tools/bench/cache.sh has it: straight after
          -- the disk layer's writes, with few gets between, Redis measured 4x slower here
          local out = c:exec({ c:tool("cache_bench"), c:tmpdir() .. "/disk", c.redis_server.url, "--n", "200000",
                               "--batches", tostring(batches) }).stdout
          return figure(out, "redis pipelined gets: median ([%d.]+) per second", "Redis")
        end,
      },
    }
  end,
}
