-- SPDX-License-Identifier: MIT
-- The product's load test of `causal-eval serve` (its locust file, in Lua):
-- every user logs in once, then evaluates single questions (weight 3),
-- batches of three (weight 1) and reads the recent results (weight 1),
-- waiting 1 to 3 s between tasks.
--
--   causal-eval serve adduser loadtest            # once: the account the users log in as
--   causal-eval load tools/load/seed.lua --users 100 --spawn-rate 10 --duration 10m \
--       --host http://127.0.0.1:8000 --fail-if 'p95>10s' --fail-if 'errors>5%'
--
-- Environment: CAUSAL_EVAL_LOAD_USER and CAUSAL_EVAL_LOAD_PASSWORD (default
-- loadtest / loadtest), CAUSAL_EVAL_LOAD_MODEL (a model serve knows; default
-- baseline:random, which needs no network), CAUSAL_EVAL_LOAD_WAIT ("A,B":
-- seconds between tasks, default 1,3). A token that expires mid-run is
-- renewed by logging in again. Mind api.rate_limit_per_minute: each user
-- makes some 20-60 requests a minute with the default wait.
local load = require "causal_eval.load"

local USER = os.getenv("CAUSAL_EVAL_LOAD_USER") or "loadtest"
local PASSWORD = os.getenv("CAUSAL_EVAL_LOAD_PASSWORD") or "loadtest"
local MODEL = os.getenv("CAUSAL_EVAL_LOAD_MODEL") or "baseline:random"
local WAIT_A, WAIT_B = (os.getenv("CAUSAL_EVAL_LOAD_WAIT") or "1,3"):match("^%s*([%d.]+)%s*,%s*([%d.]+)%s*$")
if not WAIT_A then error("CAUSAL_EVAL_LOAD_WAIT: expected A,B (seconds), e.g. 1,3", 0) end

local TASK_TYPES = { "causal_attribution", "intervention", "counterfactual", "causal_chain", "confounding" }
local DOMAINS = { "medical", "economic", "social", "scientific", "climate", "education", "engineering" }
local DIFFICULTIES = { "easy", "medium", "hard" }

local function pick(list) return list[math.random(#list)] end

local function question()
  return { task_type = pick(TASK_TYPES), domain = pick(DOMAINS), difficulty = pick(DIFFICULTIES) }
end

local function login(user)
  local res = user:post("/auth/login", { username = USER, password = PASSWORD }, { expect = 200 })
  local body = res.ok and res:json()
  if type(body) ~= "table" or type(body.token) ~= "string" then
    error(("login as %s failed: %s"):format(USER, res.failure or "no token in the reply"), 0)
  end
  user.headers.Authorization = "Bearer " .. body.token
end

-- A reply that is JSON with the field the endpoint promises; anything else
-- is a failure even with a 200.
local function has(field)
  return function(res)
    local body = res:json()
    return type(body) == "table" and body[field] ~= nil, ("no '%s' in the reply"):format(field)
  end
end

-- The request, then a new login when the token expired.
local function call(user, res)
  if res.status == 401 and res.failure and res.failure:find("token_expired", 1, true) then login(user) end
  return res
end

return {
  wait_time = load.between(tonumber(WAIT_A), tonumber(WAIT_B)),
  on_start = login,
  tasks = {
    { 3, function(user)
      local q = question()
      q.model = MODEL
      call(user, user:post("/evaluate/single", q, { check = has("correct") }))
    end },
    { 1, function(user)
      call(user, user:post("/evaluate/batch", { model = MODEL, questions = { question(), question(), question() } },
        { check = has("results") }))
    end },
    { 1, function(user)
      call(user, user:get("/results/recent?limit=10", { name = "/results/recent" }))
    end },
  },
}
