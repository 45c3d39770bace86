-- SPDX-License-Identifier: MIT
-- causal_eval.load: what a load-test scenario file uses, as locust's
-- `from locust import between, constant`. A scenario returns a table:
--
--   local load = require "causal_eval.load"
--   return {
--     wait_time = load.between(1, 3),          -- or load.constant(t), a number, or fn(user) -> seconds
--     on_start = function(user) ... end,       -- once per user, before its first task (a login)
--     tasks = {
--       { 3, function(user) user:post("/evaluate/single", { model = "m" }) end },  -- weight 3
--       function(user) user:get("/runs/" .. id, { name = "/runs/[id]" }) end,      -- weight 1
--     },
--     host = "http://127.0.0.1:8000",          -- when --host is not given
--   }
--
-- `causal-eval load SCENARIO.lua` runs it (causal_eval.cli.load); the
-- parts are causal_eval.load.scenario, .runner, .stats, .fail_if, .report.
local M = {}

local function check_seconds(v, what, level)
  if type(v) ~= "number" or v ~= v or v < 0 or v == math.huge then
    error(("%s: seconds must be a finite number >= 0, got %s"):format(what, tostring(v)), level + 1)
  end
end

--- A wait of between a and b seconds, uniform, drawn after each task.
function M.between(a, b)
  check_seconds(a, "load.between", 2)
  check_seconds(b, "load.between", 2)
  if b < a then error(("load.between: %g > %g"):format(a, b), 2) end
  local random, span = math.random, b - a
  return function() return a + random() * span end
end

--- The same wait after every task.
function M.constant(t)
  check_seconds(t, "load.constant", 2)
  return function() return t end
end

--- A wait that makes each task start t seconds after the last one started
--- (no wait when the task took longer), as locust's constant_pacing.
function M.constant_pacing(t)
  check_seconds(t, "load.constant_pacing", 2)
  return function(user)
    local left = t - (user.task_time or 0)
    return left > 0 and left or 0
  end
end

return M
