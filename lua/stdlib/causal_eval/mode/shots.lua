-- SPDX-License-Identifier: MIT
-- Few-shot examples: K solved questions of the question's own family, drawn
-- from a seed stream of their own (disjoint from the run's questions), the
-- same K for a question every time it is asked.
--
-- The examples come from a pool: the first POOL questions a family makes
-- with the run's options and the few-shot seed. A question draws indices
-- from the pool with a stream keyed by its id, and passes over any example
-- that is the question itself or a repeat of it (the same graph, tables and
-- query, or the same prompt): a family with few distinct questions may make
-- the same one under two seeds.
local bench = require "causal_eval.bench"
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"

local M = {}

M.POOL = 64

--- The seed of the examples' stream for a run seeded seed.
function M.seed(seed) return rng.hash("few-shot|" .. tostring(seed or 0)) end

-- what makes two questions the same question
local function content_of(q)
  return json.encode({ q.graph or json.null, q.model or json.null, q.query or json.null })
end

--- A drawer of examples: drawer(q, k) -> list of k solved questions, or
--- nil, message. options: the run's bench options (difficulty, domain) for
--- generated questions; seed: the run's seed.
function M.drawer(options, seed)
  local pools = {} -- family name + difficulty -> { fam, opts, made = {}, size }
  local shot_seed = M.seed(seed)

  local function pool_of(q)
    local d = (options and options.difficulty) or (bench.SIZES[q.difficulty or ""] and q.difficulty) or nil
    local key = tostring(q.family) .. "|" .. tostring(d)
    local p = pools[key]
    if p then return p end
    local fam, err = bench.load(q.family or "")
    if not fam then
      return nil, ("few-shot examples come from a family's generator, and question %s's family '%s' has none (%s)")
        :format(tostring(q.id), tostring(q.family), err)
    end
    local opts, oerr = bench.options{ difficulty = d, domain = options and options.domain }
    if not opts then return nil, oerr end
    local size = M.POOL
    local cap = fam.capacity and d and fam.capacity[d]
    if cap then size = math.min(size, cap) end
    p = { fam = fam, opts = opts, made = {}, size = size }
    pools[key] = p
    return p
  end

  -- pool question i, made once; nil when the family cannot make it
  local function example(p, i)
    local q = p.made[i]
    if q == nil then
      local ok, made = pcall(bench.question, p.fam, p.opts, shot_seed, i)
      q = ok and made or false
      if q then q.content = content_of(q) end
      p.made[i] = q
    end
    return q or nil
  end

  return function(q, k)
    local p, err = pool_of(q)
    if not p then return nil, err end
    local own = content_of(q)
    local order = {}
    for i = 0, p.size - 1 do order[i + 1] = i end
    rng.new(rng.hash("shots|" .. tostring(q.id)), 0):shuffle(order)
    local out = {}
    for _, i in ipairs(order) do
      local ex = example(p, i)
      if ex and ex.id ~= q.id and ex.content ~= own and ex.prompt ~= q.prompt then
        out[#out + 1] = ex
        if #out == k then return out end
      end
    end
    return nil, ("family %s: %d few-shot examples asked, only %d distinct ones in its pool of %d"):format(
      tostring(q.family), k, #out, p.size)
  end
end

return M
