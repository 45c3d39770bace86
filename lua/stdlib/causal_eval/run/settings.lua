-- SPDX-License-Identifier: MIT
-- The dispatch settings of a run: how it sends its questions (workers,
-- concurrency, rate, timeouts, retries, batch size, budgets, tuning goal).
-- They are listed once here: the command line checks them against these
-- bounds, the run stores them, and a resume reuses the stored ones unless the
-- command line gives them again.
--
--   local settings = require "causal_eval.run.settings"
--   local s = settings.resolve(run.dispatch, given, settings.defaults(config_values))
--   settings.share(s.concurrency, nworkers, index)   -- one worker's part of the concurrency
local M = {}

-- Bounds: a thread per worker is a Lua state and a curl handle, and the
-- threads module refuses more than 1024; every request in flight is a socket.
M.MAX_WORKERS = 1024
M.MAX_CONCURRENCY = 65536

--- name, flag, configuration path (nil: no default), type, lowest, highest
M.LIST = {
  { "workers", "--workers", "evaluation.max_workers", "integer", 1, M.MAX_WORKERS },
  { "concurrency", "--concurrency", "run.concurrency", "integer", 1, M.MAX_CONCURRENCY },
  { "rate", "--rate", "run.rate", "number", 0 },
  { "timeout", "--timeout", "run.timeout", "number", 0.001 },
  { "connect_timeout", "--connect-timeout", "run.connect_timeout", "number", 0.001 },
  { "max_attempts", "--max-attempts", "run.max_attempts", "integer", 1, 100 },
  { "retry_base", "run.retry_base", "run.retry_base", "number", 0 },
  { "retry_cap", "run.retry_cap", "run.retry_cap", "number", 0 },
  { "batch_size", "evaluation.batch_size", "evaluation.batch_size", "integer", 1, 1000000 },
  { "max_response_mb", "run.max_response_mb", "run.max_response_mb", "number", 0.001, 4096 },
  { "max_tokens_total", "--max-tokens-total", nil, "integer", 1 },
  { "budget_usd", "--budget-usd", nil, "number", 0 },
  { "optimize_for", "--optimize-for", nil, "string" },
  { "tune_interval", "--tune-interval", nil, "number", 0.001 },
}

local function get(values, path)
  for part in path:gmatch("[^%.]+") do
    if type(values) ~= "table" then return nil end
    values = values[part]
  end
  return values
end

--- The settings the configuration gives (values: the resolved config values).
function M.defaults(values)
  local out = {}
  for _, s in ipairs(M.LIST) do
    if s[3] and values then out[s[1]] = get(values, s[3]) end
  end
  return out
end

--- nil, or a message naming the flag and its bounds for the first value
--- out of them.
function M.check(given)
  for _, s in ipairs(M.LIST) do
    local v, lo, hi = given[s[1]], s[5], s[6]
    if v ~= nil and s[4] ~= "string" then
      if type(v) ~= "number" or (s[4] == "integer" and math.type(v) ~= "integer") then
        return ("%s must be %s"):format(s[2], s[4] == "integer" and "a whole number" or "a number")
      end
      if lo and hi and (v < lo or v > hi) then return ("%s must be between %s and %s"):format(s[2], lo, hi) end
      if lo and v < lo then return ("%s must be >= %s"):format(s[2], lo) end
    end
  end
  return nil
end

--- What the run uses: each setting given on the command line (given), else
--- the one the run was started with (stored, nil for a new run or a run
--- stored before settings were), else the configuration's (defaults).
--- Returns the settings and the names of those that came from `given` and
--- differ from the stored ones.
function M.resolve(stored, given, defaults)
  stored = stored or {}
  local out, changed = {}, {}
  for _, s in ipairs(M.LIST) do
    local name = s[1]
    local v = given[name]
    if v ~= nil then
      if stored[name] ~= nil and stored[name] ~= v then changed[#changed + 1] = name end
    elseif stored[name] ~= nil then
      v = stored[name]
    else
      v = defaults[name]
    end
    out[name] = v
  end
  return out, changed
end

--- The most concurrency a policy or run:set may ask of a run that started
--- at `concurrency`.
function M.ceiling(concurrency)
  return math.min(M.MAX_CONCURRENCY, math.max(4 * concurrency, 256))
end

--- Worker i's part (1-based, of n) of a total: the parts differ by at most
--- one and add up to the total exactly. A total below n leaves some
--- workers none, so runs keep total >= n (see the runner).
function M.share(total, n, i)
  local base, extra = total // n, total % n
  return base + (i <= extra and 1 or 0)
end

return M
