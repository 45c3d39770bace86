-- SPDX-License-Identifier: MIT
-- Anthropic's Messages API: POST {base_url}/messages with an x-api-key and an
-- anthropic-version header.
local json = require "causal_eval.json"

local M = {
  kind = "http",
  VERSION = "2023-06-01",
  defaults = { base_url = "https://api.anthropic.com/v1", api_key_env = "ANTHROPIC_API_KEY", max_tokens = 512,
               temperature = 0 },
}

function M.request(model, q, key)
  local body = {
    model = model.model,
    max_tokens = math.tointeger(model.max_tokens) or 512,
    messages = { { role = "user", content = q.prompt } },
  }
  if model.system then body.system = model.system end
  local convo = rawget(q, "messages") -- (see openai.lua)
  if convo then
    -- an evaluation mode's conversation: its system message is a field of its own here
    local turns, system = {}, nil
    for _, msg in ipairs(convo) do
      if msg.role == "system" then system = msg.content else turns[#turns + 1] = msg end
    end
    body.messages, body.system = turns, system
  end
  if model.temperature ~= nil then body.temperature = model.temperature end
  for k, v in pairs(model.extra_body or {}) do body[k] = v end
  local headers = { "Content-Type: application/json", "anthropic-version: " .. M.VERSION }
  if key and key ~= "" then headers[#headers + 1] = "x-api-key: " .. key end
  -- field_json: each list or object field as encoded in the body (the cache's labels hash the messages)
  local text, field_json = json.encode_fields(body)
  return { url = model.base_url .. "/messages", headers = headers, body = text, fields = body, field_json = field_json }
end

function M.parse(model, body)
  local doc, err = json.decode(body, "response")
  if type(doc) ~= "table" then return nil, "malformed", err or "not a JSON object" end
  if type(doc.content) ~= "table" then
    if type(doc.error) == "table" then return nil, "server", tostring(doc.error.message) end
    return nil, "malformed", "no content"
  end
  local parts = {}
  for _, c in ipairs(doc.content) do
    if type(c) == "table" and c.type == "text" and type(c.text) == "string" then parts[#parts + 1] = c.text end
  end
  local usage = type(doc.usage) == "table" and doc.usage or {}
  return {
    text = table.concat(parts),
    input_tokens = math.tointeger(usage.input_tokens),
    output_tokens = math.tointeger(usage.output_tokens),
    finish_reason = type(doc.stop_reason) == "string" and doc.stop_reason or nil,
  }
end

return M
