-- SPDX-License-Identifier: MIT
-- OpenAI Chat Completions, and every server that speaks it (vLLM, llama.cpp
-- server, Ollama, LM Studio): POST {base_url}/chat/completions.
local json = require "causal_eval.json"
local logprobs = require "causal_eval.logprobs"

local M = {
  kind = "http",
  -- greedy decoding by default: an evaluation should be repeatable (and cacheable)
  defaults = { base_url = "https://api.openai.com/v1", api_key_env = "OPENAI_API_KEY", temperature = 0 },
  -- logprobs: ask for the answer token's log-probabilities (yes/no scored by
  -- the probability of each), top_logprobs alternatives per token (default 5)
  fields = { logprobs = "boolean", top_logprobs = "number" },
}

--- top_logprobs is what the API takes: an integer from 0 to 20.
function M.check(model)
  local n = model.top_logprobs
  if n ~= nil and (math.tointeger(n) == nil or n < 0 or n > 20) then
    return nil, ("top_logprobs must be an integer from 0 to 20, got %s"):format(tostring(n))
  end
  return true
end

--- The request for one question: url, headers, body.
function M.request(model, q, key)
  -- an evaluation mode (template, few-shot, chain of thought) gives the
  -- whole conversation; without one the request is today's, byte for byte.
  -- rawget: a question read lazily from a file would decode its whole line
  -- to look for a field it does not have
  local messages = rawget(q, "messages")
  if not messages then
    messages = {}
    if model.system then messages[#messages + 1] = { role = "system", content = model.system } end
    messages[#messages + 1] = { role = "user", content = q.prompt }
  end
  -- in one constructor (a nil field is left out), sized once
  local mt = model.max_tokens
  local body = { model = model.model, messages = messages, temperature = model.temperature,
                 max_tokens = mt ~= nil and (math.tointeger(mt) or mt) or nil, seed = model.seed }
  if model.logprobs then
    body.logprobs = true
    body.top_logprobs = math.tointeger(model.top_logprobs) or 5
  end
  for k, v in pairs(model.extra_body or {}) do body[k] = v end
  local headers = { "Content-Type: application/json" }
  if key and key ~= "" then headers[#headers + 1] = "Authorization: Bearer " .. key end
  -- field_json: each list or object field as encoded in the body (the cache's labels hash the messages)
  local text, field_json = json.encode_fields(body)
  return { url = model.base_url .. "/chat/completions", headers = headers, body = text, fields = body, field_json = field_json }
end

-- the reply's leaves that make most answers: read without building the
-- reply (json.picker), for all but an error, log-probabilities (a
-- logprobs object; OpenAI sends null without them) or a reply of another
-- shape, which parse_whole reads whole, as before
local REPLY = json.picker({ "choices", 1, "message", "content" }, { "usage", "prompt_tokens" },
  { "usage", "completion_tokens" }, { "choices", 1, "finish_reason" }, { "choices", 1, "logprobs" })

--- The answer of a reply read whole, as parse gives it (parse reads most
--- replies through REPLY, and the rest with this).
function M.parse_whole(body)
  local doc, err = json.decode(body, "response")
  if type(doc) ~= "table" then return nil, "malformed", err or "not a JSON object" end
  local choice = type(doc.choices) == "table" and doc.choices[1]
  local msg = type(choice) == "table" and choice.message
  local text = type(msg) == "table" and msg.content
  if type(text) ~= "string" then
    if type(doc.error) == "table" then return nil, "server", tostring(doc.error.message) end
    return nil, "malformed", "no choices[1].message.content"
  end
  local usage = type(doc.usage) == "table" and doc.usage or {}
  local lp = type(choice.logprobs) == "table" and logprobs.yes_no(choice.logprobs.content) or nil
  return {
    text = text,
    input_tokens = math.tointeger(usage.prompt_tokens),
    output_tokens = math.tointeger(usage.completion_tokens),
    finish_reason = type(choice.finish_reason) == "string" and choice.finish_reason or nil,
    logprobs = lp,
  }
end

--- The answer text and token usage of a 2xx response, or nil, class, message.
--- When the response has log-probabilities with a yes/no token, the answer
--- also has logprobs = causal_eval.logprobs.yes_no's table (answer, p_yes,
--- p_no, ...); text stays the reply's text.
function M.parse(model, body)
  local ok, text, tin, tout, finish, lp = REPLY:pick(body)
  if not ok or type(text) ~= "string" or lp == json.container then return M.parse_whole(body) end
  return {
    text = text,
    input_tokens = math.tointeger(tin),
    output_tokens = math.tointeger(tout),
    finish_reason = type(finish) == "string" and finish or nil,
  }
end

return M
