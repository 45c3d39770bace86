-- SPDX-License-Identifier: MIT
-- How a handler of `causal-eval serve` answers: a status, a body (text) and
-- headers. Every error has one shape, {"error":{"code","message"}}, so a
-- client reads one field whatever went wrong.
local json = require "causal_eval.json"

local M = {}

--- status, the value as JSON, headers
function M.json(status, value, headers) return status, json.encode(value), headers end

--- status, {"error":{"code","message"}}, headers
function M.error(status, code, message, headers)
  return status, json.encode({ error = { code = code, message = message } }), headers
end

--- An error table { status, code, message, headers } (what the request
--- parsers and the security module return) as an answer.
function M.fail(e)
  return M.error(e.status or 400, e.code or "bad_request", e.message or "bad request", e.headers)
end

return M
