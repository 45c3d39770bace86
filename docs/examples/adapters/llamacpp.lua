-- SPDX-License-Identifier: MIT
-- llama.cpp's own completion endpoint, POST {base_url}/completion, which
-- takes the raw prompt rather than chat messages. With this folder's parent
-- on CAUSAL_EVAL_PATH: causal-eval run --model llamacpp:any@http://127.0.0.1:8080
local json = require "causal_eval.json"

local M = {
  kind = "http",
  -- what a model gets unless it says otherwise; temperature 0 makes calls cacheable
  defaults = { base_url = "http://127.0.0.1:8080", temperature = 0, max_tokens = 256 },
}

--- The request for one question: url, headers, body, and fields (the body
--- as a table: what the cache key and `cache explain` read).
function M.request(model, q, key)
  local body = { prompt = q.prompt, n_predict = model.max_tokens, temperature = model.temperature }
  local headers = { "Content-Type: application/json" }
  if key and key ~= "" then headers[#headers + 1] = "Authorization: Bearer " .. key end
  return { url = model.base_url .. "/completion", headers = headers, body = json.encode(body), fields = body }
end

--- The answer of a 2xx reply, or nil, an error class and a message.
function M.parse(model, body)
  local doc, err = json.decode(body, "response")
  if type(doc) ~= "table" then return nil, "malformed", err or "not a JSON object" end
  if type(doc.content) ~= "string" then return nil, "malformed", "no content" end
  return {
    text = doc.content,
    input_tokens = math.tointeger(doc.tokens_evaluated),
    output_tokens = math.tointeger(doc.tokens_predicted),
  }
end

return M
