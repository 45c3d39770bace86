-- SPDX-License-Identifier: MIT
-- The OpenAI adapter reads most replies through json.picker, without
-- building them: its answers must be those of reading the whole reply, for
-- every shape a server might send (fields missing, null, of another kind,
-- repeated; errors; log-probabilities).
local json = require "causal_eval.json"
local rng = require "causal_eval.rng"
local openai = require "adapters.openai"

-- the adapter's reading of a reply whole: what it read every reply with
-- before the picker (its code unchanged)
local reference = openai.parse_whole

-- JSON written by hand, so that a key can repeat: an object is a list of
-- { key, value } pairs (value already JSON text)
local function obj(pairs_)
  local parts = {}
  for i, kv in ipairs(pairs_) do parts[i] = json.encode(kv[1]) .. ":" .. kv[2] end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function arr(items) return "[" .. table.concat(items, ",") .. "]" end

local r = rng.new(20261205, 1)
local function one_of(list) return list[r:int(1, #list)] end
local function maybe(p) return r:uniform() < p end

local SCALARS = { "null", "true", "false", "0", "7", "-3", "2.5", "1e2", '"12"', '"stop"', '"Yes."', '"no\\u00e9\\n"', '""' }
local function scalar() return one_of(SCALARS) end
local function anything(depth)
  if depth <= 0 or maybe(0.6) then return scalar() end
  if maybe(0.5) then return arr{ anything(depth - 1), anything(depth - 1) } end
  return obj{ { one_of{ "a", "content", "text" }, anything(depth - 1) } }
end

local TOP_LP = obj{ { "content", arr{ obj{ { "token", '"Yes"' }, { "logprob", "-0.1" },
  { "top_logprobs", arr{ obj{ { "token", '"Yes"' }, { "logprob", "-0.1" } }, obj{ { "token", '"No"' }, { "logprob", "-2.4" } } } } } } } }

local function message()
  local p = {}
  if maybe(0.9) then p[#p + 1] = { "role", '"assistant"' } end
  if maybe(0.85) then p[#p + 1] = { "content", maybe(0.8) and one_of{ '"Yes."', '"No"', '"a\\"b"', '""' } or scalar() } end
  if maybe(0.1) then p[#p + 1] = { "content", scalar() } end -- repeated
  return maybe(0.9) and obj(p) or anything(2)
end

local function choice()
  local p = { { "index", "0" } }
  if maybe(0.9) then p[#p + 1] = { "message", message() } end
  if maybe(0.05) then p[#p + 1] = { "message", message() } end
  if maybe(0.7) then p[#p + 1] = { "finish_reason", maybe(0.8) and '"stop"' or scalar() } end
  if maybe(0.6) then p[#p + 1] = { "logprobs", maybe(0.7) and "null" or (maybe(0.7) and TOP_LP or anything(2)) } end
  return maybe(0.92) and obj(p) or anything(2)
end

local function reply()
  local p = {}
  if maybe(0.8) then p[#p + 1] = { "id", '"chatcmpl-1"' } end
  if maybe(0.9) then
    local n = r:int(0, 2)
    local list = {}
    for i = 1, n do list[i] = choice() end
    p[#p + 1] = { "choices", maybe(0.9) and arr(list) or anything(2) }
  end
  if maybe(0.05) then p[#p + 1] = { "choices", arr{ choice() } } end
  if maybe(0.8) then
    local u = {}
    if maybe(0.9) then u[#u + 1] = { "prompt_tokens", maybe(0.8) and tostring(r:int(1, 500)) or scalar() } end
    if maybe(0.9) then u[#u + 1] = { "completion_tokens", maybe(0.8) and tostring(r:int(1, 50)) or scalar() } end
    if maybe(0.05) then u[#u + 1] = { "prompt_tokens", scalar() } end
    p[#p + 1] = { "usage", maybe(0.9) and obj(u) or anything(1) }
  end
  if maybe(0.1) then p[#p + 1] = { "error", obj{ { "message", '"overloaded"' } } } end
  if maybe(0.05) then p[#p + 1] = { "error", anything(2) } end
  local text = obj(p)
  if maybe(0.03) then text = anything(3) end
  if maybe(0.03) then text = text:sub(1, r:int(0, #text - 1)) end -- cut short
  return text
end

describe("the OpenAI adapter's reading of a reply", function()
  it("gives what reading the whole reply gives, for 20,000 replies of every shape", function()
    local fast, differ = 0, 0
    for i = 1, 20000 do
      local body = reply()
      local want = { reference(body) }
      local got = { openai.parse({}, body) }
      if not pcall(assert.are.same, want, got) then
        differ = differ + 1
        assert.are.same(want, got, "reply " .. i .. ": " .. body)
      end
      if got[1] and got[1].text and not got[1].logprobs then fast = fast + 1 end
    end
    assert.are.equal(0, differ)
    assert.is_true(fast > 5000, fast .. " answers: too few replies of the usual shape to prove anything")
  end)

  it("reads the usual reply, an error and log-probabilities", function()
    local a = openai.parse({}, '{"id":"x","choices":[{"index":0,"message":{"role":"assistant","content":"Yes."},'
      .. '"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":100,"completion_tokens":2}}')
    assert.are.same({ text = "Yes.", input_tokens = 100, output_tokens = 2, finish_reason = "stop" }, a)
    assert.are.same({ nil, "server", "overloaded" }, { openai.parse({}, '{"error":{"message":"overloaded"}}') })
    local b = openai.parse({}, '{"choices":[{"message":{"content":"Yes"},"logprobs":' .. TOP_LP .. '}]}')
    assert.are.equal("yes", b.logprobs.answer)
  end)
end)

describe("json.picker", function()
  it("gives each path's value: scalars, null, containers, nothing", function()
    local p = json.picker({ "a", 2 }, { "b" }, { "c" }, { "d", "e" })
    assert.are.same({ true, "x", json.null, json.container, nil },
      { p:pick('{"a":[1,"x"],"b":null,"c":{"e":1},"d":[]}') })
    local ok, err = p:pick('{"a":', "reply")
    assert.is_false(ok)
    assert.matches("^reply:1:", err)
  end)

  it("gives the document itself for the empty path", function()
    local p = json.picker({}, { "a" })
    assert.are.same({ true, json.container, 1 }, { p:pick('{"a":1}') })
    assert.are.same({ true, 5, nil }, { p:pick("5") })
    assert.are.same({ true, "x", nil }, { p:pick('"x"') })
  end)

  it("refuses a path it cannot follow", function()
    assert.has_error(function() json.picker() end)
    assert.has_error(function() json.picker({ "a", 0 }) end)
    assert.has_error(function() json.picker({ "a", 1.5 }) end)
    assert.has_error(function() json.picker({ 1, 2, 3, 4, 5, 6, 7, 8, 9 }) end)
  end)
end)
