-- SPDX-License-Identifier: MIT
-- Method and path to handler for `causal-eval serve`, in a worker's state.
-- Every answer that is not a success is {"error":{"code","message"}} with
-- its status: 404 for a path no route has, 405 (with Allow) for a method a
-- path does not take, 401 without a valid token, 429 over the rate limit,
-- 400 naming the field of a bad body. /healthz (and /metrics when
-- api.metrics_public) never get here: the server thread answers them.
--
--   local routes = require "causal_eval.serve.routes"
--   routes.TEMPLATES                              -- for server_core.start's metrics labels
--   local status, body, headers = routes.dispatch(ctx, req)
local evaluate = require "causal_eval.serve.evaluate"
local request = require "causal_eval.serve.request"
local reply = require "causal_eval.serve.reply"

local M = {}

-- ---- the security module, behind one adapter ----

--- The security module (causal_eval.serve.security), or nil and why not.
function M.security_module()
  local ok, mod = pcall(require, "causal_eval.serve.security")
  if not ok then
    local msg = tostring(mod)
    if msg:find("module 'causal_eval.serve.security' not found", 1, true) then
      return nil, "this build has no security module (causal_eval.serve.security): the API cannot check logins"
    end
    return nil, msg
  end
  return mod
end

--- Who asks, and the rate limit's headers for the answer; or nil and the
--- error to answer (401 without a valid token, 429 over the limit). The
--- one place the routes call the security module.
function M.authorize(sec, req)
  local who, err = sec:authenticate(req.headers.authorization)
  if not who then return nil, err or { status = 401, code = "unauthorized", message = "a valid token is needed" } end
  local headers, lerr = sec:limit(who)
  if not headers then return nil, lerr or { status = 429, code = "rate_limited", message = "too many requests" } end
  return who, headers
end

-- ---- handlers that are not evaluations ----

local function login(ctx, req)
  local body, perr = request.login(req.body)
  if not body then return reply.fail(perr) end
  local tok, err = ctx.sec:login(body.username, body.password, req.remote)
  if not tok then return reply.fail(err or { status = 401, code = "invalid_credentials", message = "wrong user name or password" }) end
  return reply.json(200, tok)
end

local function page(ctx)
  return 200, require("causal_eval.serve.dashboard").page(ctx.values), { ["Content-Type"] = "text/html; charset=utf-8" }
end

-- /metrics with a token: the gauges the server thread sets when it answers
-- a public /metrics are set here, then the same registry is written out
local function metrics_page(ctx)
  local metrics = require "causal_eval.metrics"
  local st = ctx.srv:stats()
  metrics.gauge("causal_eval_http_queue_depth", "Requests waiting for a worker"):set(st.queued)
  metrics.gauge("causal_eval_http_requests_in_progress", "Requests read and not yet answered"):set(st.queued + st.taken)
  metrics.gauge("causal_eval_memory_bytes", "Resident memory of the process"):set((require("causal_eval.host").rss()))
  return 200, metrics.expose(), { ["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8" }
end

-- ---- the table ----

-- { method, path template, handler(ctx, req, param), auth = false for the public ones }
M.ROUTES = {
  { "GET", "/", page, auth = false },
  { "POST", "/auth/login", login, auth = false },
  { "POST", "/evaluate/single", evaluate.single },
  { "POST", "/evaluate/batch", evaluate.batch },
  { "GET", "/results/recent", evaluate.recent },
  { "GET", "/results/summary", evaluate.summary },
  { "GET", "/runs/:id", evaluate.run },
  { "GET", "/metrics", metrics_page },
  { "GET", "/dashboard/data", function(ctx, req) return require("causal_eval.serve.dashboard").data(ctx, req) end },
}

M.TEMPLATES = {}
do
  local seen = {}
  for _, r in ipairs(M.ROUTES) do
    if not seen[r[2]] then
      seen[r[2]] = true
      M.TEMPLATES[#M.TEMPLATES + 1] = r[2]
    end
  end
end

-- a template's part before its :param, or false: worked out once per template
local prefixes = setmetatable({}, { __index = function(t, template)
  local p = template:match("^(.*/):[%w_]+$") or false
  t[template] = p
  return p
end })

-- The path's match against a template: true and the :param segment's value.
local function match(template, path)
  local prefix = prefixes[template]
  if not prefix then return template == path end
  if path:sub(1, #prefix) ~= prefix then return false end
  local rest = path:sub(#prefix + 1)
  if rest == "" or rest:find("/", 1, true) then return false end
  return true, rest
end

local function endpoint_list()
  local out = {}
  for _, r in ipairs(M.ROUTES) do out[#out + 1] = r[1] .. " " .. r[2] end
  out[#out + 1] = "GET /healthz"
  return table.concat(out, ", ")
end

local function merge(headers, extra)
  if not extra then return headers end
  headers = headers or {}
  for k, v in pairs(extra) do if headers[k] == nil then headers[k] = v end end
  return headers
end

--- The answer to req: status, body, headers.
function M.dispatch(ctx, req)
  local method = req.method == "HEAD" and "GET" or req.method
  local allowed, route, param = nil, nil, nil
  for _, r in ipairs(M.ROUTES) do
    local ok, p = match(r[2], req.path)
    if ok then
      if r[1] == method then
        route, param = r, p
        break
      end
      allowed = allowed or {}
      allowed[#allowed + 1] = r[1]
    end
  end
  if not route then
    if allowed then
      if allowed[1] == "GET" then allowed[#allowed + 1] = "HEAD" end
      return reply.error(405, "method_not_allowed", ("%s %s: this path takes %s"):format(req.method, req.path,
        table.concat(allowed, ", ")), { Allow = table.concat(allowed, ", ") })
    end
    return reply.error(404, "not_found", ("no endpoint %s %s (endpoints: %s)"):format(req.method, req.path, endpoint_list()))
  end
  local rate_headers
  if route.auth ~= false then
    local who, extra = M.authorize(ctx.sec, req)
    if not who then return reply.fail(extra) end
    rate_headers = extra
    req.user = who.user
  end
  local status, body, headers = route[3](ctx, req, param)
  return status, body, merge(headers, rate_headers)
end

return M
